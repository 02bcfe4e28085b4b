"""Card enrolment helpers for tests, through real pcscd and the card simulator: factory-fresh
and used cards, waiting for pcscd, and `kiosk cards` run in the background with its prompts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiosk.cli import main
from kiosk.core.election import ElectionPackage, read_package
from kiosk.hardware.card.auth import CardHolder, authenticate
from kiosk.hardware.card.openpgp import OpenPGPCard, Pin
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from ledger.cli.election_v2 import with_voter_ids
from testkit.elections import SyntheticElection

KIOSK_ID = "cd" * 16


FACTORY_PIN, FACTORY_ADMIN_PIN = "123456", "12345678"


OLD_OWNER_SEED = bytes([7]) * 32  # a card that belonged to someone else before


CARD_TIMEOUT = 10.0  # seconds to wait for pcscd to see a card come or go


# -- helpers ---------------------------------------------------------------------------------
def fresh_card() -> VirtualCard:
    """A card as it leaves the factory: no keys, PINs 123456 and 12345678, no name."""
    card = VirtualCard()
    assert card.auth_public_key is None
    return card


def used_card(seed: bytes = OLD_OWNER_SEED) -> VirtualCard:
    """A card that already holds someone's Ed25519 authentication key and name."""
    return VirtualCard.with_auth_key(seed, "Previous<<Owner")


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


def package_with(election: SyntheticElection, roll: dict[str, Any]) -> ElectionPackage:
    """The test election with the entries of a roll file added, as `ledger election create`
    puts them in (each voter with a random voter id)."""
    document = election.package.to_json()
    document["roll"] += with_voter_ids(roll, "roll")
    document["test_roll"] += with_voter_ids(roll, "test_roll")
    document["staff"] += roll.get("staff", [])
    return read_package(document)


def authenticate_card(
    pcscd: PrivatePcscd, simulator: Simulator, card: str, pin: str, package: ElectionPackage
) -> CardHolder:
    with connected(pcscd, simulator, card) as openpgp:
        return authenticate(openpgp, pin, package, KIOSK_ID)


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


# -- PINs never on the command line ----------------------------------------------------------
@contextmanager
def pins_on_fd(*pins: str) -> Iterator[str]:
    """A pipe holding ``pins``, one a line, as another program would hand them over: yields
    the read end's number for ``--pin-fd``."""
    read, write = os.pipe()
    try:
        os.write(write, "".join(pin + "\n" for pin in pins).encode())
    finally:
        os.close(write)
    try:
        yield str(read)
    finally:
        os.close(read)


def run_kiosk(argv: list[str], secrets: Iterable[str]) -> int:
    """``kiosk ARGV`` in this process, after checking that no secret is in what `ps` shows."""
    assert_not_in_argv(argv, secrets)
    return main(argv)


def assert_not_in_argv(argv: list[str], secrets: Iterable[str]) -> None:
    shown = " ".join(["kiosk", *argv])
    for secret in secrets:
        assert secret not in shown, f"a PIN is on the command line: {shown}"


def pin_in_letter(letter: Path, holder: str) -> str:
    """The PIN a PIN letter gives ``holder``; the letter is readable by its owner only."""
    assert letter.stat().st_mode & 0o777 == 0o600, oct(letter.stat().st_mode)
    text = letter.read_text("utf-8")
    assert f"Name: {holder}\n" in text, text
    pins = [line[5:] for line in text.splitlines() if line.startswith("PIN: ")]
    assert len(pins) == 1 and pins[0].isdigit() and len(pins[0]) == 6, text
    return pins[0]


# -- what a thief with the card can do -------------------------------------------------------
SW_OK = 0x9000


def assert_user_pin_cannot_be_reset(openpgp: OpenPGPCard, new_pin: str = "999999") -> None:
    """The card's admin PIN is blocked (DO C4 says 0 tries) and no resetting code is set, so
    RESET RETRY COUNTER refuses to set ``new_pin`` whether the factory admin PIN is tried or
    a resetting code is guessed."""
    status = openpgp.pin_status()
    assert (status.pw3_tries, status.rc_tries) == (0, 0), status
    _, sw = openpgp.send("VERIFY", 0, 0x20, 0x00, Pin.PW3, FACTORY_ADMIN_PIN.encode(), le=False)
    assert sw != SW_OK, "the factory admin PIN was accepted"
    reset = ("RESET RETRY COUNTER", 0, 0x2C)
    _, sw = openpgp.send(*reset, 0x02, 0x81, new_pin.encode(), le=False)
    assert sw != SW_OK, "RESET RETRY COUNTER with P1=02 set a new user PIN"
    _, sw = openpgp.send(*reset, 0x00, 0x81, (FACTORY_ADMIN_PIN + new_pin).encode(), le=False)
    assert sw != SW_OK, "a resetting code set a new user PIN"
    assert openpgp.pin_status().pw3_tries == 0
