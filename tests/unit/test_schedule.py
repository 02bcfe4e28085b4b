"""Official ballots are dated inside the election's schedule (issue 15, item 6).

Before, ballots dated before the opening or after the close were accepted and counted. Now
the kiosk does not cast one, and the ledger and every verifier refuse one that claims such a
time; test ballots and session blocks may be dated any time (staff test before opening).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import kiosk.store.chain_store as chain_store
from kiosk.core.chain import ChainVerifier, Mode, Schedule
from kiosk.core.crypto import SigningKey
from kiosk.core.errors import ChainError, StateError
from kiosk.store.ballot_box import BallotBox
from kiosk.store.keys import provision
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    SyntheticElection,
    build_election,
    card_of,
    random_ballot,
    review_definition,
    test_voter,
    voter_of,
)
from testkit.stores import official_store
from testkit.v2_ballots import box_cast

OPENS, CLOSES = "2026-11-25T09:00:00+09:00", "2026-11-25T18:00:00+09:00"  # 00:00 to 09:00 UTC


def _election(opens: str = OPENS, closes: str = CLOSES) -> SyntheticElection:
    d = review_definition(2, 4, election_id="schedule-test", closes=closes)
    d["schedule"]["opens"] = opens
    return build_election(d, seed="schedule")


def _chain(election: SyntheticElection, first: datetime, mode: Mode) -> ChainWriter:
    """Genesis, mode and session at ``first``; one ballot a minute later."""
    writer = ChainWriter(election.package, SigningKey.generate(), first, timedelta(minutes=1))
    writer.mode(mode)
    writer.open_session()
    voter = test_voter(election) if mode is Mode.TEST else voter_of(election, "resident")
    ballot = random_ballot(election.package, voter, random.Random(1))
    writer.cast(voter, ballot, card_of(election, voter))
    return writer


def _verify(election: SyntheticElection, writer: ChainWriter) -> None:
    package = election.package
    verifier = ChainVerifier(
        election=package.id, schedule=Schedule.of(package.opens, package.closes)
    )
    for block in writer.blocks:
        verifier.add(block)


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (datetime(2026, 11, 24, 23, 58, tzinfo=UTC), "before_opening"),  # ballot at 23:59 UTC
        (datetime(2026, 11, 25, 9, 0, tzinfo=UTC), "after_closing"),  # ballot at 09:01 UTC
    ],
)
def test_an_official_ballot_dated_outside_the_schedule_is_refused(
    first: datetime, reason: str
) -> None:
    election = _election()
    with pytest.raises(ChainError) as refused:
        _verify(election, _chain(election, first, Mode.OFFICIAL))
    assert str(refused.value).startswith(f"block 3: {reason}: ")


@pytest.mark.parametrize(
    "first",
    [
        datetime(2026, 11, 24, 23, 59, 30, tzinfo=UTC),  # ballot in the minute it opens
        datetime(2026, 11, 25, 8, 59, tzinfo=UTC),  # ballot at 09:00 UTC, when it closes
    ],
)
def test_an_official_ballot_at_the_edges_of_the_schedule_is_accepted(first: datetime) -> None:
    election = _election()
    _verify(election, _chain(election, first, Mode.OFFICIAL))


def test_test_ballots_may_be_cast_before_the_opening() -> None:
    election = _election()
    _verify(election, _chain(election, datetime(2026, 11, 20, 10, 0, tzinfo=UTC), Mode.TEST))


@pytest.mark.parametrize(
    ("opens", "closes", "said"),
    [
        ("2099-01-01T09:00:00+09:00", "2099-01-01T18:00:00+09:00", "has not started yet"),
        ("2017-11-25T09:00:00+09:00", "2017-11-25T18:00:00+09:00", "Voting has closed"),
    ],
)
def test_the_kiosk_does_not_cast_an_official_ballot_outside_the_schedule(
    tmp_path: Path, opens: str, closes: str, said: str
) -> None:
    election = _election(opens, closes)
    keys = provision(tmp_path / "keys")
    store = official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package)
    box = BallotBox(store, election.package)
    voter = voter_of(election, "resident")
    with pytest.raises(StateError) as refused:
        box_cast(box, election, voter, random_ballot(election.package, voter, random.Random(2)))
    assert said in refused.value.user_message[1]
    assert box.state.ballots == 0 and box.state.height == 2  # nothing was written
    store.close()


def test_a_kiosk_whose_clock_once_ran_past_the_close_does_not_cast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A block is dated at the later of the clock and the last block, so a store written while
    # the clock ran nine hours ahead (local time read as UTC) dates every later ballot after
    # the close; the ledger would refuse it for good. The kiosk refuses to cast instead.
    election = _election(closes="2099-12-31T18:00:00+09:00")
    keys = provision(tmp_path / "keys")
    monkeypatch.setattr(chain_store, "block_time", lambda: "2100-01-01T00:00Z")
    store = official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package)
    monkeypatch.undo()  # the clock is right again
    box = BallotBox(store, election.package)
    voter = voter_of(election, "resident")
    with pytest.raises(StateError) as refused:
        box_cast(box, election, voter, random_ballot(election.package, voter, random.Random(3)))
    assert "clock is wrong" in refused.value.user_message[1]
    assert box.state.ballots == 0
    store.close()
