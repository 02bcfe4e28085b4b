"""Card enrolment helpers for tests, through real pcscd and the card simulator: factory-fresh
and used cards, waiting for pcscd, and `kiosk cards` run in the background with its prompts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiosk.core.election import ElectionPackage, read_package
from kiosk.hardware.card.auth import CardHolder, authenticate
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
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
    """The test election with the entries of a roll file added, as the authority merges it."""
    document = election.package.to_json()
    document["roll"] += roll.get("roll", [])
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
