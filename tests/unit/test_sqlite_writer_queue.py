"""The ledger's SQLite writers take turns on a lock file (ledger/store/schema.py,
_QueuedWriterConnection) instead of SQLite's sleeping busy handler. What must hold: a write
transaction holds its turn until it commits or rolls back and never after; a reader never
waits for it; a writer whose turn does not come in time is told the database is locked, as
before; a turn held by another process is waited for, and nothing either wrote is lost."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from ledger.store import schema as db


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def _turn_is_free(lock: Path) -> bool:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_write_holds_its_turn_until_it_ends_and_never_after(
    engine: Engine, tmp_path: Path
) -> None:
    lock = tmp_path / "ledger.db-writer"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not _turn_is_free(lock)  # another process's writer would wait here
    assert _turn_is_free(lock)  # committed: given back
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert not _turn_is_free(lock)
        raise RuntimeError("the caller gives up")
    assert _turn_is_free(lock)  # rolled back: given back
    with engine.connect() as conn:  # one connection, two transactions
        with conn.begin():
            conn.execute(text("INSERT INTO t VALUES (3)"))
        assert _turn_is_free(lock)  # not held between them
        with conn.begin():
            conn.execute(text("INSERT INTO t VALUES (4)"))
    with db.reader(engine).connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT n FROM t ORDER BY n"))] == [1, 3, 4]


def _hold_turn(lock: str, held: Any, seconds: float, done: str) -> None:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    held.set()
    time.sleep(seconds)
    Path(done).write_text("the holder's transaction is over")
    os.close(fd)


def _holder(lock: Path, seconds: float) -> Any:
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    done = lock.with_name("holder-done")
    process = context.Process(target=_hold_turn, args=(str(lock), held, seconds, str(done)))
    process.start()
    assert held.wait(30), "the holder did not take the turn"
    return process


def test_a_reader_never_waits_and_a_writer_waits_for_another_process(
    engine: Engine, tmp_path: Path
) -> None:
    holder = _holder(tmp_path / "ledger.db-writer", seconds=1.0)
    try:
        with db.reader(engine).connect() as conn:  # a snapshot, while the turn is taken
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert holder.is_alive()  # the reader did not wait for the holder
        with engine.begin() as conn:  # waits for the holder's turn, then writes
            assert (tmp_path / "holder-done").exists()  # not before the holder was done
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.join(30)
    assert holder.exitcode == 0
    with db.reader(engine).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1


def test_a_writer_whose_turn_never_comes_is_told_the_database_is_locked(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "WRITER_WAIT_S", 0.3)
    holder = _holder(tmp_path / "ledger.db-writer", seconds=5.0)
    try:
        with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.kill()
        holder.join(30)
    with engine.begin() as conn:  # the holder is gone: the next writer goes ahead
        conn.execute(text("INSERT INTO t VALUES (2)"))
    with db.reader(engine).connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT n FROM t"))] == [2]


def test_a_link_planted_at_the_lock_file_is_refused_not_followed(
    engine: Engine, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "ledger.db-writer").unlink()  # made by the fixture's first write
    (tmp_path / "ledger.db-writer").symlink_to(target)
    with pytest.raises(OperationalError, match="writers' lock file"), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert not target.exists()  # nothing was created through the link
    (tmp_path / "ledger.db-writer").unlink()
    with engine.begin() as conn:  # the link gone, writing goes on
        conn.execute(text("INSERT INTO t VALUES (2)"))
