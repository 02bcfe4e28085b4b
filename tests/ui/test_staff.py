"""Staff cards on the real screens: modes, opening, pausing and closing, reports, export,
loading a package; and what a voter sees in test and official mode."""

from __future__ import annotations

import dataclasses
import json
import re

from pytestqt.qtbot import QtBot

from kiosk.core.block import BlockKind
from kiosk.core.election import Text, sign_package
from kiosk.core.export import is_export, read_manifest, verify_export
from kiosk.hardware.printer.receipt import Receipt
from kiosk.ui.main import build_ui
from testkit.elections import build_election, review_definition
from testkit.kiosk_config import PX_PER_MM
from testkit.kiosk_screens import last_ballot, vote
from testkit.robot import walk
from testkit.ui_driver import SCREENSHOTS, Kiosk, KioskFactory, test_roll_card


def report(kiosk: Kiosk, printed_before: int) -> Receipt:
    """The report the last tap printed: printing runs off the GUI thread."""
    kiosk.qtbot.waitUntil(lambda: len(kiosk.printer.printed) > printed_before, timeout=10_000)
    return kiosk.printer.printed[-1]


def tally_lines(kiosk: Kiosk) -> list[str]:
    """The lines of the test tally as the staff screen shows them."""
    return [
        str(item.property("text"))
        for item in walk(kiosk.ui.window.contentItem())
        if item.objectName() == "testTallyLine" and item.isVisible()
    ]


def test_a_session_from_mode_to_export(kiosk_factory: KioskFactory) -> None:
    kiosk = kiosk_factory(mode=None)
    assert kiosk.text("headline") == "지금은 이 투표기에서 투표할 수 없습니다."

    # A poll worker cannot open a session before a manager has chosen the mode, and sees
    # no manager controls.
    kiosk.sign_in(kiosk.staff_card("poll_worker"))
    kiosk.wait_screen("staff")
    assert not kiosk.visible("managerPanel")
    open_session = kiosk.find("openSession")
    assert open_session is not None and not open_session.isEnabled()
    kiosk.remove()

    # The manager runs a logic-and-accuracy test in test mode.
    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.tap("testMode")
    assert kiosk.visible("testBanner")
    kiosk.tap("openSession")
    assert "OPEN" in kiosk.vm.property("sessionState").upper()
    opening = report(kiosk, 0)
    assert opening.title == "개시 보고서 (영 보고서)\nOpening report (zero report)"
    assert "모드 Mode: 시험 TEST" in opening.lines
    assert "회차 Session: 1 · 진행 중 OPEN" in opening.lines
    assert "\u2007본 투표 official 0 · 시험 test 0" in opening.lines  # a zero report
    kiosk.remove()
    assert kiosk.visible("testBanner")  # on the voter's screens too
    vote(kiosk, test_roll_card(kiosk))  # a test-mode kiosk takes only test cards
    assert "TEST" in kiosk.printer.printed[-1].lines[0]
    assert last_ballot(kiosk, BlockKind.TEST_BALLOT)  # opens with the test key
    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.tap("testTally")  # the manager counts the test ballots on the kiosk itself
    kiosk.qtbot.waitUntil(lambda: len(tally_lines(kiosk)) > 1, timeout=10_000)
    lines = tally_lines(kiosk)
    assert lines[0] == "시험 개표: 센 시험 투표 1표"
    assert "  찬성 0 · 반대 0 · 기권 1" in lines  # the vote above answered "blank"
    kiosk.robot.reveal("testTallyLine")
    kiosk.screenshot("staff-test-tally")
    printed = len(kiosk.printer.printed)
    kiosk.tap("closeSession")
    closing = report(kiosk, printed)
    assert closing.title == "마감 보고서\nClosing report"
    assert "회차 Session: 1 · 마감됨 CLOSED" in closing.lines
    after = closing.lines[closing.lines.index("이번 회차 투표 수 Ballots this session") + 1]
    assert after == "\u2007본 투표 official 0 · 시험 test 1"  # the test ballot above
    kiosk.tap("officialMode")
    assert not kiosk.visible("testBanner")
    kiosk.remove()

    # The poll worker opens the official session, pauses and resumes it.
    kiosk.sign_in(kiosk.staff_card("poll_worker"))
    kiosk.tap("openSession")
    kiosk.tap("pauseSession")
    kiosk.remove()
    assert kiosk.text("headline") == "투표를 잠시 멈췄습니다."
    kiosk.sign_in(kiosk.voter_card("resident", 1))
    kiosk.wait_screen("message")
    kiosk.remove()
    kiosk.sign_in(kiosk.staff_card("poll_worker"))
    kiosk.tap("resumeSession")
    kiosk.remove()
    vote(kiosk, kiosk.voter_card("resident", 0))  # the test vote does not count
    assert last_ballot(kiosk)  # an official ballot, sealed to the election key

    kiosk.sign_in(kiosk.staff_card("poll_worker"))
    assert kiosk.text("countsText").splitlines() == [
        "이번 회차 투표 수: 1 (시험 0)",
        "전체 투표 수: 1 (시험 1)",
    ]
    assert kiosk.vm.property("receiptCode") == ""  # staff never see a voter's code
    kiosk.tap("closeSession")
    assert "마감됨" in kiosk.text("sessionText")
    kiosk.remove()

    # The manager exports the chain to USB; the file verifies as the ledger would check it.
    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.tap("exportUsb")
    assert kiosk.text("staffNote") == "체인을 USB 저장 장치로 내보냈습니다."
    assert kiosk.services.config.usb_dir is not None
    files = list(kiosk.services.config.usb_dir.glob("hanpyo-*.jsonl"))
    assert len(files) == 1
    exported = files[0].read_bytes().splitlines()
    assert is_export(exported[0])
    manifest, signature = read_manifest(exported[0])
    verify_export(manifest, signature, kiosk.services.keys.kiosk_key.public_key, exported[1:])
    kiosk.remove()


def test_a_printed_report_is_korean_then_english_whatever_the_screen_shows(
    kiosk_factory: KioskFactory,
) -> None:
    kiosk = kiosk_factory()  # official mode, session 1 open
    vote(kiosk, kiosk.voter_card("resident", 0))
    vote(kiosk, kiosk.voter_card("resident", 1))
    kiosk.tap("langEn")  # the last person at the kiosk chose English
    kiosk.sign_in(kiosk.staff_card("poll_worker"))
    kiosk.wait_screen("staff")
    assert kiosk.text("modeText") == "Mode: OFFICIAL"
    printed = len(kiosk.printer.printed)
    kiosk.tap("printReport")
    paper = report(kiosk, printed)
    package, box = kiosk.services.package, kiosk.services.box
    assert package is not None and box is not None
    state = box.state

    assert paper.title == "회차 보고서\nSession report"
    assert paper.lines == (
        package.title.ko,
        package.title.en,
        "선거 패키지 Election package",
        f"\u2007{package.short_hash}",
        "투표기 Kiosk",
        f"\u2007{kiosk.services.kiosk_id}",
        "모드 Mode: 본 투표 OFFICIAL",
        "회차 Session: 1 · 진행 중 OPEN",
        "이번 회차 투표 수 Ballots this session",
        "\u2007본 투표 official 2 · 시험 test 0",
        "전체 투표 수 Ballots in total",
        "\u2007본 투표 official 2 · 시험 test 0",
        f"체인 높이 Chain height: {state.height}",
        "체인 머리 Chain head",
        f"\u2007{kiosk.vm.property('chainHead')}",  # as the staff screen shows it
        paper.lines[-1],
    )
    time = r"시각 Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d"
    assert re.fullmatch(time, paper.lines[-1])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    kiosk.printer.save_png(-1, SCREENSHOTS / "staff-report.png")
    kiosk.remove()


def test_loading_a_package_shows_its_hash_and_refuses_a_forged_one(
    kiosk_factory: KioskFactory,
) -> None:
    kiosk = kiosk_factory(open_session=False)
    other = build_election(
        review_definition(groups=1, per_group=3, election_id="next-vote"), seed="ui"
    )  # the same seed: the same authority key and staff cards
    # Another election, though signed by the same authority: staff never switch to it.
    usb = kiosk.services.config.usb_dir
    assert usb is not None
    signed = sign_package(other.package, other.authority).to_json()
    (usb / "election.json").write_text(json.dumps(signed, ensure_ascii=False))
    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.tap("loadUsb")
    assert "다른 선거" in kiosk.text("staffNote") or "another election" in kiosk.text("staffNote")
    assert not kiosk.visible("confirmLoad")
    # The election's next package (number 2), as the authority signs a corrected one.
    newer = dataclasses.replace(
        kiosk.election.package, sequence=2, title=Text("다음 선거 정보", "The next package")
    )
    other = dataclasses.replace(kiosk.election, package=newer)
    signed = sign_package(other.package, other.authority).to_json()
    forged = json.loads(json.dumps(signed))
    forged["package"]["title"]["ko"] = "가짜 선거"
    (usb / "election.json").write_text(json.dumps(forged, ensure_ascii=False))
    kiosk.tap("loadUsb")
    assert "signature" in kiosk.text("staffNote") or "서명" in kiosk.text("staffNote")
    assert not kiosk.visible("confirmLoad")

    (usb / "election.json").write_text(json.dumps(signed, ensure_ascii=False))
    kiosk.tap("loadUsb")
    assert other.package.short_hash in kiosk.text("pendingHash")
    kiosk.tap("confirmLoad")
    assert kiosk.vm.property("packageHash") == other.package.short_hash
    assert kiosk.services.package is not None and kiosk.services.package.sequence == 2
    kiosk.remove()


def test_a_restarted_kiosk_resumes_its_open_session(
    kiosk_factory: KioskFactory, qtbot: QtBot
) -> None:
    kiosk = kiosk_factory()
    vote(kiosk, kiosk.voter_card("resident", 2))
    config = kiosk.services.config
    kiosk.ui.close()
    kiosk.services.close()

    from kiosk.app import build_kiosk

    services = build_kiosk(config)
    ui = build_ui(services, px_per_mm=PX_PER_MM)
    try:
        qtbot.waitUntil(lambda: ui.bridge.property("readerReady"), timeout=15_000)
        assert ui.bridge.property("votingOpen")
        assert ui.bridge.property("counts")["session"] == 1
    finally:
        ui.close()
        services.close()
