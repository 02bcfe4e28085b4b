"""A ledger takes a newer package of its election before any block arrives, and only then.

A lost credential letter (or a lost card) is replaced by amending the roll: the authority signs
the package again with a higher sequence number, and the admin gives it to `ledger init` again.
Before, `ledger init` kept the old package without a word and printed the new one's hash, so the
ledger went on taking the lost code. Every chain's genesis block names the package it started
on, so once a block has arrived the package can no longer change."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage, sign_package
from ledger.rules.errors import LedgerError
from ledger.service.ledger import Ledger
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition

LOG_KEY = SigningKey(b"\x07" * 32)


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    return build_election(
        mixed_definition(groups=1, per_group=3, election_id="replaced-letter"), seed="replace"
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield engine
    engine.dispose()


def _init(engine: Engine, election: SyntheticElection, package: ElectionPackage) -> None:
    signed = sign_package(package, election.authority).to_json()
    Ledger.initialise(
        engine, LogKey("ledger.test/replace", LOG_KEY), signed, election.authority.public_key
    )


def _amended(election: SyntheticElection, sequence: int) -> ElectionPackage:
    """The package with the last voter's key replaced (a letter reissued), renumbered."""
    package = election.package
    last = package.roll[-1]
    new_key = SigningKey(bytes([sequence]) * 32).public_key
    roll = (*package.roll[:-1], dataclasses.replace(last, card_key=new_key, keys=(new_key,)))
    return dataclasses.replace(package, roll=roll, sequence=sequence)


def _held(engine: Engine) -> ElectionPackage:
    return Ledger(engine, LOG_KEY).package


def test_a_newer_package_replaces_the_old_while_no_block_has_arrived(
    engine: Engine, election: SyntheticElection
) -> None:
    _init(engine, election, election.package)
    amended = _amended(election, 2)
    _init(engine, election, amended)
    held = _held(engine)
    assert held.sequence == 2
    assert held.package_hash == amended.package_hash
    assert held.roll[-1].keys == amended.roll[-1].keys  # the lost key is gone
    _init(engine, election, amended)  # the same package again changes nothing
    assert _held(engine).package_hash == amended.package_hash


def test_an_older_or_equal_package_is_refused_and_the_held_one_kept(
    engine: Engine, election: SyntheticElection
) -> None:
    _init(engine, election, _amended(election, 3))
    older = _amended(election, 2)
    same_number = dataclasses.replace(_amended(election, 4), sequence=3)  # other content
    for package in (older, same_number):
        with pytest.raises(LedgerError) as refused:
            _init(engine, election, package)
        assert refused.value.reason == "package_not_newer"
    assert _held(engine).sequence == 3


def test_a_package_signed_by_another_authority_is_refused(
    engine: Engine, election: SyntheticElection
) -> None:
    _init(engine, election, election.package)
    other = SigningKey(b"\x09" * 32)
    signed = sign_package(_amended(election, 2), other).to_json()
    with pytest.raises(LedgerError) as refused:
        Ledger.initialise(engine, LogKey("ledger.test/replace", LOG_KEY), signed, other.public_key)
    assert refused.value.reason == "other_authority"
    assert _held(engine).sequence == 1


def test_once_a_block_arrived_the_package_cannot_change(
    engine: Engine, election: SyntheticElection
) -> None:
    _init(engine, election, election.package)
    ledger = Ledger(engine, LOG_KEY)
    writer = ChainWriter(
        election.package,
        SigningKey(b"\x05" * 32),
        datetime(2017, 11, 25, 0, 30, tzinfo=UTC),
        timedelta(minutes=1),
    )
    writer.mode(Mode.OFFICIAL)
    kiosk = ledger.enrol(writer.key.public_key, "hall")
    ledger.ingest(kiosk, [s.encode() for s in writer.blocks])
    with pytest.raises(LedgerError) as refused:
        _init(engine, election, _amended(election, 2))
    assert refused.value.reason == "package_in_use"
    assert "before the first kiosk syncs" in str(refused.value)
    assert _held(engine).sequence == 1
