"""The staff reports a kiosk prints (opening, closing, session): every line in Korean, then
English, whatever language the last voter chose, because the paper is filed with the box.

Where the staff screen has words for a thing, the paper uses them (assets/i18n/hanpyo_ko.ts),
so the two say the same. Every line fits one printed line of 80 mm paper: a value that
would not fit beside its label goes on the next line, indented.
"""

from __future__ import annotations

import enum
from datetime import datetime

from kiosk.core.chain import ChainState, Mode, Session
from kiosk.core.election import Text
from kiosk.hardware.printer.receipt import Receipt

# A figure space (as wide as a digit): the receipt's line wrapping drops leading ASCII
# spaces, and a wider indent would push a 32-digit kiosk id off an 80 mm line.
INDENT = "\u2007"


class ReportKind(enum.Enum):
    OPENING = Text("개시 보고서 (영 보고서)", "Opening report (zero report)")
    CLOSING = Text("마감 보고서", "Closing report")
    SESSION = Text("회차 보고서", "Session report")


MODE_WORDS = {
    Mode.UNSET: "정하지 않음 not set",
    Mode.TEST: "시험 TEST",
    Mode.OFFICIAL: "본 투표 OFFICIAL",
}
SESSION_WORDS = {
    Session.OPEN: "진행 중 OPEN",
    Session.PAUSED: "잠시 멈춤 PAUSED",
    Session.CLOSED: "마감됨 CLOSED",
}


def report_receipt(
    kind: ReportKind,
    *,
    election: Text,
    package_code: str,
    kiosk_id: str,
    state: ChainState,
    head: str,
    printed_at: datetime,
) -> Receipt:
    """The report as the printer takes it. ``head`` is the chain head as the staff screen
    shows it; ``printed_at`` must carry its UTC offset, which is printed."""
    s = state
    titles = (election.ko,) if election.en == election.ko else (election.ko, election.en)
    lines = (
        *titles,
        "선거 패키지 Election package",
        f"{INDENT}{package_code}",
        "투표기 Kiosk",
        f"{INDENT}{kiosk_id}",
        f"모드 Mode: {MODE_WORDS[s.mode]}",
        f"회차 Session: {_session(s)}",
        "이번 회차 투표 수 Ballots this session",
        _counts(s.session_ballots, s.session_test_ballots),
        "전체 투표 수 Ballots in total",
        _counts(s.ballots, s.test_ballots),
        f"체인 높이 Chain height: {s.height}",
        "체인 머리 Chain head",
        f"{INDENT}{head}",
        f"시각 Time: {local_time(printed_at)}",
    )
    return Receipt(f"{kind.value.ko}\n{kind.value.en}", lines)


def _counts(official: int, test: int) -> str:
    # The screen's "3 (시험 1)" leaves a reader of the paper guessing whether the 3 holds
    # the 1; the two kinds are counted apart, so the paper names both.
    return f"{INDENT}본 투표 official {official} · 시험 test {test}"


def _session(state: ChainState) -> str:
    words = SESSION_WORDS[state.session]
    # Before the first session there is no number to print; after it, a closed session
    # keeps its number, so a closing report says which session it closed.
    return f"{state.session_number} · {words}" if state.session_number else words


def local_time(moment: datetime) -> str:
    """``2025-06-03 14:05:09 +09:00``: the kiosk's clock time, with the offset that pins it
    to one instant."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"a report time needs its UTC offset, not the naive {moment}")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{moment:%Y-%m-%d %H:%M:%S} {sign}{hours:02d}:{minutes:02d}"
