"""The relay's tables: the setup of each ceremony it relays, and the signed messages it took,
in the order it took them. Created beside the ledger's own tables when the API starts, in a
metadata of their own: the relay holds no secret and the ledger's election never reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

relay_metadata = MetaData()

ceremony_setups = Table(
    "ceremony_setups",
    relay_metadata,
    Column("election", Text, primary_key=True),
    Column("setup", Text, nullable=False),  # the setup's JSON, as the organiser gave it
    Column("setup_hash", LargeBinary, nullable=False),
    Column("stored_at", Text, nullable=False),
)

ceremony_messages = Table(
    "ceremony_messages",
    relay_metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("election", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("sender", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),  # what was signed, without the signature
    Column("envelope", Text, nullable=False),  # the envelope as it is forwarded
    Column("stored_at", Text, nullable=False),
    UniqueConstraint("election", "kind", "sender"),  # one message of a kind per trustee
)


def ensure_tables(engine: Engine) -> None:
    """Create the relay's tables if they are not there (several workers may race)."""
    for table in (ceremony_setups, ceremony_messages):
        try:
            table.create(engine, checkfirst=True)
        except SQLAlchemyError:
            if not inspect(engine).has_table(table.name):
                raise


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def stored_setup(engine: Engine, election: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(ceremony_setups.c.setup).where(ceremony_setups.c.election == election)
        ).first()
    return None if row is None else str(row[0])


def store_setup(engine: Engine, election: str, setup: str, setup_hash: bytes) -> bool:
    """False if a setup was there already (the caller compares it)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                ceremony_setups.insert().values(
                    election=election, setup=setup, setup_hash=setup_hash, stored_at=_now()
                )
            )
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int
    content: bytes
    envelope: str


def existing_message(engine: Engine, election: str, kind: str, sender: int) -> Stored | None:
    c = ceremony_messages.c
    with engine.connect() as conn:
        row = conn.execute(
            select(c.seq, c.content, c.envelope).where(
                c.election == election, c.kind == kind, c.sender == sender
            )
        ).first()
    return None if row is None else Stored(int(row.seq), bytes(row.content), str(row.envelope))


def store_message(
    engine: Engine, election: str, kind: str, sender: int, content: bytes, envelope: str
) -> Stored:
    """The stored message of (kind, sender): this one if it is new, else the one there first
    (the caller tells a copy from equivocation by its content)."""
    try:
        with engine.begin() as conn:
            inserted = conn.execute(
                ceremony_messages.insert().values(
                    election=election,
                    kind=kind,
                    sender=sender,
                    content=content,
                    envelope=envelope,
                    stored_at=_now(),
                )
            ).inserted_primary_key
        if inserted is None:  # never for a one-row INSERT with an autoincrement key
            raise RuntimeError("the database gave no key for the relayed message")
        return Stored(int(inserted[0]), content, envelope)
    except IntegrityError:
        found = existing_message(engine, election, kind, sender)
        if found is None:
            raise
        return found


def messages_after(engine: Engine, election: str, after: int, limit: int) -> list[Stored]:
    c = ceremony_messages.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.seq, c.content, c.envelope)
            .where(c.election == election, c.seq > after)
            .order_by(c.seq)
            .limit(limit)
        ).all()
    return [Stored(int(r.seq), bytes(r.content), str(r.envelope)) for r in rows]
