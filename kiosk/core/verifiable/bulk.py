"""Many independent linear combinations Σ kᵢ·Pᵢ of group elements at once, on one core or
spread over worker processes, with the same answer either way.

The shuffle and its proof spend nearly all their time on such sums (re-encryptions, the
permutation commitment, the commitment chain, the proof's inner products). Two threads measured
no faster than one here (the Python around each libsodium call needs the interpreter lock);
processes do scale. Group arithmetic is exact and every element has one canonical encoding,
so how the terms are split between processes cannot change a result: a proof made with 2
workers is byte for byte the one made with 1 from the same random scalars.

Costs, the unit the benchmarks count: a term with scalar 1 is an addition only, a term on G
is a fixed-base multiplication (``base_mul``), any other term a variable-base multiplication;
a row of t non-zero terms costs t−1 additions on top.

Many small tasks (a count's thousands of score columns of 11 ciphertexts, each shuffled and
proved on its own) gain nothing from splitting one sum: ``Workers.map_batches`` sends whole
tasks to the workers instead, in batches of similar cost.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

from kiosk.core.errors import HanpyoError
from kiosk.core.verifiable.group import IDENTITY, ORDER, Point

#: One term k·P of a linear combination.
Term = tuple[int, Point]
#: A term as it travels to a worker: the scalar and the point's canonical encoding.
_WireTerm = tuple[int, bytes]

#: Pieces per worker: more than one so a worker that finishes early takes another.
_PIECES_PER_WORKER = 4

T = TypeVar("T")
R = TypeVar("R")


class WorkerError(HanpyoError):
    """The worker processes stopped before finishing their share."""


def term_value(scalar: int, point: Point) -> Point:
    """k·P, with k = 1 an addition-free copy (a re-encryption adds the old ciphertext as is)."""
    k = scalar % ORDER
    return point if k == 1 else point * k


def combination(terms: Sequence[Term]) -> Point:
    """Σ k·P over ``terms`` in this process: starts from the first term, not the identity, so
    t terms cost t−1 additions."""
    total: Point | None = None
    for scalar, point in terms:
        value = term_value(scalar, point)
        total = value if total is None else total + value
    return IDENTITY if total is None else total


def _combine_wire_rows(rows: list[list[_WireTerm]]) -> list[bytes]:
    """What a worker runs: one sum per row. The points come from the parent's own ``Point``
    values, already canonical, so they are not decoded again."""
    return [combination([(k, Point(p)) for k, p in row]).encoded for row in rows]


class Workers:
    """Where linear combinations are computed: in this process (``count`` 1) or spread over
    ``count`` worker processes. Use ``open_workers`` to get one."""

    def __init__(self, count: int, executor: Executor | None) -> None:
        self.count = count
        self._executor = executor

    def combine(self, rows: Sequence[Sequence[Term]]) -> list[Point]:
        """Σ k·P for each row, in the order given."""
        if self._executor is None or self.count == 1:
            return [combination(row) for row in rows]
        pieces = _split_rows(rows, self.count * _PIECES_PER_WORKER)
        batches = _batch(pieces, self.count * _PIECES_PER_WORKER)
        wire = [[[(k, p.encoded) for k, p in terms] for _, terms in batch] for batch in batches]
        partials = self._map(_combine_wire_rows, wire)
        totals: list[Point | None] = [None] * len(rows)
        for batch, results in zip(batches, partials, strict=True):
            for (index, _), encoded in zip(batch, results, strict=True):
                part = Point(encoded)
                current = totals[index]
                totals[index] = part if current is None else current + part
        return [IDENTITY if total is None else total for total in totals]

    def map_batches(
        self,
        function: Callable[[Any, Sequence[T]], list[R]],
        shared: Any,
        items: Sequence[T],
        weight: Callable[[T], int],
    ) -> list[R]:
        """``function(shared, batch)`` over ``items`` cut into consecutive batches of similar
        total ``weight``, one result per item, in the items' order.

        For many small independent tasks (a count's thousands of score columns of 11): each
        is too small to split, so whole tasks go to the workers. ``function`` must be a
        module-level function (it is pickled by name) that catches its own errors and returns
        them as values: an exception's own arguments do not always survive the trip back."""
        if self._executor is None or self.count == 1 or len(items) < 2:
            return function(shared, items) if items else []
        batches = _weighted_batches(items, weight, self.count * _PIECES_PER_WORKER)
        parts = self._map(function, [shared] * len(batches), batches)
        results = [result for part in parts for result in part]
        if len(results) != len(items):
            raise WorkerError(f"the workers returned {len(results)} results for {len(items)}")
        return results

    def _map(self, function: Callable[..., list[R]], *arguments: Sequence[Any]) -> list[list[R]]:
        if self._executor is None:
            raise WorkerError("no worker processes were started")
        try:
            return list(self._executor.map(function, *arguments))
        except BrokenProcessPool as error:
            raise WorkerError(
                "the worker processes stopped; a program that starts them must be importable "
                'and start its work under `if __name__ == "__main__":` (they begin by '
                "importing it)"
            ) from error


def _weighted_batches(
    items: Sequence[T], weight: Callable[[T], int], count: int
) -> list[Sequence[T]]:
    """``items`` cut into about ``count`` consecutive slices of similar total weight (each
    item weighs at least 1)."""
    weights = [max(1, weight(item)) for item in items]
    target = max(1, -(-sum(weights) // count))
    batches: list[Sequence[T]] = []
    start, filled = 0, 0
    for index, w in enumerate(weights):
        if filled > 0 and filled + w > target:
            batches.append(items[start:index])
            start, filled = index, 0
        filled += w
    batches.append(items[start:])
    return batches


def _split_rows(rows: Sequence[Sequence[Term]], pieces: int) -> list[tuple[int, Sequence[Term]]]:
    """Each row as (row index, terms), a long row (an inner product over N positions) cut into
    slices of about total/``pieces`` terms so it spreads over the workers too."""
    total_terms = sum(len(row) for row in rows)
    size = max(1, -(-total_terms // pieces))
    out: list[tuple[int, Sequence[Term]]] = []
    for index, row in enumerate(rows):
        if len(row) <= size:
            out.append((index, row))
        else:
            out.extend((index, row[start : start + size]) for start in range(0, len(row), size))
    return out


def _batch(
    pieces: list[tuple[int, Sequence[Term]]], count: int
) -> list[list[tuple[int, Sequence[Term]]]]:
    """Consecutive pieces grouped into about ``count`` batches of similar numbers of terms."""
    total_terms = sum(len(terms) for _, terms in pieces)
    target = max(1, -(-total_terms // count))
    batches: list[list[tuple[int, Sequence[Term]]]] = [[]]
    filled = 0
    for piece in pieces:
        if filled > 0 and filled + len(piece[1]) > target:
            batches.append([])
            filled = 0
        batches[-1].append(piece)
        filled += len(piece[1])
    return [batch for batch in batches if batch]


@contextmanager
def open_workers(count: int) -> Iterator[Workers]:
    """Workers for one operation; with ``count`` > 1 a process pool that ends with the block.

    The pool starts its processes from a fork server, not by forking this process: a fork of a
    process with threads (a server's, a GUI's) can inherit a lock held by another thread and
    hang.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"workers must be a whole number of at least 1, not {count!r}")
    if count == 1:
        yield Workers(1, None)
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as executor:
        yield Workers(count, executor)
