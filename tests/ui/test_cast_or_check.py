"""Protocol v2 on the real screens, through the real pcscd and the vpcd card simulator: the
review screen shows the encrypted ballot's fingerprint, Check publishes the ballot opened and
lets the voter make it again, Cast has the voter's card sign, and each mode takes only its own
cards. Screenshots of the new screens go with the others (test-output/screenshots/kiosk)."""

from __future__ import annotations

import pytest

from kiosk.core.ballot_crypto import open_spoiled
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.encoding import b64d
from kiosk.core.encrypted_ballot import card_message, read_encrypted_ballot
from testkit.ui_driver import (
    Kiosk,
    KioskFactory,
    fill_in_to_review,
    layout_problems,
    test_roll_card,
    visit_cast_or_check,
)


def _blocks(kiosk: Kiosk, *kinds: BlockKind) -> list[SignedBlock]:
    assert kiosk.services.box is not None
    return [b for b in kiosk.services.box.store.blocks() if b.block.kind in kinds]


def _ready(kiosk: Kiosk) -> str:
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("ballotReady")), timeout=15_000)
    return str(kiosk.vm.property("fingerprint"))


def test_check_then_cast_through_the_screens_and_the_card(v2_kiosk_factory: KioskFactory) -> None:
    kiosk = v2_kiosk_factory()
    kiosk.tap("langEn")
    kiosk.sign_in(kiosk.voter_card("resident", 0))
    fill_in_to_review(kiosk)
    checked = _ready(kiosk)
    assert kiosk.text("fingerprint") == f"Ballot fingerprint: {checked}"
    assert kiosk.find("castButton") is not None and kiosk.find("checkButton") is not None

    kiosk.tap("checkButton")  # first, what a check does
    kiosk.wait_for("checkOverlay")
    assert kiosk.text("checkTitle") == "Check this ballot?"
    kiosk.tap("checkCancel")
    assert kiosk.screen == "review" and not _blocks(kiosk, BlockKind.SPOILED)
    kiosk.tap("checkButton")
    kiosk.wait_for("checkOverlay")
    kiosk.tap("checkConfirm")
    kiosk.wait_screen("checked")
    assert kiosk.text("headline") == "Your ballot was checked. It will not be counted."
    assert kiosk.text("checkedFingerprint") == checked
    (spoiled,) = _blocks(kiosk, BlockKind.SPOILED)
    assert kiosk.text("checkedCode") == f"Tracking code: {spoiled.tracking_code}"
    opened = open_spoiled(kiosk.election.package, spoiled.block.body)
    assert opened.ballot.fingerprint == checked
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("receiptQr")), timeout=15_000)
    slip = kiosk.printer.printed[-1]
    assert slip.code == spoiled.tracking_code
    assert slip.qr == kiosk.services.check_url(spoiled.tracking_code)
    assert any(checked in line for line in slip.lines)

    kiosk.tap("ballotAgain")  # the choices are kept, the encryption is new
    kiosk.wait_screen("review")
    cast = _ready(kiosk)
    assert cast != checked
    kiosk.tap("castButton")  # the card in the reader signs, through pcscd
    kiosk.wait_screen("receipt")
    (block,) = _blocks(kiosk, BlockKind.BALLOT)
    assert kiosk.text("trackingCode") == block.tracking_code
    assert kiosk.text("receiptFingerprint") == f"Ballot fingerprint: {cast}"
    body = block.block.body
    ballot = read_encrypted_ballot(body["ballot"])
    assert ballot.fingerprint == cast and opened.plaintext.category == ballot.category
    verify_signature(
        Domain.BALLOT,
        b64d(body["card_key"]),
        card_message(ballot.election, bytes.fromhex(body["voter"]), ballot.hash),
        b64d(body["card_sig"]),
    )
    heights = [b.block.height for b in _blocks(kiosk, BlockKind.SPOILED, BlockKind.BALLOT)]
    assert heights == sorted(heights) and _blocks(kiosk, BlockKind.SPOILED)[0] == spoiled
    kiosk.remove()


def test_going_back_from_review_makes_a_new_encryption(v2_kiosk_factory: KioskFactory) -> None:
    kiosk = v2_kiosk_factory()
    kiosk.sign_in(kiosk.voter_card("resident", 1))
    fill_in_to_review(kiosk)
    first = _ready(kiosk)
    kiosk.tap("back")
    kiosk.wait_screen("ballot")
    kiosk.tap("next")
    if kiosk.find("warningGoOn") is not None:
        kiosk.tap("warningGoOn")
    kiosk.wait_screen("review")
    assert _ready(kiosk) != first
    kiosk.remove()
    assert not _blocks(kiosk, BlockKind.BALLOT, BlockKind.SPOILED)


def test_a_test_mode_kiosk_refuses_a_real_voter_card(v2_kiosk_factory: KioskFactory) -> None:
    kiosk = v2_kiosk_factory(mode=Mode.TEST)
    kiosk.sign_in_refused(kiosk.voter_card("resident", 0))
    assert kiosk.text("message") == (
        "이 카드는 실제 투표용 카드입니다. 시험 모드에서는 시험용 카드만 쓸 수 있습니다."
    )
    assert kiosk.text("nextStep") == "카드를 빼신 뒤 진행 요원에게 물어 주세요."
    assert kiosk.find("pinOk") is None  # refused before the PIN
    kiosk.remove()


def test_an_official_kiosk_refuses_a_test_card(v2_kiosk_factory: KioskFactory) -> None:
    kiosk = v2_kiosk_factory()
    kiosk.tap("langEn")
    kiosk.sign_in_refused(test_roll_card(kiosk))
    assert kiosk.text("message") == "This is a test card. It cannot be used to vote."
    kiosk.remove()


@pytest.mark.parametrize(
    ("language", "size", "contrast"),
    [("ko", 0, False), ("en", 0, False), ("ko", 3, False), ("en", 3, True)],
    ids=["ko-size1", "en-size1", "ko-size4", "en-size4-high-contrast"],
)
def test_the_cast_or_check_screens_are_readable_and_complete(
    v2_kiosk_factory: KioskFactory, language: str, size: int, contrast: bool
) -> None:
    """Screenshots of the new screens, nothing cut off or under 15 mm on them (the size, name and
    contrast rules: test_accessibility.py)."""
    kiosk = v2_kiosk_factory(mode=Mode.TEST)
    tag = f"{language}-size{size + 1}" + ("-contrast" if contrast else "")
    problems: list[str] = []

    def at(name: str) -> None:
        path = kiosk.screenshot(f"{name}-{tag}")
        assert path.stat().st_size > 5_000, f"{path} looks empty"
        problems.extend(f"{name}: {p}" for p in layout_problems(kiosk))

    seen = visit_cast_or_check(kiosk, language, size, contrast, at)
    assert len(seen) == 5
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
