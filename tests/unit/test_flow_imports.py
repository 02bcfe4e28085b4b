"""The flow, its runner and the composition root load without Qt or pyscard."""

from __future__ import annotations

import subprocess
import sys


def test_the_flow_needs_no_qt_and_no_pyscard() -> None:
    """The flow, its runner and build_kiosk with fake devices load without Qt or pyscard
    (checked in a fresh interpreter: pytest-qt has loaded Qt into this one)."""
    code = (
        "import sys, kiosk.flow.step, kiosk.flow.runner, kiosk.flow.views, kiosk.app\n"
        "bad = [m for m in ('PySide6', 'smartcard') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
