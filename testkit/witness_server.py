"""A real witness for tests: `ledger witness init` and `ledger witness serve` in a process of its
own on a free loopback port, stopped by its process id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType

from testkit.ledger_server import ROOT, free_port, ledger_cli, stop_process_group, wait_for_answer


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
        wait_for_answer(
            self.process,
            f"{self.url}/0/checkpoint",
            self.directory / "serve.log",
            "witness",
            any_status=True,
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process_group(process)
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
