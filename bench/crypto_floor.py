"""How the crypto benchmark measures an operation's floor: its own calls into libsodium,
counted by wrapping the binding's functions while it runs, and the raw cost of each kind of
call, timed in CPU time in short batches between the operation's own batches.

Kinds of call: F fixed-base and V variable-base multiplications, A additions and subtractions
(each decodes two points and encodes one), D decodings, H maps to the group.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pysodium

from bench.common import Row
from kiosk.core.verifiable.group import base_mul, random_scalar

#: The binding's functions each operation is counted in, by kind of cost.
_KINDS = {
    "crypto_scalarmult_ristretto255_base": "F",
    "crypto_scalarmult_ristretto255": "V",
    "crypto_core_ristretto255_add": "A",
    "crypto_core_ristretto255_sub": "A",
    "crypto_core_ristretto255_is_valid_point": "D",
    "crypto_core_ristretto255_from_hash": "H",
}
_ORDERED = "FVADH"


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Counts the group's calls into libsodium while the block runs (in this process)."""
    counts: Counter[str] = Counter()
    originals = {name: getattr(pysodium, name) for name in _KINDS}

    def counted(name: str) -> Callable[..., bytes]:
        original, kind = originals[name], _KINDS[name]

        def call(*args: bytes) -> bytes:
            counts[kind] += 1
            return original(*args)  # type: ignore[no-any-return]

        return call

    for name in _KINDS:
        setattr(pysodium, name, counted(name))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(pysodium, name, original)


# --- the units ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Units:
    """Seconds per raw libsodium call, on random inputs."""

    seconds: dict[str, float]

    def floor(self, counts: Counter[str], kinds: str = _ORDERED) -> float:
        return sum(counts[k] * self.seconds[k] for k in kinds)


class UnitClock:
    """Times raw libsodium calls in short batches, between an operation's own batches, in CPU
    time of this process (the machine is shared: another session's work is not ours); each
    row's floor uses the fastest unit batches of the same moments as the row."""

    def __init__(self, calls: int = 200) -> None:
        self.calls = calls
        scalars = [random_scalar().to_bytes(32, "little") for _ in range(calls)]
        points = [base_mul(random_scalar()).encoded for _ in range(calls)]
        uniform = [os.urandom(64) for _ in range(calls)]
        self._raw: dict[str, Callable[[int], object]] = {
            "F": lambda i: pysodium.crypto_scalarmult_ristretto255_base(scalars[i]),
            "V": lambda i: pysodium.crypto_scalarmult_ristretto255(scalars[i], points[i]),
            "A": lambda i: pysodium.crypto_core_ristretto255_add(points[i], points[i - 1]),
            "D": lambda i: pysodium.crypto_core_ristretto255_is_valid_point(points[i]),
            "H": lambda i: pysodium.crypto_core_ristretto255_from_hash(uniform[i]),
        }
        self.best = {k: float("inf") for k in self._raw}  # over the whole section
        self.worst = {k: 0.0 for k in self._raw}

    def sample(self) -> dict[str, float]:
        """One batch of each kind of call: seconds per call."""
        out = {}
        for kind, call in self._raw.items():
            start = time.process_time()
            for i in range(self.calls):
                call(i)
            out[kind] = (time.process_time() - start) / self.calls
            self.best[kind] = min(self.best[kind], out[kind])
            self.worst[kind] = max(self.worst[kind], out[kind])
        return out


def fastest(samples: Sequence[dict[str, float]]) -> Units:
    return Units({k: min(s[k] for s in samples) for k in samples[0]})


def unit_rows(clock: UnitClock) -> list[Row]:
    names = {
        "V": "variable-base scalar multiplication (V)",
        "F": "fixed-base scalar multiplication, k·G (F)",
        "A": "point addition or subtraction (A)",
        "D": "decoding check of a point (D)",
    }
    return [
        Row(
            f"ristretto255 {name}",
            _duration(clock.best[kind]),
            "raw libsodium 1.0.18 call through pysodium, one core: fastest batch",
            f"{clock.best[kind] / clock.best['V']:.2f} V",
        )
        for kind, name in names.items()
    ]


# --- rows ---------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.1f} ms"
    return f"{seconds:,.2f} s"


def _formula(counts: Counter[str]) -> str:
    terms = [f"{counts[k]:,}{k}" if counts[k] != 1 else k for k in _ORDERED if counts[k]]
    return " + ".join(terms) or "no group operation"


def floor_row(name: str, seconds: float, counts: Counter[str], units: Units) -> Row:
    """One operation: its time, its counted floor (and the multiplications' share of it)."""
    floor = units.floor(counts)
    mults = units.floor(counts, "FV")
    return Row(
        f"{name} [{_formula(counts)}]",
        _duration(seconds),
        f"floor {_duration(floor)} (multiplications alone {_duration(mults)})",
        f"{seconds / floor:.2f}x" if floor else "—",
    )


def measure(
    name: str, action: Callable[[], object], calls: int, clock: UnitClock, batches: int = 7
) -> Row:
    """A short operation: warmed up (kept tables filled), counted once, then ``batches``
    batches of ``calls`` calls, each followed by a batch of unit calls."""
    action()
    with counting() as counts:
        action()
    best, samples = float("inf"), []
    for _ in range(batches):
        start = time.process_time()
        for _ in range(calls):
            action()
        best = min(best, (time.process_time() - start) / calls)
        samples.append(clock.sample())
    return floor_row(name, best, counts, fastest(samples))


@dataclass(frozen=True, slots=True)
class LongRun:
    cpu: float  # CPU seconds of this process, fastest run
    wall: float  # wall-clock seconds, fastest run
    units: Units


def long_run(action: Callable[[], object], clock: UnitClock, repeats: int) -> LongRun:
    """A long operation: the fastest of ``repeats`` runs, with units sampled around each."""
    cpu, wall, samples = float("inf"), float("inf"), [clock.sample()]
    for _ in range(repeats):
        start, start_wall = time.process_time(), time.perf_counter()
        action()
        cpu = min(cpu, time.process_time() - start)
        wall = min(wall, time.perf_counter() - start_wall)
        samples.append(clock.sample())
    return LongRun(cpu, wall, fastest(samples))


def affine_counts(
    count_at: Callable[[int], Counter[str]], small: int = 100
) -> Callable[[int], Counter[str]]:
    """The calls an operation makes for N items, from counted runs at small sizes: every cost
    of these operations is a + b·N, so two sizes give the line and a third checks it."""
    measured = {n: count_at(n) for n in (small, 2 * small, 3 * small)}
    slope = {k: (measured[2 * small][k] - measured[small][k]) / small for k in _ORDERED}
    for k in _ORDERED:
        expected = measured[small][k] + slope[k] * 2 * small
        if abs(measured[3 * small][k] - expected) > 0.01 * max(1.0, expected):
            raise RuntimeError(f"{k} calls are not affine in N: {measured}")

    def at(n: int) -> Counter[str]:
        return Counter({k: round(measured[small][k] + slope[k] * (n - small)) for k in _ORDERED})

    return at
