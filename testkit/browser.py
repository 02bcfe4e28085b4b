"""Headless Chromium for page tests: the rendered DOM and a screenshot of a local page, and
a browser a test drives (types into a page, follows it, sees every URL it loads)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


_ON_FDS_3_AND_4 = """
import os, sys
to_browser, from_browser = int(sys.argv[1]), int(sys.argv[2])
os.dup2(to_browser, 3)
os.dup2(from_browser, 4)
os.close(to_browser)
os.close(from_browser)
os.execv(sys.argv[3], sys.argv[3:])
"""


def _above_3_and_4(fd: int) -> int:
    """``fd`` moved to 10 or above, out of the way of the descriptors Chromium's pipe uses."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """A headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4), so a
    test can type into a page, follow its navigation and see every URL it loaded. Use as a
    context manager; each instance is a new profile with no cookies."""

    def __init__(self, width: int = 1500, height: int = 1000) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="hanpyo-chromium-")
        to_browser, self._to_browser = map(_above_3_and_4, os.pipe())
        self._from_browser, from_browser = map(_above_3_and_4, os.pipe())
        flags = [f for f in FLAGS if not f.startswith("--virtual-time-budget")]
        # The page runs in a tab of its own: keep its timers running as a shown tab's would.
        flags += [
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
        ]
        # A small Python puts our pipe ends on the descriptors Chromium reads and writes.
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ON_FDS_3_AND_4, str(to_browser), str(from_browser),
             chromium(), *flags, "--remote-debugging-pipe",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
             "about:blank"],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")

    # -- the protocol ----------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> int:
        self._next_id += 1
        os.write(self._to_browser, json.dumps({"id": self._next_id, **message}).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def _call(self, method: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        ident = self._send({"method": method, "params": params or {}, **extra})
        deadline = time.monotonic() + 60
        while True:
            message = self._receive(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A DevTools command on the page."""
        return self._call(method, params, sessionId=self._session)

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll a JavaScript expression on the page until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None  # the page is between two documents
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"the page never made {expression!r} true")

    # -- what tests use --------------------------------------------------------------------
    def open(self, url: str) -> str:
        """Go to ``url`` and wait for the page it ends on (after any redirect); its address."""
        self.evaluate("window.leaving = true")  # the mark tells the old page from the new
        self.call("Page.navigate", {"url": url})
        return str(
            self.wait_for("!window.leaving && document.readyState === 'complete' && location.href")
        )

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def dom(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def cookies(self) -> list[dict[str, Any]]:
        return list(self.call("Network.getCookies")["cookies"])

    def requested_urls(self) -> list[str]:
        """Every URL the page asked for or navigated to, in order (events read so far)."""
        self.evaluate("1")  # collect the events that arrived since the last command
        urls = []
        for e in self.events:
            if e["method"] == "Network.requestWillBeSent":
                urls += [e["params"]["request"]["url"], e["params"].get("documentURL", "")]
            elif e["method"] == "Page.frameNavigated":
                urls.append(e["params"]["frame"]["url"])
        return urls

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self._call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            self.process.kill()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
