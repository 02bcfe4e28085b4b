"""How a kiosk cuts its backlog into uploads: at most BATCH blocks and UPLOAD_BYTES of encoded
blocks each (the ledger refuses more than 1,000 blocks or a 4 MiB body), in chain order, never
an empty upload, and a block larger than the byte budget still goes, alone."""

from __future__ import annotations

from kiosk.sync.client import OutgoingBlock
from kiosk.sync.worker import BATCH, UPLOAD_BYTES, upload_batches


def blocks(sizes: list[int]) -> list[OutgoingBlock]:
    return [OutgoingBlock(h, bytes(32), b"x" * size) for h, size in enumerate(sizes)]


def test_small_blocks_go_a_thousand_at_a_time() -> None:
    batches = list(upload_batches(iter(blocks([200] * 2_500))))
    assert [len(b) for b in batches] == [BATCH, BATCH, 500]
    assert [b.height for batch in batches for b in batch] == list(range(2_500))


def test_large_blocks_are_cut_by_bytes() -> None:
    size = 7_000  # a ballot with many contests
    batches = list(upload_batches(iter(blocks([size] * 1_200))))
    assert all(sum(len(b.encoded) for b in batch) <= UPLOAD_BYTES for batch in batches)
    assert len(batches[0]) == UPLOAD_BYTES // size
    assert sum(len(batch) for batch in batches) == 1_200


def test_a_block_past_the_budget_goes_alone_and_nothing_is_empty() -> None:
    batches = list(upload_batches(iter(blocks([10, UPLOAD_BYTES + 1, 10]))))
    assert [[b.height for b in batch] for batch in batches] == [[0], [1], [2]]
    assert list(upload_batches(iter([]))) == []
