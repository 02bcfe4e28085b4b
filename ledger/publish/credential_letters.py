"""The online members' credential letters: one printed page each, Korean first and English
second, with the code in large groups and a QR code that opens the voting page with the code
filled in; and the same codes as a CSV file for a mailing service.

The QR code carries ``<platform URL>/#code=<code>``: a browser never sends the part after ``#``
to any server, so the code reaches neither the platform's access log nor a proxy. The letter is
printed by WeasyPrint with the results report's Korean font (report_fonts.py).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import segno
from markupsafe import Markup

from kiosk.core.encoding import b64e
from ledger.publish.credential_roll import Credential, LettersError
from ledger.publish.report_fonts import embedded_fonts_css
from ledger.publish.results_report import ENVIRONMENT  # the report's templates and settings

CSV_COLUMNS = ("voter", "code", "url", "category", "group", "card_key", "credential_key", "test")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WEEKDAYS_KO = "월화수목금토일"


@dataclass(frozen=True, slots=True)
class LetterSetting:
    """What every letter of one run shares: the election as the definition names it, the
    voting page's address and the office to call."""

    definition: Mapping[str, Any]
    platform_url: str
    contact: str | None


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


def code_url(platform_url: str, code: str) -> str:
    """The QR code's address: the page, with the code after ``#`` where no server sees it."""
    return f"{platform_url}/#code={code}"


# -- the letters ----------------------------------------------------------------------------------


def render_letters_html(setting: LetterSetting, credentials: Sequence[Credential]) -> str:
    """Every letter in one HTML document, a printed page each, with the Korean font embedded."""
    d = setting.definition
    view = {
        "title": d["title"],
        "opens": _when(d["schedule"]["opens"]),
        "closes": _when(d["schedule"]["closes"]),
        "contact": setting.contact,
        "platform_url": setting.platform_url,
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
    """One row per letter for a mailing service that prints and posts them. The roll holds no
    names: the office joins this file to its member list by voter id or card key."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in credentials:
        writer.writerow(
            (
                c.voter,
                c.code,
                code_url(setting.platform_url, c.code),
                c.category,
                c.group or "",
                c.card_key,
                b64e(c.public_key),
                "test" if c.test else "",
            )
        )
    return out.getvalue()


def _letter(setting: LetterSetting, c: Credential) -> dict[str, Any]:
    url = code_url(setting.platform_url, c.code)
    return {
        "groups": c.code.split("-"),
        "qr": Markup(segno.make_qr(url, error="m").svg_inline(border=4, omitsize=True)),  # noqa: S704  # segno's own SVG of our URL
        "url": url,
        "voter": c.voter,
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
