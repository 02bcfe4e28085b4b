"""An integrator in a process of its own, for the tests that kill it:
``python -m testkit.integrator_process URL ORIGIN LOG_KEY_FILE LEAVES_PER_ROUND``.
It runs until it is killed."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d
from ledger.service import integrator
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey


def main(url: str, origin: str, key_file: str, leaves_per_round: str) -> None:
    integrator.MAX_LEAVES = int(leaves_per_round)  # small rounds: a kill lands mid-way
    seed = b64d(Path(key_file).read_text().strip(), length=32, name="log key")
    # A pause after each round, so that a test's kill lands part-way through the backlog
    # whatever the machine's load (a kill inside a round's transaction is as likely).
    pause = [lambda _note, _size: time.sleep(0.01)]
    integrator.Integrator(
        db.connect(url), LogKey(origin, SigningKey(seed)), on_checkpoint=pause
    ).start()
    print("integrating", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(*sys.argv[1:5])
