"""Kiosk to ledger sync over real HTTP, and the USB export for venues with no network."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.checkpoint import NoteVerifier, verify_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys, provision
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import LedgerUnreachable, UntrustedLedger
from kiosk.sync.worker import SyncWorker
from testkit.elections import SyntheticElection, random_ballot, voter_of
from testkit.ledger_requests import LATE_REASON, enrol
from testkit.ledger_server import ORIGIN, ROOT, LedgerServer
from testkit.stores import official_store
from testkit.v2_ballots import box_cast


def cast(box: BallotBox, election: SyntheticElection, category: str, n: int) -> str:
    voter = voter_of(election, category, n)
    ballot = random_ballot(box.package, voter, random.Random(n))
    return box_cast(box, election, voter, ballot).tracking_code


def open_kiosk(tmp: Path, election: SyntheticElection) -> tuple[ChainStore, BallotBox, SigningKey]:
    key = SigningKey.generate()
    store = official_store(tmp / "kiosk.db", os.urandom(32), key, election.package)
    box = BallotBox(store, election.package)
    return store, box, key


def test_sync_pushes_verifies_and_resumes(tmp_path: Path, election: SyntheticElection) -> None:
    store, box, key = open_kiosk(tmp_path, election)
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "hall A")
        worker = SyncWorker(
            store, LedgerClient(server.url, key, log_key=server.log_key), server.log_key
        )
        cast(box, election, "resident", 0)
        status = worker.sync_once()
        assert status.online and status.trusted and status.pending == 0
        assert status.acknowledged_height == store.state.height == 3
        for n in range(1, 4):
            cast(box, election, "resident", n)
        assert worker.sync_once().acknowledged_height == store.state.height == 6
        assert worker.client.head().height == 6
        size, note = store.latest_checkpoint() or (0, "")
        checkpoint = verify_checkpoint(note, server.log_key)
        assert size == 7 and checkpoint.size == 7
        # Every block has its own verified inclusion proof, kept beside the chain.
        blocks = list(store.blocks())
        for block in blocks:
            recorded = store.inclusion_proof(block.block.height)
            assert recorded is not None, f"no proof kept for block {block.block.height}"
        for block in blocks[4:]:  # the second batch, proved in the tree of size 7
            leaf, tree, proof = store.inclusion_proof(block.block.height) or (0, 0, [])
            assert (leaf, tree) == (block.block.height, 7)
            verify_inclusion(leaf_hash(block.encode()), leaf, tree, proof, checkpoint.root)
        # The checkpoint goes into the session's closing block.
        closing = box.close_session()
        worker.sync_once()
        assert closing.block.body["checkpoint"] == note
        assert worker.client.head().height == closing.block.height
    with pytest.raises(LedgerUnreachable):
        worker.sync_once()  # the ledger is gone: a clear error, nothing lost
    assert store.state.height == closing.block.height
    store.close()


def test_a_ledger_that_does_not_sign_with_the_pinned_key_is_not_trusted(
    tmp_path: Path, election: SyntheticElection
) -> None:
    store, box, key = open_kiosk(tmp_path, election)
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "hall A")
        wrong = NoteVerifier(ORIGIN, SigningKey.generate().public_key).vkey
        worker = SyncWorker(store, LedgerClient(server.url, key, log_key=wrong), wrong)
        cast(box, election, "expert", 0)
        with pytest.raises(UntrustedLedger, match="does not verify"):
            worker.sync_once()
    assert store.latest_checkpoint() is None
    store.close()


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_usb_export_round_trip_with_tampered_and_truncated_files(
    tmp_path: Path, election: SyntheticElection
) -> None:
    keys = provision(tmp_path / "keys")
    keys = load_keys(tmp_path / "keys")
    with official_store(
        tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
    ) as store:
        box = BallotBox(store, election.package)
        for n in range(4):
            cast(box, election, "resident", n)
    usb = tmp_path / "usb"
    usb.mkdir()
    done = run(
        "kiosk.cli",
        "export",
        str(tmp_path / "kiosk.db"),
        "--keys",
        str(tmp_path / "keys"),
        "--out",
        str(usb / "chain.hanpyo"),
    )
    assert done.returncode == 0, done.stderr
    assert "exported blocks 0..6 (7)" in done.stdout
    lines = (usb / "chain.hanpyo").read_bytes().splitlines()

    tampered = usb / "tampered.hanpyo"
    doc = json.loads(lines[5])
    doc["time"] = "2031-01-01T00:00Z"
    tampered.write_bytes(b"\n".join([*lines[:5], json.dumps(doc).encode(), *lines[6:]]) + b"\n")
    truncated = usb / "truncated.hanpyo"
    truncated.write_bytes(b"\n".join(lines[:4]) + b"\n" + lines[4][:30])

    with LedgerServer(tmp_path / "ledger", election) as server:
        kiosk = enrol(server, keys.kiosk_key, "USB-only kiosk")
        cut = server.cli("import", str(truncated))
        assert cut.returncode == 1
        assert "truncated" in cut.stdout and "line 5" in cut.stdout
        assert f"kiosk {kiosk}: 3 new blocks" in cut.stdout  # the blocks before the damage
        bad = server.cli("import", str(tampered))
        assert bad.returncode == 1
        assert "altered" in bad.stdout and "bad_signature" in bad.stdout
        assert "refused at height 4" in bad.stdout and "1 new blocks" in bad.stdout
        good = server.cli("import", str(usb / "chain.hanpyo"))
        assert good.returncode == 0, good.stdout
        assert "3 new blocks, 4 already held" in good.stdout
        again = server.cli("import", str(usb / "chain.hanpyo"))
        assert again.returncode == 0 and "0 new blocks, 7 already held" in again.stdout


def test_the_kiosk_asks_the_ledger_whether_a_voter_voted_elsewhere(
    tmp_path: Path, election: SyntheticElection
) -> None:
    from kiosk.core.election import DuplicatePolicy
    from kiosk.sync.eligibility import check_elsewhere

    store, box, key = open_kiosk(tmp_path, election)
    policy = election.package.duplicate_policy
    assert policy is DuplicatePolicy.IN_PERSON_WINS
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "hall A")
        cast(box, election, "resident", 0)
        SyncWorker(
            store, LedgerClient(server.url, key, log_key=server.log_key), server.log_key
        ).sync_once()
        other_key = SigningKey.generate()
        enrol(server, other_key, "hall B")
        hall_b = LedgerClient(server.url, other_key, log_key=server.log_key)
        voted = check_elsewhere(hall_b, voter_of(election, "resident", 0).voter_id, policy)
        assert not voted.allowed and voted.checked
        assert voted.message is not None and "in person" in voted.message[1]
        fresh = check_elsewhere(hall_b, voter_of(election, "resident", 1).voter_id, policy)
        assert fresh.allowed and fresh.message is None and fresh.checked
        first = check_elsewhere(
            hall_b, voter_of(election, "resident", 0).voter_id, DuplicatePolicy.LAST
        )
        assert first.allowed and first.message is not None and "replaces" in first.message[1]
    offline = check_elsewhere(hall_b, voter_of(election, "resident", 0).voter_id, policy)
    assert offline.allowed and not offline.checked  # local rules apply; the ledger sorts it out
    store.close()


def test_the_ledger_certificate_is_pinned(tmp_path: Path, election: SyntheticElection) -> None:
    """HTTPS to the ledger succeeds only with the certificate pinned in the election package."""
    import hashlib
    import socket
    import ssl
    import time as clock

    from testkit.ledger_server import free_port, ledger_cli

    cert, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key_file),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()
    store, box, kiosk_key = open_kiosk(tmp_path, election)
    plain = LedgerServer(tmp_path / "ledger", election)  # init only; served below over TLS
    enrol_cli = ledger_cli(
        "kiosks",
        "enrol",
        f"--public-key={b64e(kiosk_key.public_key)}",
        "--name",
        "hall A",
        "--late-reason",
        LATE_REASON,
        data=tmp_path / "ledger",
    )
    assert enrol_cli.returncode == 0, enrol_cli.stderr
    port = free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli",
            "serve",
            "--data",
            str(tmp_path / "ledger"),
            "--port",
            str(port),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key_file),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"https://127.0.0.1:{port}"
        deadline = clock.monotonic() + 30
        while True:  # wait until it listens
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert clock.monotonic() < deadline, "ledger serve with TLS did not start"
            clock.sleep(0.1)
        cast(box, election, "resident", 0)
        pinned = SyncWorker(
            store,
            LedgerClient(url, kiosk_key, log_key=plain.log_key, tls_pin=f"sha256/{pin}"),
            plain.log_key,
        )
        assert pinned.sync_once().acknowledged_height == store.state.height
        wrong = LedgerClient(url, kiosk_key, tls_pin="sha256/" + "00" * 32)
        with pytest.raises(LedgerUnreachable):
            wrong.head()
        unpinned = LedgerClient(url, kiosk_key)  # ordinary CA checks refuse a self-signed cert
        with pytest.raises(LedgerUnreachable):
            unpinned.head()
        for client in (pinned.client, wrong, unpinned):
            client.close()  # a kept-alive connection would hold up the server's shutdown
    finally:
        serve.terminate()
        serve.wait(15)
        store.close()


def test_the_worker_posts_heartbeats_the_dashboard_shows(
    tmp_path: Path, election: SyntheticElection
) -> None:
    from dataclasses import replace

    import requests

    from kiosk.core.chain import Mode, Session
    from kiosk.core.heartbeat import Heartbeat, PrinterReport, ReaderState

    store, box, key = open_kiosk(tmp_path, election)
    status = Heartbeat(
        mode=Mode.OFFICIAL,
        session=Session.OPEN,
        height=0,
        pending_blocks=7,  # the worker reports 0: it sends only once the ledger holds all
        ballots_session=0,
        reader=ReaderState.MISSING,
        printer=PrinterReport.OK,
        version="0.1.0",
    )
    with LedgerServer(tmp_path / "ledger", election) as server:
        kiosk = enrol(server, key, "hall A")
        worker = SyncWorker(
            store,
            LedgerClient(server.url, key, log_key=server.log_key),
            server.log_key,
            heartbeat=lambda: replace(status, height=store.state.height),
        )
        cast(box, election, "resident", 0)
        worker.sync_once()
        fleet = requests.get(
            f"{server.url}/v1/admin/fleet", headers=server.admin(), timeout=10
        ).json()
    mine = next(k for k in fleet if k["kiosk"] == kiosk)
    assert mine["report"]["height"] == store.state.height == 3
    assert mine["report"]["pending_blocks"] == 0
    assert mine["alarms"] == ["reader_missing"]
    store.close()


def test_a_heartbeat_the_kiosk_cannot_build_does_not_stop_its_blocks(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """A state the heartbeat has no word for (ValueError from its enums) is logged and the
    report skipped; the ballots still reach the ledger."""
    from kiosk.core.heartbeat import Heartbeat, ReaderState

    def broken() -> Heartbeat:
        ReaderState("on fire")  # raises ValueError, as a new reader state would
        raise AssertionError("unreachable")

    store, box, key = open_kiosk(tmp_path, election)
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "hall A")
        worker = SyncWorker(
            store,
            LedgerClient(server.url, key, log_key=server.log_key),
            server.log_key,
            heartbeat=broken,
        )
        cast(box, election, "resident", 0)
        worker.sync_once()
    assert store.acknowledged_height() == store.state.height == 3
    store.close()
