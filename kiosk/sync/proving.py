"""Proving a kiosk's blocks in a checkpoint it verified: the RFC 9162 inclusion proof of each
block's leaf (section 2.1.3.2), fetched from the log's tiles (one read of each tile for the
whole set) or from the ledger (one request per run of up to a thousand neighbouring leaves),
and checked here against the checkpoint's root whichever way it came.

A tile source whose proofs fail is a copy that cannot answer, never evidence against the
ledger: the ledger is asked instead, and only a proof of the ledger's own that fails is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from kiosk.core.checkpoint import Checkpoint
from kiosk.core.errors import VerificationError
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.sync.client import MAX_PROOFS, LedgerClient, OutgoingBlock
from kiosk.sync.errors import SyncError, UntrustedLedger
from kiosk.sync.tile_proofs import TileProofs

log = logging.getLogger("hanpyo.kiosk.sync")

Proofs = dict[int, list[bytes]]  # height -> inclusion proof


def prove_blocks(
    placed: Sequence[tuple[int, OutgoingBlock]],
    checkpoint: Checkpoint,
    client: LedgerClient,
    tiles: TileProofs | None,
) -> Proofs:
    """The verified inclusion proofs of ``placed`` (leaf index, block), sorted by leaf, in
    ``checkpoint``: from ``tiles`` if given and they answer with proofs that verify, else
    from the ledger, whose failing proof raises ``UntrustedLedger``."""
    if tiles is not None:
        try:
            found = tiles.inclusion_proofs([leaf for leaf, _ in placed], checkpoint.size)
            return _checked(placed, found, checkpoint)
        except SyncError as e:  # a copy that cannot answer says nothing of the ledger
            log.warning("tiles at %s give no proof: %s; asking the ledger", tiles.url, e)
    found = []
    for run in runs(placed, MAX_PROOFS):
        found += client.inclusion_range(run[0][0], len(run), checkpoint.size)
    return _checked(placed, found, checkpoint)


def _checked(
    placed: Sequence[tuple[int, OutgoingBlock]], proofs: list[list[bytes]], checkpoint: Checkpoint
) -> Proofs:
    if len(proofs) != len(placed):
        raise SyncError(f"asked for {len(placed)} proofs, got {len(proofs)}")
    for (leaf, block), proof in zip(placed, proofs, strict=True):
        try:
            verify_inclusion(
                leaf_hash(block.encoded), leaf, checkpoint.size, proof, checkpoint.root
            )
        except VerificationError as e:
            raise UntrustedLedger(
                f"block {block.height} is not in the signed log at leaf {leaf}: {e}"
            ) from e
    return {block.height: proof for (_, block), proof in zip(placed, proofs, strict=True)}


def runs(
    placed: Sequence[tuple[int, OutgoingBlock]], most: int
) -> Iterator[list[tuple[int, OutgoingBlock]]]:
    """Sorted (leaf, block) pairs cut into runs of consecutive leaves, ``most`` at a time:
    one proof request per run."""
    run: list[tuple[int, OutgoingBlock]] = []
    for pair in placed:
        if run and (pair[0] != run[-1][0] + 1 or len(run) == most):
            yield run
            run = []
        run.append(pair)
    if run:
        yield run
