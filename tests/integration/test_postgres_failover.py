"""The ledger's PostgreSQL loses its primary mid-ingest (docs/ledger-standby.md): a primary with
a synchronous standby (testkit/postgres_standby.py), `ledger serve` and a witness, each a real
process on loopback. Kiosks upload while the primary's host is killed; the standby is promoted
by hand and the ledger restarted with the same connection string, which names both servers.
Every block the ledger acknowledged is there, every checkpoint it answered with is a prefix of
the new tree, the kiosks' resends deliver the rest, and the witness cosigns the next checkpoint
as consistent with the last one it cosigned before the failover."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures, verify_cosigned
from kiosk.core.encoding import b64d
from kiosk.core.merkle import verify_consistency
from ledger.store import schema as db
from ledger.witness.service import origin_hash
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection
from testkit.ledger_requests import upload
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.log_growth import new_kiosk
from testkit.postgres_standby import PrimaryWithStandby
from testkit.witness_server import WitnessServer

KIOSKS = 3
SESSIONS = 400  # per kiosk: 802 blocks, far more than are sent before the kill
BATCH = 20  # blocks per upload: many small commits, so the kill lands among them
KILL_AFTER = 150  # acknowledged blocks (all kiosks) before the primary is lost


@dataclass
class Kiosk:
    """One kiosk uploading its chain batch after batch, as its sync does, until one fails."""

    writer: ChainWriter
    acknowledged: int = -1  # the highest height the ledger answered 200 for
    checkpoints: list[str] = field(default_factory=list)  # in the answers, in order
    failure: str | None = None
    failed_at: float = 0.0  # time.monotonic() when the failure came

    def upload_until_refused(self, server: LedgerServer) -> None:
        blocks = self.writer.blocks
        for start in range(self.acknowledged + 1, len(blocks), BATCH):
            try:
                answer = upload(server, self.writer.key, blocks[start : start + BATCH])
            except requests.RequestException as e:
                self.failure, self.failed_at = f"no answer: {e}", time.monotonic()
                return
            if answer.status_code != 200:
                self.failure = f"{answer.status_code}: {answer.text[:200]}"
                self.failed_at = time.monotonic()
                return
            body = answer.json()
            assert body["head_height"] == min(start + BATCH, len(blocks)) - 1, body
            self.acknowledged = int(body["head_height"])
            if body["checkpoint"]:
                self.checkpoints.append(str(body["checkpoint"]))


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll until ``condition`` holds; a hang fails, no timing is asserted."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def witnessed(witness: WitnessServer, log_key: str) -> int:
    """The size of the latest checkpoint ``witness`` cosigned for the test log; -1 if none."""
    answer = requests.get(f"{witness.url}/{origin_hash(ORIGIN)}/checkpoint", timeout=10)
    if answer.status_code == 404:
        return -1
    return verify_cosigned(answer.text, log_key, [witness.vkey], 1).size


@pytest.mark.parametrize("standby_behind", [False, True], ids=["streaming", "standby_behind"])
def test_losing_the_primary_mid_ingest_loses_no_acknowledged_block(
    tmp_path: Path,
    election: SyntheticElection,
    monkeypatch: pytest.MonkeyPatch,
    standby_behind: bool,
) -> None:
    """``standby_behind``: the standby stops reading the primary's WAL a moment before the
    kill, and what it had not read is lost with the primary (see drop_standby_receiver). The
    synchronous standby is what makes this pass: with an asynchronous one the primary goes on
    acknowledging uploads the standby never gets, and they are missing after the promotion."""
    with PrimaryWithStandby() as pair:
        assert pair.primary is not None and pair.standby is not None
        # One connection string for the ledger, before and after: libpq takes the server that
        # accepts writes (target_session_attrs=read-write), whichever that is.
        server = LedgerServer(tmp_path / "ledger", election, db=pair.url, workers=2)
        witness = WitnessServer(tmp_path / "w1", "witness.test/w1", {ORIGIN: server.log_key})
        monkeypatch.setenv("HANPYO_WITNESSES", witness.spec())
        with witness, server:
            kiosks = [Kiosk(new_kiosk(server, election, f"hall {i}")) for i in range(KIOSKS)]
            for kiosk in kiosks:
                for _ in range(SESSIONS):
                    kiosk.writer.open_session()
                    kiosk.writer.close_session()
            threads = [
                threading.Thread(target=k.upload_until_refused, args=(server,)) for k in kiosks
            ]
            for thread in threads:
                thread.start()
            wait_for(
                lambda: (
                    sum(k.acknowledged + 1 for k in kiosks) >= KILL_AFTER
                    and witnessed(witness, server.log_key) > 0
                ),
                "uploads acknowledged and a checkpoint cosigned",
            )
            receiver = pair.pause_standby_receiver() if standby_behind else None
            if standby_behind:
                time.sleep(0.5)  # the ledger's chance to acknowledge what the standby lacks
            killed_at = time.monotonic()
            pair.kill_primary()  # while the kiosks' uploads are in flight
            if receiver is not None:
                pair.drop_standby_receiver(receiver)
            for thread in threads:
                thread.join(60)
            # Every kiosk was cut off part-way through its chain, by the kill and nothing
            # before it: the kill landed mid-ingest.
            assert all(k.failure is not None for k in kiosks), [k.failure for k in kiosks]
            assert all(k.failed_at >= killed_at for k in kiosks), [k.failure for k in kiosks]
            before = witnessed(witness, server.log_key)
            assert before > 0

            server.stop()
            pair.promote()  # by hand, as docs/ledger-standby.md tells the operator
            server.start()  # the same --db: the standby is the one that takes writes now

            check_every_acknowledged_block_is_there(pair, kiosks)
            for kiosk in kiosks:  # the kiosks' sync: from the ledger's head, what it lacks
                kiosk.acknowledged, kiosk.failure = head(server, kiosk.writer), None
                kiosk.upload_until_refused(server)
                assert kiosk.failure is None, kiosk.failure
                assert head(server, kiosk.writer) == len(kiosk.writer.blocks) - 1
            size = sum(len(k.writer.blocks) for k in kiosks)  # one leaf a block
            check_tree(server, kiosks, size)

            # The witness held `before`; it cosigns only with a consistency proof from there.
            wait_for(lambda: witnessed(witness, server.log_key) == size, "the witness to cosign")
            note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
            assert verify_checkpoint(note, server.log_key).size == size
            assert cosignatures(note, [CosignerKey.parse(witness.vkey)])


def head(server: LedgerServer, writer: ChainWriter) -> int:
    answer = requests.get(f"{server.url}/v1/kiosks/{writer.kiosk_id}/head", timeout=10)
    return int(answer.json()["height"])


def check_every_acknowledged_block_is_there(pair: PrimaryWithStandby, kiosks: list[Kiosk]) -> None:
    """Read straight from the promoted standby: each acknowledged block, byte for byte."""
    assert pair.standby is not None
    engine = db.connect(pair.url_of(pair.standby))
    b = db.blocks.c
    try:
        with engine.connect() as conn:
            for kiosk in kiosks:
                rows = conn.execute(
                    select(b.height, b.encoded)
                    .where(b.kiosk_id == kiosk.writer.kiosk_id)
                    .where(b.height <= kiosk.acknowledged)
                    .order_by(b.height)
                ).all()
                assert [r.height for r in rows] == list(range(kiosk.acknowledged + 1))
                for row in rows:
                    sent = kiosk.writer.blocks[row.height].encode()
                    assert bytes(row.encoded) == sent, (kiosk.writer.kiosk_id, row.height)
    finally:
        engine.dispose()


def check_tree(server: LedgerServer, kiosks: list[Kiosk], size: int) -> None:
    """Every checkpoint a kiosk was answered with before the failover is a prefix of the tree
    of ``size`` leaves the ledger now signs (RFC 9162 2.1.4.2 consistency proofs)."""

    def current() -> bool:
        note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
        return verify_checkpoint(note, server.log_key).size == size

    wait_for(current, f"a checkpoint of all {size} leaves")
    new = verify_checkpoint(
        requests.get(f"{server.url}/v1/checkpoint", timeout=10).text, server.log_key
    )
    answered = [verify_checkpoint(c, server.log_key) for k in kiosks for c in k.checkpoints]
    assert answered, "no upload was answered with a checkpoint before the kill"
    for old in answered:
        proof = requests.get(
            f"{server.url}/v1/proofs/consistency",
            params={"old": old.size, "new": new.size},
            timeout=10,
        ).json()["proof"]
        verify_consistency(old.size, new.size, old.root, new.root, [b64d(h) for h in proof])
