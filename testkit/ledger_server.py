"""A real ledger for tests: `ledger init` and `ledger serve` on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import requests

from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e
from testkit.elections import SyntheticElection

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "ledger.test/hanpyo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cwd(python: str) -> Path:
    """The checkout for this Python; for an installed wheel, its virtual environment's
    folder, away from the checkout, so nothing can come from the source tree."""
    return ROOT if python == sys.executable else Path(python).parents[1]


def ledger_cli(
    *args: str, data: Path | None, db: str | None = None, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """``ledger`` run by ``python`` (default: this one; the packaging tests pass a virtual
    environment the wheel was installed into)."""
    extra = (["--data", str(data)] if data else []) + (["--db", db] if db else [])
    return subprocess.run(
        [python, "-m", "ledger.cli", *args, *extra],
        cwd=_cwd(python),
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hung command, not a bound on speed
        check=False,
    )


class LedgerServer:
    """``ledger serve`` in a subprocess; stopped by its process id."""

    def __init__(
        self,
        data: Path,
        election: SyntheticElection,
        *,
        db: str | None = None,
        workers: int = 1,
        python: str = sys.executable,
        origin: str = ORIGIN,
        serve_args: Sequence[str] = (),
    ) -> None:
        self.data, self.db, self.workers, self.python = data, db, workers, python
        self.serve_args = tuple(serve_args)  # more `ledger serve` options (--witness, ...)
        self.origin = origin  # the log's name: signed requests name the ledger by it
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        data.mkdir(parents=True, exist_ok=True)
        signed = data / "election.json"
        signed.write_text(json.dumps(sign_package(election.package, election.authority).to_json()))
        done = ledger_cli(
            "init",
            "--election",
            str(signed),
            f"--authority={b64e(election.authority.public_key)}",
            "--origin",
            origin,
            data=data,
            db=db,
            python=python,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ledger init failed: {done.stderr}")
        self.log_key = next(
            line.split(": ", 1)[1]
            for line in done.stdout.splitlines()
            if line.startswith("log key")
        )
        scopes = [arg for s in ("read", "enrol", "close", "tally") for arg in ("--scope", s)]
        token = ledger_cli(
            "admin-token", "--label", "tests", *scopes, data=data, db=db, python=python
        )
        self.admin_token = token.stdout.strip()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ledger_cli(*args, data=self.data, db=self.db, python=self.python)

    def start(self) -> None:
        extra = ["--db", self.db] if self.db else []
        self.log = (self.data / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.python,
                "-m",
                "ledger.cli",
                "serve",
                "--data",
                str(self.data),
                *extra,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *self.serve_args,
            ],
            cwd=_cwd(self.python),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_answer(
            self.process, f"{self.url}/v1/checkpoint", self.data / "serve.log", "ledger serve"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process_group(process)
        if hasattr(self, "log"):
            self.log.close()

    def __enter__(self) -> LedgerServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}


def wait_for_answer(
    process: subprocess.Popen[bytes], url: str, log: Path, what: str, *, any_status: bool = False
) -> None:
    """Wait (30 s at most) until ``url`` answers 200 (or anything, with ``any_status``); a
    process that exits first is reported with its log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()}")
        try:
            if requests.get(url, timeout=1).status_code == 200 or any_status:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer in 30 s")


def stop_process_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in a session of its own (uvicorn with workers is a process
    group) by its leader's id: SIGTERM, then SIGKILL after 15 s."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
