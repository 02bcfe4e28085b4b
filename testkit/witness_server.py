"""A real witness for tests: `ledger witness init` and `ledger witness serve` in a process of its
own on a free loopback port, stopped by its process id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests

from testkit.ledger_server import ROOT, free_port, ledger_cli


class WitnessServer:
    def __init__(self, directory: Path, name: str, logs: dict[str, str]) -> None:
        """A witness named ``name`` following ``logs`` (origin -> the log's vkey)."""
        self.directory, self.name, self.logs = directory, name, logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        done = ledger_cli("witness", "init", "--dir", str(directory), "--name", name, data=None)
        if done.returncode != 0:
            raise RuntimeError(f"ledger witness init failed: {done.stderr}")
        self.vkey = done.stdout.strip().rsplit(": ", 1)[1]

    def spec(self, label: str | None = None) -> str:
        """How a ledger names this witness: NAME=URL=VKEY."""
        return f"{label or self.name}={self.url}={self.vkey}"

    def start(self) -> None:
        logs = [arg for origin, vkey in self.logs.items() for arg in ("--log", f"{origin}={vkey}")]
        self.log = (self.directory / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "witness", "serve", "--dir", str(self.directory),
             *logs, "--port", str(self.port)],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"witness exited: {(self.directory / 'serve.log').read_text()}")
            try:
                requests.get(f"{self.url}/0/checkpoint", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("the witness did not answer in 30 s")

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

    def __enter__(self) -> WitnessServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
