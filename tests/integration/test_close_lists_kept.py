"""The sources and the evidence the close statement signs are the ones the record shows, even
when the ledger's tables change after the close: a real SQLite ledger takes a hall's and an
online platform's ballots and is closed; then a kiosk is enrolled late (with a reason) and the
hall signs a second block at a height the log holds (a fork: kept as evidence, the hall
quarantined). `ledger count prepare` and `ledger count finish` count by the channels the close
signed, `ledger publish` writes the record with the lists kept at the close, and
`ledger verify-bundle`, in a process of its own, passes every check and says the lists are the
signed ones. On PostgreSQL, the close keeps the lists in its own transaction too, a fork waived
at the close included. The trustees' part runs in this process (TEST ONLY; their real processes are
tests/integration/test_count_trustees.py's and test_close_signs_sources.py's)."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.core.block import BlockKind, block_time, sign_block
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import Channel, ElectionPackage, sign_package
from kiosk.core.encoding import b64e
from kiosk.core.verifiable.ceremony import TrusteeShare
from ledger.rules.close_statement import verify_statement
from ledger.rules.count_decryption import decryption_name, make_decryption
from ledger.rules.count_files import (
    COUNT_INPUT,
    make_shuffle,
    read_count_input,
    shuffle_name,
    verify_shuffles,
)
from ledger.service.closing import close_election
from ledger.service.count import finish_count, prepare_count
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from ledger.store.closed_lists import closed_lists
from ledger.store.merkle_log import LogKey
from testkit.chain_writer import ChainWriter
from testkit.v2_ballots import cast_ballot
from testkit.v2_record import LOG_ORIGIN, record_election

TRUSTEES = (1, 3)  # k = 2 of the three shuffle and decrypt
LEDGER = (sys.executable, "-m", "ledger.cli")


def _writer(ledger: Ledger, name: str, channel: Channel) -> ChainWriter:
    key = SigningKey(sha256(f"lists-kept/{name}".encode()))
    ledger.enrol(key.public_key, name, "", channel)
    start = datetime.now(UTC) - timedelta(hours=1)
    writer = ChainWriter(ledger.package, key, start, timedelta(seconds=20))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    return writer


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEDGER, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_the_record_shows_the_lists_the_close_signed(tmp_path: Path) -> None:
    election, ceremony, shares, keys, log_key = record_election("lists-kept", "lists-kept")
    package = election.package
    data = tmp_path / "ledger"
    data.mkdir()
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    engine = db.connect(f"sqlite:///{data / 'ledger.db'}")
    try:
        db.create_schema(engine)
        signed = sign_package(package, election.authority).to_json()
        Ledger.initialise(
            engine, LogKey(LOG_ORIGIN, log_key), signed, election.authority.public_key
        )
        ledger = Ledger(engine, log_key)
        hall = _writer(ledger, "Hall A", Channel.KIOSK)
        online = _writer(ledger, "Platform", Channel.ONLINE)
        rng = random.Random(17)
        for index in range(len(package.roll)):
            writer = hall if index % 2 == 0 else online
            writer.now += writer.step
            writer.append(BlockKind.BALLOT, cast_ballot(election, index, rng).body)
        for writer in (hall, online):
            writer.close_session()
            done = ledger.ingest(writer.kiosk_id, [b.encode() for b in writer.blocks])
            assert done.rejection is None, done.rejection
        close_election(ledger, {})
        # After the close: a kiosk enrolled late, and a fork by the hall (kept, quarantined).
        late = SigningKey(sha256(b"lists-kept/late"))
        ledger.enrol(late.public_key, "Late hall", "", late_reason="brought after the close")
        first = hall.blocks[0]
        fork = sign_block(
            dataclasses.replace(first.block, time=block_time(datetime(2017, 1, 1, tzinfo=UTC))),
            hall.key,
        )
        forked = ledger.ingest(hall.kiosk_id, [fork.encode()])
        assert forked.rejection is not None and forked.rejection.reason == "equivocation"
        assert any(s.quarantined for s in ledger.sources()) and len(ledger.sources()) == 3
        published = data / "published"
        count = published / "count"
        prepare_count(ledger, count, workers=1)
        _trustees(election.package, count, shares, keys)
        finish_count(ledger, count, workers=1)
    finally:
        engine.dispose()
    transcript = tmp_path / "package.ceremony.json"
    transcript.write_text(json.dumps(ceremony, ensure_ascii=False))
    publishing = _cli("publish", "--data", data, "--ceremony", transcript)
    assert publishing.returncode == 0, publishing.stderr
    with zipfile.ZipFile(published / "bundle.zip") as z:
        sources = json.loads(z.read("sources.json"))
        evidence = json.loads(z.read("evidence.json"))
        results = json.loads(z.read("count/results.json"))
    assert [(s["name"], s["channel"], s["quarantined"]) for s in sources] == [
        ("Hall A", "kiosk", False),
        ("Platform", "online", False),
    ]
    assert evidence == []  # the fork came after the close: the ledger keeps it, the close not
    assert [s["name"] for s in results["sources"]] == ["Hall A", "Platform"]
    verified = _cli("verify-bundle", published / "bundle.zip", "--workers", "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "FAILED" not in verified.stdout
    assert "sources.json (2 sources) and evidence.json (0 entries) are the lists" in verified.stdout


def test_on_postgres_the_close_keeps_the_lists_it_signs(postgres_url: str) -> None:
    election, _, _, _, log_key = record_election("lists-kept-pg", "lists-kept-pg")
    package = election.package
    engine = db.connect(postgres_url)
    try:
        db.create_schema(engine)
        signed = sign_package(package, election.authority).to_json()
        Ledger.initialise(
            engine, LogKey(LOG_ORIGIN, log_key), signed, election.authority.public_key
        )
        ledger = Ledger(engine, log_key)
        hall = _writer(ledger, "Hall A", Channel.KIOSK)
        hall.close_session()
        assert ledger.ingest(hall.kiosk_id, [b.encode() for b in hall.blocks]).rejection is None
        fork = sign_block(
            dataclasses.replace(
                hall.blocks[1].block, time=block_time(datetime(2017, 1, 1, tzinfo=UTC))
            ),
            hall.key,
        )
        assert ledger.ingest(hall.kiosk_id, [fork.encode()]).rejection is not None
        closed = close_election(ledger, {hall.kiosk_id: "it signed two blocks at height 1"})
        ledger.enrol(
            SigningKey(sha256(b"lists-kept-pg/late")).public_key, "Late", "", late_reason="x"
        )
        kept = closed_lists(db.reader(engine))
    finally:
        engine.dispose()
    assert kept is not None
    assert [(s["name"], s["channel"], s["quarantined"]) for s in kept.sources] == [
        ("Hall A", "kiosk", True)
    ]
    assert [(e["kiosk"], e["height"], e["block"]) for e in kept.evidence] == [
        (hall.kiosk_id, 1, fork.encode().decode())
    ]
    signed_hashes = verify_statement(
        closed.statement, NoteVerifier(LOG_ORIGIN, log_key.public_key), closed, package.id
    )
    assert signed_hashes == kept.hashes()


def _trustees(
    package: ElectionPackage,
    count: Path,
    shares: dict[int, TrusteeShare],
    keys: dict[int, SigningKey],
) -> None:
    """The trustees' shuffles and decryptions, in this process (TEST ONLY)."""
    count_input = read_count_input((count / COUNT_INPUT).read_bytes(), package)
    for n, j in enumerate(TRUSTEES, start=1):
        earlier = [(count / shuffle_name(i)).read_bytes() for i in range(1, n)]
        chain = verify_shuffles(package, count_input, earlier)
        raw = make_shuffle(package, chain.columns, chain.last_hash, j, keys[j])
        (count / shuffle_name(n)).write_bytes(raw)
    shuffles = [(count / shuffle_name(n)).read_bytes() for n in range(1, len(TRUSTEES) + 1)]
    chain = verify_shuffles(package, count_input, shuffles)
    for j in TRUSTEES:
        raw = make_decryption(package, count_input, chain, shares[j], keys[j])
        (count / decryption_name(j)).write_bytes(raw)
