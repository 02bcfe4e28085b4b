"""How the ledger's SQLite writers wait for each other: taking turns on a lock file (the
ledger's way, ledger/store/schema.py) against SQLite's own busy handler
(``HANPYO_SQLITE_WRITERS=busy-handler``), alternating in one run so that the machine's noise
falls on both alike.

Run with `.venv/bin/python -m bench.writer_turns_bench [--rounds N] [--ballots N]`; prints one
line per server: eight kiosks upload real v2 ballot blocks in 100-block batches to `ledger
serve --workers 2` on SQLite at once; throughput, batch p50/p99, the server's CPU a block and
how much of the machine stood idle (from /proc/stat, iowait counted as idle).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

from bench.common import percentile
from bench.ledger_bench import ingest_over_http, write_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.ledger_server import LedgerServer

KIOSKS = 8
MODES = ("lock file", "busy handler")


def group_cpu(group: int) -> float:
    """CPU seconds (user and system, children included) of a process group, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[2]) == group:
            total += sum(int(f) for f in fields[11:15]) / ticks
    return total


def machine_idle() -> tuple[int, int]:
    """(idle + iowait, all) jiffies since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return values[3] + values[4], sum(values)


def one_server(election: SyntheticElection, chains: list[ChainWriter], mode: str) -> str:
    if mode == "busy handler":
        os.environ["HANPYO_SQLITE_WRITERS"] = "busy-handler"
    else:
        os.environ.pop("HANPYO_SQLITE_WRITERS", None)
    before: list[tuple[float, tuple[int, int]]] = []
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            LedgerServer(Path(tmp) / "ledger", election, workers=2) as server,
        ):
            assert server.process is not None
            group = server.process.pid

            def mark() -> None:
                before.append((group_cpu(group), machine_idle()))

            _, times, wall = ingest_over_http(server, [], chains, on_start=mark)
            cpu = group_cpu(group) - before[0][0]
            (idle, total), (idle2, total2) = before[0][1], machine_idle()
    finally:
        os.environ.pop("HANPYO_SQLITE_WRITERS", None)
    blocks = sum(len(c.blocks) - 3 for c in chains)
    return (
        f"{mode:<13} {blocks / wall:7,.0f} blocks/s  batch p50 {percentile(times, 50) * 1e3:5.0f} "
        f"p99 {percentile(times, 99) * 1e3:6.0f} ms  server CPU {cpu / blocks * 1e3:.2f} ms a "
        f"block  machine idle {(idle2 - idle) / (total2 - total) * 100:.0f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="servers of each kind, alternating")
    parser.add_argument("--ballots", type=int, default=600, help="ballots per kiosk")
    args = parser.parse_args()
    election = build_election(
        review_definition(
            groups=KIOSKS * 2 * args.rounds * args.ballots // 122 + 1,
            per_group=12,
            election_id="bench-ledger",
        ),
        seed="bench-ledger",
    )
    rng = random.Random(1)
    for _ in range(args.rounds):
        for mode in MODES:
            chains = [write_chain(election, args.ballots, rng) for _ in range(KIOSKS)]
            print(one_server(election, chains, mode), flush=True)


if __name__ == "__main__":
    main()
