"""Run a writer process (crash_writer, sync_writer), let it work for a while, SIGKILL it, and
return every line it had written: the lines it flushed before dying count as confirmed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_until_killed(module: str, args: list[str], seconds: float) -> list[str]:
    """Start ``python -m module args``, wait for its READY line, read its output for
    ``seconds``, SIGKILL it, and return its lines (READY excluded)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    errors = ""
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first != "READY\n":
            raise AssertionError(
                f"writer did not start: {first!r} {proc.communicate(timeout=30)[1]}"
            )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        rest, errors = proc.communicate(timeout=30)  # lines flushed before it died count too
        lines += rest.splitlines(keepends=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"writer ended on its own: {errors}"
    return lines
