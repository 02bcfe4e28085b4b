"""Preparing a voter or staff card: its Ed25519 authentication key, its PINs and its name.

An enrolled card ends with its admin PIN (PW3) blocked and no resetting code. Whoever holds
PW3 can set a new user PIN with RESET RETRY COUNTER, so a card that kept the factory admin
PIN 12345678 gave a thief unlimited PIN guesses. A random admin PIN that nobody keeps would
be the same in effect; blocking it is the honest form, and anyone can check it: DO C4 shows
0 admin tries. The card still votes (PW1 and INTERNAL AUTHENTICATE need no PW3), and its
only way back is a factory reset, which erases the enrolled key.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hardware.card.errors import CardBlockedError, CardError
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard, Pin

FACTORY_USER_PIN = "123456"
FACTORY_ADMIN_PIN = "12345678"


class AdminPinBlockedError(CardError):
    """The card's admin PIN is blocked already: it was enrolled before, or mistyped."""

    user_message = (
        "이미 등록된 카드이거나 관리자 PIN이 잠긴 카드입니다. 공장 초기화 후에 다시 등록하세요.",
        "This card was enrolled before or its admin PIN is locked. "
        "Reset it to factory state before enrolling it again.",
    )


@dataclass(frozen=True, slots=True)
class CardSetup:
    """What to put on a card. ``seed`` imports a key; without it the card generates one.

    ``admin_pin`` is the card's admin PIN as it comes (the factory one unless the card's
    supplier changed it); enrolment blocks it.
    """

    user_pin: str
    admin_pin: str = FACTORY_ADMIN_PIN
    name: str | None = None
    seed: bytes | None = None

    def __post_init__(self) -> None:
        check_user_pin(self.user_pin)
        check_card_name(self.name)

    def __repr__(self) -> str:  # never print PINs or keys
        return f"CardSetup(name={self.name!r}, imported={self.seed is not None})"


def check_user_pin(pin: str) -> None:
    if not pin.isascii() or not pin.isdigit() or not 6 <= len(pin) <= 16:
        raise CardError(
            "the user PIN must be 6 to 16 digits",
            user_message=("PIN은 숫자 6~16자리입니다.", "The PIN is 6 to 16 digits."),
        )


def check_card_name(name: str | None) -> None:
    if name is not None and not name.isascii():
        raise CardError(
            "the cardholder name on an OpenPGP card is ASCII (ISO 7816 form); "
            "keep Korean names in the roster, not on the card"
        )


@dataclass(frozen=True, slots=True)
class ProvisionedCard:
    serial: str
    public_key: bytes


def provision_card(card: OpenPGPCard, setup: CardSetup) -> ProvisionedCard:
    """Make ``card`` a Hanpyo card: Ed25519 authentication key, name, user PIN; then remove
    every way to change the user PIN without knowing it (no resetting code, PW3 blocked).

    Works the same on a real token and on the simulator. PW3 is blocked last, so a failure
    part-way leaves a card that can be provisioned again with the same admin PIN.
    """
    serial = _open_as_admin(card, setup.admin_pin)
    card.set_ed25519_for_authentication()
    if setup.seed is not None:
        card.import_ed25519_key(KeyRef.AUT, setup.seed)
        public_key = card.read_public_key(KeyRef.AUT)
    else:
        public_key = card.generate_key(KeyRef.AUT)
    if setup.name is not None:
        surname, _, given = setup.name.strip().partition(" ")
        card.put_data(0x5B, f"{surname}<<{given.replace(' ', '<')}".encode("ascii"))
    card.remove_resetting_code()
    card.reset_user_pin(setup.user_pin)
    card.block_admin_pin(setup.admin_pin)
    return ProvisionedCard(serial, public_key)


def lock_enrolled_card(card: OpenPGPCard, admin_pin: str = FACTORY_ADMIN_PIN) -> str:
    """Take away the admin PIN and resetting code of a card enrolled before enrolment did
    so, keeping its key and user PIN (so its roll entry stays good); its serial."""
    serial = _open_as_admin(card, admin_pin)
    card.remove_resetting_code()
    card.block_admin_pin(admin_pin)
    return serial


def _open_as_admin(card: OpenPGPCard, admin_pin: str) -> str:
    """SELECT the card and VERIFY its admin PIN; the card's serial."""
    card.select()
    serial = card.application_data().aid.serial
    try:
        card.verify_pin(admin_pin, Pin.PW3)
    except CardBlockedError as e:
        raise AdminPinBlockedError(
            f"card {serial}: its admin PIN is blocked (enrolled before, or mistyped too "
            "often); only a factory reset, which erases its key, makes it usable again "
            "(gpg --card-edit, then admin and factory-reset; or ykman openpgp reset)"
        ) from e
    return serial
