"""The dashboard's log figures on real SQLite and PostgreSQL databases: a block waiting for the
integrator shows its wait, what is not known reads as unknown rather than 0, and a mirror that
takes connections but never answers is reported as failing without holding up a reading."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kiosk.core.cosignature import CosignerKey, cosign
from kiosk.core.crypto import SigningKey
from kiosk.core.election import sign_package
from kiosk.core.errors import EncodingError
from ledger.service.ingest import ingest
from ledger.service.integrator import Integrator
from ledger.service.ledger import Ledger
from ledger.service.log_health import (
    MAX_STATUS,
    Mirror,
    MirrorSeen,
    MirrorWatch,
    log_health,
)
from ledger.store import schema as db
from ledger.store.log_health import PAGE
from ledger.store.merkle_log import LogKey
from ledger.store.tile_source import record_cosigned
from ledger.witness.client import Witness, add_cosignatures
from testkit.ballot_chains import ballot_chain
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.ledger_requests import LATE_REASON
from testkit.ledger_server import ORIGIN


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    made = db.connect(url)
    try:
        yield made
    finally:
        made.dispose()


def _ledger(engine: Engine, election: SyntheticElection) -> Ledger:
    key = SigningKey.generate()
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(engine, LogKey(ORIGIN, key), signed, election.authority.public_key)
    return Ledger(engine, key)


def test_a_block_waiting_for_the_integrator_shows_its_wait_and_unknowns_say_so(
    engine: Engine, election: SyntheticElection
) -> None:
    ledger = _ledger(engine, election)
    # A witness that has cosigned nothing of this log, and a mirror never asked yet.
    cosigner = CosignerKey("witness.test/w1", SigningKey.generate().public_key)
    witness = Witness("w1", "http://127.0.0.1:9", cosigner)
    never = MirrorSeen(Mirror.parse("far=http://127.0.0.1:9"), failing="not asked yet")
    empty = log_health(ledger.reader, [witness], [never])
    assert (empty["sequenced"], empty["integrated"], empty["integration_delay_s"]) == (0, 0, 0)
    assert empty["witnesses"][0]["cosigned_newest"] is False
    assert empty["witnesses"][0]["last_cosigned_size"] is None
    assert empty["mirrors"][0] | {"url": None} == {
        "name": "far",
        "url": None,
        "answering": False,
        "failing": "not asked yet",
        "size": None,
        "lag": None,
        "verified_at": None,
        "answered_s_ago": None,
    }

    # Sequenced as `ledger serve` does, with no integrator running: the blocks wait.
    chain = ballot_chain(election, 5, random.Random(2))
    ledger.enrol(chain.key.public_key, "A-1", late_reason=LATE_REASON)
    sequenced_at = datetime.now(UTC)
    done = ingest(
        ledger.engine, ledger.election, chain.kiosk_id, [b.encode() for b in chain.blocks]
    )
    sequenced_by = datetime.now(UTC)
    assert done.accepted == len(chain.blocks)
    later = sequenced_at + timedelta(minutes=3)
    waiting = log_health(ledger.reader, [], [], now=later)
    assert waiting["sequenced"] == len(chain.blocks) and waiting["integrated"] == 0
    # The oldest waiting block was received while ingest ran: its wait is counted from then.
    longest = (later - sequenced_at).total_seconds()
    shortest = (later - sequenced_by).total_seconds()
    assert shortest - 0.1 <= waiting["integration_delay_s"] <= longest + 0.1  # shown to 0.1 s

    Integrator(engine, ledger.key).integrate_once()
    caught_up = log_health(ledger.reader, [], [], now=later)
    assert caught_up["integrated"] == caught_up["sequenced"] == len(chain.blocks)
    assert caught_up["integration_delay_s"] == 0
    assert caught_up["checkpoint_size"] == len(chain.blocks)
    standby = caught_up["standby"]
    if engine.dialect.name == "sqlite":
        assert standby == {"database": "sqlite"}
    else:  # the test server streams to no standby: an acknowledgement is on one disk
        assert standby["commits_wait"] is False and standby["replicas"] == []


def test_a_mirror_that_takes_the_connection_and_never_answers_is_reported_failing() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the kernel; nothing ever reads or answers
    port = silent.getsockname()[1]
    watch = MirrorWatch([Mirror.parse(f"silent=http://127.0.0.1:{port}")], poll_s=0.2).start()
    try:
        first = watch.seen()[0]  # read at once, while the question is still out
        assert first.failing == "not asked yet" and first.size is None
        _wait_until(lambda: "timed out" in str(watch.seen()[0].failing))
        assert watch.seen()[0].answered_at is None and watch.seen()[0].size is None
    finally:
        watch.stop()
        silent.close()


class _Flood(BaseHTTPRequestHandler):
    """A "mirror" whose status never ends."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        with contextlib.suppress(OSError):  # the watch stops reading, as it should
            self.wfile.write(b'{"size": 1, "pad": "' + b"x" * (MAX_STATUS * 4) + b'"}')

    def log_message(self, *_args: object) -> None:
        pass


def test_a_mirror_whose_status_never_ends_is_read_no_further_than_a_status_can_be() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    watch = MirrorWatch([Mirror.parse(f"flood={url}")], poll_s=0.2).start()
    try:
        _wait_until(lambda: "longer than" in str(watch.seen()[0].failing))
        assert watch.seen()[0].size is None
    finally:
        watch.stop()
        server.shutdown()
        server.server_close()


def test_a_mirror_ahead_of_the_ledger_shows_a_negative_lag(
    engine: Engine, election: SyntheticElection
) -> None:
    ledger = _ledger(engine, election)
    ahead = MirrorSeen(Mirror.parse("m=http://127.0.0.1:9"), 5, None, datetime.now(UTC))
    shown = log_health(ledger.reader, [], [ahead])["mirrors"][0]
    assert (shown["size"], shown["lag"], shown["answering"]) == (5, -5, True)


@pytest.mark.parametrize(
    "spec", ["no-url", "=http://127.0.0.1:1", "m=ftp://127.0.0.1", "m=http://", "m=127.0.0.1:80"]
)
def test_a_mirror_given_wrongly_is_refused_with_the_form_to_use(spec: str) -> None:
    with pytest.raises(EncodingError, match="NAME=http"):
        Mirror.parse(spec)


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    """A roll of 126 voters: a kiosk's chain holds one ballot per voter, and these chains are
    long (the suite's shared election has 27)."""
    return build_election(mixed_definition(groups=3), seed="test")


def test_the_size_a_witness_last_cosigned_is_found_pages_back_and_a_forged_line_is_not_it(
    engine: Engine, election: SyntheticElection
) -> None:
    ledger = _ledger(engine, election)
    chain = ballot_chain(election, PAGE + 10, random.Random(3))
    ledger.enrol(chain.key.public_key, "A-1", late_reason=LATE_REASON)
    key = SigningKey.generate()
    witness = Witness("w1", "http://127.0.0.1:9", CosignerKey("witness.test/w1", key.public_key))
    integrator = Integrator(engine, ledger.key)
    for i, block in enumerate(chain.blocks):  # one checkpoint per block
        assert ingest(ledger.engine, ledger.election, chain.kiosk_id, [block.encode()]).accepted
        done = integrator.integrate_once()
        assert done is not None and done.size == i + 1
        if done.size in (3, 5):
            body = done.checkpoint[: done.checkpoint.index("\n\n") + 1]
            if done.size == 5:  # its name and key id, over another tree: not a cosignature
                body = body.replace(f"\n{i + 1}\n", f"\n{i + 2}\n", 1)
            line = cosign(body, "witness.test/w1", key, int(time.time()))
            cosigned = add_cosignatures(done.checkpoint, [line])
            assert record_cosigned(engine, done.size, done.checkpoint, cosigned)
    shown = log_health(ledger.reader, [witness], [])
    assert shown["checkpoint_size"] == len(chain.blocks) > PAGE + 3
    assert shown["witnesses"][0]["cosigned_newest"] is False
    assert shown["witnesses"][0]["last_cosigned_size"] == 3
