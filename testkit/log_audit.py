"""Reading a ledger's database as an auditor would: every checkpoint it signed must be over
exactly the blocks it holds in leaf order, each block once. For the ledger's tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.merkle import leaf_hash, root_from_leaves
from ledger.store import schema as db


@dataclass(frozen=True, slots=True)
class Audit:
    blocks: int  # rows in ``blocks``
    tree: int  # the size of the latest signed checkpoint
    checkpoints: int  # signed checkpoints, each over the blocks it claims


def audit_log(engine: Engine, log_key: str) -> Audit:
    """Check that leaf indices are 0..n-1 with no gap, and that every signed checkpoint's root
    is the root of the first ``size`` blocks in leaf order. AssertionError names the first
    fault."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(db.blocks.c.leaf_index, db.blocks.c.encoded).order_by(db.blocks.c.leaf_index)
        ).all()
        notes = conn.execute(select(db.checkpoints.c.note).order_by(db.checkpoints.c.size)).all()
    indices = [int(r.leaf_index) for r in rows]
    assert indices == list(range(len(rows))), "leaf indices have a gap or a repeat"
    leaves = [leaf_hash(bytes(r.encoded)) for r in rows]
    sizes = []
    for (note,) in notes:
        checkpoint = verify_checkpoint(note, log_key)
        assert checkpoint.size <= len(leaves), f"checkpoint {checkpoint.size} past the blocks"
        assert checkpoint.root == root_from_leaves(leaves[: checkpoint.size]), (
            f"the checkpoint of size {checkpoint.size} is not over the blocks held"
        )
        sizes.append(checkpoint.size)
    assert len(set(sizes)) == len(sizes), "two checkpoints of one size"
    return Audit(len(rows), max(sizes, default=0), len(sizes))
