"""Shared fixtures: small synthetic elections and kiosks with real SQLCipher stores."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage, Voter
from kiosk.hardware.private_pcscd import PrivatePcscd
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import SyntheticElection, build_election, review_definition


def mixed_definition(
    groups: int = 3, per_group: int = 4, election_id: str = "test-review"
) -> dict:
    """A small review election (3 groups of 4) plus a criteria-scored contest for experts
    and a yes/no question for residents, so every contest kind is exercised."""
    d = copy.deepcopy(review_definition(groups, per_group, election_id=election_id))
    d["contests"].append(
        {
            "id": "expert-criteria",
            "kind": "score",
            "title": {"ko": "전문가 항목별 심사", "en": "Expert scoring by criterion"},
            "categories": ["expert"],
            "scope": "group",
            "min": 0,
            "max": 5,
            "criteria": [
                {"id": "impact", "title": {"ko": "효과", "en": "Impact"}, "weight": 0.6},
                {
                    "id": "feasibility",
                    "title": {"ko": "실현 가능성", "en": "Feasibility"},
                    "weight": 0.4,
                },
            ],
        }
    )
    d["contests"].append(
        {
            "id": "rules",
            "kind": "yesno",
            "title": {"ko": "심사 규칙에 동의합니까?", "en": "Do you accept the review rules?"},
            "categories": ["resident"],
        }
    )
    return d


@pytest.fixture(scope="session")
def election() -> SyntheticElection:
    """3 groups x 4 proposals; each group: 4 residents, 1 expert, 4 online members."""
    return build_election(
        mixed_definition(), seed="test", experts_per_group=1, online_per_proposal=1
    )


@pytest.fixture(scope="session")
def package(election: SyntheticElection) -> ElectionPackage:
    return election.package


def voter_of(election: SyntheticElection, category: str, n: int = 0) -> Voter:
    """The ``n``-th enrolled voter of ``category``."""
    found = [e for e in election.package.roll if e.category == category]
    voter = election.package.voter_for_card(found[n].card_key)
    assert voter is not None
    return voter


def official_store(
    path: Path, store_key: bytes, kiosk_key: SigningKey, package: ElectionPackage
) -> ChainStore:
    """A new kiosk store in official mode with session 1 open."""
    store = ChainStore.create(path, store_key, kiosk_key, package)
    box = BallotBox(store, package)
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    return store


@dataclass
class Kiosk:
    path: Path
    store_key: bytes
    kiosk_key: SigningKey
    store: ChainStore
    box: BallotBox


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
