"""A kiosk catching up on a long backlog, through the real `ledger serve` (writing its tiles) and
a counting pass-through proxy: the number of HTTP round trips stays small however long the
backlog (a few uploads of up to 1,000 blocks, one checkpoint, proofs from tiles each read
once), every block is still proven in a checkpoint the kiosk verified before it counts as
delivered, and a kiosk that restarts learns where its held blocks are with one request."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.core.chain import Mode
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.core.tiles import TILE_WIDTH
from kiosk.sync.client import LedgerClient
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.witnessed import Unwitnessed
from kiosk.sync.worker import BATCH, TILES_POLL_S, TILES_WAIT_S, SyncWorker
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection
from testkit.fault_proxy import FaultProxy
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.memory_store import MemoryChainStore
from testkit.witnessed_ledger import witnessed_ledger

BACKLOG = 10_000
UPLOAD = "POST /v1/kiosks/{id}/blocks"


class ProvenStore(MemoryChainStore):
    """The in-memory chain, keeping the inclusion proofs the worker records with each
    acknowledgement (the real store keeps them too)."""

    def __init__(self, writer: ChainWriter) -> None:
        super().__init__(writer.blocks, writer.state, cast=len(writer.blocks))
        self.proofs: dict[int, tuple[int | None, int, list[bytes]]] = {}

    def record_sync(
        self,
        leaves: dict[int, int | None],
        checkpoint: str | None,
        checkpoint_size: int | None,
        verified_at: str,
        proofs: dict[int, list[bytes]] | None = None,
    ) -> None:
        super().record_sync(leaves, checkpoint, checkpoint_size, verified_at, proofs)
        for height, proof in (proofs or {}).items():
            assert checkpoint_size is not None
            self.proofs[height] = (leaves[height], checkpoint_size, proof)


def backlog(package: ElectionPackage, blocks: int) -> ChainWriter:
    """A kiosk's chain of ``blocks`` blocks (sessions opened and closed: cheap to make)."""
    writer = ChainWriter(package, SigningKey.generate(), datetime.now(UTC), timedelta(0))
    writer.mode(Mode.OFFICIAL)
    while len(writer.blocks) < blocks:
        writer.open_session() if len(writer.blocks) % 2 == 0 else writer.close_session()
    return writer


def tile_fetches(proxy: FaultProxy) -> int:
    return sum(n for path, n in proxy.requests.items() if "/tiles/tile/" in path)


def api_requests(proxy: FaultProxy) -> int:
    return sum(n for path, n in proxy.requests.items() if "/tiles/" not in path)


def test_a_ten_thousand_block_catch_up_takes_a_few_dozen_round_trips(
    tmp_path: Path, election: SyntheticElection
) -> None:
    writer = backlog(election.package, BACKLOG)
    store = ProvenStore(writer)
    tiles_dir = ("--tiles-dir", str(tmp_path / "tiles"))
    with (
        LedgerServer(tmp_path / "ledger", election, serve_args=tiles_dir) as server,
        FaultProxy(server.port, fault_rate=0.0) as proxy,
    ):
        enrol(server, writer.key, "hall A")
        client = LedgerClient(proxy.url, writer.key, log_key=server.log_key)
        tiles = TileProofs(f"{proxy.url}/tiles")
        worker = SyncWorker(store, client, server.log_key, tiles=[tiles])
        status = worker.sync_once()
        client.close()
        assert proxy.faults == 0 and not proxy.errors

    assert status.acknowledged_height == BACKLOG - 1
    # Every block proven, each against the checkpoint the kiosk verified and kept.
    latest = store.latest_checkpoint()
    assert latest is not None and latest[0] >= BACKLOG
    checkpoint = verify_checkpoint(latest[1], server.log_key)
    assert sorted(store.proofs) == list(range(BACKLOG))
    for block in writer.blocks:
        leaf, size, proof = store.proofs[block.block.height]
        assert leaf is not None and size == checkpoint.size
        verify_inclusion(leaf_hash(block.encode()), leaf, size, proof, checkpoint.root)

    # One upload per 1,000 blocks; four requests per 100 blocks (how it was) made 400.
    assert proxy.requests[UPLOAD] == math.ceil(BACKLOG / BATCH)
    # The signed head, the uploads, the ledger's checkpoint and a consistency proof at most.
    assert api_requests(proxy) <= proxy.requests[UPLOAD] + 4, dict(proxy.requests)
    # Each tile of the tree read once (one level-0 tile per 256 leaves, and the level-1 one),
    # a partial tile at most twice (its full successor may have replaced it).
    tiles_in_tree = math.ceil(BACKLOG / TILE_WIDTH) + 1
    assert tile_fetches(proxy) <= tiles_in_tree + 2, dict(proxy.requests)
    checkpoints = proxy.requests["GET /tiles/checkpoint"]
    assert checkpoints <= TILES_WAIT_S / TILES_POLL_S + 2
    assert api_requests(proxy) + tile_fetches(proxy) < BACKLOG / 100


def sync_until(worker: SyncWorker, done: Callable[[], bool]) -> None:
    """sync_once until ``done`` (cosigning follows each checkpoint by a moment, and the
    ledger asks witnesses that came back again every few seconds); 90 s at most."""
    deadline = time.monotonic() + 90
    while True:
        with suppress(Unwitnessed):
            worker.sync_once()
        if done():
            return
        assert time.monotonic() < deadline, "the blocks were never delivered"
        time.sleep(0.5)


def test_a_restarted_kiosk_locates_its_held_blocks_with_one_request(tmp_path: Path) -> None:
    setup = witnessed_ledger(tmp_path)
    policy = setup.election.package.witnesses
    writer = backlog(setup.election.package, 2_500)
    store = ProvenStore(writer)
    w0, w1 = setup.witnesses
    with w0, w1, setup.ledger, FaultProxy(setup.ledger.port, fault_rate=0.0) as proxy:
        enrol(setup.ledger, writer.key, "hall A")
        client = LedgerClient(proxy.url, writer.key, log_key=setup.log_key)
        tiles = [TileProofs(f"{proxy.url}/tiles")]
        # The witnesses are down: the ledger takes every block, none is delivered.
        w0.stop()
        w1.stop()
        with pytest.raises(Unwitnessed):
            SyncWorker(store, client, setup.log_key, witnesses=policy, tiles=tiles).sync_once()
        assert client.head().height == len(writer.blocks) - 1
        assert store.acknowledged_height() == -1 and not store.proofs
        # The kiosk restarts (a new worker knows nothing of its uploads); the witnesses return.
        w0.start()
        w1.start()
        proxy.requests.clear()
        worker = SyncWorker(store, client, setup.log_key, witnesses=policy, tiles=tiles)
        sync_until(worker, lambda: store.acknowledged_height() == len(writer.blocks) - 1)
        client.close()
    assert proxy.requests["GET /v1/kiosks/{id}/leaves"] >= 1
    passes = proxy.requests["GET /v1/kiosks/{id}/head"]
    # One question per pass for all 2,500 held blocks (it was one per block), and no upload.
    assert proxy.requests["GET /v1/kiosks/{id}/leaves"] <= passes
    assert proxy.requests["GET /v1/proofs/inclusion"] == 0
    assert proxy.requests[UPLOAD] == 0
    assert sorted(store.proofs) == list(range(len(writer.blocks)))
