"""The ledger's public pages after the count, as a voter and an observer see them in headless
Chromium (testkit/browser.py): the check page of a cast ballot (its fingerprint and that it was
counted, never its choices), of the checked ballot (opened for anyone: its choices), and the
results page, and the check page of a ballot cast on the online voting page. Each is saved as a
PNG and what it says is read back from its DOM."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import quote

from testkit.browser import dump_dom, screenshot
from testkit.demo.ceremony import say
from testkit.demo.ledger_process import DemoLedger

_CHOICE = re.compile(
    r'<span class="label">(?:✓ )?([^<]*)<span class="en" lang="en">([^<]*)</span></span>\s*'
    r'(?:<span class="value">([^<]*)<span)?'
)


def choices_on(page: str) -> list[str]:
    """The opened ballot's choices as the page lists them ("title: value", Korean first)."""
    start = page.find('<section class="opened"')
    if start < 0:
        return []
    section = page[start : page.find("</section>", start)]
    found = []
    for ko, en, value in _CHOICE.findall(section):
        title = f"{unescape(ko).strip()} / {unescape(en).strip()}"
        found.append(f"{title}: {unescape(value).strip()}" if value else f"✓ {title}")
    return found


def show_check_pages(
    out: Path,
    the_ledger: DemoLedger,
    cast: tuple[str, str],
    checked: tuple[str, str] | None,
    online: tuple[str, str] | None = None,
) -> bool:
    """Serve the published record again and look at the pages; ``cast``, ``checked`` and
    ``online`` (a ballot cast on the voting page) are (tracking code, fingerprint), ``checked``
    None when no ballot was checked. False if a page does not say what it should."""
    shots = out / "pages"
    shots.mkdir(parents=True, exist_ok=True)
    good = True
    with the_ledger:
        good = _cast_page(the_ledger, cast, shots / "check-cast-ballot.png", "cast ballot")
        if online is not None:
            where = shots / "check-online-ballot.png"
            good = _cast_page(the_ledger, online, where, "online ballot") and good
        if checked is not None:
            good = _checked_page(the_ledger, checked, shots) and good
        screenshot(f"{the_ledger.url}/results", shots / "results.png", 1280, 2400)
    say(f"   screenshots (headless Chromium): {shots}")
    if not good:
        say("   !! a check page did not say what it should")
    return good


def _cast_page(the_ledger: DemoLedger, cast: tuple[str, str], shot: Path, what: str) -> bool:
    """The check page of a cast ballot: its fingerprint, counted, and never its choices."""
    code, fingerprint = cast
    url = f"{the_ledger.url}/check?code={quote(code)}"
    page = dump_dom(url)
    screenshot(url, shot, 1280, 1800)
    counted = "This ballot was counted." in page
    shown = f"<code>{fingerprint}</code>" in page
    hidden = '<section class="opened"' not in page  # a cast ballot is never opened
    say(
        f"   check page of {what} {code}: fingerprint {fingerprint} "
        f"{'shown' if shown else 'MISSING'}; "
        f"{'✓ 개표에 들어갔습니다 / This ballot was counted' if counted else 'not counted'}; "
        f"{'no choice is shown' if hidden else 'ITS CHOICES ARE SHOWN'}"
    )
    return shown and counted and hidden


def _checked_page(the_ledger: DemoLedger, checked: tuple[str, str], shots: Path) -> bool:
    """The check page of a checked ballot: opened for anyone, with its choices."""
    code, fingerprint = checked
    url = f"{the_ledger.url}/check?code={quote(code)}"
    page = dump_dom(url)
    screenshot(url, shots / "check-checked-ballot.png", 1280, 3200)
    opened = "A checked ballot. It is not counted." in page and "fails the check" not in page
    lines = choices_on(page)
    say(
        f"   check page of checked ballot {code}: fingerprint {fingerprint} "
        f"{'shown' if f'<code>{fingerprint}</code>' in page else 'MISSING'}; "
        f"{'opened for anyone, its proofs hold' if opened else 'NOT OPENED'}; "
        f"its choices ({len(lines)}):"
    )
    for line in lines[:4]:
        say(f"     {line}")
    if len(lines) > 4:
        say(f"     … and {len(lines) - 4} more")
    return opened and bool(lines)
