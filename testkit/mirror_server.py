"""A real mirror for tests: `ledger mirror init` and `follow` as commands, and `ledger mirror
serve` in a process of its own on a free loopback port, stopped by its process id."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from kiosk.core.encoding import b64e
from testkit.elections import SyntheticElection
from testkit.ledger_server import (
    ROOT,
    LedgerServer,
    free_port,
    ledger_cli,
    stop_process_group,
    wait_for_answer,
)


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
        wait_for_answer(
            self.process,
            f"{self.url}/v1/log/key",
            self.directory / "serve.log",
            "mirror",
            any_status=True,
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process_group(process)
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
