"""Exponential ElGamal over ristretto255 under an election key K.

Enc(m; r) = (α, β) = (r·G, m·G + r·K), as ElectionGuard 2.1 §3.3 (there in a multiplicative
group): adding two ciphertexts component-wise adds their plaintexts, so tallies are sums of
ciphertexts and nobody decrypts a single ballot. m comes back from m·G by ``dlog``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kiosk.core.verifiable.group import (
    IDENTITY,
    POINT_BYTES,
    GroupError,
    Point,
    base_mul,
    point_sum,
    random_scalar,
)

CIPHERTEXT_BYTES = 2 * POINT_BYTES


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """(α, β) = (r·G, m·G + r·K)."""

    alpha: Point
    beta: Point

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)

    def __sub__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha - other.alpha, self.beta - other.beta)

    def encoded(self) -> bytes:
        """α || β, 64 bytes: what hashes and proofs bind."""
        return self.alpha.encoded + self.beta.encoded

    @staticmethod
    def decode(data: bytes, *, what: str = "ciphertext") -> Ciphertext:
        if len(data) != CIPHERTEXT_BYTES:
            raise GroupError(f"{what}: not {CIPHERTEXT_BYTES} bytes")
        return Ciphertext(
            Point.decode(data[:POINT_BYTES], what=f"{what} α"),
            Point.decode(data[POINT_BYTES:], what=f"{what} β"),
        )

    def to_json(self) -> list[str]:
        return [self.alpha.hex(), self.beta.hex()]

    @staticmethod
    def from_json(value: object, *, what: str = "ciphertext") -> Ciphertext:
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
        ):
            raise GroupError(f"{what}: not a pair of hexadecimal points")
        if not all(isinstance(v, str) for v in value):
            raise GroupError(f"{what}: not a pair of hexadecimal points")
        return Ciphertext(
            Point.from_hex(value[0], what=f"{what} α"), Point.from_hex(value[1], what=f"{what} β")
        )


#: The encryption of 0 with randomness 0: the neutral element of ciphertext addition.
ZERO = Ciphertext(IDENTITY, IDENTITY)


def encrypt_with(message: int, key: Point, nonce: int) -> Ciphertext:
    """Enc(message; nonce) under ``key``: 2 fixed-base and 1 variable-base multiplications."""
    return Ciphertext(base_mul(nonce), base_mul(message) + key * nonce)


def encrypt(message: int, key: Point) -> tuple[Ciphertext, int]:
    """A fresh encryption of ``message`` and the randomness used (keep it secret, then erase)."""
    nonce = random_scalar()
    return encrypt_with(message, key, nonce), nonce


def reencrypt(ciphertext: Ciphertext, key: Point, nonce: int) -> Ciphertext:
    """The same plaintext under fresh randomness: ciphertext + Enc(0; nonce)."""
    return Ciphertext(ciphertext.alpha + base_mul(nonce), ciphertext.beta + key * nonce)


def ciphertext_sum(ciphertexts: Iterable[Ciphertext]) -> Ciphertext:
    """The homomorphic sum: it encrypts the sum of the plaintexts."""
    items = list(ciphertexts)
    return Ciphertext(point_sum(c.alpha for c in items), point_sum(c.beta for c in items))


def decrypt_to_point(ciphertext: Ciphertext, secret: int) -> Point:
    """m·G = β − x·α for the whole secret x. Only the public test key and tests hold a whole
    secret; election keys are decrypted by trustees' shares (``decryption``)."""
    return ciphertext.beta - ciphertext.alpha * secret
