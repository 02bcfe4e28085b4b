"""The integrator's side of the database: who integrates (one process, elected with a
PostgreSQL advisory lock or a lock file beside the SQLite database), one round of
integration in its own transaction, and the latest signed checkpoint."""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from kiosk.core.errors import HanpyoError
from ledger.store import schema as db
from ledger.store.merkle_log import Integrated, LogKey, integrate_pending

# The advisory lock's key: a fixed 64-bit number, one per database (each election has its own).
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"hanpyo/integrator").digest()[:8], "big", signed=True)
LEASE_CHECK_S = 1.0  # how often the advisory lock's connection is checked to be alive


class IntegrationError(HanpyoError):
    """The database failed during a round of integration; nothing of that round was kept."""


@dataclass(frozen=True, slots=True)
class Published:
    size: int
    checkpoint: str


class Lease(Protocol):
    """The right to be the one integrator, held until ``release`` or the process ends."""

    def acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...


class AdvisoryLease:
    """A PostgreSQL session advisory lock on a connection of its own: the server drops it when
    that connection ends, so a killed integrator's successor is elected at once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._checked = 0.0

    def acquire(self) -> bool:
        if self.held():
            return True
        try:
            conn = self._engine.connect()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            conn.commit()  # the lock is the session's, not the transaction's
        except SQLAlchemyError:
            return False
        if got:
            self._conn, self._checked = conn, time.monotonic()
        else:
            conn.close()
        return got

    def held(self) -> bool:
        """Whether the lock's connection is alive (a server restart ends the lease)."""
        if self._conn is None:
            return False
        if time.monotonic() - self._checked < LEASE_CHECK_S:
            return True
        self._checked = time.monotonic()
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except SQLAlchemyError:
            self._conn.invalidate()
            self._conn = None
        return self._conn is not None

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()
            except SQLAlchemyError:
                pass  # closing the connection drops it anyway
            conn.close()


class FileLease:
    """An exclusive lock (flock) on a file beside the SQLite database; the kernel drops it
    when the process holding it ends, however it ends."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


class ProcessLease:
    """For a database with no file (SQLite in memory): this process is the only one."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self) -> bool:
        self._held = True
        return True

    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


def lease_for(engine: Engine) -> Lease:
    """How integrators of this database elect one of them."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLease(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return ProcessLease()
    return FileLease(Path(database).with_name(Path(database).name + ".integrator"))


def integrate_round(engine: Engine, key: LogKey, limit: int) -> Integrated | None:
    """Extend the tree over up to ``limit`` sequenced leaves and sign a checkpoint, in one
    transaction; None when there was nothing new."""
    try:
        with engine.begin() as conn:
            return integrate_pending(conn, key, limit=limit)
    except SQLAlchemyError as e:
        raise IntegrationError(f"the database failed while extending the log: {e}") from e


def published(reader: Engine) -> Published:
    """The latest signed checkpoint and the size of its tree."""
    c = db.checkpoints.c
    with reader.connect() as conn:
        row = conn.execute(select(c.size, c.note).order_by(c.size.desc()).limit(1)).first()
    if row is None:
        raise IntegrationError("no checkpoint has been published")
    return Published(int(row.size), str(row.note))


def published_size(reader: Engine) -> int:
    with reader.connect() as conn:
        return int(
            conn.execute(select(db.log_state.c.size).where(db.log_state.c.id == 1)).scalar_one()
        )


def write_back_wal(engine: Engine) -> None:
    """On SQLite, copy the write-ahead log's committed pages into the database file (a
    PASSIVE checkpoint: it never blocks a reader or a writer), so that no request's commit
    has to; nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as e:
        raise IntegrationError(f"the write-ahead log could not be written back: {e}") from e
    finally:
        raw.close()
