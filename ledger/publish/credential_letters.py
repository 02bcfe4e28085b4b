"""The online members' credential letters: one printed page each, Korean first and English
second, with the code in large groups and a QR code that opens the voting page with the code
filled in; the same codes as a CSV file for a mailing service; and the office's members list,
without codes, that ties each letter's reference to its member.

No letter and no row of the mailing file names the voter id, the card's key or the code's key:
all three are in the public package, whose log shows whether, when and how often each voter id
voted (review F6). A letter carries a random reference instead, and only the members list (and
the roll file) tie it to the voter id.

The QR code carries ``<platform URL>/#code=<code>&k=<authority key>&e=<election id>``: a browser
never sends the part after ``#`` to any server, so the code reaches neither the platform's access
log nor a proxy. The authority's key and the election id are what the voting page confirms the
election with before it derives anything (review F3; docs/spec/online.md §3.3): the platform's
own answers are not trusted for them. A member who types the code by hand types the letter's
short election check (``election_check``) too, which vouches for the same two. The letter is
printed by WeasyPrint with the results report's Korean font (report_fonts.py).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import segno
from markupsafe import Markup

from kiosk.core.crypto import sha256
from kiosk.core.election_parts import DuplicatePolicy
from kiosk.core.encoding import b64e, crockford32, group4
from ledger.publish.credential_roll import Credential, LettersError
from ledger.publish.report_fonts import embedded_fonts_css
from ledger.publish.results_report import ENVIRONMENT  # the report's templates and settings

#: The mailing file: what a mailing service needs to print and post a letter, nothing public
#: that would lead from a letter to its member's ballots.
CSV_COLUMNS = ("reference", "code", "url", "category", "group", "test")
#: The office's members list (no codes): joined to the office's own list of names and addresses
#: by card key, and to the mailing file and the printed letters by reference.
MEMBERS_COLUMNS = ("reference", "voter", "card_key", "category", "group", "test")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WEEKDAYS_KO = "월화수목금토일"
_CHECK_DOMAIN = b"hanpyo/election-check/v2\n"


@dataclass(frozen=True, slots=True)
class LetterSetting:
    """What every letter of one run shares: the election as the definition names it, the
    voting page's address and the office to call."""

    definition: Mapping[str, Any]
    platform_url: str
    contact: str | None
    authority: bytes  # the authority's public key, which signs the package

    @property
    def election(self) -> str:
        return str(self.definition["id"])


def platform_address(url: str) -> str:
    """The voting page's address as the letters print it, without a trailing slash. HTTPS only
    (the member types their code into it), except on this machine for a trial."""
    parts = urlsplit(url.strip())
    loopback = parts.hostname in _LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise LettersError(
            f"the platform URL {url!r} must start with https:// (members type their code "
            "into that page); plain http is only for a trial on this machine"
        )
    if not parts.hostname or parts.query or parts.fragment:
        raise LettersError(f"the platform URL {url!r} needs a host and no ?query or #fragment")
    return url.strip().rstrip("/")


def code_url(setting: LetterSetting, code: str) -> str:
    """The QR code's address: the page, with the code, the authority's key and the election id
    after ``#``, where no server sees them."""
    election = quote(setting.election, safe="")
    return f"{setting.platform_url}/#code={code}&k={b64e(setting.authority)}&e={election}"


def election_check(authority: bytes, election: str) -> str:
    """The letter's short election check: the first 10 bytes (80 bits) of SHA-256 over
    ``"hanpyo/election-check/v2\n" || authority key || UTF-8(election id)`` in Crockford
    base-32, four groups of four. A member who types the code by hand types it too, and the
    page accepts the authority key the platform names only if it gives this check (making
    another key that does is a second preimage of 80 bits)."""
    digest = sha256(_CHECK_DOMAIN + authority + election.encode("utf-8"))
    return group4(crockford32(digest[:10]))


# -- the letters ----------------------------------------------------------------------------------


def render_letters_html(setting: LetterSetting, credentials: Sequence[Credential]) -> str:
    """Every letter in one HTML document, a printed page each, with the Korean font embedded."""
    d = setting.definition
    view = {
        "title": d["title"],
        "opens": _when(d["schedule"]["opens"]),
        "closes": _when(d["schedule"]["closes"]),
        # what a member can still do once a code can no longer be replaced (the letter says)
        "policy": str(d.get("duplicate_policy", DuplicatePolicy.FIRST)),
        "contact": setting.contact,
        "platform_url": setting.platform_url,
        "election_check": election_check(setting.authority, setting.election),
        "letters": [_letter(setting, c) for c in credentials],
    }
    template = ENVIRONMENT.get_template("credential_letter.html")
    draft = template.render(view=view, fonts=Markup(""))
    return template.render(view=view, fonts=embedded_fonts_css(draft))


def letters_pdf(setting: LetterSetting, credentials: Sequence[Credential]) -> bytes:
    """The letters as one PDF, in memory: the caller writes it owner-only."""
    import weasyprint  # type: ignore[import-untyped]  # slow to import; only letters need it

    html = render_letters_html(setting, credentials)
    printer_log = logging.getLogger("weasyprint")
    level = printer_log.level
    printer_log.setLevel(logging.ERROR)  # it reads the QR codes' SVG attributes as CSS, noisily
    try:
        pdf = weasyprint.HTML(string=html).write_pdf()
    finally:
        printer_log.setLevel(level)
    return bytes(pdf)  # write_pdf returns the bytes when given no target


def letters_csv(setting: LetterSetting, credentials: Sequence[Credential]) -> str:
    """One row per letter for a mailing service that prints and posts them, by reference: the
    office joins names and addresses to it through the members list (``members_csv``)."""
    return _csv(
        CSV_COLUMNS,
        (
            (
                c.reference,
                c.code,
                code_url(setting, c.code),
                c.category,
                c.group or "",
                "test" if c.test else "",
            )
            for c in credentials
        ),
    )


def members_csv(credentials: Sequence[Credential]) -> str:
    """The office's list, without codes: each letter's reference with its member's voter id
    and card key (the key the office's enrolment list names the member by)."""
    return _csv(
        MEMBERS_COLUMNS,
        (
            (c.reference, c.voter, c.card_key, c.category, c.group or "", "test" if c.test else "")
            for c in credentials
        ),
    )


def _csv(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def _letter(setting: LetterSetting, c: Credential) -> dict[str, Any]:
    url = code_url(setting, c.code)
    return {
        "groups": c.code.split("-"),
        "qr": Markup(segno.make_qr(url, error="m").svg_inline(border=4, omitsize=True)),  # noqa: S704  # segno's own SVG of our URL
        "url": url,
        "reference": c.reference,
        "category": _title(setting.definition, "categories", c.category),
        "group": None if c.group is None else _title(setting.definition, "groups", c.group),
        "test": c.test,
    }


def _title(definition: Mapping[str, Any], part: str, ident: str) -> Mapping[str, str]:
    for item in definition.get(part, []):
        if item.get("id") == ident:
            return {"ko": str(item["title"]["ko"]), "en": str(item["title"]["en"])}
    return {"ko": ident, "en": ident}


def _when(text: str) -> dict[str, str]:
    """A schedule time as the letter prints it, in the time zone the definition wrote it in
    (Korea's, for a Korean event), which is named unless it is Korea's."""
    try:
        at = datetime.fromisoformat(text)
    except (TypeError, ValueError) as e:
        raise LettersError(f"the definition's schedule time {text!r} is not a date") from e
    offset = at.strftime("%z")
    zone = "" if offset == "+0900" else f" (UTC{offset[:3]}:{offset[3:]})"
    return {
        "ko": f"{at.year}년 {at.month}월 {at.day}일 ({_WEEKDAYS_KO[at.weekday()]}) "
        f"{at:%H:%M}{zone}",
        "en": f"{at:%A} {at.day} {at:%B %Y}, {at:%H:%M}{zone or ' (Korea time)'}",
    }
