"""The integrator (issue 18): of two running at once only the elected one extends the tree, the
other takes over when it stops, and one killed part-way through loses nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kiosk.core.crypto import SigningKey
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e
from ledger.service.ingest import ingest
from ledger.service.integrator import Integrator
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from ledger.store.integration import published_size
from ledger.store.merkle_log import LogKey
from testkit.ballot_chains import ballot_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.ledger_requests import LATE_REASON
from testkit.ledger_server import ORIGIN, ROOT
from testkit.log_audit import audit_log


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = db.connect(url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    """A roll of 168 voters: a kiosk's chain holds one ballot per voter, and these chains are
    long (the suite's shared election has 27)."""
    return build_election(mixed_definition(groups=4), seed="test")


@pytest.fixture(scope="module")
def chains(election: SyntheticElection) -> list[ChainWriter]:
    rng = random.Random(4)
    return [ballot_chain(election, 150, rng) for _ in range(4)]


def _ledger(engine: Engine, election: SyntheticElection, key: SigningKey) -> Ledger:
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(engine, LogKey(ORIGIN, key), signed, election.authority.public_key)
    return Ledger(engine, key)


def _sequence(ledger: Ledger, chain: ChainWriter, start: int, end: int) -> None:
    """Sequence blocks as `ledger serve` does, leaving the tree to the integrators."""
    if start == 0:
        ledger.enrol(chain.key.public_key, chain.kiosk_id[:8], late_reason=LATE_REASON)
    encoded = [b.encode() for b in chain.blocks[start:end]]
    result = ingest(ledger.engine, ledger.election, chain.kiosk_id, encoded)
    assert result.accepted == end - start, result.rejection


def _wait_for_tree(engine: Engine, size: int) -> None:
    deadline = time.monotonic() + 30
    while published_size(engine) < size:
        assert time.monotonic() < deadline, f"the tree never reached {size} leaves"
        time.sleep(0.02)


def test_of_two_integrators_at_once_only_the_elected_one_extends_the_tree(
    engine: Engine, election: SyntheticElection, chains: list[ChainWriter]
) -> None:
    key = SigningKey.generate()
    ledger = _ledger(engine, election, key)
    signed_by: dict[str, list[int]] = {"first": [], "second": []}
    first = Integrator(
        engine, ledger.key, on_checkpoint=[lambda _n, s: signed_by["first"].append(s)]
    )
    second = Integrator(
        engine, ledger.key, on_checkpoint=[lambda _n, s: signed_by["second"].append(s)]
    )
    first.start()
    _wait_until(lambda: first.leading)
    second.start()
    try:
        for chain in chains[:2]:
            _sequence(ledger, chain, 0, 60)
        _wait_for_tree(engine, 120)
        assert second.leading is False
        assert signed_by["second"] == []
        assert signed_by["first"] and signed_by["first"][-1] == 120

        first.stop()  # its lock goes with it: the other is elected and carries on
        for chain in chains[:2]:
            _sequence(ledger, chain, 60, 100)
        _wait_for_tree(engine, 200)
        assert second.leading
        assert signed_by["second"][-1] == 200
        assert max(signed_by["first"]) == 120
    finally:
        first.stop()
        second.stop()
    audit = audit_log(engine, ledger.key.verifier.vkey)
    assert (audit.blocks, audit.tree) == (200, 200)


def test_integrators_extending_at_the_same_moment_queue_on_the_log(
    url: str, engine: Engine, election: SyntheticElection, chains: list[ChainWriter]
) -> None:
    """The election saves integrators the wait; the log's own lock keeps the tree right even
    when two rounds run at once, each on its own connection."""
    key = SigningKey.generate()
    ledger = _ledger(engine, election, key)
    other_engine = db.connect(url)
    try:
        rounds = [Integrator(engine, ledger.key), Integrator(other_engine, ledger.key)]
        for step in range(0, 150, 30):
            for chain in chains:
                _sequence(ledger, chain, step, step + 30)
            with ThreadPoolExecutor(2) as pool:
                done = list(pool.map(lambda i: i.integrate_once(), rounds))
            added = [d.added for d in done if d is not None]
            assert sum(added) == 4 * 30  # each leaf put in the tree by one of them, once
    finally:
        other_engine.dispose()
    audit = audit_log(engine, ledger.key.verifier.vkey)
    assert (audit.blocks, audit.tree) == (600, 600)


def test_an_integrator_killed_part_way_loses_nothing_and_the_next_one_resumes(
    url: str, engine: Engine, election: SyntheticElection, chains: list[ChainWriter], tmp_path: Path
) -> None:
    key = SigningKey.generate()
    ledger = _ledger(engine, election, key)
    for chain in chains:
        _sequence(ledger, chain, 0, len(chain.blocks))
    total = sum(len(c.blocks) for c in chains)
    key_file = tmp_path / "log.key"
    key_file.write_text(b64e(key.seed))
    process = subprocess.Popen(
        [sys.executable, "-m", "testkit.integrator_process", url, ORIGIN, str(key_file), "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_until(lambda: published_size(engine) >= 30)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    at_kill = published_size(engine)
    assert 30 <= at_kill < total  # it was killed part-way
    assert audit_log(engine, ledger.key.verifier.vkey).tree == at_kill

    successor = Integrator(engine, ledger.key).start()
    try:
        _wait_for_tree(engine, total)
    finally:
        successor.stop()
    audit = audit_log(engine, ledger.key.verifier.vkey)
    assert (audit.blocks, audit.tree) == (total, total)


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_the_ledgers_checkpoint_hooks_hear_of_every_checkpoint_its_ingest_signs(
    engine: Engine, election: SyntheticElection, chains: list[ChainWriter]
) -> None:
    """With no integrator thread (`ledger import`), ingest extends the tree itself and calls
    the same hooks the background integrator would: tiles and witnesses miss nothing."""
    ledger = _ledger(engine, election, SigningKey.generate())
    heard: list[int] = []
    ledger.on_checkpoint.append(lambda note, size: heard.append(size))
    chain = chains[2]
    ledger.enrol(chain.key.public_key, "kiosk", late_reason=LATE_REASON)
    for start in range(0, 50, 25):
        result = ledger.ingest(
            chain.kiosk_id, [b.encode() for b in chain.blocks[start : start + 25]]
        )
        assert result.log_size == start + 25 and result.checkpoint is not None
    assert heard == [25, 50]
