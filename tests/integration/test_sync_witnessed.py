"""A kiosk in a v2 election whose package names witnesses (2 of 2): the real ledger (`ledger
serve --witness ... --tiles-dir`), real `ledger witness` processes and a real mirror, all on
loopback. The kiosk counts a block as delivered only once it is proven in a checkpoint both
witnesses cosigned; with a witness down it keeps the blocks undelivered and says why; its
proofs come from the tiles, and from a mirror's tiles while the ledger is stopped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from kiosk.core.block import decode_signed_block
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures, verify_cosigned
from kiosk.core.crypto import SigningKey
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import LedgerUnreachable
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.witnessed import Unwitnessed
from kiosk.sync.worker import SyncStatus, SyncWorker
from testkit.ledger_requests import enrol
from testkit.mirror_server import MirrorServer
from testkit.stores import official_store
from testkit.witnessed_ledger import WitnessedLedger, witnessed_ledger


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until ``condition`` holds (60 s at most: a hang fails; no timing is asserted)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


class CountingSession(requests.Session):
    """A real HTTP session that counts the tile and checkpoint fetches it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []

    def get(self, url: str | bytes, **kwargs: object) -> requests.Response:  # type: ignore[override]
        self.fetched.append(str(url))
        return super().get(url, **kwargs)  # type: ignore[arg-type]


@contextmanager
def kiosk(
    tmp: Path, setup: WitnessedLedger
) -> Iterator[tuple[ChainStore, BallotBox, LedgerClient]]:
    key = SigningKey.generate()
    package = setup.election.package
    store = official_store(tmp / "kiosk.db", os.urandom(32), key, package)
    enrol(setup.ledger, key, "hall A")
    try:
        yield (
            store,
            BallotBox(store, package),
            LedgerClient(setup.ledger.url, key, log_key=setup.log_key),
        )
    finally:
        store.close()


def sessions(box: BallotBox, n: int) -> None:
    for _ in range(n):
        box.close_session()
        box.open_session()


def sync_until_delivered(worker: SyncWorker) -> SyncStatus:
    """sync_once until no block waits for the witnesses (cosigning follows the ledger's
    checkpoint by a moment, so its newest may not be cosigned yet); any other refusal fails
    the test."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return worker.sync_once()
        except Unwitnessed:
            assert time.monotonic() < deadline, "the witnesses never covered the kiosk's blocks"
            time.sleep(0.2)


def checkpoint_at(setup: WitnessedLedger, size: int, *signers: int) -> bool:
    """Whether the ledger serves a checkpoint of ``size`` cosigned by exactly ``signers``."""
    note = requests.get(f"{setup.ledger.url}/v1/checkpoint", timeout=10).text
    keys = [CosignerKey.parse(w.vkey) for w in setup.witnesses]
    found = {c.witness for c in cosignatures(note, keys)}
    return verify_checkpoint(note, setup.log_key).size >= size and found == {
        setup.witnesses[i].name for i in signers
    }


def test_blocks_count_as_delivered_only_in_a_checkpoint_the_witnesses_cosigned(
    tmp_path: Path,
) -> None:
    setup = witnessed_ledger(tmp_path)
    w0, w1 = setup.witnesses
    policy = setup.election.package.witnesses
    assert policy.threshold == 2
    with ExitStack() as running:
        for server in (w0, w1, setup.ledger):
            running.enter_context(server)
        store, box, client = running.enter_context(kiosk(tmp_path, setup))
        worker = SyncWorker(store, client, setup.log_key, witnesses=policy)
        sessions(box, 3)
        status = sync_until_delivered(worker)
        assert status.acknowledged_height == store.state.height
        assert all(store.inclusion_proof(h) is not None for h in range(store.state.height + 1))
        latest = store.latest_checkpoint()
        assert latest is not None and latest[0] == status.checkpoint_size
        verify_cosigned(latest[1], setup.log_key, policy.keys, 2)
        # The session-close block carries that witnessed checkpoint.
        closed = box.close_session()
        assert verify_cosigned(closed.block.body["checkpoint"], setup.log_key, policy.keys, 2)
        box.open_session()

        # One witness down: the ledger's next checkpoints carry w0's cosignature only.
        w1.stop()
        delivered = store.acknowledged_height()
        sessions(box, 2)
        with pytest.raises(Unwitnessed):
            worker.sync_once()
        assert worker.client.head().height == store.state.height  # the ledger has them ...
        wait_for(lambda: checkpoint_at(setup, store.state.height + 1, 0), "w0 alone to cosign")
        with pytest.raises(Unwitnessed) as refused:
            worker.sync_once()
        said = str(refused.value)
        assert "cosigned by witness.test/w0;" in said
        assert "requires 2 of witness.test/w0, witness.test/w1" in said
        assert store.acknowledged_height() == delivered  # ... but they are not delivered
        assert store.state.height > delivered

        # Both down, a new worker in its own thread (as after a restart: it learns where its
        # held blocks are from the ledger): staff see why, and nothing counts as delivered.
        w0.stop()
        sessions(box, 1)
        seen: list[SyncStatus] = []
        worker = SyncWorker(
            store, client, setup.log_key, witnesses=policy, on_status=seen.append, idle_s=0.2
        ).start()
        try:
            wait_for(lambda: any("no witness" in (s.alarm or "") for s in seen), "the alarm")
            # The first waits are routine (cosigning lags each checkpoint): no alarm yet.
            assert seen[0].alarm is None and seen[0].pending > 0
            shown = next(s for s in seen if "no witness" in (s.alarm or ""))
            assert shown.online and shown.trusted and shown.pending > 0
            assert "undelivered" in (shown.alarm or "")
            assert store.acknowledged_height() == delivered
            assert worker.running  # a retry with back-off, never a stop

            w0.start()
            w1.start()  # the ledger's publisher asks again; the kiosk's next pass delivers
            worker.wake()
            wait_for(lambda: store.acknowledged_height() == store.state.height, "delivery at last")
        finally:
            worker.stop()
        latest = store.latest_checkpoint()
        assert latest is not None
        verify_cosigned(latest[1], setup.log_key, policy.keys, 2)
        assert all(store.inclusion_proof(h) is not None for h in range(store.state.height + 1))


def test_the_kiosk_proves_its_blocks_from_the_tiles_and_from_a_mirror_with_the_ledger_down(
    tmp_path: Path,
) -> None:
    setup = witnessed_ledger(tmp_path)
    w0, w1 = setup.witnesses
    policy = setup.election.package.witnesses
    mirror = MirrorServer.of(
        tmp_path / "mirror", setup.ledger, setup.election, [w.vkey for w in setup.witnesses]
    )
    at_ledger, at_mirror = CountingSession(), CountingSession()
    tiles = [
        TileProofs(f"{setup.ledger.url}/tiles", at_ledger),
        TileProofs(f"{mirror.url}/tiles", at_mirror),
    ]
    with ExitStack() as running:
        for server in (w0, w1, setup.ledger):
            running.enter_context(server)
        store, box, client = running.enter_context(kiosk(tmp_path, setup))
        worker = SyncWorker(store, client, setup.log_key, witnesses=policy, tiles=tiles)
        sessions(box, 3)
        assert sync_until_delivered(worker).acknowledged_height == store.state.height
        fetched = [url.rsplit("/tiles/", 1)[1] for url in at_ledger.fetched]
        assert "checkpoint" in fetched and any(f.startswith("tile/") for f in fetched)
        assert all(store.inclusion_proof(h) is not None for h in range(store.state.height + 1))

        # Taken by the ledger while no witness cosigns: held, not delivered.
        w0.stop()
        w1.stop()
        delivered = store.acknowledged_height()
        sessions(box, 4)
        with pytest.raises(Unwitnessed):
            worker.sync_once()
        assert store.acknowledged_height() == delivered
        w0.start()
        w1.start()
        wait_for(lambda: checkpoint_at(setup, store.state.height + 1, 0, 1), "both to cosign")
        follow = mirror.follow(f"{setup.ledger.url}/tiles")
        assert follow.returncode == 0, follow.stderr
        setup.ledger.stop()  # the ledger is down; the mirror holds its copy
        with mirror:
            with pytest.raises(LedgerUnreachable):
                worker.sync_once()  # no upload or head without the ledger ...
            assert store.acknowledged_height() == store.state.height  # ... but proven
        assert any("/tile/" in url for url in at_mirror.fetched)
        for height in range(delivered + 1, store.state.height + 1):
            proven = store.inclusion_proof(height)
            assert proven is not None
        latest = store.latest_checkpoint()
        assert latest is not None
        verify_cosigned(latest[1], setup.log_key, policy.keys, 2)
        block = decode_signed_block(next(store.blocks(store.state.height)).encode())
        assert block.block.height == store.state.height
