"""The staff guides, parsed for tests: every button and screen text each section of
docs/guide-staff.{en,ko}.md names, and the session states its button table gives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


GUIDES = {language: ROOT / "docs" / f"guide-staff.{language}.md" for language in ("en", "ko")}


# -- the guides, parsed -----------------------------------------------------------------------

HANGUL = re.compile(r"[\uac00-\ud7a3]")


HEADING = re.compile(r"^## (\d+)\. ", re.M)


BUTTON = re.compile(r"\*\*\[([^\]]*)\]\*\*")


KOREAN_NAME = re.compile(r"\]\*\*\s*\(([^)]*)\)")  # the English guide: **[Pause]** (잠시 멈춤)


QUOTE = re.compile(r"“([^”]*)”")


CODE = re.compile(r"`([^`]+)`")


PLACEHOLDER = re.compile(r"XXXX-XXXX-XXXX-XXXX|…|(?<![A-Za-z])N(?![A-Za-z])")


ANY = {"XXXX-XXXX-XXXX-XXXX": r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}", "…": ".*", "N": r"\d+"}


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Label:
    guide: str  # the guide it is written in: en | ko
    line: int
    section: int  # the intro counts as section 1
    kind: str  # button | text (on screen or paper) | paper (a printed line) | file (on USB)
    text: str
    screen: str  # the language of the screen it shows on

    @property
    def where(self) -> str:
        return f"docs/guide-staff.{self.guide}.md:{self.line} §{self.section}"

    def __str__(self) -> str:
        shown = {"button": f"[{self.text}]", "text": f"“{self.text}”"}.get(
            self.kind, f"`{self.text}`"
        )
        return f"{self.where} {shown}"

    @property
    def pattern(self) -> re.Pattern[str]:
        text = self.text
        if self.kind == "file":  # hanpyo-(first 12 characters of the kiosk id)-(...).jsonl
            parts = re.split(r"\([^)]*\)", text)
            return re.compile("[^/]+".join(re.escape(p) for p in parts))
        out, at = [], 0
        for m in PLACEHOLDER.finditer(text):
            out += [re.escape(text[at : m.start()]), ANY[m.group()]]
            at = m.end()
        out.append(re.escape(text[at:]))
        return re.compile("".join(out))


def parse_guide(language: str) -> list[Label]:
    text = GUIDES[language].read_text("utf-8")
    starts = [(0, 1)] + [(m.start(), int(m.group(1))) for m in HEADING.finditer(text)]
    labels: list[Label] = []

    def section_of(at: int) -> int:
        return next(s for start, s in reversed(starts) if start <= at)

    def add(at: int, kind: str, found: str, screen: str | None = None) -> None:
        found = flat(found)
        if not found:  # the intro's **[ ]** and “ ”
            return
        section = section_of(at)
        line = text.count("\n", 0, at) + 1
        if screen is None:  # paper and files are read on the walk of the guide's language
            hangul = kind in ("button", "text") and HANGUL.search(found)
            screen = "ko" if language == "ko" or hangul else "en"
        labels.append(Label(language, line, section, kind, found, screen))

    for m in BUTTON.finditer(text):
        add(m.start(1), "button", m.group(1))
    if language == "en":  # "The Korean label is given in brackets."
        for m in KOREAN_NAME.finditer(text):
            if HANGUL.search(m.group(1)):
                for name in re.split(r"\s*[–~]\s*", m.group(1)):  # (1단계–4단계)
                    add(m.start(1), "button", name, "ko")
    for m in QUOTE.finditer(text):
        add(m.start(1), "text", m.group(1))
    for m in CODE.finditer(text):
        if section_of(m.start()) not in UNCHECKED_CODE:
            add(m.start(1), "file" if "." in m.group(1) else "paper", m.group(1))
    return labels


def button_tables(language: str) -> tuple[dict[str, set[str]], set[str]]:
    """Section 2's two tables: each button with the session states the guide says it shows
    in, and the buttons that only an election manager's card shows."""
    text = GUIDES[language].read_text("utf-8")
    section = text[text.index("\n## 2. ") : text.index("\n## 3. ")]
    shown: dict[str, set[str]] = {}
    manager: set[str] = set()
    for row in (r for r in section.splitlines() if r.startswith("| **[")):
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = [flat(b) for b in BUTTON.findall(cells[0])]
        if len(cells) == 3:
            when = flat(cells[1])
            assert when in SHOWN_WHEN, f"guide-staff.{language}.md: add {when!r} to SHOWN_WHEN"
            shown |= {name: SHOWN_WHEN[when] for name in names}
        else:
            manager |= set(names)
    return shown, manager


ALL_STATES = {"closed", "open", "paused"}


SHOWN_WHEN = {  # section 2's "Shown when" column, in the kiosk's session states
    "the session is closed": {"closed"},
    "voting is open": {"open"},
    "voting is paused": {"paused"},
    "open or paused": {"open", "paused"},
    "always": ALL_STATES,
    "회차가 마감되어 있을 때": {"closed"},
    "투표 중": {"open"},
    "멈췄을 때": {"paused"},
    "투표 중이거나 멈췄을 때": {"open", "paused"},
    "언제나": ALL_STATES,
}


# Which sections' steps must show a section's labels: its own, except that the reference
# tables (2: the buttons, 5: the alarms) may be shown anywhere, and the close in §4 names
# the other ledger states (“offline”, “not configured”), which §5 brings about.
ALL_SECTIONS = set(range(1, 8))


SHOWN_IN = {2: ALL_SECTIONS, 4: {4, 5}, 5: ALL_SECTIONS}


# `code` is a printed line (§3: the zero report's count) or a file (`election.json`), but
# not in §2, where it describes a report line by line with examples (`2025-06-03 14:05:09
# +09:00`) and a technician's command: that paragraph is for the report's own tests
# (tests/unit/test_staff_report.py). The report titles it quotes (“Closing report”) are
# checked here.
UNCHECKED_CODE = {2}


# Labels a test cannot show on a screen, with the reason.
EXCEPTIONS = {
    "HANPYO": "the name written on the USB stick, not a screen text",
}


# Where the guide and the kiosk disagree today: (guide, label) -> what the kiosk does. The
# test passes while they disagree in exactly this way and fails once one of them is fixed,
# so that the entry is removed.
KNOWN_MISMATCHES: dict[tuple[str, str], str] = {}
