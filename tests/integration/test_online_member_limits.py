"""What one member with a valid voting code may do on the online platform, over all the times
they sign in, as a real `hanpyo-online serve` process on a loopback port meets it: one live
session at a time, a bounded number of checked ballots and of refused ballots, and never a
checked ballot cast."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.encrypted_ballot import read_encrypted_ballot
from testkit.elections import SyntheticElection
from testkit.online_platform import (
    OnlinePlatform,
    member_index,
    member_key,
    post,
    refused,
    sign_in,
)
from testkit.v2_ballots import cast_ballot, signed_body, spoiled

REFUSALS = 3  # refused ballots per member here; checked ballots: the default, 5


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, election: SyntheticElection
) -> Iterator[OnlinePlatform]:
    args = ("--refusals-per-voter", str(REFUSALS))
    with OnlinePlatform(tmp_path_factory.mktemp("online"), election, serve_args=args) as p:
        p.staff("open")
        yield p


def test_signing_in_again_ends_the_members_earlier_session(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    eid, url = election.package.id, platform.url
    made = cast_ballot(election, member_index(election, 0), random.Random(0))
    first = sign_in(url, member_key(election, 0), eid)["session"]
    second = sign_in(url, member_key(election, 0), eid)["session"]
    refused(post(url, "/api/ballots", first, made.body), 401, "session_expired")
    refused(post(url, "/api/spoiled", first, spoiled(made)), 401, "session_expired")
    sign_in(url, member_key(election, 1), eid)  # another member's sign-in ends nothing of theirs
    assert post(url, "/api/ballots", second, made.body).status_code == 201


def test_a_member_records_at_most_five_checked_ballots_over_all_sign_ins(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    eid, url, n = election.package.id, platform.url, 2
    made = [cast_ballot(election, member_index(election, n), random.Random(s)) for s in (20, 21)]
    session = sign_in(url, member_key(election, n), eid)["session"]
    for ballot in (made[0], made[1], made[0]):
        assert post(url, "/api/spoiled", session, spoiled(ballot)).status_code == 201
    per_session = refused(post(url, "/api/spoiled", session, spoiled(made[1])), 429,
                          "too_many_attempts")  # fmt: skip
    assert "sign-in" in per_session["message"]["en"]
    session = sign_in(url, member_key(election, n), eid)["session"]  # a fresh allowance? no:
    for ballot in made:
        assert post(url, "/api/spoiled", session, spoiled(ballot)).status_code == 201
    height = platform.staff("status")["height"]
    for _ in range(2):
        limited = post(url, "/api/spoiled", session, spoiled(made[0]))
        doc = refused(limited, 429, "too_many_attempts")
        assert "voting code" in doc["message"]["en"] and "cast" in doc["message"]["en"]
        session = sign_in(url, member_key(election, n), eid)["session"]
    assert platform.staff("status")["height"] == height  # nothing more was recorded
    final = cast_ballot(election, member_index(election, n), random.Random(22))
    assert post(url, "/api/ballots", session, final.body).status_code == 201  # still votes


def _bad_proof(election: SyntheticElection, n: int, seed: int) -> dict[str, Any]:
    """A ballot signed by the member's own key whose first two proofs are swapped: it fails
    only at the last, costliest check."""
    made = cast_ballot(election, member_index(election, n), random.Random(seed))
    ballot = copy.deepcopy(made.body["ballot"])
    cells = ballot["contests"][0]["cells"]
    cells[0]["proof"], cells[1]["proof"] = cells[1]["proof"], cells[0]["proof"]
    voter_id = election.package.roll[member_index(election, n)].voter_id or b""
    return signed_body(voter_id, read_encrypted_ballot(ballot), member_key(election, n))


def test_a_member_sends_a_bounded_number_of_refused_ballots_over_all_sign_ins(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    eid, url, n = election.package.id, platform.url, 3
    bad = _bad_proof(election, n, 30)
    for round_ in range(REFUSALS):
        session = sign_in(url, member_key(election, n), eid)["session"]
        doc = refused(post(url, "/api/ballots", session, bad), 422, "bad_ballot")
        assert doc["reason"] == "bad_proof", round_
    before = platform.staff("status")
    good = cast_ballot(election, member_index(election, n), random.Random(31))
    session = sign_in(url, member_key(election, n), eid)["session"]
    doc = refused(post(url, "/api/ballots", session, good.body), 429, "too_many_attempts")
    assert "refused" in doc["message"]["en"]
    refused(post(url, "/api/spoiled", session, spoiled(good)), 429, "too_many_attempts")
    after = platform.staff("status")
    assert (after["height"], after["ballots"]) == (before["height"], before["ballots"])
    # Another member is not held back by this one's refusals.
    other = sign_in(url, member_key(election, 4), eid)["session"]
    made = cast_ballot(election, member_index(election, 4), random.Random(40))
    assert post(url, "/api/ballots", other, made.body).status_code == 201


def test_a_checked_ballot_is_never_cast_even_after_a_restart(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """The count leaves out a cast ballot whose id a spoiled block opened (selection rule 9):
    the platform refuses to record it rather than tell the voter "recorded"."""
    eid, n = election.package.id, 5
    made = cast_ballot(election, member_index(election, n), random.Random(50))
    p = OnlinePlatform(tmp_path / "p", election)
    with p:
        p.staff("open")
        session = sign_in(p.url, member_key(election, n), eid)["session"]
        assert post(p.url, "/api/spoiled", session, spoiled(made)).status_code == 201
        height = p.staff("status")["height"]
        doc = refused(post(p.url, "/api/ballots", session, made.body), 422, "checked_ballot")
        assert "make the ballot again" in doc["message"]["en"]
        assert p.staff("status")["height"] == height
    with p:  # a new process over the same chain still knows the checked ballot
        session = sign_in(p.url, member_key(election, n), eid)["session"]
        refused(post(p.url, "/api/ballots", session, made.body), 422, "checked_ballot")
        status = p.staff("status")
        assert (status["height"], status["ballots"]) == (height, 0)
        again = cast_ballot(election, member_index(election, n), random.Random(51))
        assert post(p.url, "/api/ballots", session, again.body).status_code == 201
