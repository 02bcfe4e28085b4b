"""The kiosk online: its sync worker pushes every block to a real ledger on a loopback port,
the staff screen says so, and a voter who already voted at another kiosk is told before
the ballot is shown."""

from __future__ import annotations

import random
from pathlib import Path

from kiosk.core.block import BlockKind
from kiosk.core.crypto import SigningKey
from kiosk.store.ballot_box import BallotBox
from kiosk.store.keys import load_keys
from kiosk.sync.client import LedgerClient
from kiosk.sync.worker import SyncWorker
from testkit.elections import SyntheticElection, random_ballot
from testkit.kiosk_screens import vote
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.ui_driver import KioskFactory
from testkit.v2_ballots import box_cast


def test_the_kiosk_syncs_and_knows_who_voted_elsewhere(
    kiosk_factory: KioskFactory, tmp_path: Path, ui_election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", ui_election) as server:
        # Another kiosk in the hall has already recorded the first resident's ballot.
        other_key = SigningKey.generate()
        enrol(server, other_key, "hall B")
        store = official_store(tmp_path / "other.db", bytes(32), other_key, ui_election.package)
        box = BallotBox(store, ui_election.package)
        resident = ui_election.package.voter_for_card(ui_election.package.roll[0].card_key)
        assert resident is not None and resident.category == "resident"
        ballot = random_ballot(ui_election.package, resident, random.Random(1))
        box_cast(box, ui_election, resident, ballot)
        client = LedgerClient(server.url, other_key, log_key=server.log_key)
        SyncWorker(store, client, server.log_key).sync_once()
        store.close()

        kiosk = kiosk_factory(log_key=server.log_key, ledger_url=server.url, sync_idle_s=0.5)
        enrol(server, load_keys(kiosk.services.config.key_dir).kiosk_key, "hall A")
        kiosk.services.sync_now()

        # The same resident, here: in person already, so not again.
        first = kiosk.card("first-resident", ui_election.voter_keys[0].seed)
        kiosk.sign_in(first)
        kiosk.wait_screen("message")
        assert kiosk.text("message") == "이미 현장에서 투표하셨으므로 다시 투표할 수 없습니다."
        kiosk.remove()

        # Another voter votes; the ledger gets every block and the staff screen says so.
        vote(kiosk, kiosk.voter_card("resident", 1))
        assert kiosk.services.box is not None
        height = kiosk.services.box.state.height
        kiosk.qtbot.waitUntil(
            lambda: kiosk.services.sync_status.acknowledged_height == height, timeout=20_000
        )
        kiosk.sign_in(kiosk.staff_card("poll_worker"))
        assert kiosk.text("syncText") == "원장 동기화: 온라인, 보낼 블록 0개"
        head = LedgerClient(
            server.url, kiosk.services.keys.kiosk_key, log_key=server.log_key
        ).head()
        assert head.height == height
        ballots = [b for b in kiosk.services.box.store.blocks() if b.block.kind is BlockKind.BALLOT]
        assert len(ballots) == 1
        kiosk.remove()
