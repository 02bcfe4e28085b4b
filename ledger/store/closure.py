"""The close record in the database, and the one transaction that freezes the log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from sqlalchemy import Engine, select

from ledger.rules.close_statement import Closure, RecordLists
from ledger.rules.errors import LedgerError
from ledger.store import schema as db
from ledger.store.closed_lists import keep_lists, lists_now
from ledger.store.merkle_log import LogKey, integrate_pending, lock_log, publish


def closure(reader: Engine) -> Closure | None:
    with reader.connect() as conn:
        row = conn.execute(select(db.closure)).first()
    if row is None:
        return None
    return Closure(
        row.closed_at, int(row.size), row.checkpoint, row.statement, json.loads(row.waivers)
    )


def freeze_log(
    engine: Engine,
    key: LogKey,
    closed_at: str,
    waivers: Mapping[str, str],
    sign_statement: Callable[[int, str, RecordLists], str],
) -> Closure:
    """Lock the log, make sure a checkpoint of its final size is published, and record the
    close with the statement ``sign_statement(size, checkpoint, lists)`` gives, in one
    transaction; ``lists`` (the sources and evidence as they stand) are kept with it."""
    with engine.begin() as conn:
        # Every block sequenced before the close goes into the final tree; holding the
        # sequence counter's lock, no batch is sequenced after it (it sees the close).
        while integrate_pending(conn, key, hold_sequence=True) is not None:
            pass
        log = lock_log(conn)  # no block can be appended while we close
        if conn.execute(select(db.closure.c.id)).first() is not None:
            raise LedgerError("election_closed", "the election is already closed")
        checkpoint = conn.execute(
            select(db.checkpoints.c.note).where(db.checkpoints.c.size == log.size)
        ).scalar_one_or_none()
        if checkpoint is None:
            checkpoint = publish(conn, log, key)
        lists = lists_now(conn)  # read in this transaction: what is signed is what is kept
        statement = sign_statement(log.size, checkpoint, lists)
        keep_lists(conn, lists)
        conn.execute(
            db.closure.insert().values(
                id=1,
                closed_at=closed_at,
                size=log.size,
                checkpoint=checkpoint,
                statement=statement,
                waivers=json.dumps(dict(waivers), ensure_ascii=False, sort_keys=True),
            )
        )
    return Closure(closed_at, log.size, checkpoint, statement, dict(waivers))
