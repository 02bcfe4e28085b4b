"""Shared fixtures: small synthetic elections and kiosks with real SQLCipher stores (the
helpers behind them are in testkit)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.store.ballot_box import BallotBox
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.stores import Kiosk, official_store


@pytest.fixture(scope="session")
def election() -> SyntheticElection:
    """3 groups x 4 proposals; each group: 4 residents, 1 expert, 4 online members."""
    return build_election(
        mixed_definition(), seed="test", experts_per_group=1, online_per_proposal=1
    )


@pytest.fixture(scope="session")
def package(election: SyntheticElection) -> ElectionPackage:
    return election.package


@pytest.fixture
def kiosk(tmp_path: Path, package: ElectionPackage) -> Iterator[Kiosk]:
    """A fresh kiosk store in official mode with session 1 open."""
    key, store_key = SigningKey.generate(), random.randbytes(32)
    store = official_store(tmp_path / "kiosk.db", store_key, key, package)
    box = BallotBox(store, package)
    yield Kiosk(tmp_path / "kiosk.db", store_key, key, store, box)
    store.close()


# -- a private pcscd (integration and screen tests) -------------------------------------------


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
