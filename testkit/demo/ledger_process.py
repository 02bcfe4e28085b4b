"""The central ledger of the demos as its own process: `ledger init` (with the log key the demo
made before the package, so the package could name it), then `ledger serve` on a free loopback
port, stopped by its process id."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from testkit.demo.election_v2 import ORIGIN as LOG_ORIGIN


class DemoLedger:
    """The central ledger as its own process: `ledger init`, then `ledger serve` on a free port."""

    ORIGIN = LOG_ORIGIN

    def __init__(
        self, data: Path, election: Path, authority: bytes, port: int | None = None
    ) -> None:
        self.data, self.election, self.authority = data, election, authority
        self.serve_args: list[str] = []  # more `ledger serve` options (witnesses, tiles)
        # the port the package names as the ledger's address, when the package was made first
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        done = self._cli(
            "init",
            "--election",
            str(election),
            f"--authority={b64e(authority)}",
            "--origin",
            self.ORIGIN,
        )
        self.log_key = done.stdout.strip().rsplit(": ", 1)[1]
        self.process: subprocess.Popen[bytes] | None = None

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "ledger.cli", *args, "--data", str(self.data)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise HanpyoError(f"ledger {args[0]} failed: {done.stderr.strip()}")
        return done

    def enrol(self, public_key: bytes, name: str, *, channel: str = "kiosk") -> str:
        done = self._cli(
            "kiosks",
            "enrol",
            f"--public-key={b64e(public_key)}",
            "--name",
            name,
            "--channel",
            channel,
            "--location",
            "전시홀 A · Hall A",
            # The sample election opened in 2017: enrolling now is late and needs a reason.
            "--late-reason",
            "the demo replays the 2017 review",
        )
        return done.stdout.strip().rsplit(" ", 1)[1]

    def verify_tracking_code(self, code: str) -> tuple[bool, str]:
        """What a voter's `ledger verify-proof` says of ``code`` with the signed package, which
        names the log key and the witnesses' policy: (verified, its words). The ledger asks the
        witness to cosign each checkpoint in the background: a few tries while it does."""
        deadline = time.monotonic() + 30
        while True:
            check = subprocess.run(
                [sys.executable, "-m", "ledger.cli", "verify-proof", "--url", self.url,
                 "--tracking-code", code, "--package", str(self.election),
                 f"--authority={b64e(self.authority)}"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            if check.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        said = check.stdout if check.returncode == 0 else check.stderr
        return check.returncode == 0, "; ".join(x.strip() for x in said.splitlines() if x.strip())

    def __enter__(self) -> DemoLedger:
        again = self.process is not None
        for attempt in range(3):
            if again and (attempt or _taken(self.port)):
                # Served again after a stop (for the check pages): another process took the
                # port meanwhile, so this run moves to a free one; every later step reads url.
                self.port = _free_port()
                self.url = f"http://127.0.0.1:{self.port}"
            if self._start():
                return self
            if not again:
                break
        said = (self.data / "serve.log").read_text("utf-8", "replace")[-2000:]
        raise HanpyoError(f"ledger serve stopped on port {self.port}: {said.strip()}")

    def _start(self) -> bool:
        """Start `ledger serve`; True once it answers, False if it stopped while starting."""
        log = (self.data / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "serve",
                "--data",
                str(self.data),
                "--port",
                str(self.port),
                *self.serve_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return True
            time.sleep(0.05)
        raise HanpyoError("the ledger did not start in 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # by its process id
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
