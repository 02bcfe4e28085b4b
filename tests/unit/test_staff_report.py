"""The staff reports the kiosk prints: Korean then English on every line, the real counts,
the time with its offset, and nothing wider than one printed line of 80 mm paper."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kiosk.core.chain import ChainState, Mode, Session
from kiosk.core.election import Text
from kiosk.flow.staff_report import INDENT, ReportKind, local_time, report_receipt
from kiosk.hardware.printer.receipt import Receipt
from kiosk.hardware.printer.render import PAPER_WIDTH, render_receipt

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
SEOUL = timezone(timedelta(hours=9))
ELECTION = Text("2017 도민 심사", "2017 Provincial review")


def report(
    state: ChainState,
    kind: ReportKind = ReportKind.SESSION,
    *,
    package_code: str = "9BW1-752J-D9AR-Y4QQ",
    kiosk_id: str = "5763b89c21fa7daf01de208998daa658",
    head: str = "xMUtoKmPYn7g7Gc4",
    printed_at: datetime = datetime(2025, 6, 3, 14, 5, 9, tzinfo=SEOUL),
) -> Receipt:
    return report_receipt(
        kind,
        election=ELECTION,
        package_code=package_code,
        kiosk_id=kiosk_id,
        state=state,
        head=head,
        printed_at=printed_at,
    )


def value_after(receipt: Receipt, label: str) -> str:
    return receipt.lines[receipt.lines.index(label) + 1]


def test_a_closing_report_reads_like_this() -> None:
    state = ChainState(
        height=41,
        mode=Mode.OFFICIAL,
        session=Session.CLOSED,
        session_number=2,
        ballots=37,
        test_ballots=3,
        session_ballots=12,
    )
    paper = report(state, ReportKind.CLOSING)
    assert paper.title == "마감 보고서\nClosing report"
    assert paper.lines == (
        "2017 도민 심사",
        "2017 Provincial review",
        "선거 패키지 Election package",
        f"{INDENT}9BW1-752J-D9AR-Y4QQ",
        "투표기 Kiosk",
        f"{INDENT}5763b89c21fa7daf01de208998daa658",
        "모드 Mode: 본 투표 OFFICIAL",
        "회차 Session: 2 · 마감됨 CLOSED",
        "이번 회차 투표 수 Ballots this session",
        f"{INDENT}본 투표 official 12 · 시험 test 0",
        "전체 투표 수 Ballots in total",
        f"{INDENT}본 투표 official 37 · 시험 test 3",
        "체인 높이 Chain height: 41",
        "체인 머리 Chain head",
        f"{INDENT}xMUtoKmPYn7g7Gc4",
        "시각 Time: 2025-06-03 14:05:09 +09:00",
    )


@pytest.mark.parametrize("kind", list(ReportKind))
def test_every_title_and_label_is_korean_then_english(kind: ReportKind) -> None:
    paper = report(ChainState(mode=Mode.TEST, session=Session.PAUSED, session_number=1), kind)
    korean, english = paper.title.split("\n")
    assert HANGUL.search(korean) and not LATIN.search(korean)
    assert LATIN.search(english) and not HANGUL.search(english)
    for line in paper.lines[2:]:  # after the election's own title
        if line.startswith(INDENT) and not HANGUL.search(line):
            continue  # a code under its label
        first_hangul, first_latin = HANGUL.search(line), LATIN.search(line)
        assert first_hangul and first_latin, line
        assert first_hangul.start() < first_latin.start(), line


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        (Mode.UNSET, "모드 Mode: 정하지 않음 not set"),
        (Mode.TEST, "모드 Mode: 시험 TEST"),
        (Mode.OFFICIAL, "모드 Mode: 본 투표 OFFICIAL"),
    ],
)
def test_the_mode_in_the_staff_screens_words(mode: Mode, words: str) -> None:
    assert words in report(ChainState(mode=mode)).lines


@pytest.mark.parametrize(
    ("session", "number", "words"),
    [
        (Session.CLOSED, 0, "회차 Session: 마감됨 CLOSED"),  # no session yet: no number
        (Session.OPEN, 1, "회차 Session: 1 · 진행 중 OPEN"),
        (Session.PAUSED, 3, "회차 Session: 3 · 잠시 멈춤 PAUSED"),
        (Session.CLOSED, 3, "회차 Session: 3 · 마감됨 CLOSED"),
    ],
)
def test_the_session_in_the_staff_screens_words(session: Session, number: int, words: str) -> None:
    state = ChainState(mode=Mode.TEST, session=session, session_number=number)
    assert words in report(state).lines


def test_test_ballots_are_counted_apart_from_official_ones() -> None:
    state = ChainState(
        mode=Mode.TEST,
        session=Session.OPEN,
        session_number=2,
        ballots=0,
        test_ballots=5,
        session_test_ballots=2,
    )
    paper = report(state)
    assert value_after(paper, "이번 회차 투표 수 Ballots this session").endswith(
        "official 0 · 시험 test 2"
    )
    assert value_after(paper, "전체 투표 수 Ballots in total").endswith("official 0 · 시험 test 5")


@pytest.mark.parametrize(
    ("moment", "printed"),
    [
        (datetime(2025, 6, 3, 14, 5, 9, tzinfo=SEOUL), "2025-06-03 14:05:09 +09:00"),
        (datetime(2025, 6, 3, 5, 5, 9, tzinfo=UTC), "2025-06-03 05:05:09 +00:00"),
        (
            datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            "2025-01-02 03:04:05 -03:30",
        ),
    ],
)
def test_the_time_is_the_kiosks_clock_with_its_offset(moment: datetime, printed: str) -> None:
    assert local_time(moment) == printed


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        local_time(datetime(2025, 6, 3, 14, 5, 9))


@pytest.mark.parametrize("char", "0123456789abcdefWM")
def test_no_line_wraps_on_80_mm_paper(char: str) -> None:
    """The widest values each line can hold, drawn by the receipt printer's own code: every
    line stays one printed line, so no label is split from its value mid-word. (Counts up
    to 999,999: one kiosk takes a few thousand ballots in a day.)"""
    hex_char = char if char in "0123456789abcdef" else "d"
    widest = ChainState(
        height=9_999_999,
        mode=Mode.UNSET,
        session=Session.PAUSED,
        session_number=999,
        ballots=999_999,
        test_ballots=999_999,
        session_ballots=999_999,
        session_test_ballots=999_999,
    )
    paper = report(
        widest,
        package_code="-".join([char.upper() * 4] * 4),
        kiosk_id=hex_char * 32,
        head=char * 16,
        printed_at=datetime(2028, 12, 28, 23, 58, 58, tzinfo=timezone(-timedelta(hours=11))),
    )
    one_line = render_receipt(Receipt("", ("x",)), PAPER_WIDTH).height
    for line in paper.lines[2:]:  # the election's title is the authority's, and may wrap
        assert render_receipt(Receipt("", (line,)), PAPER_WIDTH).height == one_line, line
