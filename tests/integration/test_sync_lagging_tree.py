"""A kiosk's sync while the ledger's tree lags the blocks it has taken (issue 18: the upload
is acknowledged once its blocks are committed, and the integrator extends the tree after).
The kiosk counts as delivered only what the ledger's signed head covers, never more, and
once a checkpoint covers its blocks it proves them as before."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.store.ballot_box import BallotBox
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import SyncError, UntrustedLedger
from kiosk.sync.worker import SyncWorker
from ledger.store.integration import FileLease
from testkit.elections import SyntheticElection, random_ballot, voter_of
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.v2_ballots import box_cast


def test_delivered_is_what_the_signed_head_covers_while_no_integrator_runs(
    tmp_path: Path, election: SyntheticElection
) -> None:
    key = SigningKey.generate()
    store = official_store(tmp_path / "kiosk.db", os.urandom(32), key, election.package)
    box = BallotBox(store, election.package)
    server = LedgerServer(tmp_path / "ledger", election)
    # This test holds the integrator's lease, so none of the ledger's processes is elected.
    lease = FileLease(server.data / "ledger.db.integrator")
    assert lease.acquire()
    try:
        with server:
            enrol(server, key, "hall A")
            worker = SyncWorker(
                store, LedgerClient(server.url, key, log_key=server.log_key), server.log_key
            )
            for n in range(3):
                voter = voter_of(election, "resident", n)
                ballot = random_ballot(election.package, voter, random.Random(n))
                box_cast(box, election, voter, ballot)
            with pytest.raises(SyncError) as refused:
                worker.sync_once()  # taken, but no checkpoint covers the blocks to prove them
            # A refusal to retry, never a ledger to distrust (that would stop the kiosk's sync)
            assert not isinstance(refused.value, UntrustedLedger)
            assert worker.client.head().height == store.state.height
            assert store.acknowledged_height() < store.state.height  # not counted yet
            status = worker.sync_once()  # the ledger's signed head says it holds them
            assert status.acknowledged_height == store.state.height
            assert status.pending == 0

            lease.release()  # an integrator is elected and extends the tree
            voter = voter_of(election, "resident", 3)
            box_cast(box, election, voter, random_ballot(election.package, voter, random.Random(3)))
            status = worker.sync_once()
            assert status.acknowledged_height == store.state.height
            assert store.inclusion_proof(store.state.height) is not None
            assert status.checkpoint_size == store.state.height + 1
    finally:
        lease.release()
        store.close()
