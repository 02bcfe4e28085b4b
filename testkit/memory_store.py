"""A kiosk's chain held in memory, for the real ``SyncWorker`` to push: the national load
simulation runs hundreds of kiosks, and a SQLCipher store per kiosk would spend the shared
cores on the kiosks' disks instead of the ledger.

The chain is built beforehand (testkit/ballot_chains.py); ``cast`` makes its next blocks
visible, as ``BallotBox.cast_ballot`` does when a voter casts. Acknowledgements are kept as the
real store keeps them: a height counts as acknowledged once the ledger's signed answer covers
it, and the latest verified checkpoint is remembered for the next consistency check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from kiosk.core.block import SignedBlock
from kiosk.core.chain import ChainState


class MemoryChainStore:
    """What ``kiosk.sync.worker.SyncedStore`` needs, over a prebuilt list of signed blocks."""

    def __init__(self, blocks: list[SignedBlock], final: ChainState, *, cast: int = 0) -> None:
        if not 0 <= cast <= len(blocks):
            raise ValueError(f"cast {cast} is outside a chain of {len(blocks)} blocks")
        self._blocks, self._final = blocks, final
        self._cast = cast
        self._acknowledged = -1
        self._checkpoint: tuple[int, str] | None = None

    @property
    def length(self) -> int:
        return len(self._blocks)

    @property
    def cast_count(self) -> int:
        return self._cast

    def cast(self, count: int) -> None:
        """Blocks up to ``count`` (exclusive) are now in the kiosk's store."""
        self._cast = max(self._cast, min(count, len(self._blocks)))

    @property
    def state(self) -> ChainState:
        # The worker reads only the height and head; the rest is the final block's state.
        if self._cast == 0:
            return ChainState()
        head = self._blocks[self._cast - 1]
        return dataclasses.replace(self._final, height=self._cast - 1, head=head.hash)

    def blocks(self, start: int = 0) -> Iterator[SignedBlock]:
        return iter(self._blocks[max(start, 0) : self._cast])

    def acknowledged_height(self) -> int:
        return self._acknowledged

    def record_sync(
        self,
        leaves: dict[int, int | None],
        checkpoint: str | None,
        checkpoint_size: int | None,
        verified_at: str,
        proofs: dict[int, list[bytes]] | None = None,
    ) -> None:
        if leaves:
            self._acknowledged = max(self._acknowledged, *leaves)
        if checkpoint is not None and checkpoint_size is not None:
            self._checkpoint = (checkpoint_size, checkpoint)

    def latest_checkpoint(self) -> tuple[int, str] | None:
        return self._checkpoint

    def inclusion_proof(self, height: int) -> tuple[int, int, list[bytes]] | None:
        """No proofs are kept: the simulated kiosks' packages name no witnesses, so the sync
        worker never asks for one (kiosk/store/chain_store.py keeps them for real kiosks)."""
        return None
