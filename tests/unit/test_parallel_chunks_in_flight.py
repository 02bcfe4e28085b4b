"""ledger/verify/parallel.py sends the ballots' chunks a few at a time, each made from the items
only when it is sent, so a city's ballots are never all in memory at once; the answers still
come back in the items' order and all of them, on real worker processes too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ledger.verify import parallel
from ledger.verify.parallel import (
    CHUNKS_PER_WORKER,
    IN_FLIGHT,
    MAX_CHUNK,
    ParallelError,
    Where,
    bounds,
    map_chunks,
)


class _Made(Sequence[int]):
    """Items made on demand, counting how many slices were made."""

    def __init__(self, size: int) -> None:
        self.size, self.made = size, 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            self.made += 1
            return list(range(self.size))[index]
        return index


def _double(shared: int, part: Sequence[int]) -> list[int]:
    return [shared * x for x in part]


def test_chunks_cover_every_item_once_and_none_is_larger_than_the_cap() -> None:
    for count in (0, 1, 7, 255, 256, 257, 10_000, 100_000):
        found = bounds(count, 2 * CHUNKS_PER_WORKER)
        assert [i for start, end in found for i in range(start, end)] == list(range(count))
        assert all(0 < end - start <= MAX_CHUNK for start, end in found)


def test_at_most_in_flight_chunks_per_worker_wait_and_answers_keep_their_order() -> None:
    items = _Made(5_000)
    pending: list[list[int]] = []
    most = 0

    def send(part: Sequence[int]) -> list[int]:
        nonlocal most
        pending.append(list(part))
        most = max(most, len(pending))
        return pending[-1]

    def wait(sent: list[int]) -> list[int]:
        pending.remove(sent)
        return [2 * x for x in sent]

    assert parallel._in_order(send, wait, items, 2) == [2 * x for x in range(5_000)]
    assert most == 2 * IN_FLIGHT
    assert items.made == len(bounds(5_000, 2 * CHUNKS_PER_WORKER)) > most


def test_a_worker_that_answers_for_fewer_items_fails_the_check() -> None:
    with pytest.raises(ParallelError, match="answered for 5 items of 10"):
        parallel._in_order(lambda part: part, lambda part: list(part)[:-1], list(range(10)), 1)


def test_two_worker_processes_answer_for_items_made_on_demand() -> None:
    items = _Made(1_000)
    assert map_chunks(_double, 3, items, Where(workers=2)) == [3 * x for x in range(1_000)]
