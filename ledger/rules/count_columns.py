"""Score columns shuffled and checked many at a time, on every core.

The count shuffles every score column on its own (count_files.py says why), and in the
reference event's shape a count has thousands of columns of 11 or 2 ciphertexts. One column's
proof is too small to split over processes with profit, so whole columns go to the workers in
batches of similar cost (``Workers.map_batches``); a column of at least ``POOL_FROM``
ciphertexts is still done here with its sums split over the workers, as before. Either way a
column's shuffle, proof and check are those of docs/spec/shuffle.md (CHVote v3.1 Algorithms
8.47 and 8.51), each column's results land at its own place, and verification is exact group
arithmetic: the same files verify or fail the same way on 1 process or many.

A shuffle's permutation and nonces never leave the process that made them: a worker returns
only the shuffled ciphertexts and the proof, which it has verified itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiosk.core.errors import HanpyoError
from kiosk.core.verifiable.bulk import open_workers
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import Point
from kiosk.core.verifiable.proofs import ProofError
from kiosk.core.verifiable.shuffle import prove_shuffle, shuffle, verify_shuffle
from kiosk.core.verifiable.shuffle_proof import ShuffleProof

#: From this many ciphertexts a column's own sums are split over the workers; below it the
#: whole column goes to one worker (starting a pool for one small column costs more than it).
POOL_FROM = 256
#: What a column costs beyond its ciphertexts, in ciphertexts: the proof's fixed part (the
#: challenges, t1..t3, the generators), so batches of short columns weigh what they cost.
_COLUMN_COST = 8

Column = Sequence[Ciphertext]
#: A column to check: the ciphertexts before, after, and the proof.
Checked = tuple[Column, Column, ShuffleProof]
#: What a worker returns for a column: the result, or why it failed (as text).
_Outcome = tuple[Any, str | None]


def _weight(column: Column) -> int:
    return len(column) + _COLUMN_COST


def shuffle_columns(
    columns: Sequence[Column], key: Point, bound: bytes, workers: int
) -> list[dict[str, Any]]:
    """Every column re-encrypted under ``key`` and permuted with a fresh permutation, with its
    proof bound to ``bound`` (verified before it is returned), as a shuffle file's ``columns``
    entries: {"cts": [...], "proof": {...}} ({"cts": [], "proof": None} for an empty column)."""
    out: list[dict[str, Any] | None] = [None] * len(columns)
    small: list[int] = []
    for c, column in enumerate(columns):
        if not column:
            out[c] = {"cts": [], "proof": None}
        elif len(column) >= POOL_FROM:
            out[c] = _shuffle_one(column, key, bound, workers)
        else:
            small.append(c)
    with open_workers(workers) as pool:  # its processes start only if batches are sent
        done = pool.map_batches(_shuffle_batch, (key, bound), [columns[c] for c in small], _weight)
    for c, (result, fault) in zip(small, done, strict=True):
        if fault is not None:
            raise ProofError("Shuffle", f"column {c}: {fault}")
        out[c] = result
    return [column for column in out if column is not None]


def verify_columns(
    checked: Sequence[Checked], key: Point, bound: bytes, workers: int
) -> list[str | None]:
    """For each (before, after, proof): None when the proof shows ``after`` is ``before``
    re-encrypted under ``key`` and permuted, else what failed."""
    faults: list[str | None] = [None] * len(checked)
    small: list[int] = []
    for c, (before, after, proof) in enumerate(checked):
        if len(before) >= POOL_FROM:
            faults[c] = _verify_one((before, after, proof), key, bound, workers)
        else:
            small.append(c)
    with open_workers(workers) as pool:  # its processes start only if batches are sent
        done = pool.map_batches(
            _verify_batch, (key, bound), [checked[c] for c in small], lambda x: _weight(x[0])
        )
    for c, fault in zip(small, done, strict=True):
        faults[c] = fault
    return faults


def _shuffle_one(column: Column, key: Point, bound: bytes, workers: int) -> dict[str, Any]:
    rows = [(ct,) for ct in column]
    out, permutation, nonces = shuffle(rows, key, workers=workers)
    proof = prove_shuffle(rows, out, permutation, nonces, key, bound, workers=workers)
    verify_shuffle(proof, rows, out, key, bound, workers=workers)
    del permutation, nonces
    return {"cts": [row[0].to_json() for row in out], "proof": proof.to_json()}


def _verify_one(item: Checked, key: Point, bound: bytes, workers: int) -> str | None:
    before, after, proof = item
    try:
        verify_shuffle(
            proof, [(ct,) for ct in before], [(ct,) for ct in after], key, bound, workers=workers
        )
    except HanpyoError as e:
        return str(e)
    return None


def _shuffle_batch(shared: tuple[Point, bytes], columns: Sequence[Column]) -> list[_Outcome]:
    """What a worker runs: each column shuffled, proved and checked in this process."""
    key, bound = shared
    out: list[_Outcome] = []
    for column in columns:
        try:
            out.append((_shuffle_one(column, key, bound, 1), None))
        except HanpyoError as e:
            out.append((None, str(e)))
    return out


def _verify_batch(shared: tuple[Point, bytes], items: Sequence[Checked]) -> list[str | None]:
    """What a worker runs: each column's proof checked in this process."""
    key, bound = shared
    return [_verify_one(item, key, bound, 1) for item in items]
