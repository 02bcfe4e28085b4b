"""What the ledger's ingest figures are set beside, measured in the same run: raw Ed25519
verification, and a raw executemany of the very rows a batch writes (blocks and voter index)
into the ledger's own tables; and the 50,000 enrolled sources a national ledger holds."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import nacl.signing
from sqlalchemy import Engine

from bench.common import BLOCK_COLUMNS, NULLIFIER_COLUMNS, insert_rows, timed
from kiosk.core.block import BlockKind, SignedBlock, ballot_identity
from kiosk.core.crypto import Domain
from ledger.store import schema as db
from testkit.postgres import PostgresServer

ENROLLED_SOURCES = 50_000

RowBatch = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]  # blocks, nullifiers


def enrol_sources(engine: Engine, count: int = ENROLLED_SOURCES) -> None:
    """``count`` enrolled sources by direct rows (random keys): a national fleet's registry,
    so that every per-request look-up runs against a table of that size."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    for i in range(count):
        key = os.urandom(32)
        rows.append((key[:16].hex(), key, f"fleet {i:05d}", "", "kiosk", False, now))
    columns = ("kiosk_id", "public_key", "name", "location", "channel", "quarantined")
    with engine.begin() as conn:
        insert_rows(conn, db.sources, (*columns, "enrolled_at"), rows)


def raw_verify_rate(count: int) -> float:
    """Ed25519 signatures PyNaCl verifies per second: the floor under checking each block."""
    key = nacl.signing.SigningKey.generate()
    signed = [key.sign(Domain.BLOCK.value + os.urandom(32)) for _ in range(count)]
    verify = key.verify_key.verify
    return count / min(timed(lambda: [verify(s) for s in signed]) for _ in range(3))


def batch_rows(kiosk: str, blocks: Sequence[SignedBlock], first_leaf: int) -> RowBatch:
    """The rows of ``blocks`` and of their voter index, as ingest writes them."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    block_rows: list[tuple[object, ...]] = []
    voter_rows: list[tuple[object, ...]] = []
    for i, signed in enumerate(blocks):
        block = signed.block
        leaf = first_leaf + i
        block_rows.append(
            (kiosk, block.height, signed.hash, signed.tracking_code, block.kind.value,
             signed.encode(), leaf, now)
        )  # fmt: skip
        if block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
            voter = ballot_identity(block.body)  # the voter index's key (table "nullifiers")
            voter_rows.append((voter, block.kind.value, kiosk, block.height, "kiosk", leaf))
    return block_rows, voter_rows


def _insert_sql(table: str, columns: tuple[str, ...], mark: str) -> str:
    """An INSERT of ``columns`` (the bench's own constants, never input)."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"  # noqa: S608


def raw_sqlite_batches(directory: Path, batches: list[RowBatch]) -> list[float]:
    """Each batch's rows in one SQLite transaction, one executemany per table, into the
    ledger's own tables (its indexes too), WAL and synchronous=FULL as the ledger sets them:
    no verification, no Merkle tree, no HTTP."""
    path = directory / "raw-rows.db"
    db.create_schema(db.connect(f"sqlite:///{path}"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = OFF")  # the scratch tables have no sources
    blocks_sql = _insert_sql("blocks", BLOCK_COLUMNS, "?")
    voters_sql = _insert_sql("nullifiers", NULLIFIER_COLUMNS, "?")
    samples = []
    for block_rows, voter_rows in batches:

        def commit(
            b: list[tuple[object, ...]] = block_rows, v: list[tuple[object, ...]] = voter_rows
        ) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(blocks_sql, b)
            conn.executemany(voters_sql, v)
            conn.execute("COMMIT")

        samples.append(timed(commit))
    conn.close()
    return samples


def raw_postgres_batches(pg: PostgresServer, batches: list[RowBatch], *, copy: bool) -> list[float]:
    """The same on the private PostgreSQL server, in a database of its own with the ledger's
    tables: psycopg's executemany (pipelined), or with ``copy`` one COPY per table."""
    name = "raw_rows_copy" if copy else "raw_rows"
    url = pg.create_database(name)
    engine = db.connect(url)
    db.create_schema(engine)
    engine.dispose()
    samples = []
    with pg.connect(name) as conn:
        conn.execute("ALTER TABLE blocks DROP CONSTRAINT IF EXISTS blocks_kiosk_id_fkey")
        cursor = conn.cursor()
        blocks_sql = _insert_sql("blocks", BLOCK_COLUMNS, "%s")
        voters_sql = _insert_sql("nullifiers", NULLIFIER_COLUMNS, "%s")
        for block_rows, voter_rows in batches:

            def commit(
                b: list[tuple[object, ...]] = block_rows, v: list[tuple[object, ...]] = voter_rows
            ) -> None:
                with conn.transaction():
                    if copy:
                        _copy(cursor, "blocks", BLOCK_COLUMNS, b)
                        _copy(cursor, "nullifiers", NULLIFIER_COLUMNS, v)
                    else:
                        cursor.executemany(blocks_sql, b)
                        cursor.executemany(voters_sql, v)

            samples.append(timed(commit))
    pg.drop_database(name)
    return samples


def _copy(
    cursor: object, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]
) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row(row)
