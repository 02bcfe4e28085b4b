"""Card enrolment through real pcscd, real pyscard and the card simulator.

``provision_card`` on fresh and used cards, and the ``kiosk cards`` commands an operator types:
``readers``, ``read``, ``enrol`` for one card and ``enrol-batch`` for a CSV file, in which the
test plays the operator who inserts and removes each card when the command asks.
"""

from __future__ import annotations

import csv
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kiosk.cli import cards as cards_command
from kiosk.cli import main
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.encoding import b64e
from kiosk.core.errors import ElectionPackageError
from kiosk.core.roll import add_voter, empty_roll
from kiosk.hardware.card.auth import CardHolder, authenticate
from kiosk.hardware.card.enrolment import CardSetup, provision_card
from kiosk.hardware.card.errors import WrongPinError
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard, Pin
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.card_state import NAME, ORIGIN_GENERATED, ORIGIN_IMPORTED, Secret
from kiosk.hardware.sim.card_state import KeyRef as SimKeyRef
from kiosk.hardware.sim.private_pcscd import PrivatePcscd, reader_name
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection, mixed_definition

KIOSK_ID = "cd" * 16
FACTORY_PIN, FACTORY_ADMIN_PIN = "123456", "12345678"
OLD_OWNER_SEED = bytes([7]) * 32  # a card that belonged to someone else before
CARD_TIMEOUT = 10.0  # seconds to wait for pcscd to see a card come or go
CLI_TIMEOUT = 60.0  # seconds a background `kiosk cards` command may take in all
POLL = 0.02
BATCH_COLUMNS = ["name", "category", "group", "excluded", "role", "pin", "card_key"]
VOTER = ["--category", "resident", "--group", "g001", "--exclude", "p0001-01"]


# -- helpers ---------------------------------------------------------------------------------
def fresh_card() -> VirtualCard:
    """A card as it leaves the factory: no keys, PINs 123456 and 12345678, no name."""
    card = VirtualCard()
    assert card.auth_public_key is None
    return card


def used_card(seed: bytes = OLD_OWNER_SEED) -> VirtualCard:
    """A card that already holds someone's Ed25519 authentication key and name."""
    return VirtualCard.with_auth_key(seed, "Previous<<Owner")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = CARD_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(POLL)


@contextmanager
def card_in_reader(
    pcscd: PrivatePcscd, simulator: Simulator, card: str, reader: int = 0
) -> Iterator[str]:
    """Insert ``card``, wait until pcscd sees it, and take it out (and wait) at the end."""
    name = pcscd.reader_names[reader]
    simulator.insert(card, reader)
    try:
        wait_for_card(name, present=True, timeout_s=CARD_TIMEOUT)
        yield name
    finally:
        simulator.remove(reader)
        wait_for_card(name, present=False, timeout_s=CARD_TIMEOUT)


@contextmanager
def connected(
    pcscd: PrivatePcscd, simulator: Simulator, card: str, reader: int = 0
) -> Iterator[OpenPGPCard]:
    """Insert ``card`` and talk to its OpenPGP application through pcscd, as the kiosk would."""
    with (
        card_in_reader(pcscd, simulator, card, reader) as name,
        PcscConnection(name) as connection,
    ):
        openpgp = OpenPGPCard(connection)
        openpgp.select()
        yield openpgp


def key_in_reader(reader: str) -> bytes:
    """The authentication key the card in ``reader`` reports over PC/SC."""
    with PcscConnection(reader) as connection:
        card = OpenPGPCard(connection)
        card.select()
        return card.read_public_key(KeyRef.AUT)


def package_with(election: SyntheticElection, roll: dict[str, Any]) -> ElectionPackage:
    """The test election with the entries of a roll file added, as the authority merges it."""
    document = election.package.to_json()
    document["roll"] += roll.get("roll", [])
    document["staff"] += roll.get("staff", [])
    return read_package(document)


def package_enrolling(election: SyntheticElection, card_key: bytes) -> ElectionPackage:
    roll = empty_roll()
    add_voter(roll, election.package.to_json(), card_key, "resident", "g001", [])
    return package_with(election, roll)


def authenticate_card(
    pcscd: PrivatePcscd, simulator: Simulator, card: str, pin: str, package: ElectionPackage
) -> CardHolder:
    with connected(pcscd, simulator, card) as openpgp:
        return authenticate(openpgp, pin, package, KIOSK_ID)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The operator's directory (tmp_path also holds the private pcscd's files)."""
    path = tmp_path / "enrolment"
    path.mkdir()
    return path


@pytest.fixture
def definition(work: Path) -> Path:
    path = work / "definition.json"
    path.write_text(json.dumps(mixed_definition(), ensure_ascii=False), "utf-8")
    return path


def enrol(definition: Path, roll: Path, *args: str, reader: str = "0") -> list[str]:
    return [
        "cards",
        "enrol",
        "--reader",
        reader,
        "--definition",
        str(definition),
        "--roll",
        str(roll),
        *args,
    ]


def read_roll(path: Path) -> dict[str, Any]:
    roll: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return roll


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, BATCH_COLUMNS)
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in BATCH_COLUMNS} for row in rows)
    return path


class BackgroundCli:
    """``kiosk`` run in a thread of this process (so it uses the private pcscd), with the
    operator prompts of ``kiosk cards enrol-batch`` passed to the test as they are printed."""

    def __init__(self, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.prompts: queue.Queue[str] = queue.Queue()
        self.code: int | None = None
        self.error: BaseException | None = None
        print_prompt = cards_command.tqdm_write

        def write(text: str) -> None:  # prints as before, and tells the operator
            print_prompt(text)
            self.prompts.put(text)

        monkeypatch.setattr(cards_command, "tqdm_write", write)
        self._thread = threading.Thread(target=self._run, args=(argv,), name="kiosk-cards")
        self._thread.start()

    def _run(self, argv: list[str]) -> None:
        try:
            self.code = main(argv)
        except BaseException as e:  # argparse exits; anything else is reported by finish()
            self.error = e

    def expect(self, prompt: str, timeout: float = 20.0) -> None:
        """Wait for the command to print a line starting with ``prompt``."""
        try:
            text = self.prompts.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(
                f"`kiosk cards` did not ask {prompt!r} within {timeout} s "
                f"(finished: {not self._thread.is_alive()}, code {self.code}, "
                f"error {self.error!r})"
            )
        assert text.startswith(prompt), f"expected {prompt!r}, the command said {text!r}"

    def finish(self) -> int:
        self._thread.join(CLI_TIMEOUT)
        assert not self._thread.is_alive(), "`kiosk cards` is still running"
        if self.error is not None:
            raise AssertionError("`kiosk cards` raised") from self.error
        assert self.code is not None
        return self.code


def operate(
    cli: BackgroundCli, simulator: Simulator, card: VirtualCard, name: str, who: str
) -> None:
    """What the operator does for one card: insert it when asked, take it out when told."""
    cli.expect(f"insert the card for {who}")
    before = card.auth_public_key
    simulator.insert(name, 0)
    cli.expect("done: take the card out")
    wait_until(
        lambda: card.auth_public_key is not None and card.auth_public_key != before,
        f"card {name} holds a new authentication key",
    )
    simulator.remove(0)


# -- provision_card --------------------------------------------------------------------------
@pytest.mark.parametrize("previous", ["factory-fresh", "used"])
def test_provisioning_generates_a_key_and_sets_pins_and_name(
    pcscd: PrivatePcscd, election: SyntheticElection, previous: str
) -> None:
    card = fresh_card() if previous == "factory-fresh" else used_card()
    old_key = card.auth_public_key
    setup = CardSetup(user_pin="246810", new_admin_pin="87654321", name="Hong Gildong")
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
            with pytest.raises(WrongPinError):
                openpgp.verify_pin(FACTORY_ADMIN_PIN, Pin.PW3)
            openpgp.verify_pin("87654321", Pin.PW3)


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
            openpgp.verify_pin(FACTORY_ADMIN_PIN, Pin.PW3)  # no new admin PIN given: kept


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
            code = main(
                enrol(definition, roll, "--pin", "246810", "--name", "Hong Gildong", *VOTER)
            )
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
        first = enrol(definition, roll, "--pin", "246810", "--import-key", seed.hex(), *VOTER)
        assert main(first) == 0, capsys.readouterr().err
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
    args = enrol(definition, roll, "--pin", "246810", "--name", "Hong Gildong", *VOTER)
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        assert main(args) == 0, capsys.readouterr().err
        enrolled, key = roll.read_bytes(), card.auth_public_key
        capsys.readouterr()
        code = main(args)
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
    args = ["--pin", "135790", "--staff", "poll_worker", "--name", "Kim Minji"]
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        with card_in_reader(pcscd, simulator, "card") as reader:
            assert main(enrol(definition, roll, *args)) == 0, capsys.readouterr().err
            key = key_in_reader(reader)
        assert key == card.auth_public_key != SigningKey(OLD_OWNER_SEED).public_key
        assert read_roll(roll) == {
            "roll": [],
            "staff": [{"card_key": b64e(key), "role": "poll_worker", "name": "Kim Minji"}],
        }
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
    command = ["--pin", "246810", *args]
    with (
        Simulator(pcscd.ports, cards={"card": fresh_card()}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        assert main(enrol(definition, existing, "--card-key", b64e(earlier), *VOTER)) == 0
        before = existing.read_bytes()
        for path in (roll, existing):
            capsys.readouterr()
            assert main(enrol(definition, path, *command, reader=reader)) == 2
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
    args = enrol(definition, work / "roll.json", "--pin", "246810", "--category", "mayor")
    with (
        Simulator(pcscd.ports, cards={"card": card}) as simulator,
        card_in_reader(pcscd, simulator, "card"),
    ):
        assert main(args) == 2
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


# -- kiosk cards enrol-batch -----------------------------------------------------------------
def batch(definition: Path, roll: Path, csv_path: Path) -> list[str]:
    return [
        "cards",
        "enrol-batch",
        "--reader",
        "0",
        "--definition",
        str(definition),
        "--roll",
        str(roll),
        "--timeout",
        "20",
        str(csv_path),
    ]


def test_cli_enrols_a_batch_as_the_operator_inserts_each_card(
    pcscd: PrivatePcscd,
    election: SyntheticElection,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roll = work / "roll.json"
    cards = {"hong": fresh_card(), "kim": fresh_card(), "lee": used_card()}
    online = SigningKey(bytes(range(3, 35))).public_key  # enrolled without a card
    people = [
        ("hong", "Hong Gildong", "246810"),
        ("kim", "김민지", "135790"),
        ("lee", "Lee Soyeon", "112233"),
    ]
    rows = [
        {
            "name": "Hong Gildong",
            "category": "resident",
            "group": "g001",
            "excluded": "p0001-01",
            "pin": "246810",
        },
        {"name": "Park Jisoo", "category": "online", "group": "g003", "card_key": b64e(online)},
        {"name": "김민지", "role": "poll_worker", "pin": "135790"},
        {
            "name": "Lee Soyeon",
            "category": "expert",
            "group": "g002",
            "excluded": "p0002-03 p0002-01",
            "pin": "112233",
        },
    ]
    csv_path = write_csv(work / "people.csv", rows)
    with Simulator(pcscd.ports, cards=cards) as simulator:
        cli = BackgroundCli(batch(definition, roll, csv_path), monkeypatch)
        try:
            for name, who, _ in people:
                operate(cli, simulator, cards[name], name, who)
        finally:
            code = cli.finish()
        out, err = capsys.readouterr()
        assert code == 0, err
        keys: dict[str, bytes] = {}
        for name, card in cards.items():
            assert card.auth_public_key is not None, f"{name}'s card has no key"
            keys[name] = card.auth_public_key
        assert keys["lee"] != SigningKey(OLD_OWNER_SEED).public_key
        assert read_roll(roll) == {
            "roll": [
                {
                    "card_key": b64e(keys["hong"]),
                    "category": "resident",
                    "group": "g001",
                    "excluded": ["p0001-01"],
                },
                {"card_key": b64e(online), "category": "online", "group": "g003", "excluded": []},
                {
                    "card_key": b64e(keys["lee"]),
                    "category": "expert",
                    "group": "g002",
                    "excluded": ["p0002-01", "p0002-03"],
                },
            ],
            "staff": [{"card_key": b64e(keys["kim"]), "role": "poll_worker", "name": "김민지"}],
        }
        assert "enrolling cards" in err
        assert f"enrolled 4 cards in {roll}" in out
        assert out.count("done: take the card out") == 3
        # ASCII names go on the card; a Korean one stays in the roster only.
        assert cards["hong"].state.dos.get(NAME) == b"Hong<<Gildong"
        assert cards["lee"].state.dos.get(NAME) == b"Lee<<Soyeon"
        assert cards["kim"].state.dos.get(NAME) is None

        package = package_with(election, read_roll(roll))
        for name, _, pin in people:
            holder = authenticate_card(pcscd, simulator, name, pin, package)
            assert holder.card_key == keys[name]
            assert (holder.staff is not None) == (name == "kim")


def test_cli_batch_stops_at_a_bad_row_and_keeps_the_rows_before(
    pcscd: PrivatePcscd,
    definition: Path,
    work: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roll = work / "roll.json"
    card = fresh_card()
    keys = [SigningKey(bytes(range(i, i + 32))).public_key for i in (4, 5, 6)]
    rows = [
        {"name": "Hong Gildong", "category": "resident", "group": "g001", "pin": "246810"},
        {"name": "Kim Minji", "role": "election_manager", "card_key": b64e(keys[0])},
        {"name": "Choi Mayor", "category": "mayor", "group": "g001", "card_key": b64e(keys[1])},
        {
            "name": "Never Reached",
            "category": "resident",
            "group": "g002",
            "card_key": b64e(keys[2]),
        },
    ]
    csv_path = write_csv(work / "people.csv", rows)
    with Simulator(pcscd.ports, cards={"hong": card}) as simulator:
        cli = BackgroundCli(batch(definition, roll, csv_path), monkeypatch)
        try:
            operate(cli, simulator, card, "hong", "Hong Gildong")
        finally:
            code = cli.finish()
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{csv_path} line 4: there is no voter category 'mayor'" in err
    assert f"the rows before it are saved in {roll}" in err
    assert "enrolled 4 cards" not in out
    assert cli.prompts.empty()  # no card was asked for after the bad row
    assert card.auth_public_key is not None
    assert read_roll(roll) == {
        "roll": [
            {
                "card_key": b64e(card.auth_public_key),
                "category": "resident",
                "group": "g001",
                "excluded": [],
            }
        ],
        "staff": [{"card_key": b64e(keys[0]), "role": "election_manager", "name": "Kim Minji"}],
    }
