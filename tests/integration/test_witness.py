"""Witnesses (C2SP tlog-witness, tlog-cosignature/v1), each its own process on loopback: the
ledger's checkpoints are cosigned as the log grows; a second ledger with the same log key that
shows another tree is refused and never cosigned; verify-proof holds a checkpoint to a k-of-n
witness policy."""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from kiosk.core.block import decode_signed_block
from kiosk.core.checkpoint import sign_checkpoint, verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures, verify_cosigned
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d
from kiosk.core.errors import VerificationError
from kiosk.core.merkle import EMPTY_ROOT
from kiosk.core.tiles import tree_from_tiles
from ledger.publish.log_publisher import Publisher
from ledger.store.schema import connect
from ledger.verify.tiles_proof import tiles_fetcher
from ledger.witness.client import Witness, WitnessClient, request_body
from ledger.witness.service import origin_hash
from ledger.witness.store import DATABASE, WitnessStore
from testkit.elections import SyntheticElection
from testkit.ledger_server import ORIGIN, LedgerServer, ledger_cli
from testkit.log_growth import grow, new_kiosk
from testkit.witness_server import WitnessServer


def publish(server: LedgerServer, *witnesses: WitnessServer) -> tuple[int, str]:
    named = [arg for w in witnesses for arg in ("--witness", w.spec())]
    tiles = str(server.data / "tiles")
    done = server.cli("tiles", "publish", "--dir", tiles, *named)
    return done.returncode, done.stdout + done.stderr


def checkpoint(server: LedgerServer) -> str:
    return requests.get(f"{server.url}/v1/checkpoint", timeout=10).text


def consistency(server: LedgerServer, old: int, new: int) -> list[bytes]:
    answer = requests.get(
        f"{server.url}/v1/proofs/consistency", params={"old": old, "new": new}, timeout=10
    )
    return [b64d(h) for h in answer.json()["proof"]]


def add_checkpoint(witness: WitnessServer, body: bytes) -> requests.Response:
    return requests.post(f"{witness.url}/add-checkpoint", data=body, timeout=10)


def test_a_witness_cosigns_a_growing_log_and_refuses_a_forked_one(
    tmp_path: Path, election: SyntheticElection
) -> None:
    honest = LedgerServer(tmp_path / "honest", election)
    # The forked ledger: the same log key and origin, so its checkpoints are validly signed.
    (tmp_path / "forked").mkdir()
    shutil.copy(tmp_path / "honest" / "log.key", tmp_path / "forked" / "log.key")
    forked = LedgerServer(tmp_path / "forked", election)
    assert forked.log_key == honest.log_key
    witness = WitnessServer(tmp_path / "w1", "witness.test/w1", {ORIGIN: honest.log_key})
    key = CosignerKey.parse(witness.vkey)
    with honest, forked, witness:
        writer = new_kiosk(honest, election, "hall A")
        sizes = []
        for sessions in (50, 120, 1):  # the witness sees the log grow, one proof at a time
            grow(honest, writer, sessions)
            code, said = publish(honest, witness)
            assert code == 0, said
            note = checkpoint(honest)  # GET /v1/checkpoint serves the cosigned checkpoint
            head = verify_cosigned(note, honest.log_key, [witness.vkey], 1)
            sizes.append(head.size)
            assert (honest.data / "tiles" / "checkpoint").read_text() == note
        assert sizes == [102, 342, 344]
        watched = requests.get(f"{witness.url}/{origin_hash(ORIGIN)}/checkpoint", timeout=10)
        assert verify_cosigned(watched.text, honest.log_key, [witness.vkey], 1).size == 344

        # The fork: other blocks at indexes the witness already covered, signed by the log.
        other = new_kiosk(forked, election, "hall B")
        grow(forked, other, 200)
        code, said = publish(forked, witness)
        assert code == 1 and "422" in said and "consistency proof does not verify" in said
        forked_note = checkpoint(forked)
        forked_head = verify_checkpoint(forked_note, forked.log_key)
        assert forked_head.size == 402
        assert cosignatures(forked_note, [key]) == []
        with pytest.raises(VerificationError, match="too few witness cosignatures"):
            verify_cosigned(forked_note, forked.log_key, [witness.vkey], 1)

        # Told it is behind, the forked ledger hears the size the witness holds (409) ...
        stale = add_checkpoint(witness, request_body(0, [], forked_note))
        assert stale.status_code == 409
        assert stale.headers["Content-Type"].startswith("text/x.tlog.size")
        assert stale.text == "344\n"
        # ... and no proof it can make from there reaches its root (422).
        proof = consistency(forked, 344, 402)
        refused = add_checkpoint(witness, request_body(344, proof, forked_note))
        assert refused.status_code == 422
        # At the very size the witness holds, a second root for one size is refused too.
        same_size = sign_checkpoint(ORIGIN, 344, b"\x07" * 32, ORIGIN, forked_key(forked))
        assert add_checkpoint(witness, request_body(344, [], same_size)).status_code == 422

        # The witness still vouches for the honest tree only, and kept the fork as evidence.
        watched = requests.get(f"{witness.url}/{origin_hash(ORIGIN)}/checkpoint", timeout=10)
        assert (
            verify_checkpoint(watched.text, honest.log_key).root
            == verify_checkpoint(checkpoint(honest), honest.log_key).root
        )
        evidence = WitnessStore(tmp_path / "w1" / DATABASE).refused()
        assert {r.status for r in evidence} == {409, 422}
        assert any(forked_note in r.request for r in evidence)

        # The honest log goes on being cosigned.
        grow(honest, writer, 5)
        code, said = publish(honest, witness)
        assert code == 0, said
        assert verify_cosigned(checkpoint(honest), honest.log_key, [witness.vkey], 1).size == 354


def forked_key(server: LedgerServer) -> SigningKey:
    return SigningKey(b64d((server.data / "log.key").read_text().strip(), length=32))


def test_the_witness_answers_each_refusal_as_the_spec_says(
    tmp_path: Path, election: SyntheticElection
) -> None:
    log_key = SigningKey.generate()
    vkey = _vkey(log_key)
    witness = WitnessServer(tmp_path / "w", "witness.test/w", {ORIGIN: vkey})
    assert (tmp_path / "w" / "witness.key").stat().st_mode & 0o777 == 0o600
    again = ledger_cli("witness", "init", "--dir", str(tmp_path / "w"), "--name", "x", data=None)
    assert again.returncode == 2 and "already has a key" in again.stderr  # never replaced
    with witness:
        empty = sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, ORIGIN, log_key)

        def signed(origin: str, size: int, root: bytes, key: SigningKey = log_key) -> str:
            return sign_checkpoint(origin, size, root, ORIGIN, key)

        cases = [
            (request_body(0, [], signed("other.test/log", 0, EMPTY_ROOT)), 404),  # unknown log
            (request_body(0, [], signed(ORIGIN, 0, EMPTY_ROOT, SigningKey.generate())), 403),
            (request_body(0, [], _broken_signature(empty)), 403),
            (b"old 01\n\n" + empty.encode(), 400),  # a leading zero
            (b"old 5\n\n" + empty.encode(), 400),  # older than the checkpoint it comes with
            (request_body(0, [b"\x00" * 32], signed(ORIGIN, 3, b"\x01" * 32)), 422),
            (request_body(0, [], signed(ORIGIN, 0, b"\x01" * 32)), 422),  # not the empty root
        ]
        for body, status in cases:
            answer = add_checkpoint(witness, body)
            assert answer.status_code == status, (body, answer.text)
        watched = f"{witness.url}/{origin_hash(ORIGIN)}/checkpoint"
        assert requests.get(watched, timeout=10).status_code == 404  # nothing cosigned yet

        # Accepted: the answer is one cosignature/v1 line with a timestamp, over the note.
        answer = add_checkpoint(witness, request_body(0, [], empty))
        assert answer.status_code == 200
        assert answer.text.startswith("\u2014 witness.test/w ") and answer.text.endswith("\n")
        found = cosignatures(empty + answer.text, [CosignerKey.parse(witness.vkey)])
        assert len(found) == 1 and found[0].timestamp > 1_700_000_000


def _broken_signature(note: str) -> str:
    """``note`` with its signature's last byte changed: same key name and id, bad signature."""
    body, _, line = note[:-1].rpartition("\n")
    name, blob = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return f"{body}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"


def _vkey(key: SigningKey) -> str:
    from kiosk.core.checkpoint import NoteVerifier

    return NoteVerifier(ORIGIN, key.public_key).vkey


def test_verify_proof_holds_the_checkpoint_to_a_k_of_n_witness_policy(
    tmp_path: Path, election: SyntheticElection
) -> None:
    server = LedgerServer(tmp_path / "ledger", election)
    w1 = WitnessServer(tmp_path / "w1", "witness.test/w1", {ORIGIN: server.log_key})
    w2 = WitnessServer(tmp_path / "w2", "witness.test/w2", {ORIGIN: server.log_key})
    with server, w1, w2:
        writer = new_kiosk(server, election, "hall A")
        grow(server, writer, 20)
        code, said = publish(server, w1)  # only w1 is asked: one cosignature of two
        assert code == 0, said
        tracking = decode_signed_block(writer.blocks[7].encode()).tracking_code
        both = ["--witness", w1.vkey, "--witness", w2.vkey]
        base = ["verify-proof", "--tracking-code", tracking, "--log-key", server.log_key]
        for source in (["--url", server.url], ["--tiles", f"{server.url}/tiles"]):
            two = ledger_cli(*base, *source, *both, "--witness-threshold", "2", data=None)
            assert two.returncode == 2
            assert "too few witness cosignatures" in two.stderr
            assert "witness.test/w1" in two.stderr  # names the one it found
            one = ledger_cli(*base, *source, *both, "--witness-threshold", "1", data=None)
            assert one.returncode == 0, one.stderr
            assert "at least 1 of the 2 named witnesses" in one.stdout

        code, said = publish(server, w1, w2)  # now both cosign the same checkpoint
        assert code == 0, said
        two = ledger_cli(*base, "--url", server.url, *both, data=None)  # default: all of them
        assert two.returncode == 0, two.stderr


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds (30 s at most: a hang fails, no timing is asserted)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def test_the_publisher_asks_again_until_a_witness_that_was_down_cosigns(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """What the integrator runs after each checkpoint: cosign and publish in the background,
    and keep asking a witness that is down until it is back."""
    server = LedgerServer(tmp_path / "ledger", election)
    witness = WitnessServer(tmp_path / "w1", "witness.test/w1", {ORIGIN: server.log_key})
    tiles = tmp_path / "tiles"
    with server, witness:
        engine = connect(f"sqlite:///{server.data / 'ledger.db'}")
        client = WitnessClient([Witness.parse(witness.spec())])
        publisher = Publisher(engine, client, tiles, retry_s=0.1).start()
        try:
            writer = new_kiosk(server, election, "hall A")
            grow(server, writer, 10)
            publisher.on_checkpoint("", 0)

            def cosigned_at(size: int) -> bool:
                note = (tiles / "checkpoint").read_text() if (tiles / "checkpoint").exists() else ""
                found = verify_checkpoint(note, server.log_key).size if note else -1
                return found == size and bool(cosignatures(note, [CosignerKey.parse(witness.vkey)]))

            wait_for(lambda: cosigned_at(22), "the cosigned checkpoint of size 22")
            witness.stop()
            grow(server, writer, 5)
            publisher.on_checkpoint("", 0)
            wait_for(
                lambda: (
                    publisher.last is not None
                    and publisher.last.size == 32
                    and "witness.test/w1" in publisher.last.refused
                ),
                "the publisher to find the witness down",
            )
            last = publisher.last
            assert last is not None and "cannot reach" in last.refused["witness.test/w1"]
            # Published anyway (tiles and checkpoint), without the cosignature it lacks.
            assert verify_checkpoint((tiles / "checkpoint").read_text(), server.log_key).size == 32
            assert not cosigned_at(32)
            witness.start()  # back: the next retry is cosigned, with no new checkpoint
            wait_for(lambda: cosigned_at(32), "the witness back to cosign size 32")
            assert verify_cosigned(checkpoint(server), server.log_key, [witness.vkey], 1).size == 32
        finally:
            publisher.stop()


def test_ledger_serve_has_every_checkpoint_cosigned_and_written_as_tiles(
    tmp_path: Path, election: SyntheticElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ledger serve` configured through the environment (as its --witness and --tiles-dir
    options do): the elected integrator's publisher does the rest, with no command run."""
    server = LedgerServer(tmp_path / "ledger", election)
    witness = WitnessServer(tmp_path / "w1", "witness.test/w1", {ORIGIN: server.log_key})
    tiles = tmp_path / "tiles"
    bad = server.cli("serve", "--witness", "w1=http://127.0.0.1:1=not-a-key")
    assert bad.returncode == 2 and "witness key" in bad.stderr
    monkeypatch.setenv("HANPYO_WITNESSES", witness.spec())
    monkeypatch.setenv("HANPYO_TILES_DIR", str(tiles))
    with witness, server:
        writer = new_kiosk(server, election, "hall A")
        grow(server, writer, 30)

        def cosigned_at(size: int) -> bool:
            note = checkpoint(server)
            return verify_checkpoint(note, server.log_key).size == size and bool(
                cosignatures(note, [CosignerKey.parse(witness.vkey)])
            )

        wait_for(lambda: cosigned_at(62), "the ledger's own publisher to have size 62 cosigned")
        wait_for(
            lambda: (
                requests.get(f"{server.url}/tiles/checkpoint", timeout=10).text
                == checkpoint(server)
            ),
            "the tiles to carry the cosigned checkpoint",
        )
        fetched = tiles_fetcher(f"{server.url}/tiles")
        assert (
            tree_from_tiles(fetched, 62).root()
            == verify_checkpoint(checkpoint(server), server.log_key).root
        )
