"""The Merkle log kept in the ledger database, and the checkpoints signed over it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.merkle import EMPTY_ROOT, MerkleLog, MerkleLogError
from ledger.store import schema as db


@dataclass(frozen=True, slots=True)
class LogKey:
    """The log's identity: its origin line (also the note key name) and its signing key."""

    origin: str
    key: SigningKey

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.origin, self.key.public_key)


class SqlNodeStore:
    """``merkle.NodeStore`` on the ``merkle_nodes`` table, inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, level: int, index: int) -> bytes:
        row = self._conn.execute(
            select(db.merkle_nodes.c.hash).where(
                db.merkle_nodes.c.level == level, db.merkle_nodes.c.idx == index
            )
        ).first()
        if row is None:
            raise MerkleLogError(f"the log database lacks node ({level}, {index})")
        return bytes(row[0])

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None:
        if not nodes:
            return
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(db.merkle_nodes)
        # Overwrite: a node past the committed size may be left by an append that rolled back.
        statement = statement.on_conflict_do_update(
            index_elements=["level", "idx"], set_={"hash": statement.excluded.hash}
        )
        self._conn.execute(statement, [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes])


def lock_log(conn: Connection) -> MerkleLog:
    """The log at its committed size, with its state row locked until the transaction ends.

    On PostgreSQL the row lock queues concurrent appenders from every worker; SQLite
    transactions here begin IMMEDIATE, which does the same.
    """
    row = conn.execute(
        select(db.log_state.c.size).where(db.log_state.c.id == 1).with_for_update()
    ).first()
    if row is None:
        raise MerkleLogError("the ledger database is not initialised (no log state)")
    return MerkleLog(SqlNodeStore(conn), int(row[0]))


def read_log(conn: Connection, size: int | None = None) -> MerkleLog:
    row = conn.execute(select(db.log_state.c.size).where(db.log_state.c.id == 1)).first()
    if row is None:
        raise MerkleLogError("the ledger database is not initialised (no log state)")
    return MerkleLog(SqlNodeStore(conn), int(row[0]) if size is None else size)


def publish(conn: Connection, log: MerkleLog, key: LogKey) -> str:
    """Record the log's new size and root, and sign a checkpoint for it."""
    root = log.root()
    conn.execute(
        update(db.log_state).where(db.log_state.c.id == 1).values(size=log.size, root=root)
    )
    note = sign_checkpoint(key.origin, log.size, root, key.origin, key.key)
    conn.execute(
        db.checkpoints.insert().values(
            size=log.size, note=note, created_at=datetime.now(UTC).isoformat(timespec="seconds")
        )
    )
    return note


def initialise(conn: Connection, key: LogKey) -> None:
    """Create the empty log and its first checkpoint, once."""
    if conn.execute(select(db.log_state.c.id)).first() is None:
        conn.execute(db.log_state.insert().values(id=1, size=0, root=EMPTY_ROOT))
        publish(conn, MerkleLog(SqlNodeStore(conn), 0), key)


def latest_checkpoint(conn: Connection) -> str:
    row = conn.execute(
        select(db.checkpoints.c.note).order_by(db.checkpoints.c.size.desc()).limit(1)
    ).first()
    if row is None:
        raise MerkleLogError("no checkpoint has been published")
    return str(row[0])
