"""SIGKILL at random moments while casting: the chain always verifies and no receipt is lost."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.core.chain import Mode
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys, provision
from tests.integration.crash_writer import crash_election

KILLS = 30
ROOT = Path(__file__).resolve().parents[2]


def _run_until_killed(directory: Path, rng: random.Random) -> list[str]:
    """Start the writer, let it cast for a random while, SIGKILL it; return what it confirmed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_writer", str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    errors = ""
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == "READY\n", f"writer did not start: {first!r} {proc.stderr.read()}"
        deadline = time.monotonic() + rng.uniform(0.0, 0.2)
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        # Lines the writer had flushed before it died were confirmed too.
        rest, errors = proc.communicate(timeout=30)
        lines += rest.splitlines(keepends=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"writer ended on its own: {errors}"
    return [line.split()[2] for line in lines if line.startswith(("CAST", "BLOCK"))]


def test_sigkill_while_casting_never_breaks_the_chain_or_loses_a_receipt(tmp_path: Path):
    election = crash_election()
    keys = provision(tmp_path / "keys")
    with ChainStore.create(
        tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
    ) as store:
        box = BallotBox(store, election.package)
        box.set_mode(Mode.OFFICIAL)
        box.open_session()
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
