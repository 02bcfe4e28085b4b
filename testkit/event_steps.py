"""The trustees' and the office's commands around a v2 election for the end-to-end tests
(tests/integration/test_election_v2_end_to_end.py, test_hybrid_end_to_end.py), each a real
process: the key ceremony (every trustee's step in a process of their own, messages through an
exchange folder), a kiosk's sync pass, the count (prepare, each counting trustee's check of the
package, shuffle and decryption, finish, publish) and an observer's `ledger verify-bundle` with
the public keys only.

TESTS ONLY: the product never imports this."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.sync.client import LedgerClient
from kiosk.sync.worker import SyncWorker
from testkit.ledger_server import ROOT, LedgerServer, ledger_cli
from testkit.trustee_ceremony import in_parallel, key_line, ok, start
from testkit.v2_event import HallKiosk


def run_ledger(*args: str, data: Path | None = None) -> str:
    done = ledger_cli(*args, data=data)
    assert done.returncode == 0, f"ledger {' '.join(args[:2])}: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def ceremony(tmp: Path, election: str, n: int, k: int) -> tuple[list[Path], list[str], Path]:
    """``n`` trustees make a ``k``-of-``n`` election key, a process each per round; their media,
    the key line each trustee's `finish` printed, and the collected ceremony result."""
    media, setup_file, _ = start(tmp, n=n, k=k, election=election)
    where = ["--exchange", str(tmp / "exchange")]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    for step in ("round2", "check", "reveal"):
        in_parallel([[step, "--medium", m, *where] for m in media])
    finished = in_parallel([["finish", "--medium", m, *where] for m in media])
    result = tmp / "ceremony-result.json"
    ok("collect", "--setup", setup_file, *where, "--out", result)
    return media, [key_line(out) for out in finished], result


def sync(hall: HallKiosk, server: LedgerServer) -> None:
    """The kiosk's own sync worker, one pass: push, verify the ledger's signed answers."""
    client = LedgerClient(server.url, hall.key, log_key=server.log_key)
    try:
        status = SyncWorker(hall.store, client, server.log_key).sync_once()
    finally:
        client.close()
    assert status.acknowledged_height == hall.store.state.height


def count_and_publish(tmp: Path, data: Path, count: Path, counting: dict[int, Path]) -> str:
    """`ledger count prepare`; each counting trustee (``counting``: trustee number -> medium)
    checks the package against their ceremony, then shuffles in turn, recomputing the count's
    inputs from the closed log (the ledger's data, read only) and verifying the earlier
    shuffles; they decrypt at once; `count finish` and `publish`. What prepare printed."""
    prepared = run_ledger("count", "prepare", "--out", str(count), "--workers", "2", data=data)
    for medium in counting.values():
        assert "names the key your ceremony made" in ok(
            "check-package", "--medium", medium, "--package", data / "election.json"
        )
    log: list[str | Path] = ["--ledger-data", data]
    for n, (trustee, medium) in enumerate(counting.items(), start=1):
        out = ok("shuffle", "--medium", medium, "--count", count, *log, "--workers", "1")
        assert f"shuffle {n} written by trustee {trustee}" in out
        assert "byte for byte the recomputed ones" in out
    in_parallel([["decrypt", "--medium", m, "--count", count, *log] for m in counting.values()])
    run_ledger("count", "finish", "--count", str(count), "--workers", "2", data=data)
    published = run_ledger("publish", "--ceremony", str(tmp / "package.ceremony.json"), data=data)
    assert "the key ceremony's transcript checks out" in published
    return prepared


def verify_bundle(
    bundle: Path, authority: str, log_key: str, workers: int = 2
) -> subprocess.CompletedProcess[str]:
    """An observer's `ledger verify-bundle`, in a process of its own, with the public keys only."""
    keys = [f"--authority={authority}", f"--log-key={log_key}", "--workers", str(workers)]
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify-bundle", str(bundle), *keys],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
