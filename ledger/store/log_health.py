"""What the dashboard's log panel reads from the database: how far ingest has sequenced and how
far the signed tree reaches, how long the oldest leaf not yet in the tree has waited, the newest
checkpoint's age, the newest checkpoint a witness cosigned, and on PostgreSQL whether commits
wait for a synchronous standby. Reads only; every figure it cannot know is None."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.store import schema as db
from ledger.store.schema import Engine

# How many of the newest checkpoints are searched for a witness's cosignature: the publisher
# asks for one about every second, so this is more than an hour back, and the read stays short
# on a log with a checkpoint a second for a whole election day.
COSIGNED_SEARCH = 4096
PAGE = 64


@dataclass(frozen=True, slots=True)
class LogProgress:
    sequenced: int  # leaves ingest has sequenced (acknowledged blocks)
    integrated: int  # leaves in the signed tree
    oldest_waiting_at: datetime | None  # when the oldest leaf not in the tree was received
    checkpoint_size: int | None
    checkpoint_at: datetime | None  # when the newest checkpoint was signed


@dataclass(frozen=True, slots=True)
class Replica:
    name: str
    state: str | None  # pg_stat_replication.state: streaming, catchup...
    sync_state: str | None  # sync, potential, quorum, async
    replay_lag_s: float | None  # None: not shown to this role, or no WAL to replay lately


@dataclass(frozen=True, slots=True)
class Standby:
    """On PostgreSQL: whether a commit waits for a standby, and the standbys connected."""

    synchronous_names: str
    synchronous_commit: str
    replicas: tuple[Replica, ...]


def progress(reader: Engine) -> LogProgress:
    """The log's sizes and ages. The tree's size is read first: the tree only ever catches up
    with the sequence, so the sequence read after it is never reported behind it (each read
    may see a later commit than the one before, on either database)."""
    with reader.connect() as conn:
        q, t = db.log_sequence.c, db.log_state.c
        integrated = int(conn.execute(select(t.size).where(t.id == 1)).scalar_one())
        sequenced = int(conn.execute(select(q.size).where(q.id == 1)).scalar_one())
        waiting = None
        if sequenced > integrated:  # the first leaf the integrator has not taken yet
            b = db.blocks.c
            waiting = conn.execute(
                select(b.received_at).where(b.leaf_index == integrated)
            ).scalar_one_or_none()
        c = db.checkpoints.c
        head = conn.execute(select(c.size, c.created_at).order_by(c.size.desc()).limit(1)).first()
    return LogProgress(
        sequenced,
        integrated,
        _time(waiting),
        None if head is None else int(head.size),
        None if head is None else _time(head.created_at),
    )


def newest_cosigned(
    reader: Engine, name: str, carries: Callable[[str], bool]
) -> tuple[int, str] | None:
    """The newest of the last COSIGNED_SEARCH checkpoints whose note ``carries`` the witness
    ``name``'s cosignature (size, note); None if none does. Read newest first a page at a time
    (a witness that is up cosigned one of the first few); the SQL only narrows each page to
    notes naming the witness, and ``carries`` verifies the line."""
    c = db.checkpoints.c
    below: int | None = None
    with reader.connect() as conn:
        for _ in range(COSIGNED_SEARCH // PAGE):
            page = select(c.size, c.note).order_by(c.size.desc()).limit(PAGE)
            if below is not None:
                page = page.where(c.size < below)
            rows = conn.execute(page).all()
            for size, note in rows:
                if f"\n— {name} " in note and carries(str(note)):
                    return int(size), str(note)
            if len(rows) < PAGE:
                return None
            below = int(rows[-1].size)
    return None


def standby(reader: Engine) -> Standby | None:
    """None on SQLite (one machine, no standby). On PostgreSQL, the settings that decide
    whether a commit waits for a standby's disk, and pg_stat_replication's rows: a role
    without pg_monitor sees the rows with their details left empty, which stay None here."""
    if reader.dialect.name != "postgresql":
        return None
    with reader.connect() as conn:
        names = str(conn.execute(text("SHOW synchronous_standby_names")).scalar_one())
        commit = str(conn.execute(text("SHOW synchronous_commit")).scalar_one())
        try:
            rows = conn.execute(
                text(
                    "SELECT application_name, state, sync_state,"
                    " EXTRACT(EPOCH FROM replay_lag) AS lag FROM pg_stat_replication"
                    " ORDER BY application_name"
                )
            ).all()
        except SQLAlchemyError:
            rows = []
    replicas = tuple(
        Replica(
            str(r.application_name or "?"),
            None if r.state is None else str(r.state),
            None if r.sync_state is None else str(r.sync_state),
            None if r.lag is None else float(r.lag),
        )
        for r in rows
    )
    return Standby(names, commit, replicas)


def _time(value: object) -> datetime | None:
    # Stored as ISO 8601 with its offset (ingest and the integrator write UTC).
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
