"""Hanpyo benchmarks: each figure is measured beside a raw baseline in the same run.

Run with `.venv/bin/python -m bench.run`; prints a table and rewrites bench/REPORT.md.
Machines here are noisy, so the ratios to the baselines are the numbers to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import nacl.signing
import sqlcipher3

from bench.common import Row, percentile, raw_sqlcipher_commits, timed
from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.encrypted_ballot import card_message
from kiosk.hardware.card.auth import authenticate
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import build_election, random_ballot, review_definition

REPORT = Path(__file__).with_name("REPORT.md")
SELECT_APDU = bytes.fromhex("00A4040006D2760001240100")


def bench_cast(directory: Path, count: int) -> tuple[list[Row], ChainStore, int]:
    election = build_election(
        review_definition(groups=max(2, count // 100 + 1), per_group=12, election_id="bench"),
        seed="bench",
    )
    package = election.package
    store = ChainStore.create(
        directory / "kiosk.db", os.urandom(32), SigningKey.generate(), package
    )
    box = BallotBox(store, package)
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    rng, samples = random.Random(1), []
    for card in election.voter_keys[:count]:
        voter = package.voter_for_card(card.public_key)
        assert voter is not None
        # Encrypted while the review screen shows and signed by the card at the tap: both
        # before the ballot box (bench/kiosk_bench.py and ballot_bench.py time them).
        ballot = random_ballot(package, voter, rng)
        encrypted, _ = encrypt_ballot(package, ballot, voter.excluded, test=False)
        message = card_message(encrypted.election, voter.voter_id, encrypted.hash)
        signature = card.sign(Domain.BALLOT, message)
        record = partial(box.cast_encrypted, voter, encrypted, card.public_key, signature)
        samples.append(timed(record))
    block_size = len(next(store.blocks(store.state.height)).encode())
    raw = raw_sqlcipher_commits(directory, count, block_size)
    rows = []
    for q in (50, 99):
        cast, base = percentile(samples, q) * 1e3, percentile(raw, q) * 1e3
        rows.append(
            Row(
                f"cast_encrypted p{q} (form, card signature, sign, commit)",
                f"{cast:.2f} ms",
                f"raw SQLCipher commit p{q}: {base:.2f} ms",
                f"{cast / base:.2f}x",
            )
        )
    return rows, store, block_size


def bench_verify(store: ChainStore) -> list[Row]:
    blocks = list(store.blocks())
    elapsed = min(timed(lambda: verify_chain(blocks)) for _ in range(3))
    key = nacl.signing.SigningKey.generate()
    signed = [key.sign(os.urandom(32)) for _ in blocks]
    verify_key = key.verify_key
    raw = min(timed(lambda: [verify_key.verify(s) for s in signed]) for _ in range(3))
    reopen = min(timed(lambda: list(store.blocks())) for _ in range(3))
    n = len(blocks)
    return [
        Row(
            f"verify_chain ({n} decoded blocks)",
            f"{n / elapsed:,.0f} blocks/s",
            f"raw PyNaCl verify: {n / raw:,.0f} sig/s",
            f"{raw / elapsed:.2f}x",
        ),
        Row(
            f"read + decode from the store ({n} blocks)",
            f"{n / reopen:,.0f} blocks/s",
            f"raw PyNaCl verify: {n / raw:,.0f} sig/s",
            f"{raw / reopen:.2f}x",
        ),
    ]


def bench_cards(directory: Path, rounds: int) -> list[Row]:
    """Card insertion to "PIN accepted, voter known", through a private pcscd and the simulator."""
    election = build_election(
        review_definition(groups=2, per_group=12, election_id="bench-cards"), seed="bench-cards"
    )
    package = election.package
    with private_pcscd(readers=1, socket_dir=directory / "pcscd") as pcscd:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(pcscd.socket)
        reader = pcscd.reader_names[0]
        with Simulator(pcscd.ports) as simulator:
            for i in range(rounds):
                simulator.add_card(
                    f"v{i}", VirtualCard.with_auth_key(election.voter_keys[i].seed, "Bench<<Voter")
                )
            insertion, commands, round_trips = [], [], []
            for i in range(rounds):
                simulator.insert(f"v{i}", 0)
                start = time.perf_counter()
                wait_for_card(reader, present=True, timeout_s=10)
                with PcscConnection(reader) as connection:
                    card = OpenPGPCard(connection)
                    holder = authenticate(card, "123456", package, "00" * 16)
                    insertion.append(time.perf_counter() - start)
                    assert holder.voter is not None
                    for _ in range(5):
                        commands.append(
                            timed(partial(authenticate, card, "123456", package, "00" * 16))
                        )
                        round_trips.append(timed(partial(connection.transmit, SELECT_APDU)))
                simulator.remove(0)
                wait_for_card(reader, present=False, timeout_s=10)
    trip = statistics.median(round_trips) * 1e3
    rows = []
    for name, samples in (
        ("card inserted → PIN accepted, voter known", insertion),
        ("authentication commands alone (identify + PIN + challenge)", commands),
    ):
        for q in (50, 99):
            value = percentile(samples, q) * 1e3
            rows.append(
                Row(
                    f"{name} p{q}",
                    f"{value:.1f} ms",
                    f"one APDU round trip p50: {trip:.2f} ms",
                    f"{value / trip:.1f}x",
                )
            )
    return rows


def render(rows: list[Row], notes: list[str]) -> str:
    lines = [
        "# Hanpyo benchmark report",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'unknown'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLCipher {_cipher_version()}.",
        "",
        "Each figure sits beside a baseline measured in the same run; the ratio is the "
        "number to compare between runs (for time, lower is better; for throughput, the "
        "ratio is the fraction of the baseline's speed).",
        "",
        "| measure | Hanpyo | baseline (same run) | ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.value} | {r.baseline} | {r.ratio} |" for r in rows]
    return "\n".join([*lines, "", *notes, ""])


def _cipher_version() -> str:
    conn = sqlcipher3.connect(":memory:")
    version = conn.execute("PRAGMA cipher_version").fetchone()[0]
    conn.close()
    return str(version)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--casts", type=int, default=1000, help="ballots to cast")
    parser.add_argument("--no-report", action="store_true", help="print only")
    parser.add_argument("--no-cards", action="store_true", help="skip the card benchmarks")
    parser.add_argument("--card-rounds", type=int, default=20, help="card insertions")
    parser.add_argument("--no-kiosk", action="store_true", help="skip the kiosk benchmarks")
    parser.add_argument(
        "--kiosk-visits", type=int, default=1000, help="full voter visits for kiosk memory"
    )
    parser.add_argument("--no-ledger", action="store_true", help="skip the ledger benchmarks")
    parser.add_argument("--no-sync", action="store_true", help="skip the sync benchmarks")
    parser.add_argument(
        "--no-postgres", action="store_true", help="ledger benchmarks on SQLite only"
    )
    parser.add_argument(
        "--ledger-large", type=int, default=1_000_000, help="leaves in the large ledger log"
    )
    parser.add_argument(
        "--no-crypto", action="store_true", help="skip the protocol v2 crypto benchmarks"
    )
    parser.add_argument(
        "--no-ballots", action="store_true", help="skip the protocol v2 ballot benchmarks"
    )
    parser.add_argument(
        "--no-online",
        action="store_true",
        help="skip the online platform and voting page benchmarks (Chromium)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hanpyo-bench-") as tmp:
        rows, store, block_size = bench_cast(Path(tmp), args.casts)
        rows += bench_verify(store)
        store.close()
        if not args.no_cards:
            rows += bench_cards(Path(tmp), args.card_rounds)
        extra_notes: list[str] = []
        if not args.no_kiosk:
            from bench.kiosk_bench import bench_kiosk
            from bench.kiosk_bench import notes as kiosk_notes

            (Path(tmp) / "kiosk").mkdir()
            rows += bench_kiosk(Path(tmp) / "kiosk", visits=args.kiosk_visits)
            extra_notes += kiosk_notes()
        if not args.no_sync:
            from bench.sync_bench import bench_sync
            from bench.sync_bench import notes as sync_notes

            (Path(tmp) / "sync").mkdir()
            rows += bench_sync(Path(tmp) / "sync")
            extra_notes += sync_notes()
        if not args.no_ledger:
            from bench.ledger_bench import bench_ledger
            from bench.ledger_bench import notes as ledger_notes

            (Path(tmp) / "ledger").mkdir()
            rows += bench_ledger(
                Path(tmp) / "ledger", large=args.ledger_large, postgres=not args.no_postgres
            )
            extra_notes += ledger_notes(small=10_000, large=args.ledger_large)
        if not args.no_crypto:
            from bench.crypto_bench import bench_crypto
            from bench.crypto_bench import notes as crypto_notes

            rows += bench_crypto()
            extra_notes += crypto_notes()
        if not args.no_ballots:
            from bench.ballot_bench import bench_ballots

            rows += bench_ballots()
        if not args.no_online:
            from bench.online_bench import bench_online
            from bench.online_bench import notes as online_notes
            from bench.online_page_bench import bench_online_page
            from bench.online_page_bench import notes as page_notes

            rows += bench_online() + bench_online_page()
            extra_notes += online_notes() + page_notes()
    notes = [
        "How it was measured:",
        f"- cast: {args.casts} ballots of the sample review election (11 scores each) cast "
        "one by one into a real SQLCipher file (WAL, synchronous=FULL), each acknowledged "
        "after its commit. Baseline: the same number of one-row transactions of the same "
        f"size ({block_size} bytes) into a SQLCipher file with the same settings.",
        "- verify: `verify_chain` over the chain just written (canonical hashing, links, "
        "rules, one Ed25519 signature per block), best of 3. Baseline: PyNaCl verifying the "
        "same number of Ed25519 signatures. A ratio of 0.5x means half the raw speed.",
        "- read + decode: reading every block from the store and parsing it (JSON, schema, "
        "hash), as `ChainStore.open` does before it verifies.",
        f"- cards: {args.card_rounds} simulated voter cards inserted one after another into a "
        "vpcd reader of a private pcscd; the clock starts at insertion and stops when the "
        "card's key is found on the roll, its PIN verified and its signature over a fresh "
        "challenge checked (SELECT, GET DATA 6E and 00F9, read key, VERIFY, INTERNAL "
        "AUTHENTICATE). 'Commands alone' repeats that on a connected card. Baseline: one "
        "SELECT round trip through pyscard, pcscd, vpcd and the simulator. Most of the "
        "insertion time is pcscd noticing the card: it polls readers that have no event "
        "thread of their own, such as vpcd, every 400 ms; CCID readers signal insertion on "
        "their interrupt endpoint.",
    ]
    notes += extra_notes
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>16}  {r.baseline:<40} {r.ratio:>7}")
    if not args.no_report:
        REPORT.write_text(render(rows, notes), "utf-8")
        print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
