"""A kiosk killed while it creates its store starts again with a whole store (issue 20).

The creation is cut by a real SIGKILL before and after every step (opening the file, each
SQL statement, each fsync, link and unlink): each time, the next start either creates the
store or opens it, with a valid chain, and leaves no half-made file. A store that holds a
block is never replaced or deleted, whatever else is found beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3

from kiosk.core.block import BlockKind
from kiosk.store.chain_store import ChainStore, creating_path
from kiosk.store.errors import StoreDamagedError, StoreLockedError
from kiosk.store.keys import load_keys, provision
from testkit.crash_writer import crash_election
from testkit.step_killer import STORE_NAME
from testkit.stores import official_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kills(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("creation")
    run = subprocess.run(
        [sys.executable, "-m", "testkit.step_killer", "create-store", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_the_creation_was_cut_at_every_step(kills: list[dict[str, Any]]) -> None:
    cuts = [k["cut"] for k in kills if k["killed"]]
    # Before the file exists, inside the schema and genesis transactions, their commits,
    # the fsyncs and the rename to the store's name: each step was cut at least once.
    for step in (
        "connect .kiosk.db.creating",
        "sql CREATE",
        "sql BEGIN",
        "sql INSERT",
        "sql COMMIT",
        "fsync",
        "link .kiosk.db.creating kiosk.db",
        "unlink",
    ):
        assert any(cut.startswith(step) for cut in cuts), f"never cut at {step}: {cuts}"
    assert len(cuts) >= 30
    last = kills[-1]
    assert not last["killed"] and last["write_exit"] == 0, last


def test_every_next_start_has_a_store_with_a_valid_chain(kills: list[dict[str, Any]]) -> None:
    for k in kills:
        assert k["next_exit"] == 0, k
        report = k["next"]
        # ChainStore verifies every signature and link on opening; one genesis block.
        assert report["heights"] == [0] and report["kinds"] == ["genesis"], k
        assert report["files"] in (
            [STORE_NAME],
            [STORE_NAME, f"{STORE_NAME}-shm", f"{STORE_NAME}-wal"],
        ), k


def test_a_kill_leaves_no_store_file_that_is_not_whole(kills: list[dict[str, Any]]) -> None:
    # Until the finished store is linked to its name, that name does not exist: anything
    # half-made only ever has the hidden building name. From the link on, it is whole.
    linked = next(
        i for i, k in enumerate(kills) if k["cut"] and k["cut"].startswith("link") and k["after"]
    )
    for k in kills[:linked]:
        assert STORE_NAME not in k["left_after_kill"], k
    for k in kills[linked:]:
        assert STORE_NAME in k["left_after_kill"], k


def _store_with_blocks(tmp_path: Path) -> tuple[Path, Any, Any]:
    keys = provision(tmp_path / "keys")
    keys = load_keys(tmp_path / "keys")
    package = crash_election().package
    path = tmp_path / STORE_NAME
    official_store(path, keys.store_key, keys.kiosk_key, package).close()
    return path, keys, package


def test_a_store_with_blocks_is_opened_never_replaced(tmp_path: Path) -> None:
    path, keys, package = _store_with_blocks(tmp_path)
    # A stale building file beside it (from a copy, or a tool) changes nothing.
    creating_path(path).write_bytes(b"left over")
    before = path.read_bytes()
    with ChainStore.open_or_create(path, keys.store_key, keys.kiosk_key, package) as store:
        assert [b.block.kind for b in store.blocks()] == [
            BlockKind.GENESIS,
            BlockKind.MODE,
            BlockKind.SESSION_OPEN,
        ]
    assert path.read_bytes() == before
    assert creating_path(path).read_bytes() == b"left over"  # not ours: left as it was


def test_a_store_that_does_not_verify_is_refused_and_kept(tmp_path: Path) -> None:
    path, keys, package = _store_with_blocks(tmp_path)
    other = provision(tmp_path / "other-keys")
    before = path.read_bytes()
    with pytest.raises(StoreDamagedError, match="does not verify"):
        ChainStore.open_or_create(path, keys.store_key, other.kiosk_key, package)
    with pytest.raises(StoreLockedError):
        ChainStore.open_or_create(path, other.store_key, keys.kiosk_key, package)
    assert path.exists() and path.read_bytes() == before


def test_an_unfinished_store_left_by_an_older_kiosk_is_finished(tmp_path: Path) -> None:
    # Before atomic creation, a kill between the schema and the genesis commit left a store
    # with no block under the store's own name, which the kiosk then refused for good.
    keys = provision(tmp_path / "keys")
    keys = load_keys(tmp_path / "keys")
    package = crash_election().package
    path = tmp_path / STORE_NAME
    ChainStore.create(path, keys.store_key, keys.kiosk_key, package).close()
    conn = sqlcipher3.connect(str(path))  # the old bug's file, made by hand
    conn.execute(f"PRAGMA key = \"x'{keys.store_key.hex()}'\"")
    conn.execute("DELETE FROM blocks")
    conn.commit()
    conn.close()
    with pytest.raises(StoreDamagedError, match="no blocks"):
        ChainStore.open(path, keys.store_key, keys.kiosk_key, package)
    with ChainStore.open_or_create(path, keys.store_key, keys.kiosk_key, package) as store:
        assert [b.block.kind for b in store.blocks()] == [BlockKind.GENESIS]
    assert sorted(os.listdir(tmp_path)) == ["keys", STORE_NAME]
