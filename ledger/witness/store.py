"""The witness's own small store: its key, and per log the latest checkpoint it cosigned (one
SQLite file through the standard library), plus every validly signed checkpoint it refused,
kept as evidence of a log that showed two trees."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.secret_file import write_secret

KEY_FILE = "witness.key"  # "<name>\n<base64 seed>\n", mode 0600
DATABASE = "witness.db"
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size TEXT NOT NULL,  -- decimal: a tree size is a uint64, past SQLite's signed integers
    root BLOB NOT NULL,
    note TEXT NOT NULL,  -- the checkpoint with the log's signature and our cosignature
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL,  -- the whole add-checkpoint body, signed by the log
    received_at TEXT NOT NULL
);
"""


class WitnessSetupError(HanpyoError):
    """The witness directory is missing its key, or already has one."""


@dataclass(frozen=True, slots=True)
class WitnessIdentity:
    name: str
    key: SigningKey


@dataclass(frozen=True, slots=True)
class Latest:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True, slots=True)
class Refusal:
    origin: str
    status: int
    reason: str
    request: str


def create_identity(directory: Path, name: str) -> WitnessIdentity:
    """A new witness key named ``name`` in ``directory`` (owner-only; never replaced)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (directory / KEY_FILE).exists():
        raise WitnessSetupError(f"{directory / KEY_FILE} exists: this witness already has a key")
    key = SigningKey.generate()
    write_secret(directory / KEY_FILE, f"{name}\n{b64e(key.seed)}\n".encode())
    return WitnessIdentity(name, key)


def load_identity(directory: Path) -> WitnessIdentity:
    try:
        name, seed = (directory / KEY_FILE).read_text("utf-8").split("\n")[:2]
    except (OSError, ValueError) as e:
        raise WitnessSetupError(
            f"no witness key in {directory}: run `ledger witness init` first ({e})"
        ) from e
    return WitnessIdentity(name, SigningKey(b64d(seed, length=32, name="witness key")))


class WitnessStore:
    """The latest cosigned checkpoint per log. ``advance`` checks and records in one
    IMMEDIATE transaction, so two submissions can never roll the log back (tlog-witness,
    "add-checkpoint": the check and the update "must be performed atomically")."""

    def __init__(self, path: Path) -> None:
        self._path = path
        with self._connection() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # persisted before we answer
            yield conn
        finally:
            conn.close()

    def latest(self, origin: str) -> Latest | None:
        with self._connection() as conn:
            return _latest(conn, origin)

    def advance(self, origin: str, decide: Callable[[Latest | None], tuple[Latest, T]]) -> T:
        """Run ``decide`` on the stored checkpoint of ``origin`` and store what it returns,
        all under one write lock; ``decide`` raises to store nothing."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                new, answer = decide(_latest(conn, origin))
                conn.execute(
                    "INSERT INTO latest (origin, size, root, note, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                    "size = excluded.size, root = excluded.root, note = excluded.note, "
                    "updated_at = excluded.updated_at",
                    (origin, str(new.size), new.root, new.note, _now()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return answer

    def keep_refused(self, refusal: Refusal) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO refused (origin, status, reason, request, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (refusal.origin, refusal.status, refusal.reason, refusal.request, _now()),
            )

    def refused(self) -> list[Refusal]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT origin, status, reason, request FROM refused ORDER BY id"
            ).fetchall()
        return [Refusal(str(o), int(s), str(r), str(q)) for o, s, r, q in rows]


def _latest(conn: sqlite3.Connection, origin: str) -> Latest | None:
    row = conn.execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
    return None if row is None else Latest(int(row[0]), bytes(row[1]), str(row[2]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
