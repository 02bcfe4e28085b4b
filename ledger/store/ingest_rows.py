"""The rows ingest reads and writes. Verification reads a snapshot with no lock (the source,
its chain head, the voters and blocks it already holds); then one short sequencing
transaction locks that source's own row, re-checks the head, takes leaf indices from the
sequence counter and writes the batch with one executemany per table."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.core.block import BlockKind, SignedBlock, ballot_identity
from kiosk.core.chain import ChainState, state_from_json, state_to_json
from ledger.store import request_nonces
from ledger.store import schema as db
from ledger.store.merkle_log import take_leaves
from ledger.store.request_nonces import RequestNonce


@dataclass(frozen=True, slots=True)
class EnrolledSource:
    public_key: bytes
    channel: str
    quarantined: bool
    quarantine_reason: str | None


@dataclass(frozen=True, slots=True)
class Fork:
    """A second block the kiosk signed at a height the ledger holds: evidence to keep."""

    height: int
    held: bytes  # the hash of the block the ledger holds
    conflicting: bytes  # the second signed block, verbatim


class Outcome(enum.Enum):
    SEQUENCED = "sequenced"
    HEAD_MOVED = "head_moved"  # another batch of this source got in first: verify again
    QUARANTINED = "quarantined"
    CLOSED = "closed"
    REPLAYED = "replayed"  # the request's nonce was taken meanwhile: nothing was written


@dataclass(frozen=True, slots=True)
class Sequenced:
    outcome: Outcome
    first_leaf: int = -1  # the leaf index of the batch's first new block
    reason: str | None = None  # why the source is quarantined


VOTER_QUERY_CHUNK = 500  # voter ids per IN list, well under SQLite's bound parameters


def _now() -> str:
    # To the microsecond: the integration delay is measured from it (bench/).
    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- before any lock ------------------------------------------------------------------------


@contextmanager
def snapshot(reader: Engine, kiosk_id: str) -> Iterator[SourceSnapshot]:
    """One read transaction (a WAL snapshot on SQLite) for verifying a batch; no lock."""
    with reader.connect() as conn:
        yield SourceSnapshot(conn, kiosk_id)


class SourceSnapshot:
    def __init__(self, conn: Connection, kiosk_id: str) -> None:
        self._conn, self.kiosk_id = conn, kiosk_id

    def source(self) -> EnrolledSource | None:
        row = self._conn.execute(
            select(db.sources).where(db.sources.c.kiosk_id == self.kiosk_id)
        ).first()
        if row is None:
            return None
        return EnrolledSource(
            bytes(row.public_key), row.channel, bool(row.quarantined), row.quarantine_reason
        )

    def is_closed(self) -> bool:
        return self._conn.execute(select(db.closure.c.closed_at)).first() is not None

    def head_state(self) -> ChainState:
        row = self._conn.execute(
            select(db.chain_heads.c.state).where(db.chain_heads.c.kiosk_id == self.kiosk_id)
        ).first()
        return ChainState() if row is None else state_from_json(json.loads(row[0]))

    def voters_held(
        self, ballots: Sequence[tuple[BlockKind, bytes]]
    ) -> set[tuple[BlockKind, bytes]]:
        """Which of ``ballots`` (kind, voter id) this source already recorded: one query for
        a whole batch, by the voter index (the table "nullifiers"), instead of one per
        ballot."""
        n = db.nullifiers.c
        wanted = {voter for _, voter in ballots}
        held: set[tuple[BlockKind, bytes]] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), VOTER_QUERY_CHUNK):
            rows = self._conn.execute(
                select(n.kind, n.nullifier).where(
                    n.nullifier.in_(ordered[start : start + VOTER_QUERY_CHUNK]),
                    n.kiosk_id == self.kiosk_id,
                )
            )
            held.update((BlockKind(r.kind), bytes(r.nullifier)) for r in rows)
        return held

    def held_hash(self, height: int) -> bytes | None:
        """The hash of the block the ledger holds at ``height``, if any."""
        row = self._conn.execute(
            select(db.blocks.c.hash).where(
                db.blocks.c.kiosk_id == self.kiosk_id, db.blocks.c.height == height
            )
        ).first()
        return None if row is None else bytes(row[0])


# -- the sequencing transaction -------------------------------------------------------------


def sequence(
    engine: Engine,
    kiosk_id: str,
    *,
    verified_from: int,
    blocks: Sequence[tuple[SignedBlock, bytes]],
    state: ChainState,
    channel: str,
    fork: Fork | None,
    nonce: RequestNonce | None = None,
) -> Sequenced:
    """Record ``blocks`` (verified from the head at height ``verified_from``) and their voter
    index rows, the new chain ``state``, any ``fork`` evidence and the upload request's
    ``nonce``, in one transaction that commits before this returns: what it acknowledges is
    durable. A nonce already taken rolls it all back (``Outcome.REPLAYED``).

    Concurrent batches of one source queue on that source's row (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite has a single writer): if the head moved since verification, nothing
    is written and the caller verifies again from the new head."""
    try:
        return _sequence(engine, kiosk_id, verified_from, blocks, state, channel, fork, nonce)
    except _ClosedMeanwhile:  # its transaction rolled back: nothing was written
        return Sequenced(Outcome.CLOSED)
    except _Replayed:  # the same
        return Sequenced(Outcome.REPLAYED)


class _ClosedMeanwhile(Exception):
    pass


class _Replayed(Exception):
    pass


def _sequence(
    engine: Engine,
    kiosk_id: str,
    verified_from: int,
    blocks: Sequence[tuple[SignedBlock, bytes]],
    state: ChainState,
    channel: str,
    fork: Fork | None,
    nonce: RequestNonce | None,
) -> Sequenced:
    with engine.begin() as conn:
        s = db.sources.c
        row = conn.execute(
            select(s.quarantined, s.quarantine_reason)
            .where(s.kiosk_id == kiosk_id)
            .with_for_update()
        ).first()
        if row is None or row.quarantined:
            return Sequenced(Outcome.QUARANTINED, reason=None if row is None else row[1])
        if _head_height(conn, kiosk_id) != verified_from:
            return Sequenced(Outcome.HEAD_MOVED)
        first = -1
        if blocks:
            first = take_leaves(conn, len(blocks))
            # After the counter's lock: a close that froze the log before us is seen here.
            if conn.execute(select(db.closure.c.id)).first() is not None:
                raise _ClosedMeanwhile
            _insert_blocks(conn, kiosk_id, blocks, channel, first)
            _save_head(conn, kiosk_id, state)
        if fork is not None:
            _record_fork(conn, kiosk_id, fork)
        if nonce is not None:
            try:
                request_nonces.record(conn, nonce)
            except IntegrityError as e:
                raise _Replayed from e  # leaving the block rolls the transaction back
        return Sequenced(Outcome.SEQUENCED, first)


def _head_height(conn: Connection, kiosk_id: str) -> int:
    height = conn.execute(
        select(db.chain_heads.c.height).where(db.chain_heads.c.kiosk_id == kiosk_id)
    ).scalar()
    return -1 if height is None else int(height)


def _insert_blocks(
    conn: Connection,
    kiosk_id: str,
    blocks: Sequence[tuple[SignedBlock, bytes]],
    channel: str,
    first: int,
) -> None:
    """One executemany for the blocks, one for the voter index."""
    now = _now()
    block_rows: list[dict[str, object]] = []
    voter_rows: list[dict[str, object]] = []
    for i, (signed, raw) in enumerate(blocks):
        block = signed.block
        block_rows.append(
            {
                "kiosk_id": kiosk_id,
                "height": block.height,
                "hash": signed.hash,
                "tracking": signed.tracking_code,
                "kind": block.kind.value,
                "encoded": raw,
                "leaf_index": first + i,
                "received_at": now,
            }
        )
        if block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
            voter_rows.append(
                {
                    "nullifier": ballot_identity(block.body),
                    "kind": block.kind.value,
                    "kiosk_id": kiosk_id,
                    "height": block.height,
                    "channel": channel,
                    "leaf_index": first + i,
                }
            )
    if conn.dialect.name == "postgresql":
        # COPY: half the time of psycopg's executemany for a batch's rows (bench/ledger_bench
        # measures both), in the same transaction.
        _copy(conn, db.blocks.name, block_rows)
        _copy(conn, db.nullifiers.name, voter_rows)
        return
    conn.execute(db.blocks.insert(), block_rows)
    if voter_rows:
        conn.execute(db.nullifiers.insert(), voter_rows)


def _copy(conn: Connection, table: str, rows: list[dict[str, object]]) -> None:
    """``rows`` into ``table`` by one COPY on the transaction's own connection."""
    if not rows:
        return
    columns = list(rows[0])
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    # Table and column names are the schema's own, never input.
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _save_head(conn: Connection, kiosk_id: str, state: ChainState) -> None:
    text = json.dumps(state_to_json(state))
    updated = conn.execute(
        update(db.chain_heads)
        .where(db.chain_heads.c.kiosk_id == kiosk_id)
        .values(height=state.height, state=text)
    )
    if updated.rowcount == 0:
        conn.execute(
            db.chain_heads.insert().values(kiosk_id=kiosk_id, height=state.height, state=text)
        )


def _record_fork(conn: Connection, kiosk_id: str, fork: Fork) -> None:
    """Keep the second signed block as evidence and quarantine the kiosk."""
    conn.execute(
        db.evidence.insert().values(
            kiosk_id=kiosk_id,
            height=fork.height,
            accepted_hash=fork.held,
            conflicting=fork.conflicting,
            received_at=_now(),
        )
    )
    conn.execute(
        update(db.sources)
        .where(db.sources.c.kiosk_id == kiosk_id)
        .values(
            quarantined=True,
            quarantine_reason=f"two different signed blocks at height {fork.height}",
        )
    )
