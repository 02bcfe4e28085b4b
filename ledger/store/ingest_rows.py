"""The rows one ingest transaction reads and writes: the source, its chain head, its blocks and
nullifiers, fork evidence and quarantine, all inside the transaction that holds the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update

from kiosk.core.block import BlockKind, SignedBlock, body_bytes
from kiosk.core.chain import ChainState, state_from_json, state_to_json
from kiosk.core.merkle import MerkleLog
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey, lock_log, publish


@dataclass(frozen=True, slots=True)
class EnrolledSource:
    public_key: bytes
    channel: str
    quarantined: bool
    quarantine_reason: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def ingest_transaction(engine: Engine, kiosk_id: str) -> Iterator[IngestRows]:
    """One write transaction for a batch of ``kiosk_id``'s blocks; it commits at the end."""
    with engine.begin() as conn:
        yield IngestRows(conn, kiosk_id)


class IngestRows:
    def __init__(self, conn: Connection, kiosk_id: str) -> None:
        self._conn, self.kiosk_id = conn, kiosk_id

    def lock_log(self) -> MerkleLog:
        """The log, locked: from here on this transaction is the only appender."""
        return lock_log(self._conn)

    def publish(self, log: MerkleLog, key: LogKey) -> str:
        return publish(self._conn, log, key)

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

    def save_head(self, state: ChainState) -> None:
        text = json.dumps(state_to_json(state))
        updated = self._conn.execute(
            update(db.chain_heads)
            .where(db.chain_heads.c.kiosk_id == self.kiosk_id)
            .values(height=state.height, state=text)
        )
        if updated.rowcount == 0:
            self._conn.execute(
                db.chain_heads.insert().values(
                    kiosk_id=self.kiosk_id, height=state.height, state=text
                )
            )

    def record_block(self, signed: SignedBlock, raw: bytes, channel: str, leaf_index: int) -> None:
        """The block at ``leaf_index``, and its nullifier when it is a ballot."""
        block = signed.block
        self._conn.execute(
            db.blocks.insert().values(
                kiosk_id=self.kiosk_id,
                height=block.height,
                hash=signed.hash,
                tracking=signed.tracking_code,
                kind=block.kind.value,
                encoded=raw,
                leaf_index=leaf_index,
                received_at=_now(),
            )
        )
        if block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
            self._conn.execute(
                db.nullifiers.insert().values(
                    nullifier=body_bytes(block.body, "nullifier"),
                    kind=block.kind.value,
                    kiosk_id=self.kiosk_id,
                    height=block.height,
                    channel=channel,
                    leaf_index=leaf_index,
                )
            )

    def voted_here(self, kind: BlockKind, nullifier: bytes) -> bool:
        """Whether this source already recorded a ballot of ``kind`` for ``nullifier``."""
        n = db.nullifiers.c
        row = self._conn.execute(
            select(n.height).where(
                n.nullifier == nullifier, n.kind == kind.value, n.kiosk_id == self.kiosk_id
            )
        ).first()
        return row is not None

    def held_hash(self, height: int) -> bytes | None:
        """The hash of the block the ledger holds at ``height``, if it is committed."""
        row = self._conn.execute(
            select(db.blocks.c.hash).where(
                db.blocks.c.kiosk_id == self.kiosk_id, db.blocks.c.height == height
            )
        ).first()
        return None if row is None else bytes(row[0])

    def record_fork(self, height: int, held: bytes, conflicting: bytes) -> None:
        """Keep the second signed block at ``height`` as evidence and quarantine the kiosk."""
        self._conn.execute(
            db.evidence.insert().values(
                kiosk_id=self.kiosk_id,
                height=height,
                accepted_hash=held,
                conflicting=conflicting,
                received_at=_now(),
            )
        )
        self._conn.execute(
            update(db.sources)
            .where(db.sources.c.kiosk_id == self.kiosk_id)
            .values(
                quarantined=True,
                quarantine_reason=f"two different signed blocks at height {height}",
            )
        )
