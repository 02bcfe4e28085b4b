"""A kiosk process that casts ballots and syncs them until it is killed: the victim of the
sync SIGKILL test.

Usage: python -m testkit.sync_writer DIRECTORY LEDGER_URL LOG_KEY

It opens the store in DIRECTORY (keys in DIRECTORY/keys), starts a SyncWorker against
LEDGER_URL, and casts ballots one after another, waking the worker after each. It prints
``CAST height tracking-code`` only after ``cast_ballot`` returned (the moment a voter is told
the ballot is recorded) and ``SYNC acknowledged-height trusted`` whenever the worker
publishes a status.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

from kiosk.core.chain import Session
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys
from kiosk.sync.client import LedgerClient
from kiosk.sync.worker import SyncStatus, SyncWorker
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition
from testkit.v2_ballots import box_cast

CAST_PAUSE_S = 0.002  # about 300 ballots a second: the worker always has something to push


def sync_election() -> SyntheticElection:
    return build_election(
        review_definition(groups=30, per_group=12, election_id="sync-kill-test"), seed="sync-kill"
    )


_out = threading.Lock()


def say(line: str) -> None:
    with _out:  # the worker thread prints too: keep lines whole
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main(directory: Path, url: str, log_key: str) -> None:
    election = sync_election()
    keys = load_keys(directory / "keys")
    store = ChainStore.open(
        directory / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
    )
    box = BallotBox(store, election.package)
    if store.state.session is Session.PAUSED:  # killed between pause and resume
        box.resume_session()

    def on_status(status: SyncStatus) -> None:
        say(f"SYNC {status.acknowledged_height} {int(status.trusted)}")

    worker = SyncWorker(
        store,
        LedgerClient(url, keys.kiosk_key, log_key=log_key, timeout=(1.0, 5.0)),
        log_key,
        on_status=on_status,
        idle_s=0.05,
        backoff_max_s=0.2,
    ).start()
    say("READY")
    rng = random.Random()
    for card in election.voter_keys[store.state.ballots :]:
        voter = election.package.voter_for_card(card.public_key)
        assert voter is not None
        receipt = box_cast(box, election, voter, random_ballot(election.package, voter, rng))
        say(f"CAST {receipt.height} {receipt.tracking_code}")
        worker.wake()
        time.sleep(CAST_PAUSE_S)
    while True:  # every card has voted: keep writing session blocks until killed
        for step in (box.pause_session, box.resume_session):
            signed = step()
            say(f"BLOCK {signed.block.height} {signed.tracking_code}")
        worker.wake()
        time.sleep(0.01)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
