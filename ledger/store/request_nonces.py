"""The nonces of signed kiosk requests the ledger has taken, in the database so that every
worker process refuses a request another one already took. A nonce is kept as long as a
request with its time is still timely, then forgotten."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ledger.store import schema as db

MARGIN_S = 60  # kept a minute past the window, for workers whose clocks differ a little


def ensure_table(engine: Engine) -> None:
    """Create the table in a ledger made before requests had nonces. Several workers may
    race to create it: the loser finds it there."""
    try:
        db.request_nonces.create(engine, checkfirst=True)
    except SQLAlchemyError:
        if not inspect(engine).has_table(db.request_nonces.name):
            raise


@dataclass(frozen=True, slots=True)
class RequestNonce:
    """A verified request's nonce, to be recorded with what the request writes (an upload's
    nonce goes into the transaction that sequences its blocks: one commit, not two).
    ``forget_before``: nonces of requests signed before it are dropped then."""

    kiosk_id: str
    nonce: bytes
    signed_at: int
    forget_before: int


def remember_nonce(
    engine: Engine, kiosk_id: str, nonce: bytes, signed_at: int, *, forget_before: int
) -> bool:
    """Record ``nonce`` of ``kiosk_id``; False if it was already recorded (a replay).
    Nonces of requests signed before ``forget_before`` are dropped in the same transaction:
    a request that old is refused as stale whatever its nonce."""
    try:
        with engine.begin() as conn:
            record(conn, RequestNonce(kiosk_id, nonce, signed_at, forget_before))
    except IntegrityError:
        return False
    return True


def record(conn: Connection, request: RequestNonce) -> None:
    """Record ``request``'s nonce in the caller's transaction; ``IntegrityError`` if it was
    already recorded (the caller rolls back: a replay writes nothing)."""
    table = db.request_nonces
    conn.execute(delete(table).where(table.c.signed_at < request.forget_before))
    conn.execute(
        table.insert().values(
            kiosk_id=request.kiosk_id, nonce=request.nonce, signed_at=request.signed_at
        )
    )


def seen(engine: Engine, kiosk_id: str, nonce: bytes) -> bool:
    """Whether ``nonce`` was already taken (a read, no commit): a replayed upload is refused
    before its blocks are verified; the insert in the sequencing transaction settles a race
    between two copies of one request."""
    table = db.request_nonces
    with engine.connect() as conn:
        found = conn.execute(
            select(table.c.nonce).where(table.c.kiosk_id == kiosk_id, table.c.nonce == nonce)
        ).first()
    return found is not None
