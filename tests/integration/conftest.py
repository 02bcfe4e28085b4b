"""Fixtures for integration tests: a private PostgreSQL, the release build, and the card
operator's directory with its election definition (pcscd fixtures: tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.elections import mixed_definition
from testkit.postgres import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivatePostgres]:
    """One private PostgreSQL for the whole run (see testkit/postgres.py): its own cluster in a
    temporary directory on 127.0.0.1, stopped by its pid at the end. Missing PostgreSQL is an
    error, not a skip."""
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PrivatePostgres) -> Iterator[str]:
    """A fresh, empty database on the private server for this test alone; dropped after it."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What installer/make-release.sh builds, once per run: the wheel (`python -m build`)
    and the release tarball, in a folder of their own."""
    out = tmp_path_factory.mktemp("release")
    done = subprocess.run(
        [str(ROOT / "installer" / "make-release.sh"), "--out", str(out)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The operator's directory (tmp_path also holds the private pcscd's files)."""
    path = tmp_path / "enrolment"
    path.mkdir()
    return path


@pytest.fixture
def definition(work: Path) -> Path:
    path = work / "definition.json"
    path.write_text(json.dumps(mixed_definition(), ensure_ascii=False), "utf-8")
    return path
