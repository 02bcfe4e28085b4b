"""Checking many ballots at once: on this machine's cores, or on a Dask cluster of the observer's
own machines (`ledger verify-bundle --scheduler tcp://HOST:8786`).

The work is a pure function over a chunk of items plus one shared document (the election
package), so it runs the same in a process here or in a Dask worker elsewhere: the shared
document is sent once per worker (Dask ``scatter`` with broadcast; a pool initializer here),
never once per chunk. Results come back in the items' order, whatever order workers finish in.
A worker that fails (a crash, a lost machine) fails the whole check with its error: a verifier
never reports "all good" for work it did not see done.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from kiosk.core.errors import HanpyoError

T = TypeVar("T")
R = TypeVar("R")

# Chunks per worker: enough that a slow worker does not hold up the end, few enough that the
# per-chunk cost (pickling, scheduling) stays small against a ballot's proofs (~10 ms each).
CHUNKS_PER_WORKER = 8


class ParallelError(HanpyoError):
    """The workers could not do the check (a lost worker, an unreachable scheduler)."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where the work runs: ``workers`` local processes, or a Dask scheduler's cluster."""

    workers: int = 0  # 0: every core
    scheduler: str | None = None

    def describe(self) -> str:
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}"
        return f"{self.local_workers()} local process(es)"

    def local_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def chunks(items: Sequence[T], pieces: int) -> list[Sequence[T]]:
    """``items`` cut into about ``pieces`` consecutive slices of similar size."""
    if not items:
        return []
    size = max(1, -(-len(items) // max(1, pieces)))
    return [items[start : start + size] for start in range(0, len(items), size)]


def map_chunks(
    function: Callable[[Any, Sequence[T]], list[R]],
    shared: Any,
    items: Sequence[T],
    where: Where,
) -> list[R]:
    """``function(shared, chunk)`` over ``items`` in chunks, results concatenated in order.

    ``function`` must be a module-level function (it is pickled by reference)."""
    if where.scheduler:
        return _on_dask(function, shared, items, where.scheduler)
    count = where.local_workers()
    if count == 1 or len(items) < 2:
        return function(shared, items) if items else []
    with _pool(count, shared) as pool:
        parts = chunks(items, count * CHUNKS_PER_WORKER)
        results: list[R] = []
        for part in pool.map(_run_with_shared, [function] * len(parts), parts):
            results.extend(part)
        return results


# -- local processes ----------------------------------------------------------------------------

_shared: Any = None


def _remember(shared: Any) -> None:
    global _shared  # one value per worker process, set once by the pool's initializer
    _shared = shared


def _run_with_shared(function: Callable[[Any, Sequence[T]], list[R]], part: Sequence[T]) -> list[R]:
    return function(_shared, part)


@contextmanager
def _pool(count: int, shared: Any) -> Iterator[ProcessPoolExecutor]:
    # A fork server, not fork: the caller may be a server with threads (kiosk/core/verifiable/
    # bulk.py says why).
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=count, mp_context=context, initializer=_remember, initargs=(shared,)
    ) as pool:
        yield pool


# -- Dask -----------------------------------------------------------------------------------------


def _on_dask(
    function: Callable[[Any, Sequence[T]], list[R]],
    shared: Any,
    items: Sequence[T],
    scheduler: str,
) -> list[R]:
    import distributed

    connect: Any = distributed.Client  # untyped library: its calls are checked by the tests
    try:
        client: Any = connect(scheduler, timeout="20s", set_as_default=False)
    except OSError as e:
        raise ParallelError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        if workers == 0:
            raise ParallelError(f"the Dask cluster at {scheduler} has no workers")
        if not items:
            return []
        shared_future = client.scatter(shared, broadcast=True)
        parts = chunks(items, workers * CHUNKS_PER_WORKER)
        futures = client.map(function, [shared_future] * len(parts), parts, pure=False)
        results: list[R] = []
        for part in client.gather(futures):
            results.extend(part)
        return results
    except ParallelError:
        raise
    except Exception as e:  # a lost worker or a remote error, named below
        raise ParallelError(f"the Dask cluster at {scheduler} failed the check: {e}") from e
    finally:
        client.close()
