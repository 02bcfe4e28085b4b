"""The ledger's registry in the database: the election, the enrolled sources, admin tokens and
the kiosks' last heartbeats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import SQLAlchemyError

from kiosk.core.election import Channel, ElectionPackage
from ledger.rules.admin_access import AdminGrant, Scope
from ledger.rules.errors import LedgerError
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey, initialise


@dataclass(frozen=True, slots=True)
class ElectionRecord:
    """The election row: which election this database holds, and the log's name."""

    id: str
    signed: str  # the signed package, as published to kiosks
    package_hash: bytes
    log_origin: str


@dataclass(frozen=True, slots=True)
class Source:
    kiosk_id: str
    public_key: bytes
    name: str
    location: str
    channel: Channel
    quarantined: bool
    quarantine_reason: str | None
    height: int  # -1 before the genesis block arrives


@dataclass(frozen=True, slots=True)
class HeartbeatRecord:
    received_at: str
    status: dict[str, Any]  # the kiosk's last report


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def election_record(engine: Engine) -> ElectionRecord:
    try:
        with engine.connect() as conn:
            row = conn.execute(select(db.election)).first()
    except SQLAlchemyError as e:
        raise LedgerError("not_initialised", f"no ledger database: {e}") from e
    if row is None:
        raise LedgerError("not_initialised", "no election: run `ledger init` first")
    return ElectionRecord(row.id, str(row.signed), bytes(row.package_hash), row.log_origin)


def store_election(
    engine: Engine,
    key: LogKey,
    package: ElectionPackage,
    signed_package: dict[str, Any],
    authority_key: bytes,
) -> None:
    """Create the tables, store the election and start an empty log, once.

    Given again with a newer package of the same election (the same authority, a higher
    sequence number: a roll amended before the opening, e.g. a lost credential letter
    replaced), the package is replaced only while no block has arrived, since every chain's
    genesis block names the package it started on. Anything else is refused with the reason;
    the same package again changes nothing."""
    db.create_schema(engine)
    with engine.begin() as conn:
        existing = conn.execute(select(db.election)).first()
        if existing is not None and existing.id != package.id:
            raise LedgerError("other_election", f"this database holds election {existing.id}")
        if existing is not None and bytes(existing.package_hash) != package.package_hash:
            _replace_package(conn, existing, package, signed_package, authority_key)
        if existing is None:
            conn.execute(
                db.election.insert().values(
                    id=package.id,
                    signed=json.dumps(signed_package, ensure_ascii=False),
                    package_hash=package.package_hash,
                    authority_key=authority_key,
                    log_origin=key.origin,
                )
            )
        initialise(conn, key)


def _replace_package(
    conn: Connection,
    existing: Row[Any],
    package: ElectionPackage,
    signed_package: dict[str, Any],
    authority_key: bytes,
) -> None:
    held = int(json.loads(existing.signed)["package"].get("sequence", 1))
    if bytes(existing.authority_key) != authority_key:
        raise LedgerError(
            "other_authority", "this database's election was signed by another authority key"
        )
    if package.sequence <= held:
        raise LedgerError(
            "package_not_newer",
            f"this database holds package number {held} of election {package.id}; a "
            f"replacement must have a higher number, not {package.sequence}",
        )
    if conn.execute(select(db.blocks.c.kiosk_id).limit(1)).first() is not None:
        raise LedgerError(
            "package_in_use",
            "blocks have already arrived on the package this database holds (their chains "
            "name it), so it cannot be replaced; make the change before the first kiosk syncs, "
            "or start a new ledger directory",
        )
    conn.execute(
        db.election.update().values(
            signed=json.dumps(signed_package, ensure_ascii=False),
            package_hash=package.package_hash,
        )
    )


def authority_key(reader: Engine) -> bytes:
    with reader.connect() as conn:
        return bytes(conn.execute(select(db.election.c.authority_key)).scalar_one())


def add_source(
    engine: Engine,
    kiosk_id: str,
    public_key: bytes,
    name: str,
    location: str,
    channel: Channel,
    late_reason: str | None = None,
) -> None:
    with engine.begin() as conn:
        if (
            conn.execute(
                select(db.sources.c.kiosk_id).where(db.sources.c.kiosk_id == kiosk_id)
            ).first()
            is not None
        ):
            raise LedgerError("already_enrolled", f"kiosk {kiosk_id} is already enrolled")
        conn.execute(
            db.sources.insert().values(
                kiosk_id=kiosk_id,
                public_key=public_key,
                name=name,
                location=location,
                channel=channel.value,
                quarantined=False,
                enrolled_at=_now(),
                late_reason=late_reason,
            )
        )


def sources(reader: Engine) -> list[Source]:
    """Every enrolled source with its chain's height, by name."""
    with reader.connect() as conn:
        heads = dict(conn.execute(select(db.chain_heads.c.kiosk_id, db.chain_heads.c.height)).all())
        rows = conn.execute(select(db.sources).order_by(db.sources.c.name)).all()
    return [_source(r, int(heads.get(r.kiosk_id, -1))) for r in rows]


def source(reader: Engine, kiosk_id: str) -> Source | None:
    """One enrolled source, looked up by its id (the primary key): what every signed request
    reads, so it must never read the other sources (a national election enrols tens of
    thousands)."""
    with reader.connect() as conn:
        row = conn.execute(select(db.sources).where(db.sources.c.kiosk_id == kiosk_id)).first()
        if row is None:
            return None
        height = conn.execute(
            select(db.chain_heads.c.height).where(db.chain_heads.c.kiosk_id == kiosk_id)
        ).scalar()
    return _source(row, -1 if height is None else int(height))


def _source(r: Any, height: int) -> Source:
    return Source(
        r.kiosk_id,
        bytes(r.public_key),
        r.name,
        r.location,
        Channel(r.channel),
        bool(r.quarantined),
        r.quarantine_reason,
        height,
    )


def late_enrolments(reader: Engine) -> dict[str, str]:
    """kiosk id -> the reason given for enrolling it after the opening."""
    s = db.sources.c
    with reader.connect() as conn:
        rows = conn.execute(select(s.kiosk_id, s.late_reason).where(s.late_reason.isnot(None)))
        return {r.kiosk_id: r.late_reason for r in rows}


def add_admin_token(
    engine: Engine,
    token_hash: bytes,
    label: str,
    scopes: frozenset[Scope],
    expires_at: datetime,
    prefix: str,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            db.admin_tokens.insert().values(
                token_hash=token_hash,
                label=label,
                created_at=_now(),
                scopes=" ".join(sorted(scopes)),
                expires_at=expires_at.astimezone(UTC).isoformat(timespec="seconds"),
                prefix=prefix,
            )
        )


def admin_grant(reader: Engine, token_hash: bytes) -> AdminGrant | None:
    """The stored grant of the token with ``token_hash``, or None for no such token."""
    with reader.connect() as conn:
        row = conn.execute(
            select(db.admin_tokens).where(db.admin_tokens.c.token_hash == token_hash)
        ).first()
    return None if row is None else _grant(row)


def admin_grants(reader: Engine) -> list[AdminGrant]:
    """Every admin token ever made, revoked and expired ones too, oldest first."""
    t = db.admin_tokens.c
    with reader.connect() as conn:
        rows = conn.execute(select(db.admin_tokens).order_by(t.created_at, t.label)).all()
    return [_grant(r) for r in rows]


def revoke_admin_tokens(engine: Engine, *, label: str | None, prefix: str | None) -> int:
    """Revoke the live tokens with ``label`` or whose text starts with ``prefix``; how many."""
    t = db.admin_tokens.c
    if label is not None:
        match = t.label == label
    elif prefix:
        match = t.prefix.startswith(prefix, autoescape=True)  # "_" is a token character
    else:
        raise LedgerError("bad_request", "revoke by label or by the token's first characters")
    with engine.begin() as conn:
        done = conn.execute(
            db.admin_tokens.update().where(match, t.revoked_at.is_(None)).values(revoked_at=_now())
        )
        return int(done.rowcount)


def _grant(row: Any) -> AdminGrant:
    def when(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text)

    return AdminGrant(
        label=row.label,
        prefix=row.prefix,
        # a token stored before scopes existed has none, and so can do nothing
        scopes=frozenset(Scope(s) for s in row.scopes.split() if s in set(Scope)),
        created_at=datetime.fromisoformat(row.created_at),
        expires_at=when(row.expires_at or None) or datetime.fromisoformat(row.created_at),
        revoked_at=when(row.revoked_at),
    )


def save_heartbeat(engine: Engine, kiosk_id: str, status_json: str) -> None:
    values = {"received_at": _now(), "status": status_json}
    with engine.begin() as conn:
        done = conn.execute(
            db.heartbeats.update().where(db.heartbeats.c.kiosk_id == kiosk_id).values(**values)
        )
        if done.rowcount == 0:
            conn.execute(db.heartbeats.insert().values(kiosk_id=kiosk_id, **values))


def heartbeats(reader: Engine) -> dict[str, HeartbeatRecord]:
    """Each kiosk's last heartbeat, by kiosk id."""
    with reader.connect() as conn:
        rows = conn.execute(select(db.heartbeats)).all()
    return {r.kiosk_id: HeartbeatRecord(r.received_at, json.loads(r.status)) for r in rows}
