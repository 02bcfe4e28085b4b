"""Columns added to the ledger's tables after databases were made without them: an older
database gets them when it is opened, and keeps every row it holds."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.store import schema as db

# table -> the columns it gained. Old rows read as: no late reason; an admin token with no
# scope and already expired, so a token made before scopes existed can do nothing.
ADDED = {
    "sources": ("late_reason",),
    "admin_tokens": ("scopes", "expires_at", "revoked_at", "prefix"),
}


def add_missing_columns(engine: Engine) -> None:
    """Add the columns in ADDED that the database lacks. Several processes may open it at
    once: one that loses the race finds the column there."""
    for table, columns in ADDED.items():
        present = _present(engine, table)
        for name in columns:
            if name not in present:
                try:
                    with engine.begin() as conn:
                        conn.execute(text(_ddl(engine, table, name)))
                except SQLAlchemyError:
                    if name not in _present(engine, table):
                        raise


def _present(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def _ddl(engine: Engine, table: str, name: str) -> str:
    column = db.metadata.tables[table].c[name]
    kind = column.type.compile(engine.dialect)
    # Names and types come from our own schema, never from input.
    if column.nullable:
        return f"ALTER TABLE {table} ADD COLUMN {name} {kind}"
    return f"ALTER TABLE {table} ADD COLUMN {name} {kind} NOT NULL DEFAULT ''"
