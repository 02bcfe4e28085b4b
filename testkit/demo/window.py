"""After the demo's kiosk window closes: what was cast in it, read back from the kiosk's own
store, and the rest of the kiosk's chain delivered to the ledger, so that the demo can close the
election, count it and show the check pages of the ballots cast by hand."""

from __future__ import annotations

import time

from kiosk.app import KioskConfig, store_path
from kiosk.core.block import BlockKind
from kiosk.core.crypto import SigningKey
from kiosk.core.encrypted_ballot import read_encrypted_ballot
from kiosk.core.errors import HanpyoError
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys
from kiosk.sync.client import LedgerClient
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.witnessed import Unwitnessed
from kiosk.sync.worker import SyncWorker
from testkit.demo.ceremony import say
from testkit.demo.election_v2 import DemoElection
from testkit.demo.ledger_process import DemoLedger
from testkit.demo.scripted import Cast


def cast_in_the_window(
    config: KioskConfig, election: DemoElection, ledger: DemoLedger
) -> Cast | None:
    """The last official ballot cast in the window (with the last ballot checked, if any),
    after every block of the kiosk's chain is in the ledger; None if there is nothing to count
    (no official ballot, or the session still open: the close needs it closed)."""
    keys = load_keys(config.key_dir)
    path = store_path(config.data_dir, election.package)
    if not path.exists():
        say("No ballot was cast in the window: nothing to count.")
        return None
    with ChainStore.open(path, keys.store_key, keys.kiosk_key, election.package) as store:
        blocks = list(store.blocks())
        cast = [b for b in blocks if b.block.kind is BlockKind.BALLOT]
        if not cast:
            say("No official ballot was cast in the window: nothing to count.")
            return None
        if blocks[-1].block.kind is not BlockKind.SESSION_CLOSE:
            say("The official session is still open: close it with a staff card to count.")
            return None
        if not _delivered(store, ledger, election, keys.kiosk_key, blocks[-1].block.height):
            return None
    last = cast[-1]
    checked = [
        b
        for b in blocks
        if b.block.kind is BlockKind.SPOILED
        and not read_encrypted_ballot(b.block.body["ballot"]).test
    ]
    fingerprint = read_encrypted_ballot(last.block.body["ballot"]).fingerprint
    opened = None
    if checked:
        ballot = read_encrypted_ballot(checked[-1].block.body["ballot"])
        opened = (checked[-1].tracking_code, ballot.fingerprint)
    return Cast("your voter", last.tracking_code, fingerprint, opened)


def _delivered(
    store: ChainStore, ledger: DemoLedger, election: DemoElection, key: SigningKey, height: int
) -> bool:
    """The kiosk's sync, once more, until the ledger holds every block in a witnessed
    checkpoint (the window's own sync worker stopped with the window)."""
    worker = SyncWorker(
        store,
        LedgerClient(ledger.url, key, log_key=ledger.log_key),
        ledger.log_key,
        witnesses=election.package.witnesses,
        tiles=(TileProofs(f"{ledger.url}/tiles"),),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = worker.sync_once()
        except Unwitnessed:  # the witness cosigns each checkpoint a moment after it is signed
            status = worker.status
        except HanpyoError as e:
            say(f"!! the kiosk's chain could not be delivered: {e}")
            return False
        if status.acknowledged_height == height and status.pending == 0:
            return True
        time.sleep(0.5)
    say("!! the ledger did not acknowledge every block of the kiosk in a witnessed checkpoint")
    return False
