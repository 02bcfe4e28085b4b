"""The nonces of signed kiosk requests the ledger has taken, in the database so that every
worker process refuses a request another one already took. A nonce is kept as long as a
request with its time is still timely, then forgotten."""

from __future__ import annotations

from sqlalchemy import Engine, delete, inspect
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


def remember_nonce(
    engine: Engine, kiosk_id: str, nonce: bytes, signed_at: int, *, forget_before: int
) -> bool:
    """Record ``nonce`` of ``kiosk_id``; False if it was already recorded (a replay).
    Nonces of requests signed before ``forget_before`` are dropped in the same transaction:
    a request that old is refused as stale whatever its nonce."""
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(db.request_nonces).where(db.request_nonces.c.signed_at < forget_before)
            )
            conn.execute(
                db.request_nonces.insert().values(
                    kiosk_id=kiosk_id, nonce=nonce, signed_at=signed_at
                )
            )
    except IntegrityError:
        return False
    return True
