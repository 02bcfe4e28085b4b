"""A hostile network between the kiosk and a real `ledger serve` (testkit/fault_proxy.py,
rewriting answers): it cannot make the kiosk believe its blocks were delivered, nor turn a
voter away, with a forged or an old answer; and the kiosk does not talk plain http where it
must not."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.core.election import DuplicatePolicy
from kiosk.core.encoding import b64e
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.sync.client import LedgerClient
from kiosk.sync.eligibility import check_elsewhere
from kiosk.sync.errors import ForgedAnswer, InsecureLedger, SyncError
from kiosk.sync.worker import SyncWorker
from testkit.elections import SyntheticElection, random_ballot, voter_of
from testkit.fault_proxy import FaultProxy, body_of, with_body
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.v2_ballots import box_cast


def _kiosk(tmp: Path, election: SyntheticElection) -> tuple[ChainStore, SigningKey]:
    key = SigningKey.generate()
    store = official_store(tmp / "kiosk.db", os.urandom(32), key, election.package)
    box = BallotBox(store, election.package)
    voter = voter_of(election, "resident", 0)
    box_cast(box, election, voter, random_ballot(election.package, voter, random.Random(0)))
    return store, key


def _is(path: str, end: str) -> bool:
    return path.split("?", 1)[0].endswith(end)


def test_a_forged_head_does_not_mark_blocks_delivered(
    tmp_path: Path, election: SyntheticElection
) -> None:
    store, key = _kiosk(tmp_path, election)
    last = list(store.blocks())[-1]

    def claim_everything_delivered(method: str, path: str, answer: bytes) -> bytes:
        if not _is(path, "/head"):
            return answer
        doc = json.loads(body_of(answer))
        doc |= {"height": last.block.height, "hash": b64e(last.hash)}
        return with_body(answer, json.dumps(doc).encode())

    with (
        LedgerServer(tmp_path / "ledger", election) as server,
        FaultProxy(server.port, fault_rate=0.0, rewrite=claim_everything_delivered) as proxy,
    ):
        enrol(server, key, "hall A")
        client = LedgerClient(proxy.url, key, log_key=server.log_key)
        with pytest.raises(ForgedAnswer, match="not signed by its log key"):
            SyncWorker(store, client, server.log_key).sync_once()
        client.close()
        assert proxy.rewritten >= 1
        # Nothing was taken as delivered, and the ledger indeed holds nothing.
        assert store.acknowledged_height() == -1
        direct = LedgerClient(server.url, key, log_key=server.log_key)
        assert direct.head().height == -1
        direct.close()
    store.close()


def test_a_forged_upload_answer_does_not_mark_blocks_delivered(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """The blocks an upload answer says the ledger "already had" carry no inclusion proof: the
    kiosk takes them as delivered only on the ledger's signed word."""
    store, key = _kiosk(tmp_path, election)
    last = store.state.height

    def already_had_everything(method: str, path: str, answer: bytes) -> bytes:
        if not _is(path, "/blocks"):
            return answer
        doc = json.loads(body_of(answer))
        doc |= {"accepted": 0, "already_had": last + 1, "head_height": last, "leaves": {}}
        doc |= {"log_size": 0, "checkpoint": None, "rejected": None}
        return with_body(answer, json.dumps(doc).encode())

    with (
        LedgerServer(tmp_path / "ledger", election) as server,
        FaultProxy(server.port, fault_rate=0.0, rewrite=already_had_everything) as proxy,
    ):
        enrol(server, key, "hall A")
        client = LedgerClient(proxy.url, key, log_key=server.log_key)
        with pytest.raises(ForgedAnswer, match="about this upload"):
            SyncWorker(store, client, server.log_key).sync_once()
        client.close()
        assert proxy.rewritten >= 1
        assert store.acknowledged_height() == -1
    store.close()


def test_an_old_signed_head_replayed_is_refused(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """A genuine answer from the past (the ledger did hold the chain then) is signed for
    another nonce: replaying it for a later question does not verify."""
    store, key = _kiosk(tmp_path, election)
    captured: list[bytes] = []
    replaying = False

    def replay_old_head(method: str, path: str, answer: bytes) -> bytes:
        if not _is(path, "/head"):
            return answer
        if not replaying:
            captured.append(answer)
            return answer
        return captured[-1]

    with (
        LedgerServer(tmp_path / "ledger", election) as server,
        FaultProxy(server.port, fault_rate=0.0, rewrite=replay_old_head) as proxy,
    ):
        enrol(server, key, "hall A")
        client = LedgerClient(proxy.url, key, log_key=server.log_key)
        worker = SyncWorker(store, client, server.log_key)
        worker.sync_once()  # delivers the chain; the head answers seen are captured
        assert client.head().height == store.state.height  # captured: the whole chain held
        replaying = True
        with pytest.raises(ForgedAnswer):
            client.head()
        client.close()
        assert proxy.rewritten >= 1
    store.close()


@pytest.mark.parametrize("signature", ["dropped", "kept"])
def test_a_forged_has_voted_answer_does_not_turn_the_voter_away(
    tmp_path: Path, election: SyntheticElection, signature: str
) -> None:
    store, key = _kiosk(tmp_path, election)
    voter_id = voter_of(election, "resident", 1).voter_id  # has not voted anywhere

    def already_voted(method: str, path: str, answer: bytes) -> bytes:
        if not _is(path, "/nullifiers/check"):
            return answer
        doc = json.loads(body_of(answer))
        doc |= {"voted": True, "channels": ["kiosk"]}
        if signature == "dropped":
            doc.pop("signature", None)
        return with_body(answer, json.dumps(doc).encode())

    with (
        LedgerServer(tmp_path / "ledger", election) as server,
        FaultProxy(server.port, fault_rate=0.0, rewrite=already_voted) as proxy,
    ):
        enrol(server, key, "hall A")
        client = LedgerClient(proxy.url, key, log_key=server.log_key)
        with pytest.raises(ForgedAnswer):
            client.has_voted(voter_id)
        answer = check_elsewhere(client, voter_id, DuplicatePolicy.FIRST)
        client.close()
        assert proxy.rewritten >= 2
        direct = LedgerClient(server.url, key, log_key=server.log_key)
        honest = check_elsewhere(direct, voter_id, DuplicatePolicy.FIRST)
        direct.close()
    store.close()
    # The voter may vote; the kiosk says it could not check (the ledger applies the policy
    # to duplicates when the blocks arrive).
    assert answer.allowed and not answer.checked and answer.message is None
    assert honest.allowed and honest.checked


def test_plain_http_is_refused_when_the_certificate_is_pinned(
    tmp_path: Path, election: SyntheticElection
) -> None:
    store, key = _kiosk(tmp_path, election)
    with (
        LedgerServer(tmp_path / "ledger", election) as server,
        FaultProxy(server.port, fault_rate=0.0) as proxy,
    ):
        enrol(server, key, "hall A")
        pinned = LedgerClient(proxy.url, key, log_key=server.log_key, tls_pin="sha256/" + "ab" * 32)
        with pytest.raises(InsecureLedger, match="pins the ledger's TLS certificate"):
            SyncWorker(store, pinned, server.log_key).sync_once()
        with pytest.raises(InsecureLedger):
            pinned.election()
        pinned.close()
        assert sum(proxy.requests.values()) == 0  # nothing was sent in clear
        assert store.acknowledged_height() == -1
    store.close()


def test_official_mode_refuses_plain_http_to_another_machine(
    tmp_path: Path, election: SyntheticElection
) -> None:
    key = SigningKey.generate()
    # 192.0.2.1 is TEST-NET-1: never anyone's address, and nothing is sent to it anyway.
    remote = LedgerClient("http://192.0.2.1:8400", key, official=lambda: True)
    with pytest.raises(InsecureLedger, match="official mode") as refused:
        remote.election()
    assert isinstance(refused.value, SyncError)
    assert "https" in refused.value.user_message[1]
    remote.close()
    with LedgerServer(tmp_path / "ledger", election) as server:
        local = LedgerClient(server.url, key, official=lambda: True)  # loopback: a local mirror
        assert b'"package"' in local.election()
        local.close()
