"""The election key in the package: what the trustees' ceremony made, as the authority signs it.

K, the threshold, each trustee's public identity and verification key Z_j, the ceremony's setup
hash and transcript hash (docs/spec/ceremony.md). The full transcript travels beside the package
(`<package>.ceremony.json`); the package names its hash, so the authority's signature covers
which ceremony made this key, and a record from another ceremony does not match.

Nobody holds K's secret. A reader checks what the package alone can show: every key decodes
to a group element, the indexes are 1..n, and all the Z_j lie on one polynomial of degree
threshold − 1 whose value at 0 is K (Feldman: Z_j = P(j)·G and K = P(0)·G). A package whose
keys were made up by someone else would fail this unless they were made consistent on purpose,
which is why the transcript beside it (every commitment with its proof) is checked by
`ledger election create --ceremony` and by verifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.core.errors import ElectionPackageError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.group import ORDER, GroupError, Point, point_sum

MAX_TRUSTEES = 255


@dataclass(frozen=True, slots=True)
class KeyTrustee:
    """One trustee as the package names them."""

    index: int
    name: str
    signing_key: bytes  # Ed25519, signs their ceremony messages and decryption shares
    box_key: bytes  # X25519, received their shares in the ceremony
    verification_key: Point  # Z_j: checks their decryption shares
    qualified: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "signing_key": self.signing_key.hex(),
            "box_key": self.box_key.hex(),
            "verification_key": self.verification_key.hex(),
            "qualified": self.qualified,
        }


@dataclass(frozen=True, slots=True)
class ElectionKey:
    """The election key K and the trustees who decrypt with it, any ``threshold`` together."""

    key: Point
    threshold: int
    setup_hash: bytes
    transcript_hash: bytes
    trustees: tuple[KeyTrustee, ...]

    def __post_init__(self) -> None:
        _check(self)

    def trustee(self, index: int) -> KeyTrustee | None:
        return next((t for t in self.trustees if t.index == index), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key.hex(),
            "threshold": self.threshold,
            "setup_hash": self.setup_hash.hex(),
            "transcript_hash": self.transcript_hash.hex(),
            "trustees": [t.to_json() for t in self.trustees],
        }


def read_election_key(r: Reader) -> ElectionKey:
    """The package's ``election_key`` section, every field checked, errors naming the path."""
    trustees = tuple(_read_trustee(t) for t in r.objects("trustees"))
    key = ElectionKey(
        key=_point(r, "key"),
        threshold=r.integer("threshold", lo=1, hi=MAX_TRUSTEES),
        setup_hash=_hash(r, "setup_hash"),
        transcript_hash=_hash(r, "transcript_hash"),
        trustees=trustees,
    )
    r.done()
    return key


def _read_trustee(r: Reader) -> KeyTrustee:
    trustee = KeyTrustee(
        index=r.integer("index", lo=1, hi=MAX_TRUSTEES),
        name=r.text("name", max_len=200),
        signing_key=_hex(r, "signing_key", 32),
        box_key=_hex(r, "box_key", 32),
        verification_key=_point(r, "verification_key"),
        qualified=r.flag("qualified", default=True),
    )
    r.done()
    return trustee


def _hex(r: Reader, key: str, length: int) -> bytes:
    text = r.text(key, max_len=2 * length)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        r.fail("must be hexadecimal", key)
    if len(data) != length or data.hex() != text:
        r.fail(f"must be {length} bytes in lowercase hexadecimal", key)
    return data


def _hash(r: Reader, key: str) -> bytes:
    return _hex(r, key, 32)


def _point(r: Reader, key: str) -> Point:
    data = _hex(r, key, 32)
    try:
        return Point.decode(data, what=key)
    except GroupError as e:
        r.fail(str(e), key)


def _weights(at: int, indices: list[int]) -> list[int]:
    """Lagrange weights of P(i), i in ``indices``, in P(at), mod the group order."""
    weights = []
    for i in indices:
        numerator, denominator = 1, 1
        for other in indices:
            if other != i:
                numerator = numerator * (at - other) % ORDER
                denominator = denominator * (i - other) % ORDER
        weights.append(numerator * pow(denominator, -1, ORDER) % ORDER)
    return weights


def _check(key: ElectionKey) -> None:
    def fail(detail: str) -> ElectionPackageError:
        return ElectionPackageError(f"election_key: {detail}")

    indexes = [t.index for t in key.trustees]
    if indexes != list(range(1, len(indexes) + 1)):
        raise fail(f"trustees must be numbered 1..n in order, found {indexes}")
    if not 1 <= key.threshold <= len(indexes):
        raise fail(f"a threshold of {key.threshold} needs at least that many trustees")
    if key.threshold == 1 and len(indexes) > 1:
        raise fail("a threshold of 1 would let any single trustee decrypt every ballot")
    if len({t.signing_key for t in key.trustees}) != len(indexes):
        raise fail("two trustees have the same signing key")
    if sum(t.qualified for t in key.trustees) < key.threshold:
        raise fail("fewer trustees are qualified than the threshold")
    if key.key.is_identity():
        raise fail("the election key is the identity element")
    # Every Z_j and K on one polynomial of degree threshold − 1 (Feldman): interpolate from the
    # first `threshold` trustees, then every other Z_j and K must be its value there.
    base = indexes[: key.threshold]
    base_points = [t.verification_key for t in key.trustees[: key.threshold]]
    for at, expected, what in [
        (0, key.key, "the election key K"),
        *((t.index, t.verification_key, f"trustee {t.index}'s verification key")
          for t in key.trustees[key.threshold :]),
    ]:  # fmt: skip
        value = point_sum(p * w for p, w in zip(base_points, _weights(at, base), strict=True))
        if value != expected:
            raise fail(f"{what} does not lie on the trustees' polynomial")
