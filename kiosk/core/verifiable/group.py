"""The prime-order group ristretto255 (RFC 9496) and hashing into it: the one module that
knows the libsodium binding.

Points are their canonical 32-byte encodings (RFC 9496 §4.3.2); ``Point.decode`` accepts only
canonical encodings of group elements (§4.3.1 DECODE, which libsodium's
``crypto_core_ristretto255_is_valid_point`` implements), so decoding is the membership check
and a ``Point`` is always in the group. Scalars are Python ints reduced mod ``ORDER`` (ℓ):
Python's integer arithmetic is faster than a call into libsodium for a scalar product, and the
expensive work, point arithmetic, is all done by libsodium.

The binding is pysodium over Debian's libsodium 1.0.18 (``libsodium23``): measured on these
2-core machines against rbcl (which bundles its own libsodium), point operations cost the same
through both (fixed-base 17 µs, variable-base 50 µs, add 14 µs), so the deciding reason is that
Debian's library gets security updates with the operating system. rbcl stays a test dependency
to check this binding's answers against a second one (tests/unit/test_group.py).

libsodium refuses to return the identity from a scalar multiplication (it reports an error so
that Diffie-Hellman callers notice a degenerate key); in this group the identity is an ordinary
value (the encryption of 0 has m·G = identity), so ``_mul`` answers it itself for a zero scalar
or the identity point, the only two ways a prime-order group multiplication gives it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import pysodium

from kiosk.core.errors import EncodingError

#: ℓ = 2^252 + 27742317777372353535851937790883648493, the order of ristretto255 (RFC 9496 §4)
ORDER = 2**252 + 27742317777372353535851937790883648493
POINT_BYTES = 32
SCALAR_BYTES = 32
#: Every hash of the protocol begins with ``hanpyo/v2/<name>\n`` (docs/spec/group.md).
TAG_PREFIX = "hanpyo/v2/"


class GroupError(EncodingError):
    """Bytes that are not a canonical ristretto255 element or scalar."""


@dataclass(frozen=True, slots=True)
class Point:
    """One element of ristretto255, held as its canonical encoding (always valid)."""

    encoded: bytes

    @staticmethod
    def decode(data: bytes, *, what: str = "group element") -> Point:
        """The element ``data`` encodes; GroupError names ``what`` when it is not canonical."""
        if not isinstance(data, bytes | bytearray) or len(data) != POINT_BYTES:
            raise GroupError(f"{what}: not {POINT_BYTES} bytes")
        data = bytes(data)
        if not pysodium.crypto_core_ristretto255_is_valid_point(data):
            raise GroupError(f"{what}: not a canonical ristretto255 encoding")
        return Point(data)

    @staticmethod
    def from_hex(text: str, *, what: str = "group element") -> Point:
        return Point.decode(_strict_hex(text, what), what=what)

    def hex(self) -> str:
        return self.encoded.hex()

    def __add__(self, other: Point) -> Point:
        return Point(pysodium.crypto_core_ristretto255_add(self.encoded, other.encoded))

    def __sub__(self, other: Point) -> Point:
        return Point(pysodium.crypto_core_ristretto255_sub(self.encoded, other.encoded))

    def __neg__(self) -> Point:
        return IDENTITY - self

    def __mul__(self, scalar: int) -> Point:
        return _mul(scalar, self)

    __rmul__ = __mul__

    def is_identity(self) -> bool:
        return self.encoded == _IDENTITY_BYTES

    def __repr__(self) -> str:
        return f"Point({self.encoded.hex()[:16]}…)"


_IDENTITY_BYTES = bytes(POINT_BYTES)
IDENTITY = Point(_IDENTITY_BYTES)
#: The generator (RFC 9496 §4.4, the ristretto255 base point), 1·G.
G = Point(pysodium.crypto_scalarmult_ristretto255_base((1).to_bytes(SCALAR_BYTES, "little")))


def scalar_bytes(scalar: int) -> bytes:
    """The canonical 32-byte little-endian encoding of a scalar (reduced mod ℓ first)."""
    return (scalar % ORDER).to_bytes(SCALAR_BYTES, "little")


def scalar_from_bytes(data: bytes, *, what: str = "scalar") -> int:
    """A canonical scalar encoding (32 bytes, little-endian, below ℓ); anything else refused."""
    if not isinstance(data, bytes | bytearray) or len(data) != SCALAR_BYTES:
        raise GroupError(f"{what}: not {SCALAR_BYTES} bytes")
    value = int.from_bytes(data, "little")
    if value >= ORDER:
        raise GroupError(f"{what}: not reduced below the group order")
    return value


def scalar_from_hex(text: str, *, what: str = "scalar") -> int:
    return scalar_from_bytes(_strict_hex(text, what), what=what)


_HEX_DIGITS = frozenset("0123456789abcdef")
_HEX_64 = re.compile(r"[0-9a-f]{64}")
_IS_VALID_POINT = pysodium.sodium.crypto_core_ristretto255_is_valid_point


def point_from_hex_or_none(text: object) -> Point | None:
    """``Point.from_hex(text)`` when that succeeds, else None, with no message built: the
    readers' fast path over thousands of well-formed ballots (a None sends the caller to the
    strict path, which names the fault). Same acceptance: 64 lowercase hex digits encoding a
    canonical ristretto255 element (RFC 9496 §4.3.1, libsodium's check)."""
    if type(text) is not str or _HEX_64.fullmatch(text) is None:
        return None
    data = bytes.fromhex(text)
    return Point(data) if _IS_VALID_POINT(data) == 1 else None


def point_spelling_or_none(text: object) -> str | None:
    """``text`` when it is spelled as a point is (64 lowercase hex digits), else None; whether
    it decodes to a group element is not asked (the ledger's shape check leaves that to the
    count: kiosk/core/encrypted_ballot.py, read_ballot_shape)."""
    return text if type(text) is str and _HEX_64.fullmatch(text) is not None else None


_HEX_RUN = re.compile(r"[0-9a-f]*")


def all_point_spellings(texts: Sequence[object]) -> bool:
    """Whether ``point_spelling_or_none`` accepts every one of ``texts``, asked with one match
    over them all (a ballot carries a hundred points and scalars; the ledger reads thousands
    of ballots a second)."""
    return _hex_run(texts) is not None


def all_scalar_spellings(texts: Sequence[object]) -> bool:
    """Whether ``scalar_from_hex_or_none`` accepts every one of ``texts``: spelled as above,
    and below the group order ℓ. A scalar is little-endian, so its 63rd digit is the high
    half of its most significant byte: when that is 0 the scalar is below 2^252 < ℓ. Only a
    scalar with another digit there (about one in 2^127 of reduced scalars, or a forgery)
    sends them all to the exact comparison."""
    joined = _hex_run(texts)
    if joined is None:
        return False
    return not joined[62 :: 2 * SCALAR_BYTES].strip("0") or all(
        scalar_from_hex_or_none(t) is not None for t in texts
    )


def _hex_run(texts: Sequence[object]) -> str | None:
    """``texts`` joined, when each is a string of 64 characters and together they are
    lowercase hex digits only; else None."""
    if not texts:
        return ""
    if set(map(type, texts)) != {str}:
        return None
    spelled = cast(Sequence[str], texts)
    if set(map(len, spelled)) != {2 * POINT_BYTES}:
        return None
    joined = "".join(spelled)
    return joined if _HEX_RUN.fullmatch(joined) is not None else None


def scalar_from_hex_or_none(text: object) -> int | None:
    """``scalar_from_hex(text)`` when that succeeds, else None (see point_from_hex_or_none)."""
    if type(text) is not str or _HEX_64.fullmatch(text) is None:
        return None
    value = int.from_bytes(bytes.fromhex(text), "little")
    return value if value < ORDER else None


def _strict_hex(text: object, what: str) -> bytes:
    """The 32 bytes of exactly 64 lowercase hexadecimal digits, nothing else: one spelling per
    value, so that re-spelling a proof or ciphertext (upper case, spaces) cannot change the hash
    of a ballot that carries it."""
    if not isinstance(text, str) or len(text) != 2 * POINT_BYTES or not set(text) <= _HEX_DIGITS:
        raise GroupError(f"{what}: not 64 lowercase hexadecimal digits")
    return bytes.fromhex(text)


def _mul(scalar: int, point: Point) -> Point:
    k = scalar % ORDER
    if k == 0 or point.encoded == _IDENTITY_BYTES:
        return IDENTITY
    if point.encoded == G.encoded:
        return Point(
            pysodium.crypto_scalarmult_ristretto255_base(k.to_bytes(SCALAR_BYTES, "little"))
        )
    return Point(
        pysodium.crypto_scalarmult_ristretto255(k.to_bytes(SCALAR_BYTES, "little"), point.encoded)
    )


def base_mul(scalar: int) -> Point:
    """scalar·G by libsodium's fixed-base multiplication (about three times a variable base)."""
    k = scalar % ORDER
    if k == 0:
        return IDENTITY
    return Point(pysodium.crypto_scalarmult_ristretto255_base(k.to_bytes(SCALAR_BYTES, "little")))


def random_scalar() -> int:
    """A uniform non-zero scalar from the operating system's generator."""
    return 1 + secrets.randbelow(ORDER - 1)


def point_sum(points: Iterable[Point]) -> Point:
    total = _IDENTITY_BYTES
    add = pysodium.crypto_core_ristretto255_add
    for point in points:
        total = add(total, point.encoded)
    return Point(total)


def _framed(tag: str, parts: Iterable[bytes]) -> hashlib._Hash:
    """SHA-512 over ``hanpyo/v2/<tag>\\n`` then each part as 8-byte big-endian length || bytes.

    The length prefix makes the split between parts unambiguous (no two lists of parts hash
    the same input), the tag keeps one hash's inputs from ever answering another's.
    """
    if "\n" in tag:
        raise ValueError("a hash tag holds no newline")
    digest = hashlib.sha512((TAG_PREFIX + tag + "\n").encode("ascii"))
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest


def hash_to_scalar(tag: str, *parts: bytes) -> int:
    """A scalar from a tagged SHA-512 of ``parts``, by wide reduction of the 64-byte digest
    (the 512-bit value mod ℓ, as libsodium's ``crypto_core_ristretto255_scalar_reduce``): the
    bias is below 2^-259."""
    return int.from_bytes(_framed(tag, parts).digest(), "little") % ORDER


def from_uniform_bytes(data: bytes) -> Point:
    """RFC 9496 §4.3.4's one-way map of 64 uniform bytes (libsodium's
    ``crypto_core_ristretto255_from_hash``)."""
    if len(data) != 64:
        raise ValueError("the one-way map takes 64 bytes")
    return Point(pysodium.crypto_core_ristretto255_from_hash(bytes(data)))


def hash_to_point(tag: str, *parts: bytes) -> Point:
    """An element nobody knows the logarithm of: the one-way map of a tagged SHA-512 of
    ``parts``."""
    return from_uniform_bytes(_framed(tag, parts).digest())


def generators(tag: str, count: int) -> list[Point]:
    """``count`` independent generators ``hash_to_point(tag, index)``, index 0.. as 4 bytes."""
    return [hash_to_point(tag, i.to_bytes(4, "big")) for i in range(count)]
