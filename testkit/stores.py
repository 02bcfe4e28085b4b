"""Kiosk stores for tests and benches: a real SQLCipher store in official mode, and a chain
cast through one."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.block import SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import SyntheticElection, random_ballot, voter_of
from testkit.v2_ballots import box_cast


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
    """A kiosk's store with its keys and ballot box (what the ``kiosk`` fixture yields)."""

    path: Path
    store_key: bytes
    kiosk_key: SigningKey
    store: ChainStore
    box: BallotBox


def make_chain(
    tmp: Path, election: SyntheticElection, key: SigningKey, voters: list[tuple[str, int]]
) -> list[SignedBlock]:
    """A kiosk chain: genesis, official mode, a session with one ballot per voter."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{key.public_key.hex()[:8]}.db"
    with official_store(path, os.urandom(32), key, election.package) as store:
        box = BallotBox(store, election.package)
        rng = random.Random(1)
        for category, n in voters:
            voter = voter_of(election, category, n)
            box_cast(box, election, voter, random_ballot(election.package, voter, rng))
        return list(store.blocks())
