"""The Terelius–Wikström proof of a shuffle as a value: what a trustee publishes beside the
shuffled rows, and its JSON form. ``shuffle`` makes and checks it; the names follow the CHVote
specification's GenShuffleProof (v3.1, Algorithm 8.47): π = (t, s, c, ĉ).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import (
    ORDER,
    GroupError,
    Point,
    scalar_bytes,
    scalar_from_hex,
)

_FIELDS = frozenset(
    {
        "permutation_commitment",
        "commitment_chain",
        "t1",
        "t2",
        "t3",
        "t4",
        "t_hat",
        "s1",
        "s2",
        "s3",
        "s4",
        "s_hat",
        "s_prime",
    }
)


@dataclass(frozen=True, slots=True)
class ShuffleProof:
    """A proof that N rows of w ciphertexts were re-encrypted and permuted.

    Per position (N each): the permutation commitment c, the commitment chain ĉ, the chain's
    proof commitments t̂ and the responses ŝ and s'. Per ciphertext component (w each): the
    ciphertext equation's commitment t4 (a pair, α then β, like a ciphertext) and response
    s4. Once each: t1, t2, t3 and s1, s2, s3. Scalars are ints below the group order.
    """

    permutation_commitment: tuple[Point, ...]
    commitment_chain: tuple[Point, ...]
    t1: Point
    t2: Point
    t3: Point
    t4: tuple[Ciphertext, ...]
    t_hat: tuple[Point, ...]
    s1: int
    s2: int
    s3: int
    s4: tuple[int, ...]
    s_hat: tuple[int, ...]
    s_prime: tuple[int, ...]

    def __post_init__(self) -> None:
        size = len(self.permutation_commitment)
        if size == 0:
            raise GroupError("shuffle proof: no positions")
        for name in ("commitment_chain", "t_hat", "s_hat", "s_prime"):
            if len(getattr(self, name)) != size:
                raise GroupError(f"shuffle proof: {name} does not have {size} entries")
        if len(self.t4) == 0 or len(self.t4) != len(self.s4):
            raise GroupError("shuffle proof: t4 and s4 need one entry per ciphertext component")
        scalars = (self.s1, self.s2, self.s3, *self.s4, *self.s_hat, *self.s_prime)
        if not all(type(s) is int and 0 <= s < ORDER for s in scalars):
            raise GroupError("shuffle proof: a response is not a scalar below the group order")

    @property
    def size(self) -> int:
        """N, the number of rows shuffled."""
        return len(self.permutation_commitment)

    @property
    def width(self) -> int:
        """w, the number of ciphertexts in each row."""
        return len(self.t4)

    def to_json(self) -> dict[str, object]:
        """Points and scalars as lowercase hexadecimal of their canonical 32-byte encodings."""
        return {
            "permutation_commitment": [p.hex() for p in self.permutation_commitment],
            "commitment_chain": [p.hex() for p in self.commitment_chain],
            "t1": self.t1.hex(),
            "t2": self.t2.hex(),
            "t3": self.t3.hex(),
            "t4": [pair.to_json() for pair in self.t4],
            "t_hat": [p.hex() for p in self.t_hat],
            "s1": _scalar_hex(self.s1),
            "s2": _scalar_hex(self.s2),
            "s3": _scalar_hex(self.s3),
            "s4": [_scalar_hex(s) for s in self.s4],
            "s_hat": [_scalar_hex(s) for s in self.s_hat],
            "s_prime": [_scalar_hex(s) for s in self.s_prime],
        }

    @staticmethod
    def from_json(value: object) -> ShuffleProof:
        """The proof ``to_json`` wrote; anything else (a missing or extra field, a point that
        is not canonical, a scalar not below ℓ, lists of different lengths) is GroupError."""
        if not isinstance(value, dict) or set(value) != _FIELDS:
            raise GroupError(f"shuffle proof: an object with exactly {sorted(_FIELDS)}")
        return ShuffleProof(
            permutation_commitment=_points(value, "permutation_commitment"),
            commitment_chain=_points(value, "commitment_chain"),
            t1=_point(value["t1"], "shuffle proof t1"),
            t2=_point(value["t2"], "shuffle proof t2"),
            t3=_point(value["t3"], "shuffle proof t3"),
            t4=tuple(
                Ciphertext.from_json(item, what=f"shuffle proof t4[{k}]")
                for k, item in enumerate(_list(value, "t4"))
            ),
            t_hat=_points(value, "t_hat"),
            s1=_scalar(value["s1"], "shuffle proof s1"),
            s2=_scalar(value["s2"], "shuffle proof s2"),
            s3=_scalar(value["s3"], "shuffle proof s3"),
            s4=_scalars(value, "s4"),
            s_hat=_scalars(value, "s_hat"),
            s_prime=_scalars(value, "s_prime"),
        )


def _scalar_hex(scalar: int) -> str:
    return scalar_bytes(scalar).hex()


def _list(value: dict[str, object], name: str) -> list[object]:
    items = value[name]
    if not isinstance(items, list):
        raise GroupError(f"shuffle proof {name}: not a list")
    return items


def _point(text: object, what: str) -> Point:
    if not isinstance(text, str):
        raise GroupError(f"{what}: not a hexadecimal string")
    return Point.from_hex(text, what=what)


def _scalar(text: object, what: str) -> int:
    if not isinstance(text, str):
        raise GroupError(f"{what}: not a hexadecimal string")
    return scalar_from_hex(text, what=what)


def _points(value: dict[str, object], name: str) -> tuple[Point, ...]:
    items = _list(value, name)
    return tuple(_point(item, f"shuffle proof {name}[{i}]") for i, item in enumerate(items))


def _scalars(value: dict[str, object], name: str) -> tuple[int, ...]:
    items = _list(value, name)
    return tuple(_scalar(item, f"shuffle proof {name}[{i}]") for i, item in enumerate(items))
