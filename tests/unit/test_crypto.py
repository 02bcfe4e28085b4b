"""Signatures are bound to their purpose, sealed boxes (the ceremony's shares) open only with
their key."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import (
    Domain,
    SealingKey,
    SigningKey,
    kiosk_id_for,
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
    box_key, other_key = SealingKey.generate(), SealingKey.generate()
    first, second = seal(box_key.public_key, b"share"), seal(box_key.public_key, b"share")
    assert first != second
    assert box_key.open(first) == b"share"
    with pytest.raises(VerificationError):
        other_key.open(first)


def test_keys_never_show_their_secret_in_repr() -> None:
    key, sealing = SigningKey.generate(), SealingKey.generate()
    assert key.seed.hex() not in repr(key) and str(key.seed) not in repr(key)
    assert sealing.secret.hex() not in repr(sealing)


def test_kiosk_id_is_16_bytes_of_the_key_hash_in_hex() -> None:
    key = SigningKey.generate()
    assert len(kiosk_id_for(key.public_key)) == 32
    assert kiosk_id_for(key.public_key) == kiosk_id_for(key.public_key)
