"""Enrolling a batch of cards through real pcscd and the card simulator: ``kiosk cards
enrol-batch`` for a CSV file, in which the test plays the operator who inserts and removes
each card when the command asks."""

from __future__ import annotations

import csv
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.cli import cards as cards_command
from kiosk.cli import main
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.hardware.sim.card_state import NAME
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection
from testkit.enrolment import (
    CARD_TIMEOUT,
    OLD_OWNER_SEED,
    assert_user_pin_cannot_be_reset,
    authenticate_card,
    connected,
    fresh_card,
    package_with,
    pin_in_letter,
    read_roll,
    used_card,
)

CLI_TIMEOUT = 60.0  # seconds a background `kiosk cards` command may take in all


POLL = 0.02


BATCH_COLUMNS = ["name", "category", "group", "excluded", "role", "card_key"]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = CARD_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(POLL)


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


# -- kiosk cards enrol-batch -----------------------------------------------------------------
def batch(definition: Path, roll: Path, csv_path: Path, letters: Path) -> list[str]:
    """The command: each card gets a generated PIN, delivered in a letter in ``letters``."""
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
        "--letters",
        str(letters),
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
    people = [("hong", "Hong Gildong"), ("kim", "김민지"), ("lee", "Lee Soyeon")]
    rows = [
        {
            "name": "Hong Gildong",
            "category": "resident",
            "group": "g001",
            "excluded": "p0001-01",
        },
        {"name": "Park Jisoo", "category": "online", "group": "g003", "card_key": b64e(online)},
        {"name": "김민지", "role": "poll_worker"},
        {
            "name": "Lee Soyeon",
            "category": "expert",
            "group": "g002",
            "excluded": "p0002-03 p0002-01",
        },
    ]
    csv_path = write_csv(work / "people.csv", rows)
    with Simulator(pcscd.ports, cards=cards) as simulator:
        cli = BackgroundCli(batch(definition, roll, csv_path, work / "letters"), monkeypatch)
        try:
            for name, who in people:
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

        assert "pin" not in csv_path.read_text("utf-8")  # nor was one written to the CSV
        package = package_with(election, read_roll(roll))
        for name, who in people:
            letter = work / "letters" / f"pin-{cards[name].serial}.txt"
            pin = pin_in_letter(letter, who)
            with connected(pcscd, simulator, name) as openpgp:  # stolen
                assert_user_pin_cannot_be_reset(openpgp)
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
        {"name": "Hong Gildong", "category": "resident", "group": "g001"},
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
        cli = BackgroundCli(batch(definition, roll, csv_path, work / "letters"), monkeypatch)
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
