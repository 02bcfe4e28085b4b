"""The ledger on PostgreSQL through its real HTTP server, and many kiosks uploading at once
to several workers: the log must stay one append-only log whatever the interleaving, holding
exactly what a serial ingest of the same chains holds."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select, text

from kiosk.core.block import SignedBlock
from kiosk.core.checkpoint import Checkpoint, verify_checkpoint
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.merkle import leaf_hash, verify_consistency
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey, read_log
from ledger.verify.inclusion_proof import check_tracking_code, verify_inclusion_answer
from testkit.elections import SyntheticElection
from testkit.ledger_requests import enrol, upload
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.stores import make_chain

KIOSKS = 6
BATCH = 5
# Every voter of the test election once: 27 ballots after genesis, mode and session open.
VOTERS = [
    (c, n) for c, count in (("resident", 12), ("expert", 3), ("online", 12)) for n in range(count)
]
CHAIN_LENGTH = len(VOTERS) + 3


@dataclass(frozen=True)
class Kiosk:
    name: str
    key: SigningKey
    chain: list[SignedBlock]

    @property
    def id(self) -> str:
        return kiosk_id_for(self.key.public_key)


@pytest.fixture(scope="module")
def kiosks(tmp_path_factory: pytest.TempPathFactory, election: SyntheticElection) -> list[Kiosk]:
    base = tmp_path_factory.mktemp("chains")
    made = []
    for n in range(KIOSKS):
        key = SigningKey.generate()
        made.append(Kiosk(f"kiosk {n}", key, make_chain(base / str(n), election, key, VOTERS)))
    assert all(len(k.chain) == CHAIN_LENGTH for k in made)
    return made


@contextmanager
def running(server: LedgerServer) -> Iterator[LedgerServer]:
    """``server`` started, and stopped by its pid however the block ends, even when it never
    came up (``LedgerServer.__enter__`` raising would skip ``__exit__``)."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = db.connect(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_ledger(
    tmp_path: Path, election: SyntheticElection, postgres_url: str
) -> Iterator[LedgerServer]:
    with running(LedgerServer(tmp_path / "ledger", election, db=postgres_url, workers=2)) as s:
        yield s


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    """The test's PostgreSQL database, read directly through SQLAlchemy."""
    with engine_for(postgres_url) as engine:
        yield engine


def get(server: LedgerServer, path: str, **params: int) -> Any:
    answer = requests.get(server.url + path, params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text if path == "/v1/checkpoint" else answer.json()


def head(server: LedgerServer, kiosk: Kiosk) -> tuple[int, str | None]:
    answer = get(server, f"/v1/kiosks/{kiosk.id}/head")
    return answer["height"], answer["hash"]


def final_checkpoint(server: LedgerServer) -> Checkpoint:
    return verify_checkpoint(get(server, "/v1/checkpoint"), server.log_key)


# -- the ledger's behaviours, on PostgreSQL ------------------------------------------------------


def test_postgres_ingests_a_chain_and_proves_each_block_by_tracking_code(
    pg_ledger: LedgerServer, pg: Engine, kiosks: list[Kiosk]
) -> None:
    kiosk = kiosks[0]
    assert enrol(pg_ledger, kiosk.key, kiosk.name) == kiosk.id
    answer = upload(pg_ledger, kiosk.key, kiosk.chain)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["already_had"], body["rejected"]) == (CHAIN_LENGTH, 0, None)
    assert body["head_height"] == CHAIN_LENGTH - 1 and body["log_size"] == CHAIN_LENGTH
    assert verify_checkpoint(body["checkpoint"], pg_ledger.log_key).size == CHAIN_LENGTH
    assert head(pg_ledger, kiosk) == (CHAIN_LENGTH - 1, b64e(kiosk.chain[-1].hash))
    for block in kiosk.chain:
        found = check_tracking_code(pg_ledger.url, block.tracking_code, pg_ledger.log_key)
        assert (found.kiosk, found.height) == (kiosk.id, block.block.height)
        assert found.leaf_index == body["leaves"][str(block.block.height)]
        assert found.size == CHAIN_LENGTH
    # It is PostgreSQL that holds them, not an SQLite file beside the log key.
    assert not (pg_ledger.data / "ledger.db").exists()
    with pg.connect() as conn:
        stored = conn.execute(
            select(db.blocks.c.height, db.blocks.c.hash).where(db.blocks.c.kiosk_id == kiosk.id)
        ).all()
    assert sorted((h, bytes(x)) for h, x in stored) == [
        (b.block.height, b.hash) for b in kiosk.chain
    ]


def test_postgres_resending_is_harmless(
    pg_ledger: LedgerServer, pg: Engine, kiosks: list[Kiosk]
) -> None:
    kiosk = kiosks[0]
    enrol(pg_ledger, kiosk.key, kiosk.name)
    first = upload(pg_ledger, kiosk.key, kiosk.chain[:10]).json()
    assert first["accepted"] == 10
    again = upload(pg_ledger, kiosk.key, kiosk.chain[:10])
    assert again.status_code == 200, again.text
    assert (again.json()["accepted"], again.json()["already_had"]) == (0, 10)
    assert again.json()["log_size"] == 10 and again.json()["checkpoint"] is None
    overlap = upload(pg_ledger, kiosk.key, kiosk.chain[5:20])  # a resumed upload, overlapping
    assert overlap.status_code == 200, overlap.text
    assert (overlap.json()["accepted"], overlap.json()["already_had"]) == (10, 5)
    assert final_checkpoint(pg_ledger).size == 20
    assert head(pg_ledger, kiosk) == (19, b64e(kiosk.chain[19].hash))
    with pg.connect() as conn:
        blocks = conn.execute(select(func.count()).select_from(db.blocks)).scalar_one()
        published = conn.execute(select(db.checkpoints.c.size)).scalars().all()
    assert blocks == 20
    assert sorted(published) == [0, 10, 20]  # the resend signed no checkpoint


def test_postgres_a_rejected_block_keeps_the_blocks_before_it(
    pg_ledger: LedgerServer, kiosks: list[Kiosk]
) -> None:
    kiosk = kiosks[0]
    enrol(pg_ledger, kiosk.key, kiosk.name)
    doc = json.loads(kiosk.chain[12].encode())
    doc["time"] = "2030-01-01T00:00Z"  # changed after signing
    answer = upload(pg_ledger, kiosk.key, [*kiosk.chain[:12], json.dumps(doc).encode()])
    assert answer.status_code == 422, answer.text
    assert answer.json()["accepted"] == 12
    rejected = answer.json()["rejected"]
    assert (rejected["height"], rejected["reason"]) == (12, "bad_signature")
    assert head(pg_ledger, kiosk) == (11, b64e(kiosk.chain[11].hash))
    assert final_checkpoint(pg_ledger).size == 12
    rest = upload(pg_ledger, kiosk.key, kiosk.chain[12:])  # the genuine block 12 and on
    assert rest.status_code == 200, rest.text
    assert rest.json()["accepted"] == CHAIN_LENGTH - 12
    assert final_checkpoint(pg_ledger).size == CHAIN_LENGTH


def test_postgres_a_fork_quarantines_the_kiosk_and_keeps_the_evidence(
    pg_ledger: LedgerServer,
    pg: Engine,
    kiosks: list[Kiosk],
    election: SyntheticElection,
    tmp_path: Path,
) -> None:
    kiosk, bystander = kiosks[0], kiosks[1]
    enrol(pg_ledger, kiosk.key, kiosk.name)
    enrol(pg_ledger, bystander.key, bystander.name)
    assert upload(pg_ledger, kiosk.key, kiosk.chain[:10]).status_code == 200
    # The same kiosk key signs a different block 3: another voter's ballot in place of the first.
    fork = make_chain(tmp_path / "fork", election, kiosk.key, [("expert", 2)])
    assert fork[3].hash != kiosk.chain[3].hash
    answer = upload(pg_ledger, kiosk.key, [fork[3]])
    assert answer.status_code == 409, answer.text
    assert answer.json()["rejected"]["reason"] == "equivocation"
    listed = requests.get(
        f"{pg_ledger.url}/v1/admin/kiosks", headers=pg_ledger.admin(), timeout=10
    ).json()
    mine = next(k for k in listed if k["kiosk"] == kiosk.id)
    assert mine["quarantined"] and "height 3" in mine["quarantine_reason"]
    with pg.connect() as conn:
        evidence = conn.execute(select(db.evidence)).all()
    assert [(e.kiosk_id, e.height) for e in evidence] == [(kiosk.id, 3)]
    assert bytes(evidence[0].accepted_hash) == kiosk.chain[3].hash
    assert json.loads(bytes(evidence[0].conflicting)) == json.loads(fork[3].encode())
    later = upload(pg_ledger, kiosk.key, kiosk.chain[10:])
    # refused before its body is read: the refusal shape, with nothing accepted
    assert later.status_code == 403 and later.json()["reason"] == "quarantined"
    assert head(pg_ledger, kiosk) == (9, b64e(kiosk.chain[9].hash))
    assert final_checkpoint(pg_ledger).size == 10  # the fork never entered the log
    other = upload(pg_ledger, bystander.key, bystander.chain)  # other kiosks go on as before
    assert other.status_code == 200 and other.json()["log_size"] == 10 + CHAIN_LENGTH


# -- many kiosks at once --------------------------------------------------------------------------


def resends(kiosk_number: int, batch_number: int) -> int:
    """How many times a batch is sent again after it was accepted: every third batch, twice."""
    return 2 if (kiosk_number + batch_number) % 3 == 0 else 0


def upload_concurrently(server: LedgerServer, kiosks: list[Kiosk]) -> list[dict[str, Any]]:
    """Each kiosk uploads its chain in batches of BATCH from its own thread, all threads
    released at once; some batches are sent again. Every answer, in no particular order."""
    start = threading.Barrier(len(kiosks))

    def run(number: int, kiosk: Kiosk) -> list[dict[str, Any]]:
        answers = []
        start.wait(timeout=60)
        for b, offset in enumerate(range(0, len(kiosk.chain), BATCH)):
            batch = kiosk.chain[offset : offset + BATCH]
            for attempt in range(1 + resends(number, b)):
                answer = upload(server, kiosk.key, batch)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                expected = (len(batch), 0) if attempt == 0 else (0, len(batch))
                assert (body["accepted"], body["already_had"]) == expected, body
                assert body["head_height"] == batch[-1].block.height, body
                answers.append(body)
        return answers

    with ThreadPoolExecutor(len(kiosks)) as pool:
        futures = [pool.submit(run, n, k) for n, k in enumerate(kiosks)]
        return [body for f in futures for body in f.result()]


def log_content(engine: Engine) -> tuple[Counter[bytes], dict[tuple[str, int], bytes]]:
    """The multiset of the log's leaf hashes, and every kiosk's block hashes by height; also
    checks that leaf ``i`` of the tree is the hash of the block recorded at leaf index ``i``."""
    with engine.connect() as conn:
        size = read_log(conn).size
        leaves = dict(
            conn.execute(
                select(db.merkle_nodes.c.idx, db.merkle_nodes.c.hash).where(
                    db.merkle_nodes.c.level == 0, db.merkle_nodes.c.idx < size
                )
            ).all()
        )
        blocks = conn.execute(
            select(
                db.blocks.c.kiosk_id,
                db.blocks.c.height,
                db.blocks.c.hash,
                db.blocks.c.encoded,
                db.blocks.c.leaf_index,
            )
        ).all()
    assert sorted(leaves) == list(range(size))
    assert {int(b.leaf_index): leaf_hash(bytes(b.encoded)) for b in blocks} == {
        int(i): bytes(h) for i, h in leaves.items()
    }
    return (
        Counter(bytes(h) for h in leaves.values()),
        {(b.kiosk_id, int(b.height)): bytes(b.hash) for b in blocks},
    )


@pytest.fixture(scope="module")
def serial_content(
    tmp_path_factory: pytest.TempPathFactory, election: SyntheticElection, kiosks: list[Kiosk]
) -> tuple[Counter[bytes], dict[tuple[str, int], bytes]]:
    """The same chains ingested one kiosk after another into a fresh SQLite ledger."""
    path = tmp_path_factory.mktemp("serial") / "ledger.db"
    with engine_for(f"sqlite:///{path}") as engine:
        key = SigningKey.generate()
        signed = sign_package(election.package, election.authority).to_json()
        Ledger.initialise(engine, LogKey(ORIGIN, key), signed, election.authority.public_key)
        ledger = Ledger(engine, key)
        for kiosk in kiosks:
            ledger.enrol(kiosk.key.public_key, kiosk.name)
            result = ledger.ingest(kiosk.id, [b.encode() for b in kiosk.chain])
            assert result.accepted == CHAIN_LENGTH and result.rejection is None
        return log_content(engine)


def check_one_log(
    server: LedgerServer,
    engine: Engine,
    kiosks: list[Kiosk],
    answers: list[dict[str, Any]],
    serial: tuple[Counter[bytes], dict[tuple[str, int], bytes]],
) -> None:
    total = KIOSKS * CHAIN_LENGTH
    for kiosk in kiosks:
        assert head(server, kiosk) == (CHAIN_LENGTH - 1, b64e(kiosk.chain[-1].hash))
    final = final_checkpoint(server)
    assert final.size == total

    # Every leaf, proved against the final checkpoint; each block exactly once.
    placed: dict[tuple[str, int], int] = {}
    for index in range(total):
        answer = get(server, "/v1/proofs/inclusion", leaf_index=index)
        found = verify_inclusion_answer(answer, server.log_key)
        assert (found.leaf_index, found.size) == (index, total)
        assert (found.kiosk, found.height) not in placed
        placed[(found.kiosk, found.height)] = index
    assert set(placed) == {(k.id, b.block.height) for k in kiosks for b in k.chain}
    for body in answers:  # the places the uploads were told are the places the blocks are
        for height, index in body["leaves"].items():
            assert placed[(body["kiosk"], int(height))] == index

    # Every upload that took blocks was given a checkpoint covering them (the integrator may
    # sign one checkpoint for several uploads), and the final one extends each of them.
    for body in answers:
        if body["accepted"]:
            covered = verify_checkpoint(body["checkpoint"], server.log_key)
            assert covered.size > max(body["leaves"].values())
    notes = {body["checkpoint"] for body in answers if body["checkpoint"] is not None}
    earlier = [verify_checkpoint(note, server.log_key) for note in notes]
    assert len({c.size for c in earlier}) == len(earlier)  # one checkpoint per size
    for old in earlier:
        proof = get(server, "/v1/proofs/consistency", old=old.size, new=final.size)["proof"]
        verify_consistency(old.size, final.size, old.root, final.root, [b64d(h) for h in proof])

    # No leaf index twice, none missing; the content is what a serial ingest holds.
    with engine.connect() as conn:
        indices = conn.execute(select(db.blocks.c.leaf_index)).scalars().all()
    assert len(indices) == total and Counter(indices).most_common(1)[0][1] == 1
    assert set(indices) == set(range(total))
    leaves, blocks = log_content(engine)
    assert leaves == serial[0]
    assert blocks == serial[1]


def test_postgres_two_workers_take_six_kiosks_at_once_into_one_log(
    tmp_path: Path,
    election: SyntheticElection,
    postgres_url: str,
    pg: Engine,
    kiosks: list[Kiosk],
    serial_content: tuple[Counter[bytes], dict[tuple[str, int], bytes]],
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election, db=postgres_url, workers=2)
    with running(ledger) as server:
        for kiosk in kiosks:
            enrol(server, kiosk.key, kiosk.name)
        answers = upload_concurrently(server, kiosks)
        check_one_log(server, pg, kiosks, answers, serial_content)


def test_sqlite_one_worker_takes_six_kiosks_at_once_into_one_log(
    tmp_path: Path,
    election: SyntheticElection,
    kiosks: list[Kiosk],
    serial_content: tuple[Counter[bytes], dict[tuple[str, int], bytes]],
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election, workers=1)
    with running(ledger) as server, engine_for(f"sqlite:///{ledger.data / 'ledger.db'}") as sql:
        for kiosk in kiosks:
            enrol(server, kiosk.key, kiosk.name)
        answers = upload_concurrently(server, kiosks)
        check_one_log(server, sql, kiosks, answers, serial_content)


# -- races found on PostgreSQL ---------------------------------------------------------------


def test_inclusion_answers_stay_verifiable_while_kiosks_upload(
    pg_ledger: LedgerServer, kiosks: list[Kiosk]
) -> None:
    for kiosk in kiosks:
        enrol(pg_ledger, kiosk.key, kiosk.name)
    first = kiosks[0].chain[0]
    assert upload(pg_ledger, kiosks[0].key, [first]).status_code == 200
    done = threading.Event()
    unverifiable: list[str] = []

    def ask() -> int:
        asked = 0
        while not done.is_set() and asked < 2000:
            asked += 1
            try:
                check_tracking_code(pg_ledger.url, first.tracking_code, pg_ledger.log_key)
            except HanpyoError as e:
                unverifiable.append(str(e))
        return asked

    with ThreadPoolExecutor(1) as pool:
        asking = pool.submit(ask)
        try:
            rest = [Kiosk(kiosks[0].name, kiosks[0].key, kiosks[0].chain[1:]), *kiosks[1:]]
            upload_concurrently(pg_ledger, rest)
        finally:
            done.set()
        asked = asking.result()
    assert asked > 0
    assert unverifiable == [], f"{len(unverifiable)} of {asked}: {unverifiable[:3]}"


def lock_waiters(engine: Engine) -> int:
    """How many other sessions of this database wait for a lock."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def wait_for_waiters(engine: Engine, count: int) -> None:
    deadline = time.monotonic() + 20
    while lock_waiters(engine) < count:
        assert time.monotonic() < deadline, f"never {count} sessions waiting for the log lock"
        time.sleep(0.02)


def test_postgres_a_batch_queued_behind_a_fork_is_refused_once_the_kiosk_is_quarantined(
    pg: Engine, kiosks: list[Kiosk], election: SyntheticElection, tmp_path: Path
) -> None:
    log_key = SigningKey.generate()
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(pg, LogKey(ORIGIN, log_key), signed, election.authority.public_key)
    ledger = Ledger(pg, log_key)
    kiosk = kiosks[0]
    ledger.enrol(kiosk.key.public_key, kiosk.name)
    assert ledger.ingest(kiosk.id, [b.encode() for b in kiosk.chain[:10]]).accepted == 10
    fork = make_chain(tmp_path / "fork", election, kiosk.key, [("expert", 2)])[3]

    with ThreadPoolExecutor(2) as pool, pg.connect() as other_appender:
        # Another batch of this kiosk is being sequenced: it holds the kiosk's own row, where
        # its batches queue (verified before, outside any lock).
        other_appender.begin()
        other_appender.execute(
            select(db.sources.c.kiosk_id).where(db.sources.c.kiosk_id == kiosk.id).with_for_update()
        )
        forking = pool.submit(ledger.ingest, kiosk.id, [fork.encode()])
        wait_for_waiters(pg, 1)  # the fork is first in the queue for the kiosk's row
        continuing = pool.submit(ledger.ingest, kiosk.id, [b.encode() for b in kiosk.chain[10:]])
        wait_for_waiters(pg, 2)
        other_appender.rollback()
        forked, continued = forking.result(timeout=30), continuing.result(timeout=30)

    assert forked.rejection is not None and forked.rejection.reason == "equivocation"
    source = ledger.source(kiosk.id)
    assert source is not None and source.quarantined
    assert continued.rejection is not None and continued.rejection.reason == "quarantined"
    assert continued.accepted == 0
    assert ledger.log_size() == 10
