"""What the synchronous standby costs: HTTP ingest of real signed ballot blocks in 100-block
batches into `ledger serve` on a PostgreSQL primary whose standby is synchronous
(synchronous_commit = on: each commit waits for the standby's disk), beside the same primary
and standby streaming asynchronously, measured in one run with the same chains
(testkit/postgres_standby.py starts both; docs/ledger-standby.md).

Run with `.venv/bin/python -m bench.standby_bench [--ballots N]`; prints a table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Row, percentile
from bench.ledger_bench import BATCH, ingest_over_http, write_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.ledger_server import LedgerServer
from testkit.postgres_standby import PrimaryWithStandby

SEQUENTIAL_KIOSKS = 1  # one request at a time: the per-request latency
CONCURRENT_KIOSKS = 4  # then these at once: the rate
BALLOTS = 500  # per kiosk
WORKERS = 2  # uvicorn workers, as the PostgreSQL rows of bench/ledger_bench.py


@dataclass(frozen=True, slots=True)
class Measured:
    rate: float  # blocks/s, the concurrent kiosks together
    p50: float  # seconds per request, one kiosk at a time
    p99: float


def measure(
    directory: Path,
    election: SyntheticElection,
    chains: tuple[list[ChainWriter], list[ChainWriter]],
    *,
    synchronous: bool,
) -> Measured:
    """A fresh primary and standby, a fresh ledger on them, the same chains uploaded."""
    with PrimaryWithStandby(synchronous=synchronous) as pair:
        name = "sync" if synchronous else "async"
        server = LedgerServer(directory / name, election, db=pair.url, workers=WORKERS)
        with server:
            sequential, concurrent = chains
            seq, _, wall = ingest_over_http(server, sequential, concurrent)
    blocks = sum(len(c.blocks) - 3 for c in concurrent)
    return Measured(blocks / wall, statistics.median(seq), percentile(seq, 99))


def bench_standby(directory: Path, ballots: int = BALLOTS) -> list[Row]:
    election = build_election(
        review_definition(groups=2, per_group=12, election_id="bench-standby"),
        seed="bench-standby",
    )
    rng = random.Random(1)
    sequential = [write_chain(election, ballots, rng) for _ in range(SEQUENTIAL_KIOSKS)]
    concurrent = [write_chain(election, ballots, rng) for _ in range(CONCURRENT_KIOSKS)]
    chains = (sequential, concurrent)
    sync = measure(directory, election, chains, synchronous=True)
    free = measure(directory, election, chains, synchronous=False)
    what = f"{CONCURRENT_KIOSKS} kiosks at once, {BATCH}-block batches"
    return [
        Row(
            f"PostgreSQL ingest, synchronous standby ({what})",
            f"{sync.rate:,.0f} blocks/s",
            f"asynchronous standby: {free.rate:,.0f} blocks/s",
            f"{sync.rate / free.rate:.2f}",
        ),
        Row(
            "one kiosk's upload, p50 (synchronous standby)",
            f"{sync.p50 * 1000:.1f} ms",
            f"asynchronous: {free.p50 * 1000:.1f} ms",
            f"{sync.p50 / free.p50:.2f}",
        ),
        Row(
            "one kiosk's upload, p99 (synchronous standby)",
            f"{sync.p99 * 1000:.1f} ms",
            f"asynchronous: {free.p99 * 1000:.1f} ms",
            f"{sync.p99 / free.p99:.2f}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=BALLOTS, help="ballots per kiosk")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hanpyo-standby-bench-") as tmp:
        rows = bench_standby(Path(tmp), args.ballots)
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>18}  {r.baseline:<36} {r.ratio:>6}")
    print(
        "\nBoth on this machine's loopback, fsync on, the standby streaming either way; "
        "the ratio is what waiting for the standby's disk costs."
    )
    print(f"(the run took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
