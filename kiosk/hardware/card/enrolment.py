"""Preparing a voter or staff card: its Ed25519 authentication key, its PINs and its name."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hardware.card.errors import CardError
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard, Pin

FACTORY_USER_PIN = "123456"
FACTORY_ADMIN_PIN = "12345678"


@dataclass(frozen=True, slots=True)
class CardSetup:
    """What to put on a card. ``seed`` imports a key; without it the card generates one."""

    user_pin: str
    admin_pin: str = FACTORY_ADMIN_PIN
    new_admin_pin: str | None = None
    name: str | None = None
    seed: bytes | None = None

    def __post_init__(self) -> None:
        if not self.user_pin.isdigit() or not 6 <= len(self.user_pin) <= 16:
            raise CardError("the user PIN must be 6 to 16 digits")
        if self.new_admin_pin is not None and len(self.new_admin_pin) < 8:
            raise CardError("the admin PIN must be at least 8 characters")
        if self.name is not None and not self.name.isascii():
            raise CardError(
                "the cardholder name on an OpenPGP card is ASCII (ISO 7816 form); "
                "keep Korean names in the roster, not on the card"
            )


@dataclass(frozen=True, slots=True)
class ProvisionedCard:
    serial: str
    public_key: bytes


def provision_card(card: OpenPGPCard, setup: CardSetup) -> ProvisionedCard:
    """Make ``card`` a Hanpyo card: Ed25519 authentication key, user PIN, name, admin PIN.

    Works the same on a real token and on the simulator. The admin PIN is changed last, so
    a failure part-way leaves a card that can be provisioned again with the old admin PIN.
    """
    card.select()
    serial = card.application_data().aid.serial
    card.verify_pin(setup.admin_pin, Pin.PW3)
    card.set_ed25519_for_authentication()
    if setup.seed is not None:
        card.import_ed25519_key(KeyRef.AUT, setup.seed)
        public_key = card.read_public_key(KeyRef.AUT)
    else:
        public_key = card.generate_key(KeyRef.AUT)
    if setup.name is not None:
        surname, _, given = setup.name.strip().partition(" ")
        card.put_data(0x5B, f"{surname}<<{given.replace(' ', '<')}".encode("ascii"))
    card.reset_user_pin(setup.user_pin)
    if setup.new_admin_pin is not None:
        card.change_pin(Pin.PW3, setup.admin_pin, setup.new_admin_pin)
    return ProvisionedCard(serial, public_key)
