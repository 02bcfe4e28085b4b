"""The key ceremony through the ledger's relay: a real `ledger serve` on a loopback port, five
trustees each in their own process posting and reading signed messages; the relay stores and
forwards only messages signed for the setup it was given, and refuses equivocation."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from kiosk.core.verifiable.ceremony import SignedMessage
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
        secret = json.loads((media[message.sender - 1] / "identity.secret.json").read_text())
        from kiosk.core.crypto import SigningKey

        key = SigningKey(bytes.fromhex(secret["signing_key"]))
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
