"""Signed requests cannot be used twice, nor at another ledger, over a real `ledger serve`:
a captured request sent again is refused, as is one signed for (or captured at) another
ledger, and the refusal holds across worker processes (PostgreSQL, two workers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kiosk.core.crypto import SigningKey
from testkit.elections import SyntheticElection, voter_of
from testkit.ledger_requests import enrol, signed_post, upload
from testkit.ledger_server import LedgerServer
from testkit.stores import make_chain


@pytest.fixture
def server(tmp_path: Path, election: SyntheticElection) -> Iterator[LedgerServer]:
    with LedgerServer(tmp_path / "ledger", election) as running:
        yield running


def resend(server: LedgerServer, captured: requests.Response) -> requests.Response:
    """The captured request, byte for byte, sent again to ``server``."""
    sent = captured.request
    assert sent.url is not None and sent.path_url is not None
    return requests.post(
        server.url + sent.path_url,
        data=sent.body,
        headers={k: v for k, v in sent.headers.items() if k.lower() != "content-length"},
        timeout=30,
    )


def test_a_captured_request_sent_again_is_refused(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "hall A")
    voter = voter_of(election, "resident", 0).voter_id.hex()
    path = f"/v1/kiosks/{kiosk}/nullifiers/check"
    first = signed_post(server, key, path, {"voter": voter})
    assert first.status_code == 200, first.text
    again = resend(server, first)
    assert again.status_code == 401, again.text
    assert again.json()["reason"] == "replayed_request"
    beat = signed_post(server, key, f"/v1/kiosks/{kiosk}/heartbeat", {"mode": "official"})
    replayed_beat = resend(server, beat)
    assert replayed_beat.json()["reason"] == "replayed_request"
    chain = make_chain(tmp_path, election, key, [("resident", 0)])
    delivered = upload(server, key, chain)
    assert delivered.status_code == 200
    assert resend(server, delivered).json()["reason"] == "replayed_request"
    # A fresh signature over the very same body is a new request, and is taken.
    assert signed_post(server, key, path, {"voter": voter}).status_code == 200


def test_a_request_for_another_ledger_is_refused(
    server: LedgerServer, election: SyntheticElection, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    kiosk = enrol(server, key, "hall A")
    path = f"/v1/kiosks/{kiosk}/nullifiers/check"
    body = {"voter": voter_of(election, "resident", 0).voter_id.hex()}
    elsewhere = signed_post(server, key, path, body, origin="training-ledger.example/hanpyo")
    assert elsewhere.status_code == 401, elsewhere.text
    assert elsewhere.json()["reason"] == "wrong_ledger"
    assert "training-ledger.example/hanpyo" in elsewhere.json()["detail"]
    # A request taken by a second ledger (where the same kiosk is enrolled) and replayed here.
    with LedgerServer(tmp_path / "other", election, origin="other.test/hanpyo") as other:
        enrol(other, key, "hall A")
        taken = signed_post(other, key, path, body, origin=other.origin)
        assert taken.status_code == 200, taken.text
        stolen = resend(server, taken)
    assert stolen.status_code == 401 and stolen.json()["reason"] == "wrong_ledger"


@pytest.mark.slow
def test_a_replay_is_refused_by_every_worker_process(
    tmp_path: Path, election: SyntheticElection, postgres_url: str
) -> None:
    key = SigningKey.generate()
    with LedgerServer(tmp_path / "ledger", election, db=postgres_url, workers=2) as pg:
        kiosk = enrol(pg, key, "hall A")
        path = f"/v1/kiosks/{kiosk}/nullifiers/check"
        body = {"voter": voter_of(election, "resident", 0).voter_id.hex()}
        first = signed_post(pg, key, path, body)
        assert first.status_code == 200, first.text
        # Each replay is a new connection, so the two workers share them between them.
        answers = {resend(pg, first).json()["reason"] for _ in range(20)}
    assert answers == {"replayed_request"}
