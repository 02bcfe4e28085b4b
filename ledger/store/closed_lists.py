"""The sources and the equivocation evidence as they stood at the close: read in the close's
own transaction (so the list the log key signs is the list kept), kept beside the close record,
and read back for the record (``sources.json``, ``evidence.json``) and the trustees'
``--ledger-data``. docs/spec/record.md §1 and §2.4."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, select

from kiosk.core.encoding import b64e
from ledger.rules.close_statement import RecordLists
from ledger.store import schema as db


def lists_now(conn: Connection) -> RecordLists:
    """Every enrolled source (by name, then id) and every evidence entry (in arrival order),
    in the record's form, as ``conn`` sees them."""
    s = db.sources.c
    rows = conn.execute(select(db.sources).order_by(s.name, s.kiosk_id)).all()
    sources = tuple(
        {
            "kiosk": r.kiosk_id,
            "public_key": b64e(bytes(r.public_key)),
            "name": r.name,
            "channel": r.channel,
            "quarantined": bool(r.quarantined),
        }
        for r in rows
    )
    found = conn.execute(select(db.evidence).order_by(db.evidence.c.id)).all()
    evidence = tuple(
        {"kiosk": r.kiosk_id, "height": int(r.height), "block": bytes(r.conflicting).decode()}
        for r in found
    )
    return RecordLists(sources, evidence)


def keep_lists(conn: Connection, lists: RecordLists) -> None:
    """Store ``lists`` as the close's, once. The table is made here if a database created
    before it existed is being closed (CREATE TABLE is transactional in SQLite and PostgreSQL)."""
    db.closure_lists.create(conn, checkfirst=True)
    conn.execute(
        db.closure_lists.insert().values(
            id=1,
            sources=json.dumps(list(lists.sources), ensure_ascii=False),
            evidence=json.dumps(list(lists.evidence), ensure_ascii=False),
        )
    )


def closed_lists(reader: Engine) -> RecordLists | None:
    """The lists kept at the close, or None while the election is open (or for a close made
    before they were kept)."""
    with reader.connect() as conn:
        if not reader.dialect.has_table(conn, db.closure_lists.name):
            return None
        row = conn.execute(select(db.closure_lists)).first()
    if row is None:
        return None
    return RecordLists(tuple(json.loads(row.sources)), tuple(json.loads(row.evidence)))


def record_lists(reader: Engine) -> RecordLists:
    """The lists a record shows: those kept at the close, or before it, as they stand now."""
    kept = closed_lists(reader)
    if kept is not None:
        return kept
    with reader.connect() as conn:
        return lists_now(conn)
