"""Checking many ballots at once: on this machine's cores, or on a Dask cluster of the observer's
own machines (`ledger verify-bundle --scheduler tcp://HOST:8786`).

The work is a pure function over a chunk of items plus one shared document (the election
package), so it runs the same in a process here or in a Dask worker elsewhere: the shared
document is sent once per worker (Dask ``scatter`` with broadcast; a pool initializer here),
never once per chunk. Results come back in the items' order, whatever order workers finish in.

Only a few chunks are in flight at a time (``IN_FLIGHT`` per worker), each made from the items
when it is sent: the items may be made on demand (the selection's ballots are), so a city's
ballots are never all in memory at once. On Dask each chunk is scattered to a worker directly
and the task names it by key, so the ballots never pass through the scheduler (every ballot in
one task graph was 56 MB at 10,000 ballots).
A worker that fails (a crash, a lost machine) fails the whole check with its error: a verifier
never reports "all good" for work it did not see done.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from kiosk.core.errors import HanpyoError

T = TypeVar("T")
R = TypeVar("R")

# Chunks per worker: enough that a slow worker does not hold up the end, few enough that the
# per-chunk cost (pickling, scheduling) stays small against a ballot's proofs (~10 ms each).
CHUNKS_PER_WORKER = 8
# At most this many items a chunk (a few seconds of proofs), so a large log's chunks in flight
# stay small in memory.
MAX_CHUNK = 256
# Chunks sent ahead per worker: one it works on, one waiting, so it never idles.
IN_FLIGHT = 2


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
    return [items[start:end] for start, end in bounds(len(items), pieces)]


def bounds(count: int, pieces: int) -> list[tuple[int, int]]:
    """(start, end) of about ``pieces`` consecutive slices of similar size over ``count``
    items, none of more than ``MAX_CHUNK``."""
    if count <= 0:
        return []
    size = min(MAX_CHUNK, max(1, -(-count // max(1, pieces))))
    return [(start, min(start + size, count)) for start in range(0, count, size)]


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
    try:
        with _pool(count, shared) as pool:
            return _in_order(
                lambda part: pool.submit(_run_with_shared, function, part),
                lambda future: future.result(),
                items,
                count,
            )
    except BrokenProcessPool as e:
        raise ParallelError(
            "the worker processes stopped; a program that starts them must start its work "
            'under `if __name__ == "__main__":`'
        ) from e


def _in_order(
    send: Callable[[Sequence[T]], Any],
    wait: Callable[[Any], list[R]],
    items: Sequence[T],
    workers: int,
) -> list[R]:
    """Each chunk of ``items`` sent (made from the items only then), at most ``IN_FLIGHT``
    per worker at a time; the results in the items' order."""
    results: list[R] = []
    pending: deque[Any] = deque()
    for start, end in bounds(len(items), workers * CHUNKS_PER_WORKER):
        if len(pending) >= workers * IN_FLIGHT:
            results.extend(wait(pending.popleft()))
        pending.append(send(items[start:end]))
    while pending:
        results.extend(wait(pending.popleft()))
    if len(results) != len(items):
        raise ParallelError(f"the workers answered for {len(results)} items of {len(items)}")
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

        def send(part: Sequence[T]) -> Any:
            # scattered as one object (a list would be scattered item by item): the data goes
            # to a worker directly; the task names it by its key
            (data,) = client.scatter([list(part)], hash=False)
            return client.submit(function, shared_future, data, pure=False)

        return _in_order(send, lambda future: future.result(), items, workers)
    except ParallelError:
        raise
    except Exception as e:  # a lost worker or a remote error, named below
        raise ParallelError(f"the Dask cluster at {scheduler} failed the check: {e}") from e
    finally:
        client.close()
