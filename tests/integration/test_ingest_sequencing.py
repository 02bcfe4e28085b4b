"""Ingest verified before any lock and sequenced in one short transaction (issue 18): what the
ledger acknowledged survives its being killed at once, and uploads of one kiosk's chain that
arrive together never fork it, never count a block twice and never lose one."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, select, text

from kiosk.core.crypto import SigningKey
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64d
from ledger.service.ingest import IngestResult
from ledger.service.ledger import Ledger
from ledger.store import request_nonces
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey
from ledger.store.request_nonces import RequestNonce
from ledger.verify.inclusion_proof import verify_inclusion_answer
from testkit.ballot_chains import ballot_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.ledger_requests import LATE_REASON, enrol, upload
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.log_audit import audit_log

BATCH = 10


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    """A roll of 126 voters: a kiosk's chain holds one ballot per voter, and these chains are
    long (the suite's shared election has 27)."""
    return build_election(mixed_definition(groups=3), seed="test")


@pytest.fixture(scope="module")
def chains(election: SyntheticElection) -> list[ChainWriter]:
    rng = random.Random(18)
    return [ballot_chain(election, 117, rng) for _ in range(4)]


# -- acknowledged means durable -------------------------------------------------------------


def _upload_until_stopped(
    server: LedgerServer,
    chain: ChainWriter,
    stop: threading.Event,
    acked: dict[str, dict[int, int]],
) -> None:
    """Send the chain in batches until ``stop`` or the ledger goes away; record every leaf an
    answer acknowledged."""
    for start in range(0, len(chain.blocks), BATCH):
        if stop.is_set():
            return
        try:
            answer = upload(server, chain.key, chain.blocks[start : start + BATCH])
        except requests.RequestException:
            return  # killed while this batch was on its way
        if answer.status_code != 200:
            return
        for height, leaf in answer.json()["leaves"].items():
            acked[chain.kiosk_id][int(height)] = int(leaf)


def test_every_acknowledged_block_is_there_after_the_ledger_is_killed_right_after(
    tmp_path: Path, election: SyntheticElection, chains: list[ChainWriter]
) -> None:
    server = LedgerServer(tmp_path / "ledger", election)
    acked: dict[str, dict[int, int]] = {c.kiosk_id: {} for c in chains}
    stop = threading.Event()
    try:
        server.start()
        for n, chain in enumerate(chains):
            enrol(server, chain.key, f"kiosk {n}")
        threads = [
            threading.Thread(target=_upload_until_stopped, args=(server, c, stop, acked))
            for c in chains
        ]
        for t in threads:
            t.start()
        while sum(len(a) for a in acked.values()) < 150 and any(t.is_alive() for t in threads):
            time.sleep(0.001)
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)  # with the other uploads in flight
        stop.set()
        for t in threads:
            t.join()
        server.process.wait()
    finally:
        server.stop()
    assert sum(len(a) for a in acked.values()) >= 150

    with server:  # the same database, a new process: its integrator resumes
        held = 0
        for chain in chains:
            head = requests.get(f"{server.url}/v1/kiosks/{chain.kiosk_id}/head", timeout=10)
            height = head.json()["height"]
            assert height >= max(acked[chain.kiosk_id], default=-1)
            held += height + 1
        _wait_for_tree(server, held)
        for chain in chains:
            for height, leaf in acked[chain.kiosk_id].items():
                answer = requests.get(
                    f"{server.url}/v1/proofs/inclusion", params={"leaf_index": leaf}, timeout=10
                ).json()
                found = verify_inclusion_answer(answer, server.log_key)
                assert (found.kiosk, found.height) == (chain.kiosk_id, height)
                assert b64d(answer["block"]) == chain.blocks[height].encode()
    engine = db.connect(f"sqlite:///{server.data / 'ledger.db'}")
    try:
        assert audit_log(engine, server.log_key).blocks == held
    finally:
        engine.dispose()


def _wait_for_tree(server: LedgerServer, size: int) -> None:
    """Until the ledger signs a checkpoint over ``size`` leaves (its integrator catches up)."""
    deadline = time.monotonic() + 30
    while True:
        note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
        if int(note.split("\n")[1]) >= size:
            return
        assert time.monotonic() < deadline, f"the log never reached {size} leaves: {note}"
        time.sleep(0.05)


# -- one kiosk's uploads arriving together --------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    made = db.connect(url)
    try:
        yield made
    finally:
        made.dispose()


def _ledger(engine: Engine, election: SyntheticElection) -> tuple[Ledger, str]:
    key = SigningKey.generate()
    signed = sign_package(election.package, election.authority).to_json()
    log_key = LogKey(ORIGIN, key)
    Ledger.initialise(engine, log_key, signed, election.authority.public_key)
    return Ledger(engine, key), log_key.verifier.vkey


def test_uploads_of_one_chain_arriving_together_never_fork_it_or_count_a_block_twice(
    engine: Engine, election: SyntheticElection, chains: list[ChainWriter]
) -> None:
    ledger, log_key = _ledger(engine, election)
    chain = chains[0]
    kiosk = ledger.enrol(chain.key.public_key, "kiosk", late_reason=LATE_REASON)
    encoded = [b.encode() for b in chain.blocks]
    results: list[IngestResult] = []
    with ThreadPoolExecutor(3) as pool:
        start = 0
        while start < len(encoded):
            # the same batch twice, and a longer one over it, sent at the same moment
            ends = (start + 7, start + 7, start + 13)
            sent = [pool.submit(ledger.ingest, kiosk, encoded[start:end]) for end in ends]
            results += [s.result(timeout=60) for s in sent]
            start = min(len(encoded), max(r.head_height for r in results) + 1)
    for r in results:
        assert r.rejection is None or r.rejection.reason == "concurrent_upload", r.rejection
    assert sum(r.accepted for r in results) == len(encoded)  # each block taken once
    source = ledger.source(kiosk)
    assert source is not None and not source.quarantined
    with engine.connect() as conn:
        assert conn.execute(select(db.evidence)).first() is None
        rows = conn.execute(select(db.blocks.c.height, db.blocks.c.leaf_index)).all()
    placed = {int(height): int(leaf) for height, leaf in rows}
    assert sorted(placed) == list(range(len(encoded)))
    for r in results:  # what each answer said is where each block is
        assert all(placed[h] == leaf for h, leaf in r.leaves.items())
    assert audit_log(engine, log_key).tree == len(encoded)


def test_an_uploads_nonce_is_recorded_with_its_batch_and_a_copy_writes_nothing(
    engine: Engine,
    election: SyntheticElection,
    chains: list[ChainWriter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload's nonce goes into the transaction that sequences its blocks (one commit,
    not two). A copy of the request is refused before it is verified; a copy that got past
    that read at the same moment (both read before either committed: simulated here by the
    read answering "not seen") is refused by the insert, and its batch, even one with new
    blocks, is rolled back whole."""
    ledger, log_key = _ledger(engine, election)
    chain = chains[2]
    kiosk = ledger.enrol(chain.key.public_key, "kiosk", late_reason=LATE_REASON)
    encoded = [b.encode() for b in chain.blocks]
    nonce = RequestNonce(kiosk, os.urandom(16), int(time.time()), int(time.time()) - 600)
    first = ledger.ingest(kiosk, encoded[:5], nonce=nonce)
    assert (first.accepted, first.rejection) == (5, None)
    with engine.connect() as conn:
        held = conn.execute(select(db.request_nonces.c.nonce)).scalars().all()
    assert held == [nonce.nonce]
    again = ledger.ingest(kiosk, encoded[:5], nonce=nonce)
    assert again.rejection is not None and again.rejection.reason == "replayed_request"
    monkeypatch.setattr(request_nonces, "seen", lambda *_: False)
    raced = ledger.ingest(kiosk, encoded[:9], nonce=nonce)  # 4 new blocks under a used nonce
    assert raced.rejection is not None and raced.rejection.reason == "replayed_request"
    assert raced.accepted == 0 and not raced.leaves
    assert ledger.head(kiosk)[0] == 4  # nothing of the copy was written
    with engine.connect() as conn:
        assert conn.execute(select(db.blocks.c.height)).scalars().all() == [0, 1, 2, 3, 4]
    fresh = RequestNonce(kiosk, os.urandom(16), int(time.time()), int(time.time()) - 600)
    taken = ledger.ingest(kiosk, encoded[:9], nonce=fresh)  # a new request: taken
    assert (taken.accepted, taken.already_had, taken.rejection) == (4, 5, None)
    assert audit_log(engine, log_key).tree == 9


def test_a_batch_verified_from_a_head_that_moved_is_verified_again_not_forked(
    postgres_url: str, election: SyntheticElection, chains: list[ChainWriter]
) -> None:
    """Both uploads verify from the same head while another transaction holds the kiosk's
    row; the first to get it records the batch, the second finds the head moved, verifies
    again and takes the blocks as already held."""
    engine = db.connect(postgres_url)
    try:
        ledger, log_key = _ledger(engine, election)
        chain = chains[1]
        kiosk = ledger.enrol(chain.key.public_key, "kiosk", late_reason=LATE_REASON)
        batch = [b.encode() for b in chain.blocks[:20]]
        with ThreadPoolExecutor(2) as pool, engine.connect() as holder:
            holder.begin()
            holder.execute(
                select(db.sources.c.kiosk_id)
                .where(db.sources.c.kiosk_id == kiosk)
                .with_for_update()
            )
            sent = [pool.submit(ledger.ingest, kiosk, batch) for _ in range(2)]
            _wait_for_lock_waiters(engine, 2)
            holder.rollback()
            first, second = sorted((s.result(timeout=60) for s in sent), key=lambda r: -r.accepted)
        assert (first.accepted, first.already_had, first.rejection) == (20, 0, None)
        assert (second.accepted, second.already_had, second.rejection) == (0, 20, None)
        assert audit_log(engine, log_key).tree == 20
    finally:
        engine.dispose()


def _wait_for_lock_waiters(engine: Engine, count: int) -> None:
    deadline = time.monotonic() + 20
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    while True:
        with engine.connect() as conn:
            if int(conn.execute(query).scalar_one()) >= count:
                return
        assert time.monotonic() < deadline, f"never {count} sessions waiting for the row"
        time.sleep(0.02)
