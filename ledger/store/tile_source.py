"""What the tile writer and the witness submitter read from the ledger database: leaf hashes
and entries by leaf range, the latest checkpoint, consistency proofs; and where the
cosignatures the witnesses return are kept (on the checkpoint's own note)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from kiosk.core.merkle import MerkleLogError
from ledger.store import schema as db
from ledger.store.merkle_log import read_log


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    note: str  # the signed note, with the cosignatures gathered so far


def leaf_hashes(engine: Engine, start: int, end: int) -> list[bytes]:
    """The leaf hashes of leaves ``start .. end - 1``, as the tree stores them (level 0)."""
    n = db.merkle_nodes.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(n.idx, n.hash).where(n.level == 0, n.idx >= start, n.idx < end).order_by(n.idx)
        ).all()
    return _in_order(rows, start, end, "leaf hash")


def entries(engine: Engine, start: int, end: int) -> list[bytes]:
    """The entries of leaves ``start .. end - 1``: each signed block, verbatim, which is the
    data its leaf hashes (``leaf_hash(encoded)`` at ingest)."""
    b = db.blocks.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(b.leaf_index, b.encoded)
            .where(b.leaf_index >= start, b.leaf_index < end)
            .order_by(b.leaf_index)
        ).all()
    return _in_order(rows, start, end, "block")


def latest(engine: Engine) -> StoredCheckpoint:
    c = db.checkpoints.c
    with engine.connect() as conn:
        row = conn.execute(select(c.size, c.note).order_by(c.size.desc()).limit(1)).first()
    if row is None:
        raise MerkleLogError("no checkpoint has been published")
    return StoredCheckpoint(int(row.size), str(row.note))


def consistency_proof(engine: Engine, old_size: int, new_size: int) -> list[bytes]:
    with engine.connect() as conn:
        return read_log(conn).consistency_proof(old_size, new_size)


def record_cosigned(engine: Engine, size: int, signed: str, cosigned: str) -> bool:
    """Replace the note of checkpoint ``size`` by ``cosigned`` (the same note with the
    witnesses' cosignature lines added) if it still reads ``signed``; False if it changed."""
    c = db.checkpoints.c
    with engine.begin() as conn:
        done = conn.execute(
            update(db.checkpoints).where(c.size == size, c.note == signed).values(note=cosigned)
        )
        return done.rowcount == 1


def _in_order(rows: Sequence[Any], start: int, end: int, what: str) -> list[bytes]:
    out: list[bytes] = []
    for index, value in rows:
        if int(index) != start + len(out):
            raise MerkleLogError(f"the ledger database lacks {what} {start + len(out)}")
        out.append(bytes(value))
    if len(out) != end - start:
        raise MerkleLogError(f"the ledger database lacks {what} {start + len(out)}")
    return out
