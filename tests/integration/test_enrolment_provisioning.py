"""Card provisioning and reading through real pcscd, real pyscard and the card simulator:
``provision_card`` on fresh and used cards, and ``kiosk cards readers`` and ``read``."""

from __future__ import annotations

import pytest

from kiosk.cli import main
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import b64e
from kiosk.core.roll import add_voter, empty_roll
from kiosk.hardware.card.auth import authenticate
from kiosk.hardware.card.enrolment import AdminPinBlockedError, CardSetup, provision_card
from kiosk.hardware.card.errors import CardBlockedError, WrongPinError
from kiosk.hardware.card.openpgp import KeyRef, Pin
from kiosk.hardware.sim.card_state import (
    ORIGIN_GENERATED,
    ORIGIN_IMPORTED,
    Secret,
    WrongPinReply,
)
from kiosk.hardware.sim.card_state import KeyRef as SimKeyRef
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection
from testkit.enrolment import (
    FACTORY_ADMIN_PIN,
    FACTORY_PIN,
    KIOSK_ID,
    OLD_OWNER_SEED,
    assert_user_pin_cannot_be_reset,
    authenticate_card,
    card_in_reader,
    connected,
    fresh_card,
    package_with,
    used_card,
)


def package_enrolling(election: SyntheticElection, card_key: bytes) -> ElectionPackage:
    roll = empty_roll()
    add_voter(roll, election.package.to_json(), card_key, "resident", "g001", [])
    return package_with(election, roll)


# -- provision_card --------------------------------------------------------------------------
@pytest.mark.parametrize("previous", ["factory-fresh", "used"])
def test_provisioning_generates_a_key_sets_the_pin_and_name_and_blocks_the_admin_pin(
    pcscd: PrivatePcscd, election: SyntheticElection, previous: str
) -> None:
    card = fresh_card() if previous == "factory-fresh" else used_card()
    if previous == "used":  # its last owner set a resetting code, which also resets the PIN
        card.state.pins[Secret.RC], card.state.tries[Secret.RC] = b"11223344", 3
    old_key = card.auth_public_key
    setup = CardSetup(user_pin="246810", name="Hong Gildong")
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with connected(pcscd, simulator, "card") as openpgp:
            done = provision_card(openpgp, setup)
        assert done.serial == card.serial
        assert len(done.public_key) == 32
        assert done.public_key == card.auth_public_key
        assert done.public_key != old_key
        assert card.state.keys[SimKeyRef.AUT].origin == ORIGIN_GENERATED

        package = package_enrolling(election, done.public_key)
        with connected(pcscd, simulator, "card") as openpgp:  # taken to a kiosk
            assert openpgp.read_public_key(KeyRef.AUT) == done.public_key
            assert openpgp.cardholder_name() == "Hong Gildong"
            with pytest.raises(WrongPinError) as old_pin:
                authenticate(openpgp, FACTORY_PIN, package, KIOSK_ID)
            assert old_pin.value.tries_left == 2
            holder = authenticate(openpgp, "246810", package, KIOSK_ID)
            assert holder.voter is not None
            assert holder.voter.card_key == done.public_key
            assert holder.serial == done.serial
            assert_user_pin_cannot_be_reset(openpgp)  # stolen: no way to a new PIN
            with pytest.raises(CardBlockedError):
                openpgp.verify_pin(FACTORY_ADMIN_PIN, Pin.PW3)
            assert authenticate(openpgp, "246810", package, KIOSK_ID).voter is not None


def test_provisioning_with_a_seed_imports_that_key(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    seed = bytes(range(100, 132))
    card = used_card()
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with connected(pcscd, simulator, "card") as openpgp:
            done = provision_card(openpgp, CardSetup(user_pin="135790", seed=seed))
            assert openpgp.read_public_key(KeyRef.AUT) == done.public_key
        assert done.public_key == SigningKey(seed).public_key
        assert card.auth_public_key == done.public_key
        assert card.state.keys[SimKeyRef.AUT].origin == ORIGIN_IMPORTED

        package = package_enrolling(election, done.public_key)
        holder = authenticate_card(pcscd, simulator, "card", "135790", package)
        assert holder.voter is not None and holder.voter.card_key == done.public_key
        with connected(pcscd, simulator, "card") as openpgp:
            assert openpgp.cardholder_name() == "Previous Owner"  # no name given: kept
            assert_user_pin_cannot_be_reset(openpgp)


def test_a_wrong_admin_pin_is_refused_with_tries_left_and_the_card_unchanged(
    pcscd: PrivatePcscd,
) -> None:
    card = used_card()
    old_key = SigningKey(OLD_OWNER_SEED).public_key
    setup = CardSetup(user_pin="246810", admin_pin="87654321", name="Someone Else")
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        connected(pcscd, simulator, "card") as openpgp,
    ):
        for left in (2, 1):
            with pytest.raises(WrongPinError) as wrong:
                provision_card(openpgp, setup)
            assert wrong.value.tries_left == left
            assert f"{left} tries left" in str(wrong.value)
        assert openpgp.read_public_key(KeyRef.AUT) == old_key
        assert openpgp.cardholder_name() == "Previous Owner"
        assert openpgp.pin_status().pw3_tries == 1
        openpgp.verify_pin(FACTORY_PIN)  # the user PIN is the old one still
    assert card.auth_public_key == old_key
    assert card.state.keys[SimKeyRef.AUT].origin == ORIGIN_IMPORTED


@pytest.mark.parametrize("reply", list(WrongPinReply), ids=lambda r: r.value)
def test_the_admin_pin_is_blocked_whatever_a_card_answers_to_a_wrong_pin(
    pcscd: PrivatePcscd, reply: WrongPinReply
) -> None:
    card = fresh_card()
    card.state.wrong_pin_reply = reply  # 63Cx, 6982 or 6983: tokens differ
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        connected(pcscd, simulator, "card") as openpgp,
    ):
        provision_card(openpgp, CardSetup(user_pin="246810"))
        assert_user_pin_cannot_be_reset(openpgp)
        openpgp.verify_pin("246810")
        assert openpgp.pin_status().pw1_tries == 3


def test_an_enrolled_card_cannot_be_provisioned_again(pcscd: PrivatePcscd) -> None:
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        connected(pcscd, simulator, "card") as openpgp,
    ):
        provision_card(openpgp, CardSetup(user_pin="246810"))
        key = openpgp.read_public_key(KeyRef.AUT)
        with pytest.raises(AdminPinBlockedError, match="admin PIN is blocked") as refused:
            provision_card(openpgp, CardSetup(user_pin="999999"))
        assert "factory reset" in str(refused.value)
        assert openpgp.read_public_key(KeyRef.AUT) == key
        openpgp.verify_pin("246810")  # the cardholder's PIN is unchanged


# -- kiosk cards readers / read --------------------------------------------------------------
def test_cli_lists_both_readers(pcscd: PrivatePcscd, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cards", "readers"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [f"{i}: {name}" for i, name in enumerate(pcscd.reader_names)]
    assert len(pcscd.reader_names) == 2


def test_cli_reads_the_card_in_a_reader(
    pcscd: PrivatePcscd, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = bytes(range(32))
    card = VirtualCard.with_auth_key(seed, "Hong<<Gildong")
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card") as reader,
    ):
        assert main(["cards", "read", "--reader", "0"]) == 0
        by_number = capsys.readouterr().out
        assert main(["cards", "read", "--reader", reader]) == 0
        by_name = capsys.readouterr().out
    assert by_number == by_name
    assert by_number.splitlines() == [
        f"serial {card.serial}, OpenPGP 3.4",
        "name Hong Gildong",
        f"authentication key {b64e(SigningKey(seed).public_key)}",
        "PIN tries left 3, admin 3",
    ]


def test_cli_reads_a_factory_fresh_card(
    pcscd: PrivatePcscd, capsys: pytest.CaptureFixture[str]
) -> None:
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        code = main(["cards", "read", "--reader", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"serial {card.serial}, OpenPGP 3.4" in out
    assert "name (none)" in out
    assert "PIN tries left 3, admin 3" in out
