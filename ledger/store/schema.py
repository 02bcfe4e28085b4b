"""The ledger's tables in SQLAlchemy Core: one SQLite file by default, PostgreSQL for real use."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    create_engine,
    event,
    exc,
)
from sqlalchemy import (
    Engine as Engine,  # re-exported: the services name the type without importing SQLAlchemy
)

metadata = MetaData()

election = Table(
    "election",
    metadata,
    Column("id", Text, primary_key=True),
    Column("signed", Text, nullable=False),  # the signed package, as published to kiosks
    Column("package_hash", LargeBinary, nullable=False),
    Column("authority_key", LargeBinary, nullable=False),
    Column("log_origin", Text, nullable=False),  # the log's name in its checkpoints
)

sources = Table(
    "sources",
    metadata,
    Column("kiosk_id", Text, primary_key=True),
    Column("public_key", LargeBinary, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("location", Text, nullable=False, default=""),
    Column("channel", Text, nullable=False),
    Column("quarantined", Boolean, nullable=False, default=False),
    Column("quarantine_reason", Text),
    Column("enrolled_at", Text, nullable=False),
    # Why a source was enrolled after the election opened; public in the reconciliation.
    Column("late_reason", Text),
)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("kiosk_id", Text, ForeignKey("sources.kiosk_id"), primary_key=True),
    Column("height", BigInteger, nullable=False),
    Column("state", Text, nullable=False),  # kiosk.core.chain.state_to_json
)

blocks = Table(
    "blocks",
    metadata,
    Column("kiosk_id", Text, ForeignKey("sources.kiosk_id"), nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("tracking", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("encoded", LargeBinary, nullable=False),
    Column("leaf_index", BigInteger, nullable=False, unique=True),
    Column("received_at", Text, nullable=False),
    PrimaryKeyConstraint("kiosk_id", "height"),
    Index("blocks_tracking", "tracking"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kiosk_id", Text, ForeignKey("sources.kiosk_id"), nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("accepted_hash", LargeBinary, nullable=False),
    Column("conflicting", LargeBinary, nullable=False),  # the second signed block, verbatim
    Column("received_at", Text, nullable=False),
)

# The voter index: one row per ballot block, by the voter id that cast it. The table and its
# "nullifier" column keep protocol 1's names, so ledgers' databases keep their schema.
nullifiers = Table(
    "nullifiers",
    metadata,
    Column("nullifier", LargeBinary, nullable=False),
    Column("kind", Text, nullable=False),
    Column("kiosk_id", Text, nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("channel", Text, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    PrimaryKeyConstraint("kiosk_id", "height"),
    Index("nullifiers_lookup", "nullifier", "kind"),
)

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

log_state = Table(
    "log_state",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: the row every appender locks
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
)

# How many leaves have been sequenced: the next leaf index. Each batch's one short transaction
# advances it under its row lock; the integrator then extends the tree up to it (log_state.size
# is how far the tree and its signed checkpoints reach).
log_sequence = Table(
    "log_sequence",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("size", BigInteger, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True),
    Column("note", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("kiosk_id", Text, ForeignKey("sources.kiosk_id"), primary_key=True),
    Column("received_at", Text, nullable=False),
    Column("status", Text, nullable=False),  # the kiosk's last status report, as JSON
)

closure = Table(
    "closure",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: an election closes once
    Column("closed_at", Text, nullable=False),
    Column("size", BigInteger, nullable=False),  # the log's final size
    Column("checkpoint", Text, nullable=False),  # the signed checkpoint of that size
    Column("statement", Text, nullable=False),  # the close statement, a note signed by the log
    Column("waivers", Text, nullable=False),  # JSON: kiosk id -> the admin's recorded reason
)

# The sources and the equivocation evidence as they stood at the close, whose hashes the close
# statement signs: the record publishes these, not the tables as they are later (a fork that
# arrives after the close quarantines its kiosk and is kept in ``evidence``, but is not
# part of what the close signed). ledger/store/closed_lists.py.
closure_lists = Table(
    "closure_lists",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1, beside the closure's row
    Column("sources", Text, nullable=False),  # JSON: sources.json's entries
    Column("evidence", Text, nullable=False),  # JSON: evidence.json's entries
)

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("label", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    # What the token may do (space-separated scopes), until when, and whether it was revoked;
    # the prefix names the token in `ledger admin-token list|revoke` without revealing it.
    Column("scopes", Text, nullable=False, default=""),
    Column("expires_at", Text, nullable=False, default=""),
    Column("revoked_at", Text),
    Column("prefix", Text, nullable=False, default=""),
)


# The nonce of every signed kiosk request taken while its time is still acceptable, so that a
# captured request is refused when sent again, by whichever worker process gets it.
request_nonces = Table(
    "request_nonces",
    metadata,
    Column("kiosk_id", Text, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("signed_at", BigInteger, nullable=False),  # the request's signed time, Unix seconds
    PrimaryKeyConstraint("kiosk_id", "nonce"),
    Index("request_nonces_age", "signed_at"),
)


WAL_AUTOCHECKPOINT_PAGES = 20_000  # ~80 MB of WAL


def database_url(given: str | None, default_path: Path) -> str:
    """``given`` as it is, or an SQLite file at ``default_path``."""
    return given or f"sqlite:///{default_path}"


# How long a writer waits for its turn before the database counts as locked (as SQLite's own
# busy timeout did), and how often it looks.
WRITER_WAIT_S = 30.0
WRITER_POLL_S = 0.0005


class _QueuedWriterConnection(sqlite3.Connection):
    """An SQLite connection whose write transactions take turns on a lock file beside the
    database (``<db>-writer``), looked at every half millisecond, before ``BEGIN IMMEDIATE``.

    Why: SQLite's own busy handler, when a writer finds the write lock taken, sleeps 1, 2, 5,
    10, 15, 20, 25, ... up to 100 ms between looks. With two API workers, the integrator and
    eight kiosks uploading at once, writers slept while the lock was free: the machine stood
    a third idle while uploads queued (bench/REPORT.md). A writer now starts within half a
    millisecond of the last one's commit. The lock is given back when the transaction ends
    (commit, rollback, close), so a connection never holds it between transactions."""

    writer_lock: str | None = None
    _turn: int | None = None

    def take_write_turn(self) -> None:
        if self.writer_lock is None or self._turn is not None:
            return
        # O_NOFOLLOW: a link planted at the lock's name is refused, not followed and created
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(self.writer_lock, flags, 0o600)
        except OSError as e:
            raise sqlite3.OperationalError(
                f"cannot open the writers' lock file {self.writer_lock}: {e.strerror}"
            ) from e
        deadline = time.monotonic() + WRITER_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._turn = fd
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise sqlite3.OperationalError(
                        f"database is locked: another writer held it for {WRITER_WAIT_S:g} s"
                    ) from None
                time.sleep(WRITER_POLL_S)

    def give_back_write_turn(self) -> None:
        fd, self._turn = self._turn, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its lock

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_write_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_write_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back_write_turn()


def connect(url: str) -> Engine:
    """An engine for ``url``. SQLite gets WAL and immediate transactions, so that writers
    queue instead of failing when two of them upgrade a read lock at once; they queue on a
    lock file, not on SQLite's sleeping busy handler (``_QueuedWriterConnection``)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={
                "timeout": WRITER_WAIT_S,
                "check_same_thread": False,
                "factory": _QueuedWriterConnection,
            },
        )
        path = engine.url.database
        lock = None if not path or path == ":memory:" else f"{path}-writer"
        if os.environ.get("HANPYO_SQLITE_WRITERS") == "busy-handler":
            lock = None  # SQLite's own sleeping busy handler: only to measure against

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            dbapi_conn.writer_lock = lock
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            # The WAL is written back to the database by the integrator's process, off the
            # request path (ledger/service/integrator.py); this bound is only a safety net
            # for a ledger with no integrator running (a commit past it writes back).
            cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock at once, in turn; readers (see ``reader``) take a
            # WAL snapshot and never wait for a writer.
            if conn.get_execution_options().get("hanpyo_read", False):
                conn.exec_driver_sql("BEGIN")
                return
            raw = conn.connection.dbapi_connection
            try:
                raw.take_write_turn()
            except sqlite3.OperationalError as e:  # as SQLite's own "database is locked" came
                raise exc.OperationalError("BEGIN IMMEDIATE", None, e) from e
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                raw.give_back_write_turn()
                raise

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)


def reader(engine: Engine) -> Engine:
    """The same database for transactions that only read."""
    return engine.execution_options(hanpyo_read=True)
