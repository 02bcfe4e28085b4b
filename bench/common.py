"""What the benchmarks share: a result row, percentiles and timing, the raw SQLCipher
baseline, and the bulk loading that prefills a large ledger log without a million signatures."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import Connection, Engine, Table, event

from kiosk.core.block import BlockKind
from kiosk.core.encoding import crockford32, group4
from kiosk.core.merkle import MerkleLog, leaf_hash
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from ledger.store.merkle_log import SqlNodeStore, lock_log, publish


@dataclass(frozen=True)
class Row:
    """One line of the report: a measure, its value, its baseline and their ratio."""

    name: str
    value: str
    baseline: str
    ratio: str


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def raw_sqlcipher_commits(directory: Path, count: int, size: int) -> list[float]:
    """The floor under a cast: one SQLCipher transaction of one row, same pragmas, same size."""
    conn = sqlcipher3.connect(str(directory / "raw.db"), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    samples = []
    for i in range(count):
        payload = os.urandom(size)

        def commit(i: int = i, payload: bytes = payload) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (id, data) VALUES (?, ?)", (i, payload))
            conn.execute("COMMIT")

        samples.append(timed(commit))
    conn.close()
    return samples


# -- prefilling a large ledger log (ledger and tally benchmarks) ---------------------------

SYNTHETIC_SOURCES = 10  # enrolled kiosks the synthetic leaves are attributed to
PREFILL_CHUNK = 50_000  # synthetic leaves per prefill transaction


class BulkNodeStore(SqlNodeStore):
    """``SqlNodeStore`` with plain inserts: a new database has no rolled-back nodes to
    overwrite, and the upsert's per-row compilation would dominate a million-leaf prefill."""

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None:
        insert_rows(self._conn, db.merkle_nodes, ("level", "idx", "hash"), nodes)


def prefill_engine(url: str) -> Engine:
    """The ledger's own engine, with fsync off and a large page cache for this one job: the
    prefill is set-up, and durability of a database thrown away after the run is moot."""
    engine = db.connect(url)
    if engine.dialect.name == "postgresql":
        return engine  # the private server already runs with fsync off

    @event.listens_for(engine, "connect")
    def _bulk_load(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.execute("PRAGMA cache_size = -400000")  # 400 MB
        cursor.close()

    return engine


def insert_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[object, ...]]
) -> None:
    """One executemany of SQLAlchemy's own INSERT for ``table`` on the transaction's
    connection, skipping its per-row parameter processing (most of the prefill otherwise).
    On PostgreSQL one COPY on the same connection and transaction instead: psycopg's
    executemany sends a statement per row, several times slower at a million rows."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        names = ", ".join(columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    statement = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
    if tuple(statement.positiontup or ()) != columns:
        raise RuntimeError(f"{table.name} binds {statement.positiontup}, not {columns}")
    conn.exec_driver_sql(str(statement), rows)


@dataclass(frozen=True, slots=True)
class Prefill:
    size: int
    seconds: float
    tracking_codes: list[str]  # a sample, for proof look-ups


def prefill(ledger: Ledger, size: int, block_bytes: int, rng: random.Random) -> Prefill:
    """Append ``size`` synthetic leaves to an empty ledger through the log's own code
    (``MerkleLog.append`` computes every node, ``publish`` signs each checkpoint), with a row
    in ``blocks`` and ``nullifiers`` for each leaf, so that every table and index is as large
    as a real log of that size would make it. The block bytes are random, not signed blocks:
    only proofs read them, and a proof does not parse the block it proves."""
    sources = [rng.randbytes(16).hex() for _ in range(SYNTHETIC_SOURCES)]
    codes: list[str] = []
    start = time.perf_counter()
    with ledger.engine.begin() as conn:
        conn.execute(db.sources.insert(), [_synthetic_source(k, rng) for k in sources])
    for first in range(0, size, PREFILL_CHUNK):
        count = min(PREFILL_CHUNK, size - first)
        with ledger.engine.begin() as conn:
            log = MerkleLog(BulkNodeStore(conn), lock_log(conn).size)
            blocks = _synthetic_blocks(sources, log.size, count, block_bytes, rng)
            insert_rows(conn, db.blocks, BLOCK_COLUMNS, blocks)
            insert_rows(conn, db.nullifiers, NULLIFIER_COLUMNS, _synthetic_nullifiers(blocks, rng))
            log.append([leaf_hash(b[5]) for b in blocks])
            publish(conn, log, ledger.key)
        codes += [str(b[3]) for b in rng.sample(blocks, min(200, count))]
    raw = ledger.engine.raw_connection()  # outside any transaction, which would block this
    try:
        if ledger.engine.dialect.name == "postgresql":
            # Planner statistics and a visibility map, as autovacuum would leave a live log.
            assert raw.driver_connection is not None  # a live DBAPI connection
            raw.driver_connection.autocommit = True
            raw.cursor().execute("VACUUM ANALYZE")
        else:  # start the server on a database, not on a long WAL
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return Prefill(size, time.perf_counter() - start, codes)


BLOCK_COLUMNS = (
    "kiosk_id", "height", "hash", "tracking", "kind", "encoded", "leaf_index", "received_at"
)  # fmt: skip
NULLIFIER_COLUMNS = ("nullifier", "kind", "kiosk_id", "height", "channel", "leaf_index")


def _synthetic_source(kiosk: str, rng: random.Random) -> dict[str, object]:
    return {
        "kiosk_id": kiosk,
        "public_key": rng.randbytes(32),
        "name": f"synthetic {kiosk[:8]}",
        "location": "",
        "channel": "kiosk",
        "quarantined": False,
        "enrolled_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# A row of ``blocks`` in BLOCK_COLUMNS order.
BlockRow = tuple[str, int, bytes, str, str, bytes, int, str]


def _synthetic_blocks(
    sources: list[str], first: int, count: int, block_bytes: int, rng: random.Random
) -> list[BlockRow]:
    """Rows for ``blocks`` in its column order; tracking codes in the real format."""
    # Block by block: a v2 ballot block is ~7 kB, and one call for a whole chunk's payload
    # passes the bits random.getrandbits takes at once.
    payload = b"".join(rng.randbytes(block_bytes) for _ in range(count))
    digests = rng.randbytes(count * 32)
    codes = _tracking_codes(digests, count)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    n = len(sources)
    return [
        (
            sources[leaf % n],
            leaf // n,
            digests[i * 32 : (i + 1) * 32],
            codes[i],
            BlockKind.BALLOT.value,
            payload[i * block_bytes : (i + 1) * block_bytes],
            leaf,
            now,
        )
        for i, leaf in enumerate(range(first, first + count))
    ]


def _tracking_codes(digests: bytes, count: int) -> list[str]:
    """``tracking_code`` for many hashes in one encoding: 10 bytes are 16 base32 digits."""
    text = crockford32(b"".join(digests[i * 32 : i * 32 + 10] for i in range(count)))
    return [group4(text[i * 16 : (i + 1) * 16]) for i in range(count)]


def _synthetic_nullifiers(blocks: list[BlockRow], rng: random.Random) -> list[tuple[object, ...]]:
    keys = rng.randbytes(len(blocks) * 32)
    return [
        (keys[i * 32 : (i + 1) * 32], BlockKind.BALLOT.value, b[0], b[1], "kiosk", b[6])
        for i, b in enumerate(blocks)
    ]
