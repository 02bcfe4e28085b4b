"""What the voter sees when something stands in the way: a wrong PIN, a blocked or unknown
card, a second vote, a closed session, a pulled card, or walking away. Each time, nothing is
written to the store unless a ballot was cast."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kiosk.app import Timeouts
from testkit.elections import derived_key
from testkit.ui_driver import Kiosk, KioskFactory


def store_fingerprint(kiosk: Kiosk) -> tuple[int, str]:
    """The chain height and a hash of every byte of the store's database and WAL files (the
    -shm file is SQLite's in-memory index of the WAL, rewritten by reads, holding no data)."""
    box = kiosk.services.box
    assert box is not None
    digest = hashlib.sha256()
    db = Path(box.store.path)
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            digest.update(path.name.encode() + path.read_bytes())
    return box.state.height, digest.hexdigest()


def test_a_wrong_pin_shows_the_tries_left_then_the_right_one_works(kiosk: Kiosk) -> None:
    kiosk.sign_in(kiosk.voter_card("resident", 1), pin="654321")
    assert kiosk.screen == "pin"
    assert "2번" in kiosk.text("pinWrong")
    assert kiosk.vm.property("pinLength") == 0  # the wrong PIN is not kept
    kiosk.type_pin()
    kiosk.wait_screen("ballot")


def test_three_wrong_pins_block_the_card_and_the_voter_is_sent_to_staff(kiosk: Kiosk) -> None:
    before = store_fingerprint(kiosk)
    kiosk.sign_in(kiosk.voter_card("resident", 2), pin="111111")
    kiosk.type_pin("222222")
    assert "1번" in kiosk.text("pinWrong")
    kiosk.type_pin("333333")
    kiosk.wait_screen("message")
    assert "잠겼습니다" in kiosk.text("message")
    assert "진행 요원" in kiosk.text("nextStep")
    kiosk.remove()
    # The blocked card is refused at once the next time, before any PIN is asked.
    kiosk.insert("resident-2")
    kiosk.wait_screen("message")
    assert "잠겼습니다" in kiosk.text("message")
    kiosk.remove()
    assert store_fingerprint(kiosk) == before


def test_an_unenrolled_card_is_refused_in_one_sentence(kiosk: Kiosk) -> None:
    kiosk.insert(kiosk.card("stranger", derived_key("not-enrolled", "voter", 0).seed))
    kiosk.wait_screen("message")
    assert kiosk.text("message") == "이 카드는 이번 투표에 등록되지 않았습니다."
    assert kiosk.text("nextStep") == "카드를 빼신 뒤 진행 요원에게 물어 주세요."


def test_a_second_vote_on_this_kiosk_is_refused(kiosk: Kiosk) -> None:
    card = kiosk.voter_card("online", 1)
    kiosk.sign_in(card)
    kiosk.tap("next")
    kiosk.tap("warningGoOn")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    kiosk.remove()
    before = store_fingerprint(kiosk)
    kiosk.tap("langEn")
    kiosk.sign_in(card)
    kiosk.wait_screen("message")
    assert kiosk.text("message") == "You have already voted at this kiosk."
    kiosk.remove()
    assert store_fingerprint(kiosk) == before


def test_voters_are_turned_away_while_the_session_is_closed(kiosk_factory: KioskFactory) -> None:
    kiosk = kiosk_factory(open_session=False)
    assert kiosk.text("headline") == "지금은 이 투표기에서 투표할 수 없습니다."
    kiosk.sign_in(kiosk.voter_card("resident", 3))
    kiosk.wait_screen("message")
    assert kiosk.text("message") == "지금은 이 투표기에서 투표할 수 없습니다."


def _to_pin(k: Kiosk) -> None:
    k.insert(k.voter_card("resident", 4))
    k.wait_screen("pin")
    k.tap("pin1")


def _to_ballot(k: Kiosk) -> None:
    k.sign_in(k.voter_card("resident", 4))
    k.wait_screen("ballot")
    option = k.election.package.options_in_group("g001")[1].id
    k.tap(f"score-{option}-6")


def _to_detail(k: Kiosk) -> None:
    _to_ballot(k)
    k.tap(f"detail-{k.election.package.options_in_group('g001')[1].id}")


def _to_warning(k: Kiosk) -> None:
    _to_ballot(k)
    k.tap("next")
    k.wait_for("warningText")


def _to_review(k: Kiosk) -> None:
    _to_ballot(k)
    k.tap("next")
    k.tap("warningGoOn")
    k.tap("answer-no")
    k.tap("next")
    k.wait_screen("review")


def _to_staff(k: Kiosk) -> None:
    k.sign_in(k.staff_card("poll_worker"))
    k.wait_screen("staff")


def _to_refusal(k: Kiosk) -> None:
    k.insert(k.card("stranger", derived_key("not-enrolled", "voter", 1).seed))
    k.wait_screen("message")


STEPS = {
    "pin": _to_pin,
    "ballot": _to_ballot,
    "detail": _to_detail,
    "warning": _to_warning,
    "review": _to_review,
    "staff": _to_staff,
    "refusal": _to_refusal,
}


@pytest.mark.parametrize("where", sorted(STEPS))
def test_a_card_pulled_on_any_screen_discards_everything(kiosk: Kiosk, where: str) -> None:
    before = store_fingerprint(kiosk)
    kiosk.tap("langEn")
    STEPS[where](kiosk)
    kiosk.remove()
    assert kiosk.text("headline") == "카드를 넣어 주세요"  # settings are back to Korean
    assert kiosk.vm.property("pageCount") == 0  # no ballot is held in memory
    assert kiosk.vm.property("pinLength") == 0
    assert not kiosk.visible("warningOverlay") and not kiosk.visible("detailOverlay")
    assert store_fingerprint(kiosk) == before
    # The next voter starts clean and can vote.
    _to_review(kiosk)
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")


def test_a_card_pulled_at_the_receipt_returns_to_waiting(kiosk: Kiosk) -> None:
    _to_review(kiosk)
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    kiosk.remove()
    assert kiosk.vm.property("receiptCode") == ""  # the code is not left on the screen


FAST = Timeouts(idle_s=1.0, warning_s=2.0)


@pytest.mark.parametrize("where", ["pin", "ballot", "detail", "warning", "review", "staff"])
def test_walking_away_clears_the_ballot_after_a_warning(
    kiosk_factory: KioskFactory, where: str
) -> None:
    kiosk = kiosk_factory(timeouts=FAST)
    before = store_fingerprint(kiosk)
    STEPS[where](kiosk)
    kiosk.wait_for("timeoutOverlay", timeout=5_000)
    assert "초" in kiosk.text("timeoutText")
    kiosk.wait_screen("message", timeout=8_000)
    assert kiosk.vm.property("pageCount") == 0
    assert kiosk.vm.property("pinLength") == 0
    assert kiosk.vm.property("messageKey") == ("staff_idle" if where == "staff" else "timed_out")
    kiosk.remove()
    assert store_fingerprint(kiosk) == before


def test_i_need_more_time_keeps_the_ballot(kiosk_factory: KioskFactory) -> None:
    kiosk = kiosk_factory(timeouts=FAST)
    _to_review(kiosk)
    kiosk.wait_for("timeoutOverlay", timeout=5_000)
    kiosk.tap("moreTime")
    assert not kiosk.visible("timeoutOverlay")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    assert kiosk.vm.property("receiptCode")


def test_the_receipt_times_out_to_take_your_card(kiosk_factory: KioskFactory) -> None:
    kiosk = kiosk_factory(timeouts=FAST)
    _to_review(kiosk)
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    kiosk.wait_screen("message", timeout=8_000)
    assert kiosk.vm.property("receiptCode") == ""
    assert kiosk.text("nextStep") == "카드를 빼 주세요."
