"""The voting page's JavaScript for tests: install its npm dependencies from the committed
lockfile, bundle it with esbuild, and run the protocol module under Node.

``built_bundle()`` gives dist/app.js, the page the platform serves; ``protocol_bundle()`` gives
dist/hanpyo-v2.js, the protocol module bundled alone (the same code, minified the same way),
which ``run_node`` imports so that the cross-language tests exercise what the browser runs.
A file lock keeps parallel test processes (pytest-xdist) from installing or building at once;
each step runs only when its output is missing or older than its inputs."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

WEB_DIR = Path(__file__).resolve().parents[1] / "online" / "web"
PROTOCOL_ENTRY = "src/hanpyo-v2.js"
APP_ENTRY = "src/app.js"
_INSTALL_TIMEOUT = 900
_BUILD_TIMEOUT = 300
_RUN_TIMEOUT = 600


class WebBuildError(RuntimeError):
    """npm or node failed; the message carries the end of their output."""


@contextmanager
def _locked() -> Iterator[None]:
    with open(WEB_DIR / ".build.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise WebBuildError(f"{name} is not installed (./hanpyo installs Node.js and npm)")
    return found


def _run(args: list[str], timeout: int, stdin: str | None = None) -> str:
    done = subprocess.run(
        args, cwd=WEB_DIR, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise WebBuildError(f"{' '.join(args[:3])} failed ({done.returncode}):\n{tail}")
    return done.stdout


def _newest(paths: list[Path]) -> float:
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))]
    return max((p.stat().st_mtime for p in files if p.is_file()), default=0.0)


def _stale(output: Path, inputs: list[Path]) -> bool:
    return not output.exists() or output.stat().st_mtime < _newest(inputs)


def _install() -> None:
    """``npm ci`` from the committed lockfile when node_modules is missing or older."""
    marker = WEB_DIR / "node_modules" / ".package-lock.json"
    if _stale(marker, [WEB_DIR / "package-lock.json", WEB_DIR / "package.json"]):
        _run([_tool("npm"), "ci", "--no-audit", "--no-fund"], _INSTALL_TIMEOUT)


def _build(entry: str, command: list[str]) -> Path:
    output = WEB_DIR / "dist" / Path(entry).name
    inputs = [WEB_DIR / "src", WEB_DIR / "build.mjs", WEB_DIR / "package-lock.json"]
    with _locked():
        _install()
        if _stale(output, inputs):
            _run(command, _BUILD_TIMEOUT)
    return output


def built_bundle() -> Path:
    """dist/app.js as ``npm run build`` makes it (the page the platform serves)."""
    return _build(APP_ENTRY, [_tool("npm"), "run", "build"])


def protocol_bundle() -> Path:
    """dist/hanpyo-v2.js: the protocol module alone, bundled and minified as the page is."""
    return _build(PROTOCOL_ENTRY, [_tool("node"), "build.mjs", PROTOCOL_ENTRY])


# Node 18 has no global Web Crypto (Node 19+ and every browser do); the bundle, built for
# browsers, draws its randomness from globalThis.crypto.getRandomValues.
_PRELUDE = """
import { webcrypto } from 'node:crypto';
if (!globalThis.crypto) globalThis.crypto = webcrypto;
const hanpyo = await import(%s);
const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const hex = hanpyo.toHex;
const unhex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const output = (value) => process.stdout.write(JSON.stringify(value));
"""


def run_node(script: str, input_value: Any, *, module: Path | None = None) -> Any:
    """Run ``script`` (ES module code) under Node with ``hanpyo`` (the protocol bundle, or
    ``module``), ``input`` (``input_value`` as JSON), ``hex``/``unhex`` and ``output(value)``
    in scope; returns what it passed to ``output``."""
    target = module or protocol_bundle()
    with tempfile.TemporaryDirectory(prefix="hanpyo-node-") as tmp:
        path = Path(tmp) / "script.mjs"
        path.write_text(_PRELUDE % json.dumps(target.as_uri()) + script, encoding="utf-8")
        out = _run([_tool("node"), str(path)], _RUN_TIMEOUT, stdin=json.dumps(input_value))
    return json.loads(out) if out else None
