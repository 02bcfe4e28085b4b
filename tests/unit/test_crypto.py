"""Signatures are bound to their purpose, sealed ballots open only with their key."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import (
    Domain,
    SealingKey,
    SigningKey,
    kiosk_id_for,
    nullifier,
    seal,
    verify_signature,
)
from kiosk.core.errors import VerificationError


def test_a_signature_for_one_purpose_never_verifies_for_another() -> None:
    key = SigningKey.generate()
    sig = key.sign(Domain.BLOCK, b"message")
    verify_signature(Domain.BLOCK, key.public_key, b"message", sig)
    for other in Domain:
        if other is not Domain.BLOCK:
            with pytest.raises(VerificationError):
                verify_signature(other, key.public_key, b"message", sig)


def test_verification_fails_for_another_key_message_or_damaged_signature() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    sig = key.sign(Domain.AUTH, b"challenge")
    with pytest.raises(VerificationError):
        verify_signature(Domain.AUTH, other.public_key, b"challenge", sig)
    with pytest.raises(VerificationError):
        verify_signature(Domain.AUTH, key.public_key, b"challengf", sig)
    with pytest.raises(VerificationError, match="wrong length"):
        verify_signature(Domain.AUTH, key.public_key, b"challenge", sig[:-1])


def test_sealed_box_opens_only_with_its_key_and_differs_each_time() -> None:
    ballot_key, test_key = SealingKey.generate(), SealingKey.generate()
    first, second = seal(ballot_key.public_key, b"ballot"), seal(ballot_key.public_key, b"ballot")
    assert first != second
    assert ballot_key.open(first) == b"ballot"
    with pytest.raises(VerificationError):
        test_key.open(first)


def test_nullifier_is_stable_per_card_and_salt_and_unlinkable_across_salts() -> None:
    card = SigningKey.generate().public_key
    salt_a, salt_b = bytes(32), bytes([1]) * 32
    assert nullifier(salt_a, card) == nullifier(salt_a, card)
    assert nullifier(salt_a, card) != nullifier(salt_b, card)
    assert nullifier(salt_a, card) != nullifier(salt_a, SigningKey.generate().public_key)
    assert card not in nullifier(salt_a, card)


def test_keys_never_show_their_secret_in_repr() -> None:
    key, sealing = SigningKey.generate(), SealingKey.generate()
    assert key.seed.hex() not in repr(key) and str(key.seed) not in repr(key)
    assert sealing.secret.hex() not in repr(sealing)


def test_kiosk_id_is_16_bytes_of_the_key_hash_in_hex() -> None:
    key = SigningKey.generate()
    assert len(kiosk_id_for(key.public_key)) == 32
    assert kiosk_id_for(key.public_key) == kiosk_id_for(key.public_key)
