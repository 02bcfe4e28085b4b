"""Holes an attacker's review of the hardening found, each shown through the real stack and
closed (the tests fail on the code before the fixes).

- A network that strips "rejected" from a signed upload answer (and turns 422 into 200) made
  the kiosk record refused blocks as delivered: the kiosk now counts only what the ledger's
  signed head height covers.
- The ledger's guard skipped kiosk ids longer than 64 characters, reading up to 4 MiB of
  body before refusing: every kiosk write is now checked before its body.
- A session cookie with "²" as its end time was a server error (str.isdigit takes it).
"""

from __future__ import annotations

import json
import os
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

import kiosk.store.chain_store as chain_store
from kiosk.core.block import block_time
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.store.ballot_box import BallotBox
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import LedgerRefused
from kiosk.sync.worker import SyncWorker
from testkit.elections import SyntheticElection, random_ballot, voter_of
from testkit.fault_proxy import FaultProxy, body_of, with_body
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.v2_ballots import box_cast


def _blocks_path(path: str) -> bool:
    return path.split("?", 1)[0].endswith("/blocks")


def test_a_stripped_refusal_does_not_mark_refused_blocks_delivered(
    tmp_path: Path, election: SyntheticElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = SigningKey.generate()
    store = official_store(tmp_path / "k.db", os.urandom(32), key, election.package)
    box = BallotBox(store, election.package)
    voter = voter_of(election, "resident", 0)
    # this ballot is dated 30 minutes ahead of the ledger's clock: refused (time_in_future)
    ahead = block_time(datetime.now(UTC) + timedelta(minutes=30))
    monkeypatch.setattr(chain_store, "block_time", lambda: ahead)
    box_cast(box, election, voter, random_ballot(election.package, voter, random.Random(0)))

    def strip_rejection(method: str, path: str, answer: bytes) -> bytes:
        if not _blocks_path(path):
            return answer
        doc = json.loads(body_of(answer))
        doc["rejected"] = None
        doc.pop("reason", None)
        doc.pop("detail", None)
        return with_body(answer.replace(b" 422 ", b" 200 ", 1), json.dumps(doc).encode())

    with (
        LedgerServer(tmp_path / "ledger", election) as server,
        FaultProxy(server.port, fault_rate=0.0, rewrite=strip_rejection) as proxy,
    ):
        enrol(server, key, "hall A")
        client = LedgerClient(proxy.url, key, log_key=server.log_key)
        with pytest.raises(LedgerRefused, match="not_held"):
            SyncWorker(store, client, server.log_key).sync_once()
        client.close()
        direct = LedgerClient(server.url, key, log_key=server.log_key)
        ledger_head = direct.head().height
        direct.close()
    acknowledged = store.acknowledged_height()
    store.close()
    assert ledger_head == 2  # genesis, mode, session: the ballot was refused
    assert acknowledged == ledger_head  # the kiosk still has the ballot pending


def _first_answer(port: int, path: str, wait: float = 5.0) -> bytes:
    """Send only a request head announcing a 1 MB body; what comes back within ``wait``."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(wait)
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000000\r\n\r\n".encode()
        )
        try:
            return s.recv(200)
        except TimeoutError:
            return b""


@pytest.mark.parametrize("length", [32, 65, 4000])
def test_every_kiosk_write_is_refused_before_its_body(
    tmp_path: Path, election: SyntheticElection, length: int
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        answer = _first_answer(server.port, "/v1/kiosks/" + "a" * length + "/blocks")
    assert answer.startswith(b"HTTP/1.1 401"), answer


def test_a_malformed_session_cookie_is_refused_not_a_server_error(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        cookie = f"hanpyo_admin={b64e(bytes(32))}.\u00b2.{b64e(bytes(32))}"
        answer = requests.get(
            f"{server.url}/v1/admin/fleet", headers={"Cookie": cookie}, timeout=10
        )
    assert answer.status_code == 401, answer.text
