"""Who is at the kiosk: read the card's key, find it on the roll, check the PIN and a signature."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.election import ElectionPackage, StaffEntry, Voter
from kiosk.core.encrypted_ballot import EncryptedBallot, card_challenge, card_message
from kiosk.core.errors import VerificationError
from kiosk.hardware.card.errors import (
    AuthenticationFailedError,
    CardBlockedError,
    NotEnrolledError,
    UnsupportedCardError,
)
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard

CHALLENGE_NONCE_BYTES = 32


@dataclass(frozen=True, slots=True)
class CardHolder:
    """An inserted card whose key is enrolled, before its PIN is checked.

    Exactly one of ``voter`` and ``staff`` is set. The card's own name and serial are kept
    for staff screens only; trust comes from the enrolled key alone.
    """

    card_key: bytes
    serial: str
    pin_tries: int
    voter: Voter | None = None
    staff: StaffEntry | None = None


def identify(card: OpenPGPCard, package: ElectionPackage) -> CardHolder:
    """SELECT the OpenPGP application, read the AUT key, and find it in the roll or roster.

    Refuses cards that are not OpenPGP cards, whose authentication key is not Ed25519, that
    protect their PIN with a KDF-DO (not implemented here), that are blocked, or that are
    not enrolled in ``package``.
    """
    card.select()
    data = card.application_data()
    if data.has_kdf or card.kdf_enabled():
        raise UnsupportedCardError(
            "the card uses a KDF-DO for its PINs, which Hanpyo does not "
            "implement; reset the KDF setting at enrolment"
        )
    if not data.auth_algorithm.is_ed25519:
        raise UnsupportedCardError(
            f"the authentication key is algorithm {data.auth_algorithm.algorithm:#04x}, not Ed25519"
        )
    key = card.read_public_key(KeyRef.AUT)
    holder = CardHolder(
        key,
        data.aid.serial,
        data.pin_status.pw1_tries,
        # A v2 test card is on the test roll, not the official one: it is read here and the
        # flow takes it only in test mode (and a voter card only in official mode).
        voter=package.voter_for_card(key) or package.test_voter_for_card(key),
        staff=package.staff_entry(key),
    )
    if holder.voter is None and holder.staff is None:
        raise NotEnrolledError(
            f"card {data.aid.serial} (key {key.hex()[:16]}...) is not "
            "on the roll or the staff roster"
        )
    if holder.pin_tries == 0:
        raise CardBlockedError(f"card {data.aid.serial}: the user PIN is blocked")
    return holder


def auth_challenge(election_id: str, kiosk_id: str, nonce: bytes) -> bytes:
    """The bytes the card signs, after the ``hanpyo/auth/v1`` domain prefix."""
    return election_id.encode() + b"\n" + bytes.fromhex(kiosk_id) + nonce


def prove(
    card: OpenPGPCard, holder: CardHolder, pin: str, election_id: str, kiosk_id: str
) -> CardHolder:
    """VERIFY the PIN, then have the card sign a fresh challenge and check the signature.

    Raises ``WrongPinError`` (with the tries left), ``CardBlockedError`` or
    ``AuthenticationFailedError``. Returns ``holder`` once the card has proved its key.
    """
    card.verify_pin(pin)
    message = auth_challenge(election_id, kiosk_id, os.urandom(CHALLENGE_NONCE_BYTES))
    signature = card.internal_authenticate(Domain.AUTH.value + message)
    try:
        verify_signature(Domain.AUTH, holder.card_key, message, signature)
    except VerificationError as e:
        raise AuthenticationFailedError(
            f"card {holder.serial} did not sign the challenge with its enrolled key"
        ) from e
    return holder


def authenticate(
    card: OpenPGPCard, pin: str, package: ElectionPackage, kiosk_id: str
) -> CardHolder:
    """The whole check in one call: identify the card, then prove it with the PIN."""
    return prove(card, identify(card, package), pin, package.id, kiosk_id)


def sign_ballot(card: OpenPGPCard, holder: CardHolder, ballot: EncryptedBallot) -> bytes:
    """Have the voter's card sign ``ballot`` (protocol v2) and check the signature.

    The same INTERNAL AUTHENTICATE as ``prove`` (the PIN was verified at sign-in and stays
    verified while the card is in the reader), over ``hanpyo/ballot/v2`` || election ||
    voter id || ballot hash (kiosk.core.encrypted_ballot.card_challenge). The signature is
    checked against the enrolled key before the kiosk records anything, so a card that signs
    with another key, or signs something else, never gets a ballot recorded.
    """
    voter = holder.voter
    if voter is None or voter.voter_id is None:
        raise AuthenticationFailedError(f"card {holder.serial} holds no protocol v2 voter")
    challenge = card_challenge(ballot.election, voter.voter_id, ballot.hash)
    signature = card.internal_authenticate(challenge)
    message = card_message(ballot.election, voter.voter_id, ballot.hash)
    try:
        verify_signature(Domain.BALLOT, holder.card_key, message, signature)
    except VerificationError as e:
        raise AuthenticationFailedError(
            f"card {holder.serial} did not sign the ballot with its enrolled key"
        ) from e
    return signature
