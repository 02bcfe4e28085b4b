"""Reading the log's signed checkpoints as the ledger holds them, each with the witnesses'
cosignature lines the publisher added to it (ledger/publish/log_publisher.py): the note of one
size (the close's final checkpoint, for the record), and the newest one that meets a witness
policy and covers a given leaf (for the check page)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from ledger.store import schema as db
from ledger.store.log_health import COSIGNED_SEARCH, PAGE
from ledger.store.schema import Engine


def note_at(reader: Engine, size: int) -> str | None:
    """The note of the checkpoint of ``size``, with its cosignatures; None if there is none."""
    c = db.checkpoints.c
    with reader.connect() as conn:
        note = conn.execute(select(c.note).where(c.size == size)).scalar_one_or_none()
    return None if note is None else str(note)


def newest_meeting(
    reader: Engine, meets: Callable[[str], bool], covering: int
) -> tuple[int, str] | None:
    """The newest checkpoint of more than ``covering`` leaves whose note ``meets`` the policy,
    as (size, note); None if none of the newest COSIGNED_SEARCH does. Read newest first a page
    at a time: witnesses that are up cosigned one of the first few."""
    c = db.checkpoints.c
    below: int | None = None
    with reader.connect() as conn:
        for _ in range(COSIGNED_SEARCH // PAGE):
            page = select(c.size, c.note).where(c.size > covering)
            if below is not None:
                page = page.where(c.size < below)
            rows = conn.execute(page.order_by(c.size.desc()).limit(PAGE)).all()
            for size, note in rows:
                if meets(str(note)):
                    return int(size), str(note)
            if len(rows) < PAGE:
                return None
            below = int(rows[-1].size)
    return None
