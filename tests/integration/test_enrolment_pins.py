"""Where enrolment gets user PINs, through real pcscd and the card simulator: never from the
command line or a CSV file, but from a hidden prompt, a file descriptor or a generated PIN
letter; and every card it makes refuses a new user PIN from a thief (its admin PIN blocked)."""

from __future__ import annotations

import getpass
import io
import sys
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.core.election import ElectionPackage
from kiosk.core.roll import add_voter, empty_roll
from kiosk.hardware.card.auth import authenticate
from kiosk.hardware.sim.card_state import Secret
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from testkit.elections import SyntheticElection
from testkit.enrolment import (
    FACTORY_PIN,
    KIOSK_ID,
    assert_user_pin_cannot_be_reset,
    card_in_reader,
    connected,
    enrol,
    fresh_card,
    package_with,
    pin_in_letter,
    pins_on_fd,
    run_kiosk,
    used_card,
)

VOTER = ["--category", "resident", "--group", "g001"]


def package_enrolling(election: SyntheticElection, card_key: bytes) -> ElectionPackage:
    roll = empty_roll()
    add_voter(roll, election.package.to_json(), card_key, "resident", "g001", [])
    return package_with(election, roll)


def provision(*args: str) -> list[str]:
    return ["cards", "provision", "--reader", "0", *args]


class Terminal(io.StringIO):
    """Standard input that is a terminal, where the operator types at getpass's prompt."""

    def isatty(self) -> bool:
        return True


# -- secrets that must not be on the command line --------------------------------------------
def test_no_enrolment_command_takes_a_pin_on_its_command_line(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = work / "people.csv"
    csv_path.write_text("name,category,group\nHong Gildong,resident,g001\n", "utf-8")
    roll = ["--definition", str(definition), "--roll", str(work / "roll.json")]
    commands = {
        "provision": ["cards", "provision", "--reader", "0"],
        "enrol": ["cards", "enrol", "--reader", "0", *roll, *VOTER],
        "enrol-batch": ["cards", "enrol-batch", "--reader", "0", *roll, str(csv_path)],
    }
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        for name, command in commands.items():
            for option, value in (
                ("--pin", "246810"),
                ("--admin-pin", "12345678"),
                ("--new-admin-pin", "87654321"),
            ):
                for given in ([option, value], [f"{option}={value}"]):
                    with pytest.raises(SystemExit) as exited:
                        main([*command, *given])
                    err = capsys.readouterr().err
                    assert exited.value.code == 2, (name, given)
                    assert f"{option} is no longer accepted" in err, err
                    assert value not in err  # not echoed back either
    assert card.auth_public_key is None  # nothing reached the card
    assert card.state.pins == fresh_card().state.pins
    assert not (work / "roll.json").exists()
    refusals = {"--pin": "--pin-fd N or --letters DIR", "--admin-pin": "--ask-admin-pin"}
    for option, advice in refusals.items():
        with pytest.raises(SystemExit):
            main([*commands["provision"], option, "1"])
        assert advice in capsys.readouterr().err


def test_an_enrol_batch_csv_with_pins_is_refused_before_any_card(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = work / "people.csv"
    csv_path.write_text("name,category,group,pin\nHong Gildong,resident,g001,246810\n", "utf-8")
    roll = work / "roll.json"
    argv = [
        "cards",
        "enrol-batch",
        *("--definition", str(definition), "--roll", str(roll)),
        *("--letters", str(work / "letters"), str(csv_path)),
    ]
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "has PINs in its pin column" in err and "--letters DIR" in err
    assert "246810" not in err + out
    assert "insert the card" not in out
    assert card.auth_public_key is None
    assert not roll.exists()


# -- the three ways a PIN comes in -----------------------------------------------------------
def test_provision_generates_the_pin_and_writes_a_letter(
    pcscd: PrivatePcscd,
    election: SyntheticElection,
    work: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    letters = work / "letters"
    card = fresh_card()
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card"):
            argv = provision("--letters", str(letters), "--name", "Hong Gildong")
            assert main(argv) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        letter = letters / f"pin-{card.serial}.txt"
        assert f"PIN letter for Hong Gildong: {letter}" in out
        assert "admin PIN is blocked" in out
        pin = pin_in_letter(letter, "Hong Gildong")
        assert pin not in out
        assert letters.stat().st_mode & 0o777 == 0o700
        assert card.auth_public_key is not None
        with connected(pcscd, simulator, "card") as openpgp:  # stolen
            assert_user_pin_cannot_be_reset(openpgp)
        package = package_enrolling(election, card.auth_public_key)
        with connected(pcscd, simulator, "card") as openpgp:  # at a kiosk
            holder = authenticate(openpgp, pin, package, KIOSK_ID)
    assert holder.card_key == card.auth_public_key


def test_provision_asks_the_pin_twice_at_a_hidden_prompt(
    pcscd: PrivatePcscd,
    election: SyntheticElection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    typed = iter(["12345", "246810", "246801", "246810", "246810"])  # too short, differ, good
    prompts: list[str] = []

    def hidden(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr(getpass, "getpass", hidden)
    monkeypatch.setattr(sys, "stdin", Terminal())
    card = fresh_card()
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card"):
            code = run_kiosk(provision("--name", "Hong Gildong"), ["246810"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert prompts[0] == "new PIN for Hong Gildong (6-16 digits, hidden): "
        assert len(prompts) == 5
        assert "the user PIN must be 6 to 16 digits" in err and "the two PINs differ" in err
        assert "246810" not in out + err
        assert card.auth_public_key is not None
        with connected(pcscd, simulator, "card") as openpgp:
            assert_user_pin_cannot_be_reset(openpgp)
        package = package_enrolling(election, card.auth_public_key)
        with connected(pcscd, simulator, "card") as openpgp:
            assert authenticate(openpgp, "246810", package, KIOSK_ID).voter is not None


def test_the_prompt_without_a_terminal_says_what_to_use(
    pcscd: PrivatePcscd, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("246810\n"))
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        assert main(provision()) == 2
    assert "use --pin-fd or --letters" in capsys.readouterr().err
    assert card.auth_public_key is None


def test_a_bad_pin_on_the_fd_leaves_the_card_alone(
    pcscd: PrivatePcscd, definition: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = fresh_card()
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        for bad in ("12345", "12ab56", ""):
            with pins_on_fd(bad) as fd:
                argv = enrol(definition, work / "roll.json", "--pin-fd", fd, *VOTER)
                assert run_kiosk(argv, [bad] if bad else []) == 2
            err = capsys.readouterr().err
            assert "the user PIN must be 6 to 16 digits" in err, err
        with pins_on_fd() as fd:  # nothing at all on the descriptor
            assert main(provision("--pin-fd", fd)) == 2
        assert f"file descriptor {fd} has no PIN left" in capsys.readouterr().err
        assert main(provision("--pin-fd", "999999")) == 2  # no such descriptor
        assert "cannot read file descriptor" in capsys.readouterr().err
        for key in ("abcd", "zz"):  # too short, not hex: refused before any PIN is read
            assert main(provision("--pin-fd", "999999", "--import-key", key)) == 2
            assert "--import-key must be a 32-byte key in hex" in capsys.readouterr().err
    assert card.auth_public_key is None
    assert card.state.pins == fresh_card().state.pins
    assert not (work / "roll.json").exists()


def test_a_card_with_its_own_admin_pin_is_enrolled_with_the_pin_asked_for(
    pcscd: PrivatePcscd, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    card = used_card()
    card.state.pins[Secret.PW3] = b"87654321"  # as its supplier delivered it
    asked: list[str] = []

    def hidden(prompt: str = "") -> str:
        asked.append(prompt)
        return "87654321"

    monkeypatch.setattr(getpass, "getpass", hidden)
    monkeypatch.setattr(sys, "stdin", Terminal())
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card"):
            with pins_on_fd("246810") as fd:  # without --ask-admin-pin: the factory PIN
                assert main(provision("--pin-fd", fd)) == 2
            assert "wrong PIN, 2 tries left" in capsys.readouterr().err
            with pins_on_fd("246810") as fd:
                argv = provision("--pin-fd", fd, "--ask-admin-pin")
                assert run_kiosk(argv, ["246810", "87654321"]) == 0, capsys.readouterr().err
            assert asked == ["the cards' admin PIN now (hidden): "]
            assert main(["cards", "read", "--reader", "0"]) == 0
        out = capsys.readouterr().out
        assert "PIN tries left 3, admin 0" in out
        assert "admin PIN blocked: nobody can set a new user PIN on this card" in out
        with connected(pcscd, simulator, "card") as openpgp:
            assert_user_pin_cannot_be_reset(openpgp)
            openpgp.verify_pin("246810")


def test_a_card_enrolled_before_gets_its_admin_pin_blocked_and_keeps_its_key_and_pin(
    pcscd: PrivatePcscd, capsys: pytest.CaptureFixture[str]
) -> None:
    card = used_card()  # enrolled by an older Hanpyo: factory admin PIN, user PIN 123456
    key = card.auth_public_key
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card"):
            assert main(["cards", "block-admin-pin", "--reader", "0"]) == 0
            assert f"card {card.serial}: admin PIN blocked" in capsys.readouterr().out
            assert main(["cards", "block-admin-pin", "--reader", "0"]) == 2  # once is enough
            assert "admin PIN is blocked" in capsys.readouterr().err
        with connected(pcscd, simulator, "card") as openpgp:
            assert_user_pin_cannot_be_reset(openpgp)
            openpgp.verify_pin(FACTORY_PIN)
    assert card.auth_public_key == key
