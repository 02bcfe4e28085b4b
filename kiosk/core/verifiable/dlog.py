"""Recovering m from m·G when m is known to be small: a table for small bounds, baby-step
giant-step (Shanks) up to 10^8.

Tallies and scores are small non-negative integers (a count of voters, a score of 0..100), so
this is the last step of every decryption. BSGS with bound B takes ⌈√B⌉ additions to build the
baby steps (cached per bound) and at most as many subtractions to walk the giant steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kiosk.core.errors import VerificationError
from kiosk.core.verifiable.group import IDENTITY, G, Point, base_mul

#: The largest bound the count asks for (10^8: more votes than any country casts).
MAX_BOUND = 10**8


class DiscreteLogError(VerificationError):
    """m·G is not the multiple of G of any m in the range asked for."""


@dataclass
class SmallTable:
    """m·G → m for 0 ≤ m ≤ bound, built by repeated addition (one point add per entry)."""

    bound: int
    _table: dict[bytes, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        point = IDENTITY
        for m in range(self.bound + 1):
            self._table[point.encoded] = m
            point = point + G

    def get(self, point: Point) -> int | None:
        return self._table.get(point.encoded)

    def log(self, point: Point) -> int:
        found = self.get(point)
        if found is None:
            raise DiscreteLogError(f"the decrypted value is not between 0 and {self.bound}")
        return found


_baby_steps: dict[int, SmallTable] = {}


def discrete_log(point: Point, bound: int) -> int:
    """The m in 0..bound with m·G = point, by baby-step giant-step; DiscreteLogError if none.

    Steps of size s = ⌈√(bound+1)⌉: the baby table holds j·G for 0 ≤ j < s; the giant walk
    tests point − i·s·G for i = 0, 1, … (Shanks; see e.g. Handbook of Applied Cryptography
    Algorithm 3.56).
    """
    if not 0 <= bound <= MAX_BOUND:
        raise ValueError(f"the bound must be between 0 and {MAX_BOUND}")
    step = max(1, math.isqrt(bound) + 1)
    table = _baby_steps.get(step)
    if table is None:
        table = _baby_steps[step] = SmallTable(step - 1)
    giant = base_mul(step)
    current = point
    for i in range(bound // step + 1):
        j = table.get(current)
        if j is not None:
            m = i * step + j
            if m <= bound:
                return m
            break
        current = current - giant
    raise DiscreteLogError(f"the decrypted value is not between 0 and {bound}")
