"""Fixtures for integration tests: a private PostgreSQL (pcscd fixtures: tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.integration.postgres import PrivatePostgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivatePostgres]:
    """One private PostgreSQL for the whole run (see postgres.py): its own cluster in a
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
