"""A real mirror for tests: `ledger mirror init` and `follow` as commands, and `ledger mirror
serve` in a process of its own on a free loopback port, stopped by its process id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import requests

from kiosk.core.encoding import b64e
from testkit.elections import SyntheticElection
from testkit.ledger_server import ROOT, LedgerServer, free_port, ledger_cli


class MirrorServer:
    def __init__(
        self,
        directory: Path,
        origin: str,
        log_key: str,
        package: Path,
        authority: str,
        witnesses: Sequence[str] = (),
    ) -> None:
        """A mirror of the log ``origin`` signed by ``log_key``, for the signed election
        ``package`` file of the ``authority`` key (base64url); checkpoints must carry the
        cosignatures of all ``witnesses`` (vkeys)."""
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        done = ledger_cli(
            "mirror", "init", "--dir", str(directory),
            "--log", f"{origin}={log_key}",
            "--package", str(package),
            "--authority", authority,
            *(arg for vkey in witnesses for arg in ("--witness", vkey)),
            data=None,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"ledger mirror init failed: {done.stderr}")

    @classmethod
    def of(
        cls,
        directory: Path,
        ledger: LedgerServer,
        election: SyntheticElection,
        witnesses: Sequence[str] = (),
    ) -> MirrorServer:
        """A mirror of ``ledger``'s log, set up with its key and signed election package."""
        authority = b64e(election.authority.public_key)
        package = ledger.data / "election.json"
        return cls(directory, ledger.origin, ledger.log_key, package, authority, witnesses)

    def follow(self, source: str) -> subprocess.CompletedProcess[str]:
        return ledger_cli(
            "mirror", "follow", "--dir", str(self.directory), "--from", source, data=None
        )

    def status(self) -> subprocess.CompletedProcess[str]:
        return ledger_cli("mirror", "status", "--dir", str(self.directory), data=None)

    def start(self) -> None:
        self.log = (self.directory / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "mirror", "serve", "--dir", str(self.directory),
             "--port", str(self.port)],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mirror exited: {(self.directory / 'serve.log').read_text()}")
            try:
                requests.get(f"{self.url}/v1/log/key", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("the mirror did not answer in 30 s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if hasattr(self, "log"):
            self.log.close()

    def __enter__(self) -> MirrorServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
