"""What the benchmarks share: a result row, percentiles and timing, the raw SQLCipher
baseline, and the fast bulk loading that prefills a large ledger log."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import Connection, Engine, Table, event

from ledger import db
from ledger.log import SqlNodeStore


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
