"""The kiosk's modes and sessions: what staff and voters may do at each moment."""

from __future__ import annotations

import random

import pytest

from kiosk.core.chain import Mode, Session
from kiosk.core.errors import StateError
from kiosk.store.ballot_box import BallotBox
from testkit.elections import SyntheticElection, random_ballot, test_voter, voter_of
from testkit.stores import Kiosk
from testkit.v2_ballots import box_cast


def session(box: BallotBox) -> Session:
    """A call, not an attribute chain: mypy would carry one assert's narrowing to the next."""
    return box.state.session


def test_a_session_opens_pauses_resumes_and_closes_with_its_counts(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    box = kiosk.box
    assert session(box) is Session.OPEN and box.state.session_number == 1
    voter = voter_of(election, "resident")
    box_cast(box, election, voter, random_ballot(box.package, voter, random.Random(1)))
    box.pause_session()
    assert session(box) is Session.PAUSED
    box.resume_session()
    note = "example.org/log\n5\nAAAA\n"
    kiosk.store.record_sync({}, note, 5, "2026-11-22T10:00:00+00:00")  # as the sync worker does
    closing = box.close_session()
    assert closing.block.body["ballots"] == 1 and closing.block.body["test_ballots"] == 0
    assert closing.block.body["checkpoint"] == note  # the latest verified ledger checkpoint
    assert session(box) is Session.CLOSED
    box.open_session()
    assert box.state.session_number == 2 and box.state.session_ballots == 0
    assert box.state.ballots == 1


def test_no_ballot_while_paused_or_closed(kiosk: Kiosk, election: SyntheticElection) -> None:
    box, voter = kiosk.box, voter_of(election, "resident")
    ballot = random_ballot(box.package, voter, random.Random(2))
    box.pause_session()
    with pytest.raises(StateError) as paused:
        box_cast(box, election, voter, ballot)
    assert "투표" in paused.value.user_message[0]
    box.close_session()
    with pytest.raises(StateError):
        box_cast(box, election, voter, ballot)
    assert box.state.ballots == 0


@pytest.mark.parametrize("action", ["pause_session", "resume_session", "close_session"])
def test_session_steps_out_of_order_are_refused_and_leave_no_block(
    kiosk: Kiosk, action: str
) -> None:
    box = kiosk.box
    box.close_session()
    before = box.state
    with pytest.raises(StateError):
        getattr(box, action)()
    assert box.state == before
    assert len(list(kiosk.store.blocks())) == before.height + 1


def test_mode_changes_only_between_sessions_and_never_back_to_test_after_official_votes(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    box = kiosk.box
    with pytest.raises(StateError):
        box.set_mode(Mode.TEST)  # a session is open
    voter = voter_of(election, "expert")
    box_cast(box, election, voter, random_ballot(box.package, voter, random.Random(3)))
    box.close_session()
    with pytest.raises(StateError, match="official ballots"):
        box.set_mode(Mode.TEST)


def test_test_mode_records_test_ballots_that_do_not_count_as_official(
    kiosk: Kiosk, election: SyntheticElection
) -> None:
    box = kiosk.box
    box.close_session()
    box2_voter, tester = voter_of(election, "resident", 1), test_voter(election)
    # A fresh kiosk would start in test mode; this one has no official ballots yet.
    box.set_mode(Mode.TEST)
    box.open_session()
    receipt = box_cast(box, election, tester, random_ballot(box.package, tester, random.Random(4)))
    assert receipt.test
    assert box.state.test_ballots == 1 and box.state.ballots == 0
    box.close_session()
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    # A voter card casts its official ballot after the test card's test ballot.
    official = box_cast(
        box, election, box2_voter, random_ballot(box.package, box2_voter, random.Random(5))
    )
    assert not official.test and box.state.ballots == 1
