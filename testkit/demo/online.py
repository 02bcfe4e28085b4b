"""The demo's online platform (issue 19): `hanpyo-online init` with the demo's signed package,
enrolled at the demo's ledger with channel online, then `hanpyo-online serve` in a process of its
own on a free loopback port, serving the voting page as `npm run build` made it and syncing its
own signed chain to the ledger with the kiosk's sync code. Staff open and close its session with
`hanpyo-online open|close`; before the election's close the demo waits until the ledger holds
every block of the platform's chain, as it does for the kiosk."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from kiosk.core.encoding import b64e
from testkit.demo.ceremony import say
from testkit.demo.ledger_process import DemoLedger
from testkit.ledger_server import free_port, stop_process_group, wait_for_answer
from testkit.online_web import built_bundle

SYNC_WAIT_S = 90  # the last blocks, a witness's cosignature, on a busy machine


class DemoPlatform:
    """The online platform as its own process, for the demo's election (``folder``: its data,
    keys and log). Its address is fixed first: the letters' QR codes name it."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.data, self.keys = folder, folder / "data", folder / "keys"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.authority = ""
        self.process: subprocess.Popen[bytes] | None = None

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "online", *args, "--data", str(self.data),
             "--keys", str(self.keys)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"hanpyo-online {args[0]} failed: {done.stderr.strip()}")
        return done

    def init(self, package: Path, authority: bytes) -> str:
        """`hanpyo-online init`: the platform's source key and chain store; the key (base64)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.authority = b64e(authority)
        done = self._cli("init", "--package", str(package), f"--authority={self.authority}")
        return next(x.split(": ", 1)[1] for x in done.stdout.splitlines() if "source key" in x)

    def start(self, ledger: DemoLedger) -> None:
        """Build the page if its sources changed, then start serving it, syncing to ``ledger``
        (whose check page the receipts link to); ``open`` waits until it answers."""
        built_bundle()
        log = (self.folder / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "online", "serve", "--data", str(self.data),
             "--keys", str(self.keys), f"--authority={self.authority}", "--port", str(self.port),
             "--ledger-url", ledger.url, "--log-key", ledger.log_key, "--check-url", ledger.url,
             "--sync-idle", "0.5"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()

    def open(self) -> dict[str, Any]:
        """Once the platform answers, staff open its official session; its report."""
        if self.process is None:
            raise RuntimeError("the online platform was not started")
        wait_for_answer(
            self.process, f"{self.url}/api/election", self.folder / "serve.log", "online serve"
        )
        return self.staff("open", "--mode", "official")

    def staff(self, action: str, *args: str) -> dict[str, Any]:
        """`hanpyo-online open|close|status|sync` as staff run it; its report."""
        return dict(json.loads(self._cli(action, *args).stdout))

    def close_and_deliver(self) -> dict[str, Any] | None:
        """Close the platform's session and wait until the ledger holds its whole chain; the
        platform's last report, or None (said) if the ledger never acknowledged it."""
        report = self.staff("close")
        deadline = time.monotonic() + SYNC_WAIT_S
        while report["synced_height"] != report["height"] and time.monotonic() < deadline:
            time.sleep(0.5)
            report = self.staff("status")
        if report["synced_height"] != report["height"]:
            say(f"!! the ledger holds the platform's chain to block {report['synced_height']} "
                f"of {report['height']}; its log: {self.folder / 'serve.log'}")  # fmt: skip
            return None
        return report

    def __enter__(self) -> DemoPlatform:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self.process = self.process, None
        stop_process_group(process)  # by its process id (a session of its own)
