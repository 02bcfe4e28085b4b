"""Reading the log: heads, checkpoints, inclusion and consistency proofs, tracking codes,
nullifiers, and the blocks in log order for the tally and the bundle."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from ledger.rules.errors import LedgerError
from ledger.store import schema as db
from ledger.store.merkle_log import latest_checkpoint, read_log

MAX_RANGE = 1000  # proofs per range request: one upload batch at most


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    size: int
    proof: list[bytes]
    block: bytes  # the signed block, verbatim: the leaf is its hash
    checkpoint: str  # the signed checkpoint of the tree of ``size``


@dataclass(frozen=True, slots=True)
class Evidence:
    """The second of two signed blocks a kiosk made at one height, kept verbatim."""

    kiosk: str
    height: int
    conflicting: bytes


@dataclass(frozen=True, slots=True)
class LoggedBallot:
    """An official ballot's place in the log."""

    leaf_index: int
    kiosk: str
    height: int


def head(reader: Engine, kiosk_id: str) -> tuple[int, bytes | None]:
    with reader.connect() as conn:
        row = conn.execute(
            select(db.blocks.c.height, db.blocks.c.hash)
            .where(db.blocks.c.kiosk_id == kiosk_id)
            .order_by(db.blocks.c.height.desc())
            .limit(1)
        ).first()
    return (-1, None) if row is None else (int(row.height), bytes(row.hash))


def checkpoint(reader: Engine) -> str:
    with reader.connect() as conn:
        return latest_checkpoint(conn)


def log_size(reader: Engine) -> int:
    with reader.connect() as conn:
        return read_log(conn).size


def inclusion(reader: Engine, leaf_index: int, size: int | None = None) -> InclusionProof:
    """The proof for ``leaf_index`` in the tree of a published checkpoint (the latest, or
    the one of ``size``), read with that checkpoint in one snapshot so the two agree."""
    with reader.begin() as conn:
        query = select(db.checkpoints.c.size, db.checkpoints.c.note)
        query = (
            query.order_by(db.checkpoints.c.size.desc()).limit(1)
            if size is None
            else query.where(db.checkpoints.c.size == size)
        )
        row = conn.execute(query).first()
        if row is None:
            raise LedgerError("not_found", f"no checkpoint was published at size {size}")
        size = int(row.size)
        log = read_log(conn)  # read after the checkpoint: the log only grows
        if not 0 <= leaf_index < size <= log.size:
            raise LedgerError(
                "out_of_range",
                f"leaf {leaf_index} is not in a log of size {size} (the log holds {log.size})",
            )
        block = conn.execute(
            select(db.blocks.c.encoded).where(db.blocks.c.leaf_index == leaf_index)
        ).scalar_one()
        return InclusionProof(
            leaf_index, size, log.inclusion_proof(leaf_index, size), bytes(block), str(row.note)
        )


def inclusion_range(reader: Engine, first: int, count: int, size: int) -> list[list[bytes]]:
    """Inclusion proofs for leaves ``first`` .. ``first + count - 1`` in the tree of the
    published checkpoint of ``size``: one request proves a whole uploaded batch."""
    with reader.begin() as conn:
        published = conn.execute(
            select(db.checkpoints.c.size).where(db.checkpoints.c.size == size)
        ).first()
        if published is None:
            raise LedgerError("not_found", f"no checkpoint was published at size {size}")
        log = read_log(conn)
        if not (first >= 0 and 1 <= count <= MAX_RANGE and first + count <= size <= log.size):
            raise LedgerError(
                "out_of_range",
                f"leaves {first}..{first + count - 1} are not "
                f"all in the tree of size {size} (at most {MAX_RANGE})",
            )
        return [log.inclusion_proof(i, size) for i in range(first, first + count)]


def consistency(reader: Engine, old_size: int, new_size: int) -> list[bytes]:
    with reader.connect() as conn:
        log = read_log(conn)
        if not 0 <= old_size <= new_size <= log.size:
            raise LedgerError(
                "out_of_range",
                f"sizes {old_size}..{new_size} are not within the log's {log.size}",
            )
        return log.consistency_proof(old_size, new_size)


def leaf_of_tracking_code(reader: Engine, normalised: str) -> int | None:
    with reader.connect() as conn:
        row = conn.execute(
            select(db.blocks.c.leaf_index).where(db.blocks.c.tracking == normalised)
        ).first()
    return None if row is None else int(row[0])


def ballot_channels(reader: Engine, voter: bytes) -> list[str]:
    """The channels through which ``voter`` (a voter id) cast an official ballot (empty:
    none)."""
    with reader.connect() as conn:
        rows = conn.execute(
            select(db.nullifiers.c.channel)
            .where(db.nullifiers.c.nullifier == voter, db.nullifiers.c.kind == "ballot")
            .distinct()
        ).all()
    return sorted(r[0] for r in rows)


def blocks_in_log_order(reader: Engine) -> Iterator[bytes]:
    """Every accepted signed block, verbatim, in log order, streamed."""
    with reader.connect() as conn:
        for row in conn.execute(select(db.blocks.c.encoded).order_by(db.blocks.c.leaf_index)):
            yield bytes(row.encoded)


def chain(reader: Engine, kiosk_id: str) -> Iterator[bytes]:
    """One source's signed blocks, verbatim, in height order, streamed."""
    b = db.blocks.c
    with reader.connect() as conn:
        for row in conn.execute(select(b.encoded).where(b.kiosk_id == kiosk_id).order_by(b.height)):
            yield bytes(row.encoded)


def evidence(reader: Engine) -> list[Evidence]:
    with reader.connect() as conn:
        rows = conn.execute(select(db.evidence)).all()
    return [Evidence(r.kiosk_id, int(r.height), bytes(r.conflicting)) for r in rows]


def official_ballots(reader: Engine, size: int) -> list[LoggedBallot]:
    """Every official ballot in the first ``size`` leaves of the log, in log order."""
    b = db.blocks.c
    with reader.connect() as conn:
        rows = conn.execute(
            select(b.leaf_index, b.kiosk_id, b.height)
            .where(b.kind == "ballot", b.leaf_index < size)
            .order_by(b.leaf_index)
        )
        return [LoggedBallot(int(r.leaf_index), r.kiosk_id, int(r.height)) for r in rows]


def blocks_at(reader: Engine, leaf_indexes: Iterable[Sequence[int]]) -> Iterator[dict[int, bytes]]:
    """For each group of leaf indexes, the signed blocks at those leaves, read in one
    connection while the caller works through the groups."""
    b = db.blocks.c
    with reader.connect() as conn:
        for group in leaf_indexes:
            rows = conn.execute(
                select(b.leaf_index, b.encoded).where(b.leaf_index.in_(list(group)))
            ).all()
            yield {int(r.leaf_index): bytes(r.encoded) for r in rows}
