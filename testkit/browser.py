"""Headless Chromium for page tests: the rendered DOM and a screenshot of a local page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=30000",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed; ./hanpyo test installs the chromium package")


def _run(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="hanpyo-chromium-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def dump_dom(url: str) -> str:
    """The page's DOM after its scripts ran (a few seconds of virtual time)."""
    return _run(url, "--dump-dom").stdout


def screenshot(url: str, path: Path, width: int = 1500, height: int = 900) -> Path:
    _run(url, f"--screenshot={path}", f"--window-size={width},{height}")
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no screenshot to {path}")
    return path
