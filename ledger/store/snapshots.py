"""What the reconciliation, the fleet dashboard and the close read about every source, each in
one snapshot of the database so that its numbers agree with each other."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from kiosk.core.block import decode_signed_block
from ledger.store import schema as db


@dataclass(frozen=True, slots=True)
class SourceRow:
    kiosk_id: str
    name: str
    location: str
    channel: str
    quarantined: bool


@dataclass(frozen=True, slots=True)
class RepeatedBallot:
    """One official ballot of a voter who has more than one; ``nullifier`` is the voter
    index's key: the voter id (kiosk.core.block.ballot_identity; the name is the table's)."""

    nullifier: bytes
    kiosk: str
    height: int
    channel: str
    leaf_index: int
    time: str  # the block's time: the duplicate policy orders ballots by when they were cast


@dataclass(frozen=True, slots=True)
class ReconciliationSnapshot:
    block_kinds: dict[str, Counter[str]]  # kiosk id -> block kind -> count
    sources: list[SourceRow]  # in enrolment-table order
    reports: dict[str, dict[str, Any]]  # kiosk id -> its last heartbeat's report
    heights: dict[str, int]  # kiosk id -> its highest block


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    heights: dict[str, int]
    received: dict[str, str]  # kiosk id -> when its last heartbeat arrived
    reports: dict[str, dict[str, Any]]
    sources: list[SourceRow]  # by name


@dataclass(frozen=True, slots=True)
class ReadinessSnapshot:
    session_closes: dict[str, int]  # kiosk id -> session_close blocks
    chain_states: dict[str, dict[str, Any]]  # kiosk id -> its chain head state (JSON)
    reports: dict[str, dict[str, Any]]


def repeated_ballots(reader: Engine) -> list[RepeatedBallot]:
    """Every official ballot of a voter with more than one, by nullifier, in log order."""
    n, b = db.nullifiers.c, db.blocks.c
    with reader.connect() as conn:
        repeated = (
            select(n.nullifier)
            .where(n.kind == "ballot")
            .group_by(n.nullifier)
            .having(func.count() > 1)
        )
        rows = conn.execute(
            select(n.nullifier, n.kiosk_id, n.height, n.channel, n.leaf_index, b.encoded)
            .join(db.blocks, (b.kiosk_id == n.kiosk_id) & (b.height == n.height))
            .where(n.kind == "ballot", n.nullifier.in_(repeated))
            .order_by(n.nullifier, n.leaf_index)
        ).all()
    return [
        RepeatedBallot(
            bytes(r.nullifier),
            r.kiosk_id,
            int(r.height),
            r.channel,
            int(r.leaf_index),
            decode_signed_block(bytes(r.encoded)).block.time,
        )
        for r in rows
    ]


def reconciliation_snapshot(reader: Engine) -> ReconciliationSnapshot:
    b = db.blocks.c
    with reader.connect() as conn:
        kinds = conn.execute(
            select(b.kiosk_id, b.kind, func.count()).group_by(b.kiosk_id, b.kind)
        ).all()
        sources = _sources(conn, ordered=False)
        reports = _reports(conn)
        heights = _heights(conn)
    per_kind: dict[str, Counter[str]] = {}
    for kiosk, kind, count in kinds:
        per_kind.setdefault(kiosk, Counter())[kind] = int(count)
    return ReconciliationSnapshot(per_kind, sources, reports, heights)


def fleet_snapshot(reader: Engine) -> FleetSnapshot:
    with reader.connect() as conn:
        heights = _heights(conn)
        beats = conn.execute(select(db.heartbeats)).all()
        sources = _sources(conn, ordered=True)
    received = {r.kiosk_id: r.received_at for r in beats}
    reports = {r.kiosk_id: json.loads(r.status) for r in beats}
    return FleetSnapshot(heights, received, reports, sources)


def readiness_snapshot(reader: Engine) -> ReadinessSnapshot:
    b = db.blocks.c
    with reader.connect() as conn:
        closes: dict[str, int] = dict(
            conn.execute(
                select(b.kiosk_id, func.count())
                .where(b.kind == "session_close")
                .group_by(b.kiosk_id)
            ).all()
        )
        states = {
            r.kiosk_id: json.loads(r.state) for r in conn.execute(select(db.chain_heads)).all()
        }
        reports = _reports(conn)
    return ReadinessSnapshot(closes, states, reports)


def _heights(conn: Connection) -> dict[str, int]:
    b = db.blocks.c
    rows = conn.execute(select(b.kiosk_id, func.max(b.height)).group_by(b.kiosk_id)).all()
    return {kiosk: int(height) for kiosk, height in rows}


def _reports(conn: Connection) -> dict[str, dict[str, Any]]:
    return {r.kiosk_id: json.loads(r.status) for r in conn.execute(select(db.heartbeats)).all()}


def _sources(conn: Connection, *, ordered: bool) -> list[SourceRow]:
    query = select(db.sources)
    if ordered:
        query = query.order_by(db.sources.c.name)
    return [
        SourceRow(r.kiosk_id, r.name, r.location, r.channel, bool(r.quarantined))
        for r in conn.execute(query).all()
    ]
