"""The key ceremony through the ledger's relay: a real `ledger serve` on a loopback port, five
trustees each in their own process posting and reading signed messages; the relay stores and
forwards only messages signed for the setup it was given, and refuses equivocation."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from kiosk.core.verifiable.ceremony import SignedMessage
from kiosk.core.verifiable.group import base_mul
from ledger.service.ceremony_mailbox import envelope
from testkit.decryption_files import medium_signing_key
from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer
from testkit.trustee_ceremony import in_parallel, key_line, ok, start, trustee


def test_five_trustees_through_the_relay(tmp_path: Path, election: SyntheticElection) -> None:
    server = LedgerServer(tmp_path / "ledger", election)
    with server:
        media, setup_file, setup = start(tmp_path)
        base = f"{server.url}/v1/ceremony/{setup.election_id}"
        # nothing is taken before the organiser gives the relay the setup, with a token
        assert requests.get(f"{base}/setup", timeout=10).status_code == 404
        assert requests.put(f"{base}/setup", json=setup.to_json(), timeout=10).status_code == 401
        token = tmp_path / "token"
        token.write_text(server.admin_token)
        out = ok(
            "setup",
            "--election",
            setup.election_id,
            "--threshold",
            "3",
            *[a for m in media for a in ("--identity", m / "identity.public.json")],
            "--out",
            tmp_path / "setup-again.json",
            "--relay",
            server.url,
            "--admin-token-file",
            token,
        )
        assert "the relay" in out
        where = ["--relay", server.url]
        in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
        for step in ("round2", "check", "reveal"):
            in_parallel([[step, "--medium", m, *where] for m in media])
        finished = in_parallel([["finish", "--medium", m, *where] for m in media])
        assert len({key_line(o) for o in finished}) == 1
        collected = ok("collect", "--setup", setup_file, *where, "--out", tmp_path / "r.json")
        assert "qualified: 1, 2, 3, 4, 5" in collected

        page = requests.get(f"{base}/messages", params={"after": 0}, timeout=10).json()
        assert len(page["messages"]) == 5 * 4  # commitments, shares, verdict, result each
        first = page["messages"][0]
        # the same message again: taken, nothing new stored
        again = requests.post(f"{base}/messages", json=first["envelope"], timeout=10)
        assert again.status_code == 200 and again.json()["seq"] == first["seq"]
        # a different message of the same kind from the same trustee: equivocation
        message = SignedMessage.from_json(first["envelope"]["message"])
        key = medium_signing_key(media[message.sender - 1])
        body = dict(message.body) | {"extra": 1}
        other = SignedMessage.sign(message.kind, message.sender, body, key, setup)
        forged = first["envelope"] | {"message": other.to_json()}
        refused = requests.post(f"{base}/messages", json=forged, timeout=10)
        assert refused.status_code == 409 and refused.json()["reason"] == "equivocation"
        # a message not signed by its sender is never stored
        bad = first["envelope"] | {"message": message.to_json() | {"signature": "00" * 64}}
        junk = requests.post(f"{base}/messages", json=bad, timeout=10)
        assert junk.status_code == 422 and "trustee" in junk.json()["detail"]
        after = requests.get(f"{base}/messages", params={"after": 0}, timeout=10).json()
        assert len(after["messages"]) == 20
        # too large a body is refused like the rest of the API
        big = requests.post(
            f"{base}/messages", data=b"{" + b" " * (5 * 1024 * 1024) + b"}", timeout=30
        )
        assert big.status_code == 413
        # the tool says what the relay refused
        stale = trustee(
            "round1",
            "--medium",
            media[0],
            "--setup",
            tmp_path / "setup.json",
            "--relay",
            f"{server.url}/nowhere",
        )
        assert stale.returncode == 2 and "중계 서버" in stale.stderr


def test_one_hostile_result_on_the_relay_does_not_block_collect(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """Before: `collect` refused the whole ceremony when any trustee's signed result differed,
    and the relay never lets a message be taken back: one hostile trustee posting another
    result before finishing blocked the election key for ever. Now the result the transcript
    gives stands once k qualified trustees signed it; the other signer is named, with their
    signed message kept in the record as evidence."""
    server = LedgerServer(tmp_path / "ledger", election)
    with server:
        media, setup_file, setup = start(tmp_path)
        token = tmp_path / "token"
        token.write_text(server.admin_token)
        identities = [a for m in media for a in ("--identity", m / "identity.public.json")]
        again = tmp_path / "setup-again.json"
        relay: list[str | Path] = ["--relay", server.url, "--admin-token-file", token]
        ok(
            "setup",
            "--election",
            setup.election_id,
            "--threshold",
            "3",
            *identities,
            *relay,
            "--out",
            again,
        )
        where = ["--relay", server.url]
        in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
        for step in ("round2", "check", "reveal"):
            in_parallel([[step, "--medium", m, *where] for m in media])
        body = {
            "election_key": base_mul(7).hex(),
            "verification_keys": {},
            "qualified": [1, 2, 3, 4, 5],
            "transcript": "00" * 32,
        }
        hostile = SignedMessage.sign("result", 5, body, medium_signing_key(media[4]), setup)
        posted = requests.post(
            f"{server.url}/v1/ceremony/{setup.election_id}/messages",
            json=envelope(setup, hostile),
            timeout=10,
        )
        assert posted.status_code == 200
        in_parallel([["finish", "--medium", m, *where] for m in media[:2]])
        early = trustee("collect", "--setup", setup_file, *where, "--out", tmp_path / "a.json")
        assert early.returncode == 2
        assert "only 2 qualified trustees signed" in early.stderr
        assert "trustees 5 signed another result" in early.stderr
        in_parallel([["finish", "--medium", m, *where] for m in media[2:4]])
        out = tmp_path / "result.json"
        collected = ok("collect", "--setup", setup_file, *where, "--out", out)
        assert "results signed by: 1, 2, 3, 4" in collected
        assert f"trustee 5 ({setup.trustee(5).name}) signed a different result" in collected
        record = json.loads(out.read_text("utf-8"))
        kept = [SignedMessage.from_json(m["message"]) for m in record["messages"]]
        assert hostile in kept  # the evidence, signed by trustee 5
