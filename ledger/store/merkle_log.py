"""The Merkle log kept in the ledger database, and the checkpoints signed over it.

Leaves are sequenced first (``log_sequence``: a batch's blocks get their leaf indices in one
short transaction) and integrated after (``integrate_pending``: the tree is extended up to the
sequenced size and a checkpoint signed), so no upload waits on another's tree work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.merkle import EMPTY_ROOT, MerkleLog, MerkleLogError, leaf_hash
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
            # to the microsecond: the integration delay is measured from it (bench/)
            size=log.size,
            note=note,
            created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        )
    )
    return note


def initialise(conn: Connection, key: LogKey) -> None:
    """Create the empty log, its sequence counter and its first checkpoint, once."""
    if conn.execute(select(db.log_state.c.id)).first() is None:
        conn.execute(db.log_state.insert().values(id=1, size=0, root=EMPTY_ROOT))
        publish(conn, MerkleLog(SqlNodeStore(conn), 0), key)
    if conn.execute(select(db.log_sequence.c.id)).first() is None:
        conn.execute(db.log_sequence.insert().values(id=1, size=_leaves_held(conn)))


def _leaves_held(conn: Connection) -> int:
    """The next leaf index by the blocks held: a ledger made before sequencing was separate
    had every block in its tree, so this is also its log size."""
    top = conn.execute(select(func.max(db.blocks.c.leaf_index))).scalar()
    return 0 if top is None else int(top) + 1


def ensure_sequence(engine: Engine) -> None:
    """Give a ledger made before sequencing was separate its counter, or bring the counter
    up to the blocks held. Several workers may race to create it: the loser finds it there."""
    try:
        db.log_sequence.create(engine, checkfirst=True)
    except SQLAlchemyError:
        if not inspect(engine).has_table(db.log_sequence.name):
            raise
    try:
        with engine.begin() as conn:
            held = _leaves_held(conn)
            if conn.execute(select(db.log_sequence.c.id)).first() is None:
                conn.execute(db.log_sequence.insert().values(id=1, size=held))
            else:
                # Blocks written straight into the tables (a bulk load, an older tool) are
                # sequenced too; the counter never goes back.
                conn.execute(
                    update(db.log_sequence)
                    .where(db.log_sequence.c.id == 1, db.log_sequence.c.size < held)
                    .values(size=held)
                )
    except IntegrityError:
        pass  # another worker inserted it first


def take_leaves(conn: Connection, count: int) -> int:
    """Advance the sequence counter by ``count`` under its row lock (held until this
    transaction ends, so leaf indices are given in commit order); the first index taken."""
    row = conn.execute(
        update(db.log_sequence)
        .where(db.log_sequence.c.id == 1)
        .values(size=db.log_sequence.c.size + count)
        .returning(db.log_sequence.c.size)
    ).first()
    if row is None:
        raise MerkleLogError("the ledger database has no sequence counter")
    return int(row[0]) - count


def sequenced_size(conn: Connection, *, lock: bool = False) -> int:
    """How many leaves have been sequenced; with ``lock``, no batch is sequenced until this
    transaction ends (the close takes it so that nothing slips in after the final tree)."""
    query = select(db.log_sequence.c.size).where(db.log_sequence.c.id == 1)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise MerkleLogError("the ledger database has no sequence counter")
    return int(row[0])


@dataclass(frozen=True, slots=True)
class Integrated:
    """A checkpoint the integrator signed: the tree now holds ``size`` leaves."""

    size: int
    checkpoint: str
    added: int  # leaves this round added


def integrate_pending(
    conn: Connection, key: LogKey, *, limit: int | None = None, hold_sequence: bool = False
) -> Integrated | None:
    """Extend the tree over the sequenced leaves it lacks (at most ``limit``) and sign a
    checkpoint for it, in the caller's transaction; None when there is nothing new.

    The log's row lock makes concurrent integrators queue (the election only saves them the
    wait), so the tree is always extended once per leaf. Every leaf below the counter is
    committed: batches take the counter under its row lock and hold it until they commit."""
    log = lock_log(conn)
    target = sequenced_size(conn, lock=hold_sequence)
    if limit is not None:
        target = min(target, log.size + limit)
    if target <= log.size:
        return None
    b = db.blocks.c
    rows = conn.execute(
        select(b.leaf_index, b.encoded)
        .where(b.leaf_index >= log.size, b.leaf_index < target)
        .order_by(b.leaf_index)
    ).all()
    if [int(r.leaf_index) for r in rows] != list(range(log.size, target)):
        raise MerkleLogError(
            f"leaves {log.size}..{target - 1} are sequenced but not all held: the database "
            "lost blocks"
        )
    added = target - log.size
    log.append([leaf_hash(bytes(r.encoded)) for r in rows])
    return Integrated(log.size, publish(conn, log, key), added)


def latest_checkpoint(conn: Connection) -> str:
    row = conn.execute(
        select(db.checkpoints.c.note).order_by(db.checkpoints.c.size.desc()).limit(1)
    ).first()
    if row is None:
        raise MerkleLogError("no checkpoint has been published")
    return str(row[0])
