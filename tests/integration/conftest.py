"""Fixtures for tests that go through a real pcscd: a private one per test, never the system's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.hardware.private_pcscd import PrivatePcscd
from tests.integration.postgres import PrivatePostgres


@pytest.fixture(scope="session")
def pcscd_socket_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One socket directory for every private pcscd of this test run: libpcsclite reads
    PCSCLITE_CSOCK_NAME once per process, so the socket path must never change."""
    return tmp_path_factory.mktemp("pcscd-socket")


@pytest.fixture
def pcscd(
    tmp_path: Path, pcscd_socket_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrivatePcscd]:
    """A private pcscd with two vpcd readers; pyscard in this process talks to it."""
    with PrivatePcscd(tmp_path / "pcscd", readers=2, socket_dir=pcscd_socket_dir) as daemon:
        monkeypatch.setenv("PCSCLITE_CSOCK_NAME", str(daemon.socket))
        _check_pyscard_talks_to(daemon)
        yield daemon


def _check_pyscard_talks_to(daemon: PrivatePcscd) -> None:
    from smartcard.Exceptions import SmartcardException
    from smartcard.System import readers

    try:
        names: object = [str(reader) for reader in readers()]
    except SmartcardException as e:
        names = f"none ({e})"
    if names != daemon.reader_names:
        pytest.fail(
            f"pyscard sees readers {names}, not the private pcscd's {daemon.reader_names}: "
            "something in this process used PC/SC before PCSCLITE_CSOCK_NAME was set, and "
            "libpcsclite keeps the first socket path it saw"
        )


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
