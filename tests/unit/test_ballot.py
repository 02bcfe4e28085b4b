"""Ballots: every contest rule is enforced for the voter, and the sealed bytes are canonical."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.ballot import Ballot, ballot_from_plaintext, validate_ballot
from kiosk.core.election import ContestId, ElectionId, ElectionPackage, OptionId, Voter
from kiosk.core.encoding import canonical_json, parse_json
from kiosk.core.errors import BallotError
from testkit.elections import (
    SyntheticElection,
    build_election,
    random_ballot,
    review_definition,
    voter_of,
)

CATEGORIES = ("resident", "expert", "online")


def _ballot(package: ElectionPackage, voter: Voter, seed: int = 0) -> Ballot:
    return random_ballot(package, voter, random.Random(seed))


def _with(ballot: Ballot, contest: str, selection: Any) -> Ballot:
    """``ballot`` with ``contest`` answered by ``selection`` instead."""
    return dataclasses.replace(
        ballot, selections={**ballot.selections, ContestId(contest): selection}
    )


def _without(ballot: Ballot, contest: str) -> Ballot:
    rest = {cid: sel for cid, sel in ballot.selections.items() if cid != contest}
    return dataclasses.replace(ballot, selections=rest)


def _refused(package: ElectionPackage, voter: Voter, ballot: Ballot) -> BallotError:
    with pytest.raises(BallotError) as refused:
        validate_ballot(package, voter, ballot)
    return refused.value


@pytest.fixture(scope="module")
def resident(election: SyntheticElection) -> Voter:
    """A resident of g001, recused from p0001-01; answers "review" and "rules"."""
    voter = voter_of(election, "resident")
    assert voter.group == "g001"
    assert voter.excluded == frozenset({OptionId("p0001-01")})
    return voter


@pytest.fixture(scope="module")
def expert(election: SyntheticElection) -> Voter:
    """An expert of g001, recused from nothing; answers "review" and "expert-criteria"."""
    voter = voter_of(election, "expert")
    assert (voter.group, voter.excluded) == ("g001", frozenset())
    return voter


@pytest.fixture(scope="module")
def online(election: SyntheticElection) -> Voter:
    """An online member of g001, recused from p0001-01; answers "likes" (at most 6)."""
    voter = voter_of(election, "online")
    assert voter.group == "g001"
    assert voter.excluded == frozenset({OptionId("p0001-01")})
    return voter


@pytest.fixture(scope="module")
def big_group() -> SyntheticElection:
    """One group of 12 proposals, so an online member has 11 they could like."""
    definition = review_definition(groups=1, per_group=12, election_id="one-big-group")
    return build_election(definition, seed="big", experts_per_group=0, online_per_proposal=1)


# -- valid ballots -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), n=st.integers(min_value=0, max_value=2))
@pytest.mark.parametrize("category", CATEGORIES)
def test_a_random_ballot_is_valid_for_every_category(
    election: SyntheticElection, category: str, seed: int, n: int
) -> None:
    voter = voter_of(election, category, n)
    validate_ballot(election.package, voter, _ballot(election.package, voter, seed))


def test_a_random_ballot_is_valid_for_everyone_on_the_roll(election: SyntheticElection) -> None:
    rng = random.Random(7)
    for entry in election.package.roll:
        voter = election.package.voter_for_card(entry.card_key)
        assert voter is not None
        validate_ballot(election.package, voter, random_ballot(election.package, voter, rng))


def test_liking_none_or_six_proposals_is_allowed(big_group: SyntheticElection) -> None:
    package, voter = big_group.package, voter_of(big_group, "online")
    offered = [
        o.id for o in package.eligible_options(package.contests[1], voter.group, voter.excluded)
    ]
    assert len(offered) == 11
    base = _ballot(package, voter)
    for likes in ((), tuple(offered[:6])):
        validate_ballot(package, voter, _with(base, "likes", likes))


@pytest.mark.parametrize("score", [1, 10])
def test_the_lowest_and_highest_scores_are_allowed(
    package: ElectionPackage, resident: Voter, score: int
) -> None:
    ballot = _with(_ballot(package, resident), "review", {"p0001-02": score, "p0001-03": score})
    validate_ballot(package, resident, ballot)


@pytest.mark.parametrize("answer", ["yes", "no", "blank"])
def test_yes_no_and_blank_are_the_answers_to_a_question(
    package: ElectionPackage, resident: Voter, answer: str
) -> None:
    validate_ballot(package, resident, _with(_ballot(package, resident), "rules", answer))


# -- refusals for the ballot as a whole --------------------------------------------------------


def test_a_ballot_for_another_election_is_refused(
    package: ElectionPackage, resident: Voter
) -> None:
    ballot = dataclasses.replace(
        _ballot(package, resident), election=ElectionId("another-election")
    )
    error = _refused(package, resident, ballot)
    assert "another-election" in str(error)
    assert error.contest is None


def test_a_ballot_in_another_category_is_refused(
    package: ElectionPackage, resident: Voter, expert: Voter
) -> None:
    error = _refused(package, resident, _ballot(package, expert))
    assert "category or group" in str(error)


def test_a_ballot_for_another_group_is_refused(
    election: SyntheticElection, resident: Voter
) -> None:
    neighbour = next(
        v
        for e in election.package.roll
        if (v := election.package.voter_for_card(e.card_key))
        and v.category == "resident"
        and v.group == "g002"
    )
    error = _refused(election.package, resident, _ballot(election.package, neighbour))
    assert "category or group" in str(error)


def test_a_ballot_that_skips_a_contest_is_refused(
    package: ElectionPackage, resident: Voter
) -> None:
    error = _refused(package, resident, _without(_ballot(package, resident), "rules"))
    assert "missing: ['rules']" in str(error)


def test_a_ballot_that_answers_another_categorys_contest_is_refused(
    package: ElectionPackage, resident: Voter
) -> None:
    ballot = _with(_ballot(package, resident), "likes", ("p0001-02",))
    error = _refused(package, resident, ballot)
    assert "not allowed: ['likes']" in str(error)


def test_a_ballot_that_answers_an_unknown_contest_is_refused(
    package: ElectionPackage, resident: Voter
) -> None:
    error = _refused(package, resident, _with(_ballot(package, resident), "bonus", "yes"))
    assert "bonus" in str(error)


# -- choice contests ---------------------------------------------------------------------------


def test_seven_likes_are_refused_when_six_is_the_cap(big_group: SyntheticElection) -> None:
    package, voter = big_group.package, voter_of(big_group, "online")
    offered = [
        o.id for o in package.eligible_options(package.contests[1], voter.group, voter.excluded)
    ]
    error = _refused(package, voter, _with(_ballot(package, voter), "likes", tuple(offered[:7])))
    assert error.contest == "likes"
    assert "between 0 and 6, found 7" in str(error)


def test_liking_the_same_proposal_twice_is_refused(package: ElectionPackage, online: Voter) -> None:
    ballot = _with(_ballot(package, online), "likes", ("p0001-02", "p0001-02"))
    error = _refused(package, online, ballot)
    assert error.contest == "likes"
    assert "twice" in str(error)


def test_liking_a_proposal_of_another_group_is_refused(
    package: ElectionPackage, online: Voter
) -> None:
    ballot = _with(_ballot(package, online), "likes", ("p0001-02", "p0002-01"))
    error = _refused(package, online, ballot)
    assert error.contest == "likes"
    assert "p0002-01" in str(error)


def test_liking_ones_own_proposal_is_refused(package: ElectionPackage, online: Voter) -> None:
    ballot = _with(_ballot(package, online), "likes", ("p0001-01",))
    error = _refused(package, online, ballot)
    assert error.contest == "likes"
    assert "p0001-01" in str(error)


def test_liking_a_proposal_that_does_not_exist_is_refused(
    package: ElectionPackage, online: Voter
) -> None:
    error = _refused(package, online, _with(_ballot(package, online), "likes", ("p0099-01",)))
    assert error.contest == "likes"


@pytest.mark.parametrize(
    "selection",
    [{"p0001-02": 1}, "p0001-02", ["p0001-02"], (2,), None],
    ids=["dict", "string", "list", "number-in-tuple", "none"],
)
def test_a_choice_that_is_not_a_tuple_of_option_ids_is_refused(
    package: ElectionPackage, online: Voter, selection: Any
) -> None:
    error = _refused(package, online, _with(_ballot(package, online), "likes", selection))
    assert error.contest == "likes"


# -- score contests ----------------------------------------------------------------------------


def test_scoring_ones_own_proposal_is_refused(package: ElectionPackage, resident: Voter) -> None:
    ballot = _with(_ballot(package, resident), "review", {"p0001-01": 5, "p0001-02": 5})
    error = _refused(package, resident, ballot)
    assert error.contest == "review"
    assert "p0001-01" in str(error)


def test_scoring_a_proposal_of_another_group_is_refused(
    package: ElectionPackage, resident: Voter
) -> None:
    ballot = _with(_ballot(package, resident), "review", {"p0001-02": 5, "p0003-01": 5})
    error = _refused(package, resident, ballot)
    assert error.contest == "review"
    assert "p0003-01" in str(error)


@pytest.mark.parametrize(
    "score",
    [0, 11, -1, True, False, 5.0, 5.5, "5", None],
    ids=["0", "11", "-1", "true", "false", "5.0", "5.5", "text", "null"],
)
def test_a_score_that_is_not_a_whole_number_in_range_is_refused(
    package: ElectionPackage, resident: Voter, score: Any
) -> None:
    ballot = _with(_ballot(package, resident), "review", {"p0001-02": 5, "p0001-03": score})
    error = _refused(package, resident, ballot)
    assert error.contest == "review"
    assert "p0001-03" in str(error)


@pytest.mark.parametrize(
    "selection",
    [["p0001-02", "p0001-03"], ("p0001-02",), "p0001-02", 5],
    ids=["list", "tuple", "string", "number"],
)
def test_scores_that_are_not_a_mapping_are_refused(
    package: ElectionPackage, resident: Voter, selection: Any
) -> None:
    error = _refused(package, resident, _with(_ballot(package, resident), "review", selection))
    assert error.contest == "review"


@pytest.mark.parametrize(
    "marks",
    [
        {"impact": 3},
        {"impact": 3, "feasibility": 4, "beauty": 5},
        {},
        3,
        {"impact": 3, "feasibility": 6},
        {"impact": 3, "feasibility": True},
    ],
    ids=["missing-criterion", "extra-criterion", "no-criteria", "plain-score", "over-max", "bool"],
)
def test_a_criteria_score_must_mark_exactly_each_criterion_in_range(
    package: ElectionPackage, expert: Voter, marks: Any
) -> None:
    good = {"impact": 2, "feasibility": 2}
    ballot = _with(
        _ballot(package, expert), "expert-criteria", {"p0001-01": good, "p0001-02": marks}
    )
    error = _refused(package, expert, ballot)
    assert error.contest == "expert-criteria"
    assert "p0001-02" in str(error)


# -- yes/no questions --------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["maybe", "YES", "", None, True, ("yes",)])
def test_an_answer_other_than_yes_no_or_blank_is_refused(
    package: ElectionPackage, resident: Voter, answer: Any
) -> None:
    error = _refused(package, resident, _with(_ballot(package, resident), "rules", answer))
    assert error.contest == "rules"


# -- the sealed plaintext ----------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_plaintext_is_canonical_json(election: SyntheticElection, category: str) -> None:
    ballot = _ballot(election.package, voter_of(election, category))
    plaintext = ballot.plaintext()
    assert plaintext == canonical_json(json.loads(plaintext))
    assert plaintext == canonical_json(ballot.to_json())
    assert b" " not in plaintext and b"\n" not in plaintext


def test_the_plaintext_names_neither_card_nor_nullifier(
    election: SyntheticElection, resident: Voter
) -> None:
    document = json.loads(_ballot(election.package, resident).plaintext())
    assert set(document) == {"v", "election", "category", "group", "contests"}


def test_the_plaintext_lists_likes_in_order_whatever_order_they_were_chosen_in(
    package: ElectionPackage, online: Voter
) -> None:
    ballot = _with(_ballot(package, online), "likes", ("p0001-04", "p0001-02"))
    assert json.loads(ballot.plaintext())["contests"]["likes"] == ["p0001-02", "p0001-04"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
@pytest.mark.parametrize("category", CATEGORIES)
def test_an_opened_ballot_reads_back_as_the_ballot_that_was_sealed(
    election: SyntheticElection, category: str, seed: int
) -> None:
    ballot = _ballot(election.package, voter_of(election, category), seed)
    opened = ballot_from_plaintext(ballot.plaintext())
    assert opened == ballot
    assert opened.plaintext() == ballot.plaintext()


def _resident_plaintext(package: ElectionPackage, resident: Voter) -> bytes:
    ballot = _with(_ballot(package, resident), "review", {"p0001-02": 7, "p0001-03": 4})
    return ballot.plaintext()


def _pretty(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw), indent=1, sort_keys=True).encode()


def _spaced(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw), sort_keys=True).encode()


def _unsorted_keys(raw: bytes) -> bytes:
    document = json.loads(raw)
    return json.dumps(dict(reversed(document.items())), separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "recode",
    [_pretty, _spaced, _unsorted_keys, lambda raw: raw + b"\n", lambda raw: b" " + raw],
    ids=["indented", "spaces-after-separators", "unsorted-keys", "trailing-newline", "leading"],
)
def test_an_opened_ballot_that_is_not_canonical_is_refused(
    package: ElectionPackage, resident: Voter, recode: Any
) -> None:
    raw = recode(_resident_plaintext(package, resident))
    assert parse_json(raw) == json.loads(_resident_plaintext(package, resident))
    with pytest.raises(BallotError, match="canonical"):
        ballot_from_plaintext(raw)


def test_an_opened_ballot_with_unsorted_likes_is_refused(
    package: ElectionPackage, online: Voter
) -> None:
    raw = _with(_ballot(package, online), "likes", ("p0001-02", "p0001-04")).plaintext()
    swapped = raw.replace(b'["p0001-02","p0001-04"]', b'["p0001-04","p0001-02"]')
    assert swapped != raw
    with pytest.raises(BallotError, match="canonical"):
        ballot_from_plaintext(swapped)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'{"v":1', b"\xff\xfe\x00", b"[1,2]", b'"ballot"', b"{}"],
    ids=["empty", "words", "truncated", "not-utf8", "list", "string", "empty-object"],
)
def test_an_opened_ballot_that_is_not_a_ballot_is_refused(raw: bytes) -> None:
    with pytest.raises(BallotError):
        ballot_from_plaintext(raw)


def test_an_opened_ballot_with_a_duplicate_key_is_refused(
    package: ElectionPackage, resident: Voter
) -> None:
    raw = _resident_plaintext(package, resident)
    doubled = raw.replace(b'"p0001-02":7', b'"p0001-02":7,"p0001-02":7')
    assert doubled != raw
    with pytest.raises(BallotError, match="duplicate key"):
        ballot_from_plaintext(doubled)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_an_opened_ballot_with_nan_or_infinity_is_refused(
    package: ElectionPackage, resident: Voter, constant: bytes
) -> None:
    raw = _resident_plaintext(package, resident)
    poisoned = raw.replace(b'"p0001-02":7', b'"p0001-02":' + constant)
    assert poisoned != raw
    with pytest.raises(BallotError, match="not allowed"):
        ballot_from_plaintext(poisoned)


@pytest.mark.parametrize(
    "value",
    [b"1e400", b"9007199254740993", b'"\\ud800"'],
    ids=["overflowing-float", "unsafe-integer", "lone-surrogate"],
)
def test_an_opened_ballot_with_a_value_canonical_json_cannot_hold_is_refused(
    package: ElectionPackage, resident: Voter, value: bytes
) -> None:
    raw = _resident_plaintext(package, resident)
    poisoned = raw.replace(b'"p0001-02":7', b'"p0001-02":' + value)
    assert poisoned != raw
    with pytest.raises(BallotError):
        ballot_from_plaintext(poisoned)
