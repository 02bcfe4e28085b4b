"""Ledger benchmarks: HTTP ingest and proof serving on a small log and on a large one, each
figure beside a baseline measured in the same run.

Run with `.venv/bin/python -m bench.ledger_bench [--large N] [--postgres]`; prints a table.
bench/run.py can add `bench_ledger(directory)` to its rows and `notes()` to its report. With
``postgres=True`` the same measurement runs again against a private PostgreSQL server.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing
import requests

from bench.common import SYNTHETIC_SOURCES, Prefill, Row, percentile, prefill, prefill_engine, timed
from kiosk.core.block import SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.core.request import NONCE_BYTES, sign_request
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition
from testkit.ledger_requests import LATE_REASON
from testkit.ledger_server import LedgerServer
from testkit.postgres import PrivatePostgres

SMALL_LOG = 10_000
LARGE_LOG = 1_000_000
BATCH = 100  # blocks per upload request, as a kiosk catching up would send them
MEASURED_KIOSKS = 6
BALLOTS_PER_KIOSK = 1_000  # 6,000 real ballot blocks ingested over HTTP at each log size
PROOF_SAMPLES = 400  # requests per proof kind and log size
BASELINE_SIGNATURES = 5_000
BASELINE_COMMITS = 300
POSTGRES_WORKERS = 2  # uvicorn workers of the ledger served on PostgreSQL


# -- real signed chains, built as a kiosk builds them ---------------------------------------


def write_chain(election: SyntheticElection, ballots: int, rng: random.Random) -> ChainWriter:
    """Genesis, official mode, an open session and ``ballots`` real sealed ballots, signed as
    the kiosk's store signs them. Voters are drawn from the election's small roll; each
    ballot gets a fresh nullifier, since the ledger checks no roll and a roll of thousands
    takes long to build."""
    package = election.package
    chain = ChainWriter(package, SigningKey.generate(), datetime.now(UTC), timedelta(0))
    chain.mode(Mode.OFFICIAL)
    chain.open_session()
    voters = [package.voter_for_card(k.public_key) for k in election.voter_keys[:50]]
    for _ in range(ballots):
        voter = rng.choice(voters)
        assert voter is not None
        fresh = dataclasses.replace(voter, nullifier=rng.randbytes(32))
        chain.cast(fresh, random_ballot(package, fresh, rng))
    return chain


# -- a large log without a million signatures -----------------------------------------------


# -- measuring over HTTP --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ingest:
    blocks: int
    batches: list[float]  # seconds per request of BATCH blocks

    @property
    def rate(self) -> float:
        return self.blocks / sum(self.batches)


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

    def upload(self, chain: ChainWriter, blocks: list[SignedBlock]) -> float:
        """Send one batch; the seconds from request to answer, signing excluded."""
        path = f"/v1/kiosks/{chain.kiosk_id}/blocks"
        raw = json.dumps({"blocks": [json.loads(b.encode()) for b in blocks]}).encode()
        signed = sign_request(
            chain.key,
            self.server.origin,
            "POST",
            path,
            raw,
            now=time.time(),
            nonce=os.urandom(NONCE_BYTES),
        )
        headers = {"Content-Type": "application/json", "Authorization": signed}
        start = time.perf_counter()
        answer = self.session.post(self.server.url + path, data=raw, headers=headers, timeout=60)
        elapsed = time.perf_counter() - start
        _expect(answer, 200)
        if answer.json()["accepted"] != len(blocks):
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


def ingest_over_http(client: Client, chains: list[ChainWriter]) -> Ingest:
    """Enrol each kiosk and send its genesis, mode and session blocks (warm-up, not timed),
    then its ballots in batches of BATCH, timed one request at a time."""
    for chain in chains:
        client.enrol(chain)
        client.upload(chain, chain.blocks[:3])
    batches = [
        client.upload(chain, chain.blocks[i : i + BATCH])
        for chain in chains
        for i in range(3, len(chain.blocks), BATCH)
    ]
    return Ingest(sum(len(c.blocks) - 3 for c in chains), batches)


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


# -- baselines ------------------------------------------------------------------------------


def raw_verify_rate(count: int) -> float:
    """Ed25519 signatures PyNaCl verifies per second: the floor under checking each block."""
    key = nacl.signing.SigningKey.generate()
    signed = [key.sign(Domain.BLOCK.value + os.urandom(32)) for _ in range(count)]
    verify = key.verify_key.verify
    return count / min(timed(lambda: [verify(s) for s in signed]) for _ in range(3))


def raw_sqlite_batches(directory: Path, count: int, rows: int, size: int) -> list[float]:
    """The floor under storing a batch: one SQLite transaction of ``rows`` rows of ``size``
    bytes, WAL and synchronous=FULL as the ledger sets them, no Merkle log, no checks."""
    conn = sqlite3.connect(directory / "raw-ledger.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    samples = []
    for i in range(count):
        payload = [(i * rows + j, os.urandom(size)) for j in range(rows)]

        def commit(payload: list[tuple[int, bytes]] = payload) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO t (id, data) VALUES (?, ?)", payload)
            conn.execute("COMMIT")

        samples.append(timed(commit))
    conn.close()
    return samples


def raw_postgres_batches(pg: PrivatePostgres, count: int, rows: int, size: int) -> list[float]:
    """The same floor on the private PostgreSQL server the ledger runs on (fsync off, as it
    is for the ledger): one transaction of ``rows`` rows of ``size`` bytes, by psycopg's
    executemany over TCP, in a database of its own."""
    url = pg.create_database("raw_batches")
    samples = []
    with pg.connect(url.rsplit("/", 1)[1]) as conn:
        conn.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, data BYTEA NOT NULL)")
        cursor = conn.cursor()
        for i in range(count):
            payload = [(i * rows + j, os.urandom(size)) for j in range(rows)]

            def commit(payload: list[tuple[int, bytes]] = payload) -> None:
                with conn.transaction():
                    cursor.executemany("INSERT INTO t (id, data) VALUES (%s, %s)", payload)

            samples.append(timed(commit))
    return samples


# -- the run --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogRun:
    backend: str  # "SQLite" or "PostgreSQL"
    prefilled: Prefill
    ingest: Ingest
    proofs: dict[str, list[float]]

    @property
    def size(self) -> int:
        return self.prefilled.size


def run_at(
    directory: Path,
    election: SyntheticElection,
    size: int,
    chains: list[ChainWriter],
    block_bytes: int,
    *,
    pg: PrivatePostgres | None = None,
) -> LogRun:
    """A new ledger prefilled to ``size`` leaves, then served: real ingest, then proofs. On
    SQLite by default; with ``pg``, on a fresh database of that server, with
    POSTGRES_WORKERS workers."""
    rng = random.Random(size)
    backend = "SQLite" if pg is None else "PostgreSQL"
    given = None if pg is None else pg.create_database(f"ledger_{size}")
    server = LedgerServer(
        directory / f"ledger-{backend.lower()}-{size}",
        election,
        db=given,
        workers=1 if pg is None else POSTGRES_WORKERS,
    )
    seed = (server.data / "log.key").read_text().strip()
    url = db.database_url(given, server.data.resolve() / "ledger.db")
    ledger = Ledger(prefill_engine(url), SigningKey(b64d(seed, length=32, name="log key")))
    prefilled = prefill(ledger, size, block_bytes, rng)
    ledger.engine.dispose()
    with server:
        client = Client(server)
        ingest = ingest_over_http(client, chains)
        check_a_proof(client, rng.randrange(size))
        real = [b.tracking_code for c in chains for b in c.blocks]
        codes = prefilled.tracking_codes + rng.sample(
            real, min(len(real), len(prefilled.tracking_codes))
        )
        log_size = size + sum(len(c.blocks) for c in chains)
        proofs = proof_latencies(client, log_size, codes, rng)
    return LogRun(backend, prefilled, ingest, proofs)


def bench_ledger(
    directory: Path, *, small: int = SMALL_LOG, large: int = LARGE_LOG, postgres: bool = False
) -> list[Row]:
    """SQLite rows; with ``postgres``, the same rows again for one private PostgreSQL server
    (a fresh database per log size, the same chains and sizes)."""
    election = build_election(
        review_definition(groups=2, per_group=12, election_id="bench-ledger"), seed="bench-ledger"
    )
    rng = random.Random(1)
    chains = [write_chain(election, BALLOTS_PER_KIOSK, rng) for _ in range(MEASURED_KIOSKS)]
    verify = raw_verify_rate(BASELINE_SIGNATURES)
    block_bytes = round(statistics.median(len(b.encode()) for b in chains[0].blocks[3:]))
    raw = raw_sqlite_batches(directory, BASELINE_COMMITS, BATCH, block_bytes)
    runs = [run_at(directory, election, size, chains, block_bytes) for size in (small, large)]
    rows = [*_ingest_rows(runs, verify, raw), *_prefill_rows(runs[-1]), *_proof_rows(runs)]
    if postgres:
        with PrivatePostgres() as pg:
            raw = raw_postgres_batches(pg, BASELINE_COMMITS, BATCH, block_bytes)
            runs = [
                run_at(directory, election, size, chains, block_bytes, pg=pg)
                for size in (small, large)
            ]
        rows += [*_ingest_rows(runs, verify, raw), *_prefill_rows(runs[-1]), *_proof_rows(runs)]
    return rows


def _ingest_rows(runs: list[LogRun], verify: float, raw: list[float]) -> list[Row]:
    rows = []
    for run in runs:
        rows.append(
            Row(
                f"{run.backend}: HTTP ingest, {BATCH}-block batches, log of {run.size:,}",
                f"{run.ingest.rate:,.0f} blocks/s",
                f"raw PyNaCl verify: {verify:,.0f} sig/s",
                f"{run.ingest.rate / verify:.2f}x",
            )
        )
        for q in (50, 99):
            batch, base = percentile(run.ingest.batches, q), percentile(raw, q)
            rows.append(
                Row(
                    f"{run.backend}: ingest of one {BATCH}-block batch p{q}, log of {run.size:,}",
                    f"{batch * 1e3:.1f} ms",
                    f"raw {run.backend} txn of {BATCH} rows p{q}: {base * 1e3:.2f} ms",
                    f"{batch / base:.1f}x",
                )
            )
    small, large = runs[0], runs[-1]
    rows.append(
        Row(
            f"{large.backend}: ingest throughput, log of {large.size:,} vs {small.size:,}",
            f"{large.ingest.rate:,.0f} vs {small.ingest.rate:,.0f} blocks/s",
            f"the same {small.ingest.blocks:,} real blocks, same run",
            f"{large.ingest.rate / small.ingest.rate:.2f}x",
        )
    )
    medians = [statistics.median(r.ingest.batches) for r in (small, large)]
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
    blocks = MEASURED_KIOSKS * BALLOTS_PER_KIOSK
    return [
        "How the ledger was measured:",
        "- ledger: `ledger init` and `ledger serve` (one uvicorn worker, SQLite in WAL with "
        "synchronous=FULL) on loopback; the client is one keep-alive `requests` session on "
        "the same 2 cores.",
        f"- real blocks: {MEASURED_KIOSKS} kiosk chains of {BALLOTS_PER_KIOSK:,} ballots each, "
        "signed block by block as `ChainStore.append` signs them (canonical JSON, SHA-256, "
        "Ed25519) and sealed to the election's ballot key, but not written to a kiosk store; "
        "nullifiers are random, since the ledger checks no roll. Each ledger ingests the "
        f"same {blocks:,} ballots over HTTP, {BATCH} per signed request, each request timed "
        "from send to answer; the first three blocks of each chain go first, untimed.",
        f"- synthetic: both logs are prefilled before the server starts, {small:,} and "
        f"{large:,} leaves, through `lock_log`, `MerkleLog.append` (every node hashed as in "
        "real appends) and `publish`, with matching rows in `blocks` and `nullifiers` so "
        f"their indexes have a real log's size, spread over {SYNTHETIC_SOURCES} synthetic "
        "kiosks. Their block bytes are random, not signed blocks, and the rows go in by "
        "plain executemany with fsync off; nothing of this is timed except the prefill row.",
        "- the ratios of the two logs are the figures to read: near 1.0x means the cost of a "
        "block does not grow with the log. Throughput counts every batch, so one slow batch "
        "(a WAL checkpoint writing back pages scattered over a large file, say) moves it; the "
        "p50 batch ratio is the steady cost.",
        f"- proofs: {PROOF_SAMPLES} requests each of GET /v1/checkpoint (the baseline), an "
        "inclusion proof for a random leaf index, and one for a random tracking code "
        "(half from the prefill, half real), interleaved, after 20 untimed rounds. A proof "
        "for a synthetic leaf is verified against the signed checkpoint once per log.",
        f"- baselines: PyNaCl verifying {BASELINE_SIGNATURES:,} Ed25519 signatures (best of "
        f"3), and {BASELINE_COMMITS} SQLite transactions of {BATCH} block-sized rows each "
        "(WAL, synchronous=FULL), the floor under storing one batch.",
        "- PostgreSQL rows (when measured): the same chains, sizes and requests against one "
        "private PostgreSQL server started for the run (its own cluster in a temporary "
        "directory, loopback TCP, fsync, synchronous_commit and full_page_writes off, as the "
        "integration tests run it), a fresh database per log size, `ledger serve --workers "
        f"{POSTGRES_WORKERS}`. The prefill is the same code with the rows loaded by COPY on "
        "the prefill's own transaction, then VACUUM ANALYZE. Its raw baseline is "
        f"{BASELINE_COMMITS} psycopg transactions of {BATCH} block-sized rows (executemany) "
        "on that server. With durability off on both baseline and ledger, these figures are "
        "the ledger's CPU and round-trip cost, not a disk's.",
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
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hanpyo-ledger-bench-") as tmp:
        rows = bench_ledger(Path(tmp), small=args.small, large=args.large, postgres=args.postgres)
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>22}  {r.baseline:<52} {r.ratio:>7}")
    print("\n".join(["", *notes(small=args.small, large=args.large)]))
    print(f"\n(the run took {time.perf_counter() - start:.0f} s)")


def _positive(text: str) -> int:
    value = int(text.replace(",", "").replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("a log size is at least 1")
    return value


if __name__ == "__main__":
    main()
