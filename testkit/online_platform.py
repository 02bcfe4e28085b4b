"""A real online platform for tests: `python -m online init` then `serve` in its own process
on a free loopback port, stopped by its process id; and what a voter's browser sends it,
made in Python (the credential is any Ed25519 key on the voter's roll entry)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.online_credential import credential_key
from kiosk.store.keys import KioskKeys, load_keys
from testkit.elections import SyntheticElection
from testkit.ledger_requests import LATE_REASON
from testkit.ledger_server import ROOT, LedgerServer, free_port, stop_process_group, wait_for_answer
from testkit.v2_ballots import roll_index


def online_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "online", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class OnlinePlatform:
    """`hanpyo-online` initialised for ``election`` in ``folder`` (data and keys), enrolled at
    ``ledger`` with channel online when one is given; ``start`` serves it."""

    def __init__(
        self,
        folder: Path,
        election: SyntheticElection,
        *,
        ledger: LedgerServer | None = None,
        serve_args: Sequence[str] = (),
    ) -> None:
        self.folder, self.election, self.ledger = folder, election, ledger
        self.data, self.keys_dir = folder / "data", folder / "keys"
        self.serve_args = tuple(serve_args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        signed = folder / "election.json"
        signed.write_text(json.dumps(election.signed().to_json()))
        done = self.cli("init", "--package", str(signed), f"--authority={self.authority}")
        if done.returncode != 0:
            raise RuntimeError(f"online init failed: {done.stderr}")
        self.init_output = done.stdout
        self.public_key = next(
            line.split(": ", 1)[1] for line in done.stdout.splitlines() if "source key" in line
        )
        if ledger is not None:
            self.enrol(ledger)

    @property
    def authority(self) -> str:
        return b64e(self.election.authority.public_key)

    def source_keys(self) -> KioskKeys:
        return load_keys(self.keys_dir)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        folders = ["--data", str(self.data), "--keys", str(self.keys_dir)]
        return online_cli(*args, *folders)

    def enrol(self, ledger: LedgerServer) -> None:
        done = ledger.cli(
            "kiosks", "enrol", f"--public-key={self.public_key}", "--name", "online platform",
            "--channel", "online", "--late-reason", LATE_REASON,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"ledger kiosks enrol failed: {done.stderr}")

    def start(self) -> None:
        ledger = self.ledger
        sync = ["--ledger-url", ledger.url, "--log-key", ledger.log_key] if ledger else []
        self.log = (self.folder / "serve.log").open("ab")
        command = [
            sys.executable, "-m", "online", "serve", "--data", str(self.data),
            "--keys", str(self.keys_dir), f"--authority={self.authority}",
            "--port", str(self.port), "--sync-idle", "0.5", *sync, *self.serve_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_answer(
                self.process, f"{self.url}/api/election", self.folder / "serve.log", "online serve"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process_group(process)
        if hasattr(self, "log"):
            self.log.close()

    def __enter__(self) -> OnlinePlatform:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def staff(self, action: str, *args: str) -> dict[str, Any]:
        """`hanpyo-online open|close|status` as staff run it; its JSON report."""
        done = self.cli(action, *args)
        if done.returncode != 0:
            raise RuntimeError(f"online {action} failed: {done.stderr}")
        return dict(json.loads(done.stdout))

    def serve_log(self) -> str:
        return (self.folder / "serve.log").read_text(errors="replace")


def with_credential(election: SyntheticElection, index: int, code: str) -> SyntheticElection:
    """``election`` with the credential key of the letter code ``code`` added to roll entry
    ``index``'s keys, as `ledger election letters` enrols an online member."""
    package = election.package
    entry = package.roll[index]
    public = credential_key(code, package.id).public_key
    roll = list(package.roll)
    roll[index] = dataclasses.replace(entry, keys=(*entry.keys, public))
    return dataclasses.replace(election, package=dataclasses.replace(package, roll=tuple(roll)))


# -- what the browser does --------------------------------------------------------------------
def session_signature(key: SigningKey, election_id: str, challenge: bytes) -> bytes:
    """The credential's signature over a sign-in challenge (docs/spec/online.md)."""
    return key.sign(Domain.ONLINE_SESSION, election_id.encode() + b"\n" + challenge)


def challenge(url: str) -> bytes:
    answer = requests.post(f"{url}/api/session/challenge", json={}, timeout=10)
    assert answer.status_code == 200, answer.text
    return b64d(answer.json()["challenge"])


def try_sign_in(url: str, key: SigningKey, election_id: str) -> requests.Response:
    """Sign in with ``key`` as the page does: a challenge, then its signature."""
    fresh = challenge(url)
    body = {
        "key": b64e(key.public_key),
        "challenge": b64e(fresh),
        "signature": b64e(session_signature(key, election_id, fresh)),
    }
    return requests.post(f"{url}/api/session", json=body, timeout=30)


def sign_in(url: str, key: SigningKey, election_id: str) -> dict[str, Any]:
    answer = try_sign_in(url, key, election_id)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def post(url: str, path: str, session: str | None, body: Any) -> requests.Response:
    headers = {} if session is None else {"Authorization": f"Bearer {session}"}
    return requests.post(f"{url}{path}", json=body, headers=headers, timeout=60)


def member_index(election: SyntheticElection, n: int) -> int:
    """Online member ``n``'s place in the roll."""
    return roll_index(election, "online", n)


def member_key(election: SyntheticElection, n: int) -> SigningKey:
    """Online member ``n``'s credential key (their card key in the synthetic election)."""
    return election.voter_keys[member_index(election, n)]


def refused(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The platform's refusal, checked: its status, its error code and a message in Korean and
    English for the member."""
    assert answer.status_code == status, answer.text
    doc = dict(answer.json())
    assert doc["error"] == code, doc
    assert doc["message"]["ko"] and doc["message"]["en"], doc
    return doc
