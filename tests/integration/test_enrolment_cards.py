"""Enrolling one card through real pcscd, real pyscard and the card simulator: ``kiosk cards
enrol`` for voter and staff cards, and every refusal that leaves the roll and the card alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.core.errors import ElectionPackageError
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection
from kiosk.hardware.sim.card_state import Secret
from kiosk.hardware.sim.private_pcscd import PrivatePcscd, reader_name
from kiosk.hardware.sim.simulator import Simulator
from testkit.elections import SyntheticElection
from testkit.enrolment import (
    FACTORY_PIN,
    OLD_OWNER_SEED,
    assert_user_pin_cannot_be_reset,
    authenticate_card,
    card_in_reader,
    connected,
    enrol,
    fresh_card,
    package_with,
    pins_on_fd,
    read_roll,
    run_kiosk,
    used_card,
)

VOTER = ["--category", "resident", "--group", "g001", "--exclude", "p0001-01"]


def key_in_reader(reader: str) -> bytes:
    """The authentication key the card in ``reader`` reports over PC/SC."""
    with PcscConnection(reader) as connection:
        card = OpenPGPCard(connection)
        card.select()
        return card.read_public_key(KeyRef.AUT)


# -- kiosk cards enrol -----------------------------------------------------------------------
def test_cli_enrols_a_voter_card(
    pcscd: PrivatePcscd,
    election: SyntheticElection,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    roll = work / "roll.json"
    card = fresh_card()
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card") as reader:
            with pins_on_fd("246810") as fd:
                args = enrol(definition, roll, "--pin-fd", fd, "--name", "Hong Gildong", *VOTER)
                code = run_kiosk(args, ["246810"])
            out, err = capsys.readouterr()
            assert code == 0, err
            key = key_in_reader(reader)
        assert key == card.auth_public_key
        assert read_roll(roll) == {
            "roll": [
                {
                    "card_key": b64e(key),
                    "category": "resident",
                    "group": "g001",
                    "excluded": ["p0001-01"],
                }
            ],
            "staff": [],
        }
        assert out == f"enrolled {b64e(key)} in {roll}\n"
        assert sorted(p.name for p in work.iterdir()) == ["definition.json", "roll.json"]

        with connected(pcscd, simulator, "card") as openpgp:  # stolen
            assert_user_pin_cannot_be_reset(openpgp)
        package = package_with(election, read_roll(roll))
        holder = authenticate_card(pcscd, simulator, "card", "246810", package)
    assert holder.voter is not None
    assert holder.voter.category == "resident" and holder.voter.group == "g001"
    assert holder.voter.excluded == frozenset({"p0001-01"})


def test_cli_refuses_a_card_key_that_is_already_enrolled(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roll = work / "roll.json"
    seed = bytes(range(1, 33))
    key = SigningKey(seed).public_key
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        with pins_on_fd("246810") as fd:
            first = enrol(definition, roll, "--pin-fd", fd, "--import-key", seed.hex(), *VOTER)
            assert run_kiosk(first, ["246810"]) == 0, capsys.readouterr().err
        enrolled = roll.read_bytes()
        assert read_roll(roll)["roll"][0]["card_key"] == b64e(key)
        for again in (
            first,  # the same card, the same key imported again
            enrol(
                definition, roll, "--card-key", b64e(key), "--category", "expert", "--group", "g002"
            ),
            enrol(
                definition,
                roll,
                "--card-key",
                b64e(key),
                "--staff",
                "poll_worker",
                "--name",
                "Kim Minji",
            ),
        ):
            capsys.readouterr()
            assert main(again) == 2
            out, err = capsys.readouterr()
            # Named by its key, whether the card in the reader or --card-key was refused.
            assert b64e(key) in err and "is already enrolled" in err
            assert "This card is already enrolled." in err
            assert out == ""
            assert roll.read_bytes() == enrolled


def test_cli_enrolling_the_same_card_twice_is_refused(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roll = work / "roll.json"
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
        pins_on_fd("246810", "135790") as fd,
    ):
        args = enrol(definition, roll, "--pin-fd", fd, "--name", "Hong Gildong", *VOTER)
        assert run_kiosk(args, ["246810"]) == 0, capsys.readouterr().err
        enrolled, key = roll.read_bytes(), card.auth_public_key
        capsys.readouterr()
        code = run_kiosk(args, ["135790"])
        err = capsys.readouterr().err
    assert (code, card.auth_public_key, roll.read_bytes()) == (2, key, enrolled), read_roll(roll)
    assert "already enrolled" in err


def test_cli_enrols_a_staff_card(
    pcscd: PrivatePcscd,
    election: SyntheticElection,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    roll = work / "roll.json"
    card = used_card()
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card") as reader, pins_on_fd("135790") as fd:
            args = ["--pin-fd", fd, "--staff", "poll_worker", "--name", "Kim Minji"]
            assert run_kiosk(enrol(definition, roll, *args), ["135790"]) == 0, (
                capsys.readouterr().err
            )
            key = key_in_reader(reader)
        assert key == card.auth_public_key != SigningKey(OLD_OWNER_SEED).public_key
        assert read_roll(roll) == {
            "roll": [],
            "staff": [{"card_key": b64e(key), "role": "poll_worker", "name": "Kim Minji"}],
        }
        with connected(pcscd, simulator, "card") as openpgp:  # a stolen staff card
            assert_user_pin_cannot_be_reset(openpgp)
        package = package_with(election, read_roll(roll))
        holder = authenticate_card(pcscd, simulator, "card", "135790", package)
        with connected(pcscd, simulator, "card") as openpgp:
            assert openpgp.cardholder_name() == "Kim Minji"
    assert holder.voter is None
    assert holder.staff is not None and holder.staff.role.value == "poll_worker"
    assert holder.staff.name == "Kim Minji"


@pytest.mark.parametrize(
    ("reader", "args", "message"),
    [
        ("0", ["--category", "mayor", "--group", "g001"], "there is no voter category 'mayor'"),
        ("0", ["--category", "resident", "--group", "g042"], "there is no group 'g042'"),
        (
            "0",
            ["--category", "resident", "--group", "g001", "--exclude", "p0009-99"],
            "excluded proposal(s) do not exist: p0009-99",
        ),
        ("5", VOTER, "there is no reader number 5 (2 connected)"),
        ("1", VOTER, f"connecting to the card in {reader_name(1)}"),  # an empty reader
    ],
    ids=["unknown-category", "unknown-group", "unknown-exclusion", "no-such-reader", "no-card"],
)
def test_cli_enrol_errors_exit_2_and_leave_the_roll_alone(
    pcscd: PrivatePcscd,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
    reader: str,
    args: list[str],
    message: str,
) -> None:
    roll = work / "roll.json"
    existing = work / "existing.json"
    earlier = SigningKey(bytes(range(2, 34))).public_key
    with (
        Simulator(pcscd.ports, cards={"card": fresh_card()}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
        pins_on_fd("246810", "246810") as fd,
    ):
        command = ["--pin-fd", fd, *args]
        assert main(enrol(definition, existing, "--card-key", b64e(earlier), *VOTER)) == 0
        before = existing.read_bytes()
        for path in (roll, existing):
            capsys.readouterr()
            assert run_kiosk(enrol(definition, path, *command, reader=reader), ["246810"]) == 2
            out, err = capsys.readouterr()
            assert err.startswith("kiosk: "), err
            assert message in err
            assert out == ""
    assert not roll.exists()
    assert existing.read_bytes() == before
    assert sorted(p.name for p in work.iterdir()) == ["definition.json", "existing.json"]


def test_a_refused_enrolment_leaves_the_card_as_it_was(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = used_card()
    key = card.auth_public_key
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
        pins_on_fd("246810") as fd,
    ):
        args = enrol(definition, work / "roll.json", "--pin-fd", fd, "--category", "mayor")
        assert run_kiosk(args, ["246810"]) == 2
    assert "there is no voter category 'mayor'" in capsys.readouterr().err
    assert card.auth_public_key == key
    assert card.state.pins[Secret.PW1] == FACTORY_PIN.encode()


def test_cli_refuses_a_resident_without_a_group(
    pcscd: PrivatePcscd,
    election: SyntheticElection,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    roll = work / "roll.json"
    key = SigningKey(bytes(range(9, 41))).public_key
    code = main(enrol(definition, roll, "--card-key", b64e(key), "--category", "resident"))
    err = capsys.readouterr().err
    if roll.exists():  # what the authority meets when it merges this roll
        with pytest.raises(ElectionPackageError, match="so a group is required"):
            package_with(election, read_roll(roll))
    assert code == 2, f"enrolled; the roll file says {read_roll(roll)}"
    assert "group" in err
    assert not roll.exists()
