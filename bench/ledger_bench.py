"""Ledger benchmarks: HTTP ingest and proof serving on a small log and on a large one, with
50,000 enrolled sources, each figure beside a baseline measured in the same run.

Run with `.venv/bin/python -m bench.ledger_bench [--large N] [--postgres]`; prints a table.
bench/run.py can add `bench_ledger(directory)` to its rows and `notes()` to its report. With
``postgres=True`` the same measurement runs again against a private PostgreSQL server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from sqlalchemy import select

from bench.common import Prefill, Row, percentile, prefill, prefill_engine, timed
from bench.ledger_baselines import (
    ENROLLED_SOURCES,
    RowBatch,
    batch_rows,
    enrol_sources,
    raw_postgres_batches,
    raw_sqlite_batches,
    raw_verify_rate,
)
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.core.request import NONCE_BYTES, sign_request
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.ballot_chains import ballot_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.ledger_requests import LATE_REASON
from testkit.ledger_server import LedgerServer
from testkit.postgres import PostgresServer, PrivatePostgres
from testkit.postgres_standby import PrimaryWithStandby, StandbyServer

SMALL_LOG = 10_000
LARGE_LOG = 1_000_000
BATCH = 100  # blocks per upload request, as a kiosk catching up would send them
SEQUENTIAL_KIOSKS = 2  # uploaded one request at a time, one kiosk after the other
CONCURRENT_KIOSKS = 8  # then these upload at once, each on its own connection
BALLOTS_PER_KIOSK = 1_000
PROOF_SAMPLES = 300  # requests per proof kind and log size
CHECKPOINT_SAMPLES = 300  # GET /v1/checkpoint per worker count
BASELINE_SIGNATURES = 5_000
POSTGRES_WORKERS = 2  # uvicorn workers of the ledger served on PostgreSQL
# and on SQLite: verification runs before any lock, so a second worker uses the second core
SQLITE_WORKERS = 2


# -- real signed chains, built as a kiosk builds them ---------------------------------------


def write_chain(election: SyntheticElection, ballots: int, rng: random.Random) -> ChainWriter:
    """Genesis, official mode, an open session and ``ballots`` real encrypted ballots, each
    signed by its voter's card and the block as the kiosk's store signs it
    (testkit/ballot_chains.py)."""
    return ballot_chain(election, ballots, rng)


def bodies(chain: ChainWriter) -> list[bytes]:
    """The chain's ballots as upload bodies of BATCH blocks, encoded before any clock runs."""
    return [
        json.dumps(
            {"blocks": [json.loads(b.encode()) for b in chain.blocks[i : i + BATCH]]}
        ).encode()
        for i in range(3, len(chain.blocks), BATCH)
    ]


# -- measuring over HTTP --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ingest:
    sequential: list[float]  # seconds per request, one kiosk at a time
    sequential_blocks: int
    concurrent: list[float]  # seconds per request, CONCURRENT_KIOSKS at once
    concurrent_blocks: int
    concurrent_wall: float  # from the first request sent to the last answer
    integration: list[float] | None  # per block: sequenced -> in a signed checkpoint (s)

    @property
    def rate(self) -> float:
        return self.concurrent_blocks / self.concurrent_wall

    @property
    def sequential_rate(self) -> float:
        return self.sequential_blocks / sum(self.sequential)


class Client:
    """One keep-alive session to a running ledger, signing kiosk requests as a kiosk does."""

    def __init__(self, server: LedgerServer) -> None:
        self.server, self.session = server, requests.Session()

    def enrol(self, chain: ChainWriter) -> None:
        answer = self.session.post(
            f"{self.server.url}/v1/admin/kiosks",
            headers=self.server.admin(),
            json={
                "public_key": b64e(chain.key.public_key),
                "name": chain.kiosk_id[:8],
                "late_reason": LATE_REASON,  # the bench's election opened in 2017
            },
            timeout=30,
        )
        _expect(answer, 200)

    def upload(self, chain: ChainWriter, raw: bytes, count: int) -> float:
        """Send one encoded batch of ``count`` blocks; the seconds from request to answer,
        signing included (one Ed25519 signature, as a kiosk pays)."""
        path = f"/v1/kiosks/{chain.kiosk_id}/blocks"
        start = time.perf_counter()
        signed = sign_request(
            chain.key, self.server.origin, "POST", path, raw,
            now=time.time(), nonce=os.urandom(NONCE_BYTES),
        )  # fmt: skip
        headers = {"Content-Type": "application/json", "Authorization": signed}
        answer = self.session.post(self.server.url + path, data=raw, headers=headers, timeout=60)
        elapsed = time.perf_counter() - start
        _expect(answer, 200)
        if answer.json()["accepted"] != count:
            raise RuntimeError(f"the ledger did not accept the whole batch: {answer.text[:300]}")
        return elapsed

    def get(self, path: str, params: dict[str, str | int] | None = None) -> requests.Response:
        return _expect(self.session.get(self.server.url + path, params=params, timeout=30), 200)


def _expect(answer: requests.Response, status: int) -> requests.Response:
    if answer.status_code != status:
        raise RuntimeError(
            f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text[:300]}"
        )
    return answer


def _warm(client: Client, chain: ChainWriter) -> None:
    """Enrol the kiosk and send its genesis, mode and session blocks, untimed."""
    client.enrol(chain)
    raw = json.dumps({"blocks": [json.loads(b.encode()) for b in chain.blocks[:3]]}).encode()
    client.upload(chain, raw, 3)


def ingest_over_http(
    server: LedgerServer,
    sequential: list[ChainWriter],
    concurrent: list[ChainWriter],
    *,
    on_start: Callable[[], None] | None = None,
) -> tuple[list[float], list[float], float]:
    """The sequential kiosks' batches one request at a time; then the concurrent kiosks all
    at once, each on its own connection and thread. Seconds per request, and the wall time of
    the concurrent phase (``on_start`` is called as it starts)."""
    client = Client(server)
    for chain in [*sequential, *concurrent]:
        _warm(client, chain)
    seq = [client.upload(chain, raw, BATCH) for chain in sequential for raw in bodies(chain)]
    prepared = [(chain, bodies(chain)) for chain in concurrent]
    times: list[float] = []
    failures: list[BaseException] = []
    start_line = threading.Barrier(len(prepared) + 1)

    def kiosk(chain: ChainWriter, batches: list[bytes]) -> None:
        own = Client(server)
        start_line.wait()
        try:
            for raw in batches:
                times.append(own.upload(chain, raw, BATCH))
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=kiosk, args=p) for p in prepared]
    for t in threads:
        t.start()
    if on_start is not None:
        on_start()
    start_line.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"a kiosk's upload failed: {failures[0]}") from failures[0]
    return seq, times, wall


def integration_delays(url: str, kiosks: list[str]) -> list[float] | None:
    """Per block of ``kiosks``: seconds from its sequencing (received_at) to the first signed
    checkpoint that covers it (created_at), from the ledger's own timestamps. None when the
    ledger stores them to the second only (the ledger before the integrator, which signed
    the checkpoint in the same transaction as the blocks: no delay to measure)."""
    engine = db.connect(url)
    try:
        with engine.connect() as conn:
            blocks = conn.execute(
                select(db.blocks.c.leaf_index, db.blocks.c.received_at).where(
                    db.blocks.c.kiosk_id.in_(kiosks)
                )
            ).all()
            checkpoints = conn.execute(
                select(db.checkpoints.c.size, db.checkpoints.c.created_at).order_by(
                    db.checkpoints.c.size
                )
            ).all()
    finally:
        engine.dispose()
    if not blocks or "." not in blocks[0].received_at:
        return None
    sizes = [int(c.size) for c in checkpoints]
    signed_at = [datetime.fromisoformat(c.created_at) for c in checkpoints]
    delays = []
    for leaf, received in blocks:
        first = _first_covering(sizes, int(leaf))
        delays.append((signed_at[first] - datetime.fromisoformat(received)).total_seconds())
    return delays


def _first_covering(sizes: list[int], leaf: int) -> int:
    lo, hi = 0, len(sizes) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if sizes[mid] > leaf:
            hi = mid
        else:
            lo = mid + 1
    return lo


def proof_latencies(
    client: Client, size: int, codes: list[str], rng: random.Random
) -> dict[str, list[float]]:
    """Seconds per request for the checkpoint (the baseline), an inclusion proof by leaf
    index and one by tracking code, interleaved so that noise falls on all three alike."""
    requests_by_kind = {
        "checkpoint": lambda: client.get("/v1/checkpoint"),
        "leaf index": lambda: client.get(
            "/v1/proofs/inclusion", {"leaf_index": rng.randrange(size)}
        ),
        "tracking code": lambda: client.get(
            "/v1/proofs/inclusion", {"tracking_code": rng.choice(codes)}
        ),
    }
    samples: dict[str, list[float]] = {kind: [] for kind in requests_by_kind}
    for round_ in range(PROOF_SAMPLES + 20):
        for kind, send in requests_by_kind.items():
            elapsed = timed(send)
            if round_ >= 20:  # the first rounds warm the server's caches
                samples[kind].append(elapsed)
    return samples


def check_a_proof(client: Client, leaf: int) -> None:
    """The prefilled log must be a log: a proof for a synthetic leaf verifies against the
    signed checkpoint, as a voter's check would."""
    answer = client.get("/v1/proofs/inclusion", {"leaf_index": leaf}).json()
    checkpoint = verify_checkpoint(answer["checkpoint"], client.server.log_key)
    proof = [b64d(h, length=32) for h in answer["proof"]]
    raw = b64d(answer["block"])
    verify_inclusion(leaf_hash(raw), leaf, checkpoint.size, proof, checkpoint.root)


def checkpoint_latency(
    directory: Path, election: SyntheticElection, workers: int, pg: PostgresServer | None
) -> list[float]:
    """GET /v1/checkpoint on a fresh ledger served by ``workers`` processes, one keep-alive
    client: the per-request floor (Nagle's ~40 ms shows here when the socket lacks
    TCP_NODELAY)."""
    backend = "sqlite" if pg is None else "postgres"
    given = None if pg is None else pg.create_database(f"checkpoint_{workers}")
    server = LedgerServer(
        directory / f"checkpoint-{backend}-{workers}", election, db=given, workers=workers
    )
    with server:
        client = Client(server)
        samples = [
            timed(lambda: client.get("/v1/checkpoint")) for _ in range(CHECKPOINT_SAMPLES + 20)
        ]
    return samples[20:]


# -- the run --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogRun:
    backend: str  # "SQLite" or "PostgreSQL"
    prefilled: Prefill
    ingest: Ingest
    proofs: dict[str, list[float]]
    workers: int

    @property
    def size(self) -> int:
        return self.prefilled.size


def run_at(
    directory: Path,
    election: SyntheticElection,
    size: int,
    chains: tuple[list[ChainWriter], list[ChainWriter]],
    block_bytes: int,
    *,
    pg: PostgresServer | None = None,
    workers: int | None = None,
    label: str = "PostgreSQL",
) -> LogRun:
    """A new ledger prefilled to ``size`` leaves with ENROLLED_SOURCES enrolled sources, then
    served: real ingest, then proofs. On SQLite by default; with ``pg``, on a fresh database
    of that server, with POSTGRES_WORKERS workers."""
    rng = random.Random(size)
    backend = "SQLite" if pg is None else label
    given = None if pg is None else pg.create_database(f"ledger_{size}")
    server = LedgerServer(
        directory / f"ledger-{backend.lower()}-{size}",
        election,
        db=given,
        workers=workers or (SQLITE_WORKERS if pg is None else POSTGRES_WORKERS),
    )
    seed = (server.data / "log.key").read_text().strip()
    url = db.database_url(given, server.data.resolve() / "ledger.db")
    ledger = Ledger(prefill_engine(url), SigningKey(b64d(seed, length=32, name="log key")))
    enrol_sources(ledger.engine)
    prefilled = prefill(ledger, size, block_bytes, rng)
    ledger.engine.dispose()
    sequential, concurrent = chains
    with server:
        seq, times, wall = ingest_over_http(server, sequential, concurrent)
        client = Client(server)
        check_a_proof(client, rng.randrange(size))
        real = [b.tracking_code for c in concurrent for b in c.blocks]
        codes = prefilled.tracking_codes + rng.sample(
            real, min(len(real), len(prefilled.tracking_codes))
        )
        proofs = proof_latencies(client, size, codes, rng)
    delays = integration_delays(url, [c.kiosk_id for c in concurrent])
    ingest = Ingest(
        seq,
        sum(len(c.blocks) - 3 for c in sequential),
        times,
        sum(len(c.blocks) - 3 for c in concurrent),
        wall,
        delays,
    )
    return LogRun(backend, prefilled, ingest, proofs, server.workers)


def raw_batches(chains: list[ChainWriter]) -> list[RowBatch]:
    """The rows the concurrent kiosks' batches write, with leaf indices as one log gives."""
    batches, leaf = [], 0
    for chain in chains:
        for i in range(3, len(chain.blocks), BATCH):
            blocks = chain.blocks[i : i + BATCH]
            batches.append(batch_rows(chain.kiosk_id, blocks, leaf))
            leaf += len(blocks)
    return batches


def bench_ledger(
    directory: Path,
    *,
    small: int = SMALL_LOG,
    large: int = LARGE_LOG,
    postgres: bool = False,
    sqlite_workers: int = SQLITE_WORKERS,
    postgres_workers: int = POSTGRES_WORKERS,
    sqlite: bool = True,
    prefill_bytes: int | None = None,
    standby: bool = False,
) -> list[Row]:
    """SQLite rows; with ``postgres``, the same rows again for one private PostgreSQL server
    (a fresh database per log size, the same chains and sizes). ``sqlite=False``: PostgreSQL
    only. ``prefill_bytes``: the size of each synthetic block of the prefill (by default the
    real blocks' median; smaller ones let a 10M log fit on a small disk: a proof never reads
    the block, and ingest never reads an older one)."""
    election = build_election(
        # 10 groups: 1,220 voters, enough for a chain of BALLOTS_PER_KIOSK distinct ones
        review_definition(groups=10, per_group=12, election_id="bench-ledger"),
        seed="bench-ledger",
    )
    rng = random.Random(1)
    sequential = [write_chain(election, BALLOTS_PER_KIOSK, rng) for _ in range(SEQUENTIAL_KIOSKS)]
    concurrent = [write_chain(election, BALLOTS_PER_KIOSK, rng) for _ in range(CONCURRENT_KIOSKS)]
    chains = (sequential, concurrent)
    verify = raw_verify_rate(BASELINE_SIGNATURES)
    block_bytes = prefill_bytes or round(
        statistics.median(len(b.encode()) for b in concurrent[0].blocks[3:])
    )
    rows_of_batches = raw_batches(concurrent)
    rows: list[Row] = []
    if sqlite:
        raw = raw_sqlite_batches(directory, rows_of_batches)
        latency = {w: checkpoint_latency(directory, election, w, None) for w in (1, 2)}
        runs = [
            run_at(directory, election, size, chains, block_bytes, workers=sqlite_workers)
            for size in (small, large)
        ]
        rows += [*_ingest_rows(runs, verify, raw), *_checkpoint_rows("SQLite", latency)]
        rows += [*_prefill_rows(runs[-1]), *_proof_rows(runs)]
    if postgres:
        label = "PostgreSQL + sync standby" if standby else "PostgreSQL"
        with contextlib.ExitStack() as stack:
            pg: PostgresServer
            if standby:
                pg = StandbyServer(stack.enter_context(PrimaryWithStandby()))
            else:
                pg = stack.enter_context(PrivatePostgres())
            raw = raw_postgres_batches(pg, rows_of_batches, copy=False)
            copied = raw_postgres_batches(pg, rows_of_batches, copy=True)
            latency = {w: checkpoint_latency(directory, election, w, pg) for w in (1, 2)}
            runs = [
                run_at(
                    directory,
                    election,
                    size,
                    chains,
                    block_bytes,
                    pg=pg,
                    workers=postgres_workers,
                    label=label,
                )
                for size in (small, large)
            ]
        rows += [*_ingest_rows(runs, verify, raw), *_copy_rows(raw, copied)]
        rows += [*_checkpoint_rows(label, latency)]
        rows += [*_prefill_rows(runs[-1]), *_proof_rows(runs)]
    return rows


# -- the table ------------------------------------------------------------------------------


def _ingest_rows(runs: list[LogRun], verify: float, raw: list[float]) -> list[Row]:
    rows = []
    raw_rate = BATCH * len(raw) / sum(raw)
    for run in runs:
        b, i = run.backend, run.ingest
        n = f"log of {run.size:,}, {run.workers} worker{'s' if run.workers > 1 else ''}"
        rows += [
            Row(
                f"{b}: HTTP ingest, {CONCURRENT_KIOSKS} kiosks at once, {BATCH}-block batches, {n}",
                f"{i.rate:,.0f} blocks/s",
                f"raw PyNaCl verify: {verify:,.0f} sig/s",
                f"{i.rate / verify:.2f}x",
            ),
            Row(
                f"{b}: the same beside a raw executemany of its rows, {n}",
                f"{i.rate:,.0f} blocks/s",
                f"raw {b} executemany, blocks + voter rows: {raw_rate:,.0f} blocks/s",
                f"{i.rate / raw_rate:.2f}x",
            ),
            Row(
                f"{b}: HTTP ingest, one kiosk at a time, {n}",
                f"{i.sequential_rate:,.0f} blocks/s",
                f"raw PyNaCl verify: {verify:,.0f} sig/s",
                f"{i.sequential_rate / verify:.2f}x",
            ),
        ]
        for q in (50, 99):
            batch, base = percentile(i.concurrent, q), percentile(raw, q)
            rows.append(
                Row(
                    f"{b}: one {BATCH}-block batch p{q} ({CONCURRENT_KIOSKS} at once), {n}",
                    f"{batch * 1e3:.1f} ms",
                    f"raw {b} txn of the same rows p{q}: {base * 1e3:.2f} ms",
                    f"{batch / base:.1f}x",
                )
            )
        for q in (50, 99):
            value = (
                "n/a: signed in the ingest transaction"
                if i.integration is None
                else (f"{percentile(i.integration, q) * 1e3:.0f} ms")
            )
            rows.append(
                Row(f"{b}: integration delay p{q} (sequenced -> signed checkpoint), {n}",
                    value, "goal: a checkpoint at least every second", "")
            )  # fmt: skip
    small, large = runs[0], runs[-1]
    rows.append(
        Row(
            f"{large.backend}: ingest throughput, log of {large.size:,} vs {small.size:,}",
            f"{large.ingest.rate:,.0f} vs {small.ingest.rate:,.0f} blocks/s",
            f"the same {small.ingest.concurrent_blocks:,} real blocks, same run",
            f"{large.ingest.rate / small.ingest.rate:.2f}x",
        )
    )
    medians = [statistics.median(r.ingest.concurrent) for r in (small, large)]
    rows.append(
        Row(
            f"{large.backend}: steady cost of a batch (p50), "
            f"log of {large.size:,} vs {small.size:,}",
            f"{medians[1] * 1e3:.1f} vs {medians[0] * 1e3:.1f} ms",
            "same batches, same run; rare slow batches left out",
            f"{medians[1] / medians[0]:.2f}x",
        )
    )
    return rows


def _copy_rows(executemany: list[float], copied: list[float]) -> list[Row]:
    return [
        Row(
            f"PostgreSQL: raw COPY of a batch's rows p{q}",
            f"{percentile(copied, q) * 1e3:.2f} ms",
            f"raw executemany of the same rows p{q}: {percentile(executemany, q) * 1e3:.2f} ms",
            f"{percentile(copied, q) / percentile(executemany, q):.2f}x",
        )
        for q in (50, 99)
    ]


def _checkpoint_rows(backend: str, latency: dict[int, list[float]]) -> list[Row]:
    return [
        Row(
            f"{backend}: GET /v1/checkpoint p{q}, 2 workers",
            f"{percentile(latency[2], q) * 1e3:.2f} ms",
            f"1 worker p{q}: {percentile(latency[1], q) * 1e3:.2f} ms",
            f"{percentile(latency[2], q) / percentile(latency[1], q):.2f}x",
        )
        for q in (50, 99)
    ]


def _prefill_rows(run: LogRun) -> list[Row]:
    extrapolated = run.size / run.ingest.rate
    return [
        Row(
            f"{run.backend}: prefill of {run.size:,} synthetic leaves (log, blocks, nullifiers)",
            f"{run.prefilled.seconds:.0f} s",
            f"the same through HTTP ingest at this run's rate: ~{extrapolated:,.0f} s",
            f"{run.prefilled.seconds / extrapolated:.2f}x",
        )
    ]


def _proof_rows(runs: list[LogRun]) -> list[Row]:
    rows = []
    for run in runs:
        for kind in ("leaf index", "tracking code"):
            for q in (50, 99):
                value = percentile(run.proofs[kind], q)
                base = percentile(run.proofs["checkpoint"], q)
                rows.append(
                    Row(
                        f"{run.backend}: inclusion proof by {kind} p{q}, log of {run.size:,}",
                        f"{value * 1e3:.2f} ms",
                        f"GET /v1/checkpoint p{q}: {base * 1e3:.2f} ms",
                        f"{value / base:.2f}x",
                    )
                )
    small, large = runs[0], runs[-1]
    by_index = [statistics.median(r.proofs["leaf index"]) for r in (small, large)]
    rows.append(
        Row(
            f"{large.backend}: inclusion proof by leaf index p50, "
            f"log of {large.size:,} vs {small.size:,}",
            f"{by_index[1] * 1e3:.2f} vs {by_index[0] * 1e3:.2f} ms",
            "same run; proofs grow as log2 of the size "
            f"({_depth(large.size)} vs {_depth(small.size)} levels)",
            f"{by_index[1] / by_index[0]:.2f}x",
        )
    )
    return rows


def _depth(size: int) -> int:
    return (size - 1).bit_length()


def notes(*, small: int = SMALL_LOG, large: int = LARGE_LOG) -> list[str]:
    concurrent = CONCURRENT_KIOSKS * BALLOTS_PER_KIOSK
    return [
        "How the ledger was measured:",
        f"- ledger: `ledger init` and `ledger serve` ({SQLITE_WORKERS} uvicorn workers unless "
        "--sqlite-workers says otherwise, SQLite in WAL with synchronous=FULL) on loopback; "
        "the clients run on the same 2 cores.",
        f"- registry: {ENROLLED_SOURCES:,} enrolled sources written as rows before the server "
        "starts (random keys), so every per-request look-up runs against a national fleet.",
        f"- real blocks: {SEQUENTIAL_KIOSKS + CONCURRENT_KIOSKS} kiosk chains of "
        f"{BALLOTS_PER_KIOSK:,} ballots each, signed block by block as `ChainStore.append` "
        "signs them (canonical JSON, SHA-256, Ed25519); each ballot encrypted with its proofs "
        "and signed by a distinct voter's card, which the ledger checks against the roll on "
        "arrival. The first three blocks of "
        f"each chain go first, untimed. Then {SEQUENTIAL_KIOSKS} kiosks upload one request "
        f"at a time ('one kiosk at a time'), then {CONCURRENT_KIOSKS} kiosks upload at once, "
        f"each from its own thread and keep-alive connection ({concurrent:,} blocks; the "
        "headline rate is those blocks over the wall time from the first request to the "
        f"last answer). {BATCH} blocks per signed request; each request timed from signing "
        "to answer, bodies encoded beforehand.",
        "- integration delay: per block, from its row's received_at (written when the batch is "
        "sequenced) to the created_at of the first signed checkpoint covering its leaf, both "
        "the ledger's own clock.",
        f"- synthetic: both logs are prefilled before the server starts, {small:,} and "
        f"{large:,} leaves, through `lock_log`, `MerkleLog.append` and `publish`, with "
        "matching rows in `blocks` and `nullifiers`; block bytes are random, rows go in by "
        "plain executemany (COPY on PostgreSQL) with fsync off; only the prefill row times it.",
        "- the ratios of the two logs are the figures to read: near 1.0x means the cost of a "
        "block does not grow with the log.",
        f"- proofs: {PROOF_SAMPLES} requests each of GET /v1/checkpoint, an inclusion proof "
        "for a random leaf index and one for a random tracking code, interleaved, after 20 "
        f"untimed rounds. Checkpoint latency: {CHECKPOINT_SAMPLES} GETs on a fresh ledger "
        "served by 1 and by 2 workers.",
        f"- baselines: PyNaCl verifying {BASELINE_SIGNATURES:,} Ed25519 signatures (best of "
        "3); and the concurrent phase's very rows (blocks and voter index, leaf indices as one "
        "log gives them) written one batch per transaction, one executemany per table, into "
        "the ledger's own tables and indexes (SQLite: WAL, synchronous=FULL; PostgreSQL: "
        "psycopg over TCP, and again by COPY).",
        "- PostgreSQL rows (when measured): one private server started for the run (its own "
        "cluster in a temporary directory, loopback TCP, fsync, synchronous_commit and "
        "full_page_writes off, as the integration tests run it), a fresh database per log "
        f"size, `ledger serve --workers {POSTGRES_WORKERS}`. With durability off on both "
        "baseline and ledger, these figures are CPU and round trips, not a disk's.",
        "- 'PostgreSQL + sync standby' rows (--standby): instead, a primary and a standby "
        "streaming to it on loopback, synchronous_commit on and fsync on (testkit/"
        "postgres_standby.py): each commit, the baselines' included, returns once the WAL is "
        "on both servers' disks; the ledger's --db names both hosts.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--large", type=_positive, default=LARGE_LOG, help="leaves in the large log"
    )
    parser.add_argument(
        "--small", type=_positive, default=SMALL_LOG, help="leaves in the small log"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="measure a private PostgreSQL server as well"
    )
    parser.add_argument("--sqlite-workers", type=_positive, default=SQLITE_WORKERS)
    parser.add_argument("--postgres-workers", type=_positive, default=POSTGRES_WORKERS)
    parser.add_argument(
        "--no-sqlite", action="store_true", help="with --postgres: measure PostgreSQL only"
    )
    parser.add_argument(
        "--prefill-bytes",
        type=_positive,
        default=None,
        help="bytes of each synthetic prefill block (default: the real blocks' median)",
    )
    parser.add_argument(
        "--standby",
        action="store_true",
        help="with --postgres: a primary with a synchronous standby (fsync on) instead",
    )
    args = parser.parse_args()
    if args.standby and not args.postgres:
        parser.error("--standby is for the PostgreSQL rows: add --postgres")
    if args.no_sqlite and not args.postgres:
        parser.error("--no-sqlite measures PostgreSQL only: add --postgres")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hanpyo-ledger-bench-") as tmp:
        rows = bench_ledger(
            Path(tmp),
            small=args.small,
            large=args.large,
            postgres=args.postgres,
            sqlite_workers=args.sqlite_workers,
            postgres_workers=args.postgres_workers,
            sqlite=not args.no_sqlite,
            prefill_bytes=args.prefill_bytes,
            standby=args.standby,
        )
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>24}  {r.baseline:<58} {r.ratio:>7}")
    print("\n".join(["", *notes(small=args.small, large=args.large)]))
    print(f"\n(the run took {time.perf_counter() - start:.0f} s)")


def _positive(text: str) -> int:
    value = int(text.replace(",", "").replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("a log size is at least 1")
    return value


if __name__ == "__main__":
    main()
