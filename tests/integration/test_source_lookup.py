"""A signed request looks its source up by key (issue 18, first cheap fix).

Every kiosk write used to load every enrolled source and every chain head to find its own
(twice: the body guard, then the signature check). With 50,000 sources enrolled, the lookup
now reads the source's own row by primary key: SQLite's query plan for every statement it
runs is an index search, never a scan, and the answer is the right source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import sign_package
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from testkit.elections import SyntheticElection, build_election, review_definition

SOURCES = 50_000


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, str]]:
    election: SyntheticElection = build_election(
        review_definition(2, 4, election_id="crowded"), seed="crowded"
    )
    engine = connect(f"sqlite:///{tmp_path_factory.mktemp('crowded') / 'ledger.db'}")
    create_schema(engine)
    key = SigningKey.generate()
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(
        engine, LogKey("ledger.test/crowded", key), signed, election.authority.public_key
    )
    rows = []
    for n in range(SOURCES):  # random 32-byte keys: ids need not be valid curve points here
        public = os.urandom(32)
        rows.append(
            {
                "kiosk_id": kiosk_id_for(public),
                "public_key": public,
                "name": f"kiosk {n:05d}",
                "location": "",
                "channel": "kiosk",
                "quarantined": False,
                "enrolled_at": "2026-11-01T09:00:00+00:00",
            }
        )
    with engine.begin() as conn:
        conn.execute(db.sources.insert(), rows)
    ledger = Ledger(engine, key)
    real = SigningKey.generate()
    kiosk = ledger.enrol(real.public_key, "the kiosk asking")
    yield ledger, kiosk
    engine.dispose()


def test_one_source_is_read_by_its_key_not_by_scanning_them_all(
    crowded: tuple[Ledger, str],
) -> None:
    ledger, kiosk = crowded
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(ledger.reader, "before_cursor_execute", record)
    try:
        found = ledger.source(kiosk)
        missing = ledger.source("0" * 32)
    finally:
        event.remove(ledger.reader, "before_cursor_execute", record)
    assert found is not None and found.kiosk_id == kiosk and found.name == "the kiosk asking"
    assert missing is None
    assert statements
    with ledger.reader.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue  # the connection's own set-up, not a read
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(parameters)).all()
            steps = " | ".join(str(row[-1]) for row in plan)
            assert "SCAN" not in steps, f"{statement!r} reads every row: {steps}"
            assert "SEARCH" in steps, f"{statement!r}: {steps}"
