"""Mirror benchmark: a mirror catching up on a log of N real signed blocks (built straight into
a tiles directory, as the ledger publishes them), beside raw Ed25519 verification of as many
signatures measured in the same run.

Run with `.venv/bin/python -m bench.mirror_bench --size N`; prints a table. bench/run.py can
add `bench_mirror(directory, size)` to its rows. The issue's figure is a log of 1,000,000.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import Row, timed
from bench.ledger_baselines import raw_verify_rate
from kiosk.core.encoding import b64e
from ledger.mirror.follower import Followed, follow
from ledger.mirror.store import MirrorConfig, create_mirror
from ledger.verify.tiles_proof import tiles_fetcher
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.mirror_logs import BuiltLog, session_chain, write_package

BLOCKS_PER_KIOSK = 10_000  # each source's chain: genesis, mode, then sessions opened and closed
CATCH_UP_SHARE = 10  # the incremental round: the last 1/10 of the log, after the rest


def build_blocks(election: SyntheticElection, size: int) -> list[bytes]:
    """``size`` real signed blocks of chains of BLOCKS_PER_KIOSK, one kiosk after another."""
    blocks: list[bytes] = []
    while len(blocks) < size:
        sessions = max(0, (min(BLOCKS_PER_KIOSK, size - len(blocks)) - 2) // 2)
        chain = session_chain(election, sessions)
        blocks.extend(chain[: size - len(blocks)])
    return blocks


def bench_mirror(directory: Path, size: int) -> list[Row]:
    election = build_election(review_definition(), seed="mirror-bench")
    blocks = build_blocks(election, size)
    log = BuiltLog(directory / "log")
    first = size - size // CATCH_UP_SHARE
    log.publish(blocks[:first])
    package = json.loads(write_package(directory / "election.json", election).read_text())
    authority = b64e(election.authority.public_key)
    config = MirrorConfig(log.origin, log.vkey, (), 0, authority, package)
    create_mirror(directory / "mirror", config)
    fetch = tiles_fetcher(str(log.directory))
    rounds: list[Followed] = []
    full = timed(lambda: rounds.append(follow(directory / "mirror", fetch, "bench")))
    log.publish(blocks[first:])
    incremental = timed(lambda: rounds.append(follow(directory / "mirror", fetch, "bench")))
    if rounds[-1].size != size:
        raise RuntimeError(f"the mirror holds {rounds[-1].size}, not {size}")
    verify = raw_verify_rate(size)
    return _rows(size, first, full, incremental, verify)


def _rows(size: int, first: int, full: float, incremental: float, verify: float) -> list[Row]:
    baseline = f"raw PyNaCl verify of {size:,} signatures: {verify:,.0f} sig/s"
    rate, later = first / full, (size - first) / incremental
    return [
        Row(
            f"mirror: catch-up from empty to {first:,} blocks (from a tiles directory)",
            f"{rate:,.0f} blocks/s ({full:.1f} s)",
            baseline,
            f"{rate / verify:.2f}x",
        ),
        Row(
            f"mirror: incremental catch-up {first:,} -> {size:,}",
            f"{later:,.0f} blocks/s ({incremental:.1f} s)",
            baseline,
            f"{later / verify:.2f}x",
        ),
        Row(
            "mirror: projected catch-up on a 1,000,000-block log at the first rate",
            f"{1_000_000 / rate:,.0f} s",
            f"raw verify alone: {1_000_000 / verify:,.0f} s",
            f"{verify / rate:.2f}x",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="blocks in the log")
    args = parser.parse_args()
    if args.size < CATCH_UP_SHARE:
        parser.error(f"a log of at least {CATCH_UP_SHARE} blocks")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hanpyo-mirror-bench-") as tmp:
        rows = bench_mirror(Path(tmp), args.size)
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>26}  {r.baseline:<52} {r.ratio:>7}")
    print(f"\n(the run took {time.perf_counter() - start:.0f} s, building the log included)")


if __name__ == "__main__":
    main()
