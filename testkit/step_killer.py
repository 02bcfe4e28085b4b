"""Kill a kiosk with SIGKILL at every step of a write, then do what the next start would do.

Run as ``python -m testkit.step_killer SCENARIO DIR``. The process imports the kiosk once, then
for kill point 0, 1, 2, ... forks a child that does the scenario's write and SIGKILLs itself
just before (or just after) its n-th step: opening a file or the SQLCipher store, each SQL
statement, each fsync, link, rename, replace and unlink. After each kill a fresh child does
what the next power-on or the next try would, with no hook, and reports what it found. One
JSON line per kill point on standard output; the run ends with the first point the write
never reaches.

Scenarios:
- ``create-store``: a new kiosk creates its store (``ChainStore.open_or_create``); the next
  start opens or creates it and reports the verified chain (issue 20).
- ``export``: ``kiosk export --all`` of a store with blocks to a USB folder; the next try
  finds either no export or a whole one, and exports again (issue 21).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3

from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import KioskKeys, load_keys, provision
from kiosk.store.usb_export import ExportTargetExists, export_chain
from ledger.verify.chain_file import ChainFileError, verify_chain_file
from testkit.crash_writer import crash_election
from testkit.stores import official_store

STORE_NAME = "kiosk.db"
EXPORT_NAME = "hanpyo-export.jsonl"
_HOOKED = ("open", "fsync", "link", "rename", "replace", "unlink")


class _Steps:
    """Counts the write's steps and kills the process at the chosen one."""

    def __init__(self, kill_at: int, after: bool) -> None:
        self.kill_at, self.after, self.count = kill_at, after, 0

    def step(self, what: str, run: Callable[[], Any]) -> Any:
        n, self.count = self.count, self.count + 1
        if n == self.kill_at and not self.after:
            _die(what)
        try:
            return run()
        finally:  # after the step, whether it succeeded or raised
            if n == self.kill_at and self.after:
                _die(what)


def _die(what: str) -> None:
    os.write(3, what.encode()[:200])  # to the driver's pipe: which step was cut
    os.kill(os.getpid(), signal.SIGKILL)


class _Connection:
    """A SQLCipher connection whose statements are steps."""

    def __init__(self, conn: Any, steps: _Steps) -> None:
        self._conn, self._steps = conn, steps

    def execute(self, sql: str, *args: Any) -> Any:
        label = "sql " + (" ".join(sql.split()[:3]) if not sql.startswith("PRAGMA key") else "key")
        return self._steps.step(label, lambda: self._conn.execute(sql, *args))

    def executemany(self, sql: str, rows: Any) -> Any:
        label = "sql " + " ".join(sql.split()[:3])
        return self._steps.step(label, lambda: self._conn.executemany(sql, rows))

    def close(self) -> None:
        self._steps.step("close", self._conn.close)


def _install(steps: _Steps) -> None:
    connect = sqlcipher3.connect

    def hooked_connect(*args: Any, **kwargs: Any) -> _Connection:
        conn = steps.step(f"connect {Path(args[0]).name}", lambda: connect(*args, **kwargs))
        return _Connection(conn, steps)

    sqlcipher3.connect = hooked_connect
    for name in _HOOKED:
        original = getattr(os, name)

        def hooked(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            if _name in ("fsync",) or isinstance(args[0], int):
                label = _name
            else:
                paths = [Path(os.fspath(a)).name for a in args[:2] if isinstance(a, (str, Path))]
                label = " ".join([_name, *paths])
            return steps.step(label, lambda: _original(*args, **kw))

        setattr(os, name, hooked)


def _in_child(run: Callable[[int], None]) -> tuple[int, str]:
    """Fork, run ``run(fd)`` in the child; return its wait status and what it wrote to fd."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        os.dup2(write_fd, 3)
        try:
            run(3)
        except BaseException as e:  # reported to the driver
            os.write(3, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
            os._exit(1)
        os._exit(0)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    return status, b"".join(chunks).decode()


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "keys")


# -- the scenarios ----------------------------------------------------------------------------
class CreateStore:
    """A new kiosk creates its store; the next start opens or finishes it."""

    def __init__(self, directory: Path, keys: KioskKeys) -> None:
        self.directory, self.keys = directory, keys
        self.watched = directory
        self.package = crash_election().package  # made once, before the children fork

    def reset(self) -> None:
        for old in self.directory.iterdir():
            if old.name != "keys":
                old.unlink()

    def write(self, steps: _Steps) -> None:
        _install(steps)
        self.start()

    def next_start(self) -> dict[str, Any]:
        return self.start()

    def start(self) -> dict[str, Any]:
        with ChainStore.open_or_create(
            self.directory / STORE_NAME, self.keys.store_key, self.keys.kiosk_key, self.package
        ) as store:
            blocks = list(store.blocks())
            return {
                "heights": [b.block.height for b in blocks],
                "kinds": [b.block.kind.value for b in blocks],
                "files": _listing(self.directory),
            }


class Export:
    """``kiosk export --all`` to a USB folder; the next try finds no export or a whole one."""

    def __init__(self, directory: Path, keys: KioskKeys) -> None:
        self.directory, self.keys = directory, keys
        self.usb = directory / "usb"
        self.watched = self.usb
        self.store = directory / STORE_NAME
        if not self.store.exists():
            official_store(
                self.store, keys.store_key, keys.kiosk_key, crash_election().package
            ).close()

    def reset(self) -> None:
        self.usb.mkdir(exist_ok=True)
        for old in self.usb.iterdir():
            old.unlink()

    def _open(self) -> ChainStore:
        return ChainStore.open(self.store, self.keys.store_key, self.keys.kiosk_key)

    def write(self, steps: _Steps) -> None:
        with self._open() as store:
            _install(steps)
            export_chain(store, self.keys.kiosk_key, self.usb / EXPORT_NAME, whole_chain=True)

    def next_start(self) -> dict[str, Any]:
        found = _listing(self.usb)
        target = self.usb / EXPORT_NAME
        report: dict[str, Any] = {"found": found}
        if target.exists():
            try:
                checked = verify_chain_file(target.read_bytes())
                report["found_blocks"] = checked.state.height + 1
            except ChainFileError as e:
                report["found_error"] = str(e)
        with self._open() as store:
            try:
                done = export_chain(store, self.keys.kiosk_key, target, whole_chain=True)
                report["again"] = f"exported {done.count}"
            except ExportTargetExists as e:
                report["again"] = f"exists: {e}"
        checked = verify_chain_file(target.read_bytes())
        report["blocks"] = checked.state.height + 1
        report["files"] = _listing(self.usb)
        return report


SCENARIOS: dict[str, type[CreateStore] | type[Export]] = {
    "create-store": CreateStore,
    "export": Export,
}


def kill_once(scenario: CreateStore | Export, kill_at: int, after: bool) -> dict[str, Any]:
    def write(_fd: int) -> None:
        scenario.write(_Steps(kill_at, after))

    status, cut = _in_child(write)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    left = _listing(scenario.watched)

    def next_start(fd: int) -> None:
        os.write(fd, json.dumps(scenario.next_start()).encode())

    next_status, report = _in_child(next_start)
    return {
        "kill_at": kill_at,
        "after": after,
        "killed": killed,
        "cut": cut if killed else None,
        "write_exit": os.waitstatus_to_exitcode(status),
        "write_said": None if killed else cut,
        "left_after_kill": left,
        "next_exit": os.waitstatus_to_exitcode(next_status),
        "next": json.loads(report) if report else None,
    }


def main(name: str, directory: Path) -> None:
    provision(directory / "keys")
    keys = load_keys(directory / "keys")
    scenario = SCENARIOS[name](directory, keys)
    point = 0
    while True:
        for after in (False, True):
            scenario.reset()  # every kill point starts from the same files
            result = kill_once(scenario, point, after)
            print(json.dumps(result), flush=True)
            if not result["killed"]:
                return
        point += 1


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
