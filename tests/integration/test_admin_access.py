"""Admin tokens on a real ledger: each does only the work of its scopes, stops at its expiry or
when revoked, and the API's documentation is not served by a production ledger."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from ledger.store.added_columns import ADDED
from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer


def make_token(server: LedgerServer, label: str, *options: str) -> str:
    done = server.cli("admin-token", "--label", label, *options)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def enrolment(name: str) -> dict[str, str]:
    return {
        "public_key": b64e(SigningKey.generate().public_key),
        "name": name,
        "late_reason": "a spare kiosk for hall C",
    }


def test_a_read_token_reads_but_cannot_enrol(tmp_path: Path, election: SyntheticElection) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        viewer = make_token(server, "dashboard", "--scope", "read")
        enroller = make_token(server, "installer", "--scope", "enrol", "--expires", "2h")
        url = f"{server.url}/v1/admin/kiosks"

        refused = requests.post(url, json=enrolment("x"), headers=bearer(viewer), timeout=10)
        assert refused.status_code == 403, refused.text
        assert refused.json()["reason"] == "insufficient_scope"
        assert "'enrol' scope" in refused.json()["detail"]
        assert requests.get(url, headers=bearer(viewer), timeout=10).json() == []

        accepted = requests.post(
            url, json=enrolment("hall C"), headers=bearer(enroller), timeout=10
        )
        assert accepted.status_code == 200, accepted.text
        fleet = requests.get(f"{server.url}/v1/admin/fleet", headers=bearer(enroller), timeout=10)
        assert fleet.status_code == 403 and fleet.json()["reason"] == "insufficient_scope"

        nothing = server.cli("admin-token", "--label", "no scope")
        assert nothing.returncode == 2 and "--scope" in nothing.stderr
        unknown = server.cli("admin-token", "--label", "x", "--scope", "everything")
        assert unknown.returncode == 2 and "read, enrol, close, tally" in unknown.stderr


def test_an_expired_token_is_refused(tmp_path: Path, election: SyntheticElection) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        # Long enough that making the token (a CLI process) cannot outlast it on a busy machine.
        ends = (datetime.now(UTC) + timedelta(seconds=15)).replace(microsecond=0)
        token = make_token(server, "short", "--scope", "read", "--expires", ends.isoformat())
        url = f"{server.url}/v1/admin/fleet"
        assert requests.get(url, headers=bearer(token), timeout=10).status_code == 200
        while datetime.now(UTC) <= ends:  # let the token's end pass
            time.sleep(0.2)
        answer = requests.get(url, headers=bearer(token), timeout=10)
        assert answer.status_code == 401, answer.text
        assert answer.json()["reason"] == "token_expired"
        listed = server.cli("admin-token", "list").stdout
        assert "expired" in next(line for line in listed.splitlines() if line.endswith("short"))

        past = server.cli(
            "admin-token", "--label", "x", "--scope", "read", "--expires", "2020-01-01T00:00+09:00"
        )
        assert past.returncode == 2 and "already past" in past.stderr


def test_a_revoked_token_is_refused(tmp_path: Path, election: SyntheticElection) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        first = make_token(server, "laptop", "--scope", "read")
        second = make_token(server, "tablet", "--scope", "read")
        url = f"{server.url}/v1/admin/fleet"
        for token in (first, second):
            assert requests.get(url, headers=bearer(token), timeout=10).status_code == 200

        by_label = server.cli("admin-token", "revoke", "--label", "laptop")
        assert by_label.returncode == 0 and "revoked 1 admin token" in by_label.stdout
        by_prefix = server.cli("admin-token", "revoke", f"--prefix={second[:6]}")
        assert by_prefix.returncode == 0, by_prefix.stderr

        for token in (first, second):
            answer = requests.get(url, headers=bearer(token), timeout=10)
            assert answer.status_code == 401 and answer.json()["reason"] == "token_revoked"
        # the other tokens still work, and the list shows which is which without the tokens
        assert requests.get(url, headers=server.admin(), timeout=10).status_code == 200
        listed = server.cli("admin-token", "list").stdout
        assert first not in listed and second not in listed
        states = {line.split()[-1]: line.split()[1] for line in listed.splitlines()}
        assert states == {"tests": "live", "laptop": "revoked", "tablet": "revoked"}
        again = server.cli("admin-token", "revoke", "--label", "laptop")
        assert again.returncode == 2 and "no live admin token" in again.stderr


def test_a_production_ledger_serves_no_api_documentation(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert requests.get(server.url + path, timeout=10).status_code == 404, path
        # Observers and the fuzzers get the document from the command line instead.
        done = server.cli("openapi")
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert document["info"]["title"] == "Hanpyo ledger"
        admin = {
            f"{method.upper()} {path}"
            for path, methods in document["paths"].items()
            if path.startswith("/v1/admin/")
            for method in methods
        }
        # every admin route has its scope, and no scope is given to a route that is gone
        from ledger.rules.admin_access import ROUTE_SCOPES

        assert admin == set(ROUTE_SCOPES)


def test_a_ledger_made_before_token_scopes_opens_and_its_old_tokens_do_nothing(
    tmp_path: Path, election: SyntheticElection
) -> None:
    server = LedgerServer(tmp_path / "ledger", election)
    kiosk = server.cli("kiosks", "enrol", f"--public-key={b64e(SigningKey.generate().public_key)}",
                       "--name", "hall A", "--late-reason", "set up late")  # fmt: skip
    assert kiosk.returncode == 0, kiosk.stderr
    # Take the database back to before scopes and late reasons, with a token of that time.
    old_token = secrets.token_urlsafe(32)
    with sqlite3.connect(tmp_path / "ledger" / "ledger.db") as conn:
        for table, columns in ADDED.items():
            for column in columns:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute(
            "INSERT INTO admin_tokens (token_hash, label, created_at) VALUES (?, ?, ?)",
            (hashlib.sha256(old_token.encode()).digest(), "old", "2026-01-01T00:00:00+00:00"),
        )
    with server:
        refused = requests.get(
            f"{server.url}/v1/admin/fleet", headers=bearer(old_token), timeout=10
        )
        assert refused.status_code == 401, refused.text
        new = make_token(server, "after the upgrade", "--scope", "read")
        kiosks = requests.get(f"{server.url}/v1/admin/kiosks", headers=bearer(new), timeout=10)
        assert [k["name"] for k in kiosks.json()] == ["hall A"]  # nothing recorded was lost
        listed = server.cli("admin-token", "list").stdout
        assert "expired" in next(line for line in listed.splitlines() if line.endswith(" old"))
