"""Where the log holds a run of one source's blocks: height -> (leaf index, block hash), read
in one query, so that a kiosk that restarted learns where its already-held blocks are with one
request instead of one per block (it then proves each against a checkpoint it verified)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from ledger.store import schema as db

MAX_HEIGHTS = 10_000  # heights per question: a kiosk's day of catch-up in one answer
MAX_HEIGHT = 2**63 - 1  # the largest height a BigInteger column holds


@dataclass(frozen=True, slots=True)
class HeldBlock:
    height: int
    leaf_index: int
    hash: bytes


def held_blocks(reader: Engine, kiosk_id: str, first: int, count: int) -> list[HeldBlock]:
    """The blocks of ``kiosk_id`` at heights ``first`` .. ``first + count - 1`` that the log
    holds, by height (a height it lacks is simply absent)."""
    last = min(first + count - 1, MAX_HEIGHT)  # a 64-bit column: never bind past it
    with reader.connect() as conn:
        rows = conn.execute(
            select(db.blocks.c.height, db.blocks.c.leaf_index, db.blocks.c.hash)
            .where(
                db.blocks.c.kiosk_id == kiosk_id,
                db.blocks.c.height.between(first, last),
            )
            .order_by(db.blocks.c.height)
        ).all()
    return [HeldBlock(int(r.height), int(r.leaf_index), bytes(r.hash)) for r in rows]
