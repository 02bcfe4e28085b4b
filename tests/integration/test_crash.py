"""SIGKILL at random moments while casting: the chain always verifies and no receipt is lost."""

from __future__ import annotations

import os
import random
from pathlib import Path

from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys, provision
from testkit.crash_writer import crash_election
from testkit.killed_writer import run_until_killed
from testkit.stores import official_store

KILLS = 30


def _run_until_killed(directory: Path, rng: random.Random) -> list[str]:
    """Start the writer, let it cast for a random while, SIGKILL it; return what it confirmed."""
    lines = run_until_killed("testkit.crash_writer", [str(directory)], rng.uniform(0.0, 0.2))
    return [line.split()[2] for line in lines if line.startswith(("CAST", "BLOCK"))]


def test_sigkill_while_casting_never_breaks_the_chain_or_loses_a_receipt(tmp_path: Path) -> None:
    election = crash_election()
    keys = provision(tmp_path / "keys")
    official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package).close()
    keys = load_keys(tmp_path / "keys")

    rng = random.Random(int.from_bytes(os.urandom(4)))
    confirmed: list[str] = []
    for kill in range(KILLS):
        confirmed += _run_until_killed(tmp_path, rng)
        # Opening verifies every block's signature, link and rules from genesis.
        with ChainStore.open(
            tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
        ) as store:
            stored = {b.tracking_code for b in store.blocks()}
            ballots = store.state.ballots
        lost = [code for code in confirmed if code not in stored]
        assert not lost, f"after kill {kill + 1}: confirmed blocks missing: {lost}"
    assert ballots >= KILLS, "the writer should have cast ballots between the kills"
    print(f"{KILLS} kills, {ballots} ballots cast, {len(confirmed)} confirmed blocks all present")
