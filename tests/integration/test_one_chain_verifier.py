"""Ingest and the offline verifier are one chain verifier (issue 15, item 3).

Before, ingest (``verify_next``) accepted a second ballot of the same voter on one kiosk while
``verify-bundle`` (``ChainVerifier``) refused it, so one bad kiosk made a published bundle fail
verification for good. Now ingest refuses it, in the same batch or a later one, keeps what came
before, and every chain the ledger holds passes the verifier the bundle check uses.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.core.block import decode_signed_block
from kiosk.core.chain import ChainVerifier, Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import sign_package
from ledger.service.ledger import Ledger
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    REFERENCE_CLOSE,
    SyntheticElection,
    build_election,
    card_of,
    random_ballot,
    review_definition,
)

START = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    return build_election(review_definition(2, 4, election_id="one-verifier"), seed="one")


@pytest.fixture
def ledger(tmp_path: Path, election: SyntheticElection) -> Iterator[Ledger]:
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    key = SigningKey.generate()
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(engine, LogKey("ledger.test/one", key), signed, election.authority.public_key)
    yield Ledger(engine, key)
    engine.dispose()


def _kiosk_that_lets_a_voter_vote_twice(election: SyntheticElection) -> ChainWriter:
    """A chain signed by its enrolled kiosk in which one voter casts two official ballots:
    what a kiosk that skipped its own store's check would send."""
    package, rng = election.package, random.Random(1)
    writer = ChainWriter(package, SigningKey.generate(), START, timedelta(minutes=1))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    voters = [package.voter_for_card(k.public_key) for k in election.voter_keys[:3]]
    for voter in [*voters, voters[0]]:
        assert voter is not None
        writer.cast(voter, random_ballot(package, voter, rng), card_of(election, voter))
    return writer


def _stored_chain_verifies(ledger: Ledger, kiosk: str) -> int:
    verifier = ChainVerifier(election=ledger.package.id, kiosk=kiosk)
    height = ledger.head(kiosk)[0]
    for leaf in range(ledger.log_size()):
        block = decode_signed_block(ledger.inclusion(leaf, None).block)
        if block.block.kiosk == kiosk:
            verifier.add(block)
    assert verifier.finish().height == height
    return height


@pytest.mark.parametrize("batches", [1, 2], ids=["same-batch", "later-batch"])
def test_ingest_refuses_a_second_ballot_of_one_voter_on_one_kiosk(
    ledger: Ledger, election: SyntheticElection, batches: int
) -> None:
    writer = _kiosk_that_lets_a_voter_vote_twice(election)
    kiosk = kiosk_id_for(writer.key.public_key)
    ledger.enrol(writer.key.public_key, "Hall A")
    encoded = [b.encode() for b in writer.blocks]
    repeat = len(encoded) - 1  # the last block: the voter's second ballot
    if batches == 2:  # the first ballot is already in the database, not in this batch
        first = ledger.ingest(kiosk, encoded[:repeat])
        assert first.rejection is None and first.accepted == repeat
        encoded = encoded[repeat:]
    result = ledger.ingest(kiosk, encoded)
    assert result.rejection is not None
    assert (result.rejection.height, result.rejection.reason) == (repeat, "repeat_nullifier")
    assert ledger.head(kiosk)[0] == repeat - 1  # every block before it is kept
    assert _stored_chain_verifies(ledger, kiosk) == repeat - 1


def test_a_block_dated_after_the_ledgers_clock_is_refused_on_arrival(
    ledger: Ledger, election: SyntheticElection
) -> None:
    # Issue 15, item 6: a kiosk whose clock runs an hour ahead (or that forges its times)
    # cannot date ballots into the future; ten minutes of drift are tolerated.
    package = election.package
    soon = datetime.now(UTC) + timedelta(minutes=5)
    writer = ChainWriter(package, SigningKey.generate(), soon, timedelta(minutes=30))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    voter = package.voter_for_card(election.voter_keys[0].public_key)
    assert voter is not None
    ballot = random_ballot(package, voter, random.Random(2))
    writer.cast(voter, ballot, card_of(election, voter))  # dated 35 min ahead
    kiosk = kiosk_id_for(writer.key.public_key)
    ledger.enrol(writer.key.public_key, "Hall A")
    result = ledger.ingest(kiosk, [b.encode() for b in writer.blocks])
    assert result.rejection is not None
    assert (result.rejection.height, result.rejection.reason) == (3, "time_in_future")
    assert result.accepted == 3  # genesis, mode and session: five minutes ahead, tolerated


def test_ingest_refuses_an_official_ballot_dated_after_the_close(tmp_path: Path) -> None:
    # Issue 15, item 6: the reference event closed at 18:00 KST; a ballot a kiosk dates
    # 18:10 is refused, and the blocks before it are kept.
    closed = build_election(
        review_definition(2, 4, election_id="closed", closes=REFERENCE_CLOSE), seed="closed"
    )
    engine = connect(f"sqlite:///{tmp_path / 'closed.db'}")
    create_schema(engine)
    key = SigningKey.generate()
    signed = sign_package(closed.package, closed.authority).to_json()
    Ledger.initialise(
        engine, LogKey("ledger.test/closed", key), signed, closed.authority.public_key
    )
    ledger = Ledger(engine, key)
    late = datetime(2017, 11, 25, 9, 9, tzinfo=UTC)  # 18:09 KST
    writer = ChainWriter(closed.package, SigningKey.generate(), late, timedelta(minutes=1))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    voter = closed.package.voter_for_card(closed.voter_keys[0].public_key)
    assert voter is not None
    ballot = random_ballot(closed.package, voter, random.Random(3))
    writer.cast(voter, ballot, card_of(closed, voter))
    ledger.enrol(writer.key.public_key, "Hall A")
    result = ledger.ingest(kiosk_id_for(writer.key.public_key), [b.encode() for b in writer.blocks])
    assert result.rejection is not None
    assert (result.rejection.height, result.rejection.reason) == (3, "after_closing")
    assert result.accepted == 3
    engine.dispose()
