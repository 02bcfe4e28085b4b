"""The demo's observers (issue 18): a witness that cosigns every checkpoint the ledger signs,
and a mirror that keeps its own verified copy of the log and answers a voter's tracking-code
check after the ledger has stopped. Each is `ledger witness serve` / `ledger mirror serve` in a
process of its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kiosk.core.encoding import b64e
from testkit.demo.ceremony import say
from testkit.demo.ledger_process import DemoLedger
from testkit.mirror_server import MirrorServer
from testkit.witness_server import WitnessServer

WITNESS_NAME = "witness.demo.hanpyo.local/observers"


def witness_for(out: Path, log_vkey: str) -> WitnessServer:
    """An observer's witness of the demo ledger's log (not started): made before the package,
    which names its key and asks for its cosignature (threshold 1)."""
    return WitnessServer(out / "witness", WITNESS_NAME, {DemoLedger.ORIGIN: log_vkey})


def serve_with(ledger: DemoLedger, witness: WitnessServer) -> None:
    """Tell the ledger to have ``witness`` cosign its checkpoints and to publish its log as
    tiles (where the kiosk and the mirror read proofs)."""
    ledger.serve_args = ["--witness", witness.spec(), "--tiles-dir", str(ledger.data / "tiles")]


def _verify(
    url: str, code: str, ledger: DemoLedger, witness: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify-proof", "--url", url, "--tracking-code", code,
         f"--log-key={ledger.log_key}", "--witness", witness, "--witness-threshold", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def show_observers(
    out: Path, ledger: DemoLedger, witness: WitnessServer, authority: bytes, code: str
) -> bool:
    """Say what the witness and the mirror show; False if either did not do its part."""
    deadline = time.monotonic() + 30  # the ledger submits each checkpoint in the background
    cosigned = _verify(ledger.url, code, ledger, witness.vkey)
    while cosigned.returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        cosigned = _verify(ledger.url, code, ledger, witness.vkey)
    if cosigned.returncode != 0:
        say(f"   !! no checkpoint cosigned by the witness: {cosigned.stderr.strip()}")
        return False
    say(f"   the witness ({WITNESS_NAME}) cosigned the checkpoint that proves {code}")
    mirror = MirrorServer(
        out / "mirror",
        DemoLedger.ORIGIN,
        ledger.log_key,
        ledger.election,
        b64e(authority),
        [witness.vkey],
    )
    followed = mirror.follow(f"{ledger.url}/tiles")
    while followed.returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        followed = mirror.follow(f"{ledger.url}/tiles")
    if followed.returncode != 0:
        say(f"   !! the mirror could not follow: {followed.stdout}{followed.stderr}")
        return False
    say(f"   a mirror verified every block and chain: {followed.stdout.strip().splitlines()[-1]}")
    if ledger.process is not None:
        ledger.process.terminate()  # the ledger goes down, by its process id
        ledger.process.wait(15)
    with mirror:
        from_mirror = _verify(mirror.url, code, ledger, witness.vkey)
    if from_mirror.returncode != 0:
        say(f"   !! the mirror did not prove {code}: {from_mirror.stderr.strip()}")
        return False
    said = "; ".join(line.strip() for line in from_mirror.stdout.splitlines() if line.strip())
    say(f"   with the ledger stopped, the mirror proves {code}: {said}")
    return True
