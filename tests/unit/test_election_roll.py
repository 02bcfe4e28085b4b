"""The election's roll: a card finds its entry and voter id, who sees which contests, and the
sample election shipped in the assets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.core.election import (
    CategoryId,
    Channel,
    Contest,
    ContestId,
    ContestKind,
    ElectionPackage,
    OptionId,
    Scope,
    StaffRole,
    TallyMethod,
    Text,
    read_package,
)
from kiosk.core.encoding import parse_json
from testkit.elections import (
    REFERENCE_CLOSE,
    SyntheticElection,
    build_election,
    review_definition,
)
from testkit.keys import STRANGER

ASSET = Path(__file__).resolve().parents[2] / "assets" / "elections" / "provincial-review-2017.json"

# -- look-ups ----------------------------------------------------------------------------------


def test_a_voter_card_finds_its_roll_entry(election: SyntheticElection) -> None:
    package = election.package
    for key, entry in zip(election.voter_keys, package.roll, strict=True):
        voter = package.voter_for_card(key.public_key)
        assert voter is not None
        assert voter.card_key == key.public_key == entry.card_key
        assert (voter.category, voter.group, voter.excluded) == (
            entry.category,
            entry.group,
            entry.excluded,
        )
        assert voter.voter_id == entry.voter_id and len(voter.voter_id) == 16


def test_residents_are_recused_from_their_own_proposal(package: ElectionPackage) -> None:
    voter = package.voter_for_card(package.roll[0].card_key)
    assert voter is not None
    assert (voter.category, voter.group) == ("resident", "g001")
    assert voter.excluded == frozenset({OptionId("p0001-01")})


def test_the_same_card_always_is_the_same_voter(election: SyntheticElection) -> None:
    key = election.voter_keys[3].public_key
    first, second = election.package.voter_for_card(key), election.package.voter_for_card(key)
    assert first is not None and second is not None
    assert first.voter_id == second.voter_id


def test_different_cards_are_different_voters(election: SyntheticElection) -> None:
    voters = [election.package.voter_for_card(k.public_key) for k in election.voter_keys]
    ids = {v.voter_id for v in voters if v is not None}
    assert len(ids) == len(election.voter_keys)


def test_an_unknown_card_is_not_a_voter(election: SyntheticElection) -> None:
    assert election.package.voter_for_card(STRANGER.public_key) is None
    assert election.package.staff_entry(STRANGER.public_key) is None


def test_staff_cards_are_staff_and_not_voters(election: SyntheticElection) -> None:
    package = election.package
    roles = []
    for key in election.staff_keys:
        entry = package.staff_entry(key.public_key)
        assert entry is not None
        assert package.voter_for_card(key.public_key) is None
        roles.append(entry.role)
    assert roles == [StaffRole.POLL_WORKER, StaffRole.POLL_WORKER, StaffRole.ELECTION_MANAGER]
    assert package.staff_entry(election.voter_keys[0].public_key) is None


@pytest.mark.parametrize(
    ("category", "contests"),
    [
        ("resident", ["review", "rules"]),
        ("expert", ["review", "expert-criteria"]),
        ("online", ["likes"]),
        ("mayor", []),
    ],
)
def test_each_category_sees_only_its_contests(
    package: ElectionPackage, category: str, contests: list[str]
) -> None:
    assert [c.id for c in package.contests_for(category)] == contests


def test_a_voter_is_offered_their_group_without_their_own_proposal(
    package: ElectionPackage,
) -> None:
    for entry in package.roll:
        for contest in package.contests_for(entry.category):
            if contest.kind is ContestKind.YESNO:
                continue
            offered = package.eligible_options(contest, entry.group, entry.excluded)
            ids = {o.id for o in offered}
            assert not ids & entry.excluded
            assert {o.group for o in offered} == {entry.group}
            in_group = {o.id for o in package.options if o.group == entry.group}
            assert ids == in_group - entry.excluded


def test_an_election_wide_contest_offers_every_option_but_the_voters_own(
    package: ElectionPackage,
) -> None:
    contest = Contest(
        ContestId("favourite"),
        ContestKind.CHOICE,
        Text("최고", "Best"),
        (CategoryId("online"),),
        Scope.ALL,
    )
    own = frozenset({OptionId("p0002-03")})
    offered = {o.id for o in package.eligible_options(contest, "g001", own)}
    assert offered == {o.id for o in package.options} - own


# -- the sample election asset -----------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> SyntheticElection:
    return build_election(json.loads(ASSET.read_text(encoding="utf-8")), max_voters=2000)


def test_the_sample_asset_is_the_reference_review_definition() -> None:
    assert parse_json(ASSET.read_bytes()) == review_definition(closes=REFERENCE_CLOSE)


def test_the_sample_election_has_68_groups_of_12_proposals(sample: SyntheticElection) -> None:
    package = sample.package
    assert len(package.groups) == 68
    assert len(package.options) == 68 * 12
    for group in package.groups:
        assert len(package.options_in_group(group.id)) == 12
    assert len(package.roll) == 2000
    assert read_package(package.to_json()) == package


def test_the_sample_election_has_the_reference_contests(sample: SyntheticElection) -> None:
    review, likes = sample.package.contests
    assert (review.id, review.kind, review.scope) == ("review", ContestKind.SCORE, Scope.GROUP)
    assert set(review.categories) == {"resident", "expert"}
    assert (review.min, review.max, review.criteria) == (1, 10, ())
    assert (likes.id, likes.kind, likes.scope) == ("likes", ContestKind.CHOICE, Scope.GROUP)
    assert likes.categories == ("online",)
    assert (likes.min, likes.max) == (0, 6)
    online = sample.package.category("online")
    assert online is not None and online.channel is Channel.ONLINE


def test_the_sample_election_picks_250_on_site_and_200_online(sample: SyntheticElection) -> None:
    tally = sample.package.tally
    assert tally.method is TallyMethod.QUOTA
    assert tally.channel_winners == {Channel.KIOSK: 250, Channel.ONLINE: 200}
