"""What the ledger checks before it reads a request's body, over a real `ledger serve`: an
unsigned chunked upload is refused at once and never buffered, a signed one is cut off at the
size limit, and a quarantined kiosk is refused on every signed route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.crypto import SigningKey
from testkit.chunked_http import MIB, ChunkedUpload, resident_bytes
from testkit.elections import SyntheticElection, voter_of
from testkit.ledger_requests import authorization, enrol, signed_post, upload
from testkit.ledger_server import LedgerServer
from testkit.stores import make_chain

LIMIT = 4 * MIB  # the ledger's MAX_BODY


@pytest.fixture
def server(tmp_path: Path, election: SyntheticElection) -> Iterator[LedgerServer]:
    with LedgerServer(tmp_path / "ledger", election) as running:
        yield running


def _server_rss(server: LedgerServer) -> int:
    assert server.process is not None  # one worker: uvicorn serves in this very process
    return resident_bytes(server.process.pid)


def test_an_unsigned_chunked_upload_is_refused_before_its_body_is_read(
    server: LedgerServer,
) -> None:
    kiosk = enrol(server, SigningKey.generate(), "kiosk")
    before = _server_rss(server)
    with ChunkedUpload(server.port, f"/v1/kiosks/{kiosk}/blocks", {}) as attack:
        assert attack.send(b"x" * MIB)
        # The answer comes while 63 of the 64 MiB are still unsent: the server did not wait
        # for the body (before, it read all of it, then refused).
        status, body = attack.answer()
        assert status == 401, body
        assert json.loads(body)["reason"] == "bad_request_signature"
        attack.send_until(64 * MIB)  # a client that ignores the answer and pushes on
    grown = _server_rss(server) - before
    assert grown < 16 * MIB, f"the server grew by {grown / MIB:.0f} MiB for a refused upload"


def test_a_signed_chunked_upload_over_the_limit_is_cut_off_with_413(
    server: LedgerServer,
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    path = f"/v1/kiosks/{kiosk}/blocks"
    total = LIMIT + 2 * MIB
    raw = b"x" * total
    headers = {
        "Content-Type": "application/json",
        "Authorization": authorization(key, "POST", path, raw),
    }
    with ChunkedUpload(server.port, path, headers) as big:
        big.send_until(total)
        big.finish()
        status, body = big.answer()
    assert status == 413, body
    assert json.loads(body)["reason"] == "too_large"


def test_a_chunked_upload_from_an_unknown_kiosk_is_refused_before_its_body(
    server: LedgerServer,
) -> None:
    stranger = SigningKey.generate()
    path = "/v1/kiosks/" + "ab" * 16 + "/blocks"
    headers = {"Authorization": authorization(stranger, "POST", path, b"", kiosk="ab" * 16)}
    with ChunkedUpload(server.port, path, headers) as attack:
        assert attack.send(b"x" * MIB)
        status, body = attack.answer()
    assert status == 403 and json.loads(body)["reason"] == "unknown_kiosk"


def test_a_quarantined_kiosk_is_refused_its_heartbeat_and_voter_checks(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "kiosk")
    chain = make_chain(tmp_path, election, key, [("resident", 0)])
    assert upload(server, key, chain).status_code == 200
    other = make_chain(tmp_path / "fork", election, key, [("expert", 0)])
    assert upload(server, key, [other[3]]).status_code == 409  # equivocation: quarantined
    voter = voter_of(election, "resident", 0).voter_id.hex()
    checked = signed_post(server, key, f"/v1/kiosks/{kiosk}/nullifiers/check", {"voter": voter})
    assert checked.status_code == 403, checked.text
    assert checked.json()["reason"] == "quarantined"
    beat = signed_post(server, key, f"/v1/kiosks/{kiosk}/heartbeat", {"mode": "official"})
    assert beat.status_code == 403, beat.text
    assert beat.json()["reason"] == "quarantined"
    again = upload(server, key, chain)
    assert again.status_code == 403 and again.json()["reason"] == "quarantined"
