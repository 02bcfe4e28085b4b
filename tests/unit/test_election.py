"""The election package: round trip, signature, refusals that name a path, and look-ups."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.crypto import Domain, SigningKey, is_valid_ed25519_point, sha256
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
    sign_package,
    verify_package,
)
from kiosk.core.encoding import b64e, canonical_json, parse_json
from kiosk.core.errors import ElectionPackageError
from testkit.elections import SyntheticElection, build_election, review_definition

ASSET = Path(__file__).resolve().parents[2] / "assets" / "elections" / "provincial-review-2017.json"
CROCKFORD_GROUP = "[0-9A-HJKMNP-TV-Z]{4}"
SHORT_HASH = re.compile(rf"^{CROCKFORD_GROUP}(-{CROCKFORD_GROUP}){{3}}$")
NOT_A_POINT = b"\x01" * 32
STRANGER = SigningKey(sha256(b"hanpyo-test/stranger"))

Mutation = Callable[[dict[str, Any]], object]


@pytest.fixture
def document(package: ElectionPackage) -> dict[str, Any]:
    """A fresh, mutable copy of the package's JSON form."""
    return copy.deepcopy(package.to_json())


# -- round trip and hashes ---------------------------------------------------------------------


def test_a_package_reads_back_equal_to_itself(package: ElectionPackage) -> None:
    again = read_package(package.to_json())
    assert again == package
    assert again.canonical() == package.canonical()


def test_a_package_survives_its_canonical_bytes(package: ElectionPackage) -> None:
    again = read_package(parse_json(package.canonical()))
    assert again == package
    assert canonical_json(again.to_json()) == package.canonical()


def test_the_package_hash_is_the_sha256_of_the_canonical_bytes(package: ElectionPackage) -> None:
    assert package.package_hash == sha256(package.canonical())
    assert len(package.package_hash) == 32
    assert read_package(package.to_json()).package_hash == package.package_hash


def test_the_package_hash_changes_when_anything_changes(
    package: ElectionPackage, document: dict[str, Any]
) -> None:
    document["title"]["en"] += "!"
    changed = read_package(document)
    assert changed.package_hash != package.package_hash
    assert changed.short_hash != package.short_hash


def test_the_short_hash_is_four_groups_of_four_crockford_characters(
    package: ElectionPackage,
) -> None:
    assert SHORT_HASH.match(package.short_hash), package.short_hash
    assert package.short_hash == read_package(package.to_json()).short_hash


# -- signing -----------------------------------------------------------------------------------


def test_a_signed_package_verifies_under_the_authority_key(election: SyntheticElection) -> None:
    signed = sign_package(election.package, election.authority)
    document = json.loads(json.dumps(signed.to_json()))
    assert verify_package(document, election.authority.public_key) == election.package


def test_a_package_signed_by_another_key_is_refused(election: SyntheticElection) -> None:
    signed = sign_package(election.package, STRANGER)
    with pytest.raises(ElectionPackageError, match="not signed by the pinned authority key"):
        verify_package(signed.to_json(), election.authority.public_key)


def test_a_signature_made_for_another_purpose_is_refused(election: SyntheticElection) -> None:
    signature = election.authority.sign(Domain.BLOCK, election.package.canonical())
    document = {"package": election.package.to_json(), "signature": b64e(signature)}
    with pytest.raises(ElectionPackageError, match="not signed by the pinned authority key"):
        verify_package(document, election.authority.public_key)


def _retitle(p: dict[str, Any]) -> None:
    p["title"]["en"] = "A different election"


def _move_voter(p: dict[str, Any]) -> None:
    p["roll"][0]["group"] = "g002"
    p["roll"][0]["excluded"] = []


def _reweigh(p: dict[str, Any]) -> None:
    p["categories"][0]["weight"] = 2.0


def _reweigh_criterion(p: dict[str, Any]) -> None:
    p["contests"][2]["criteria"][0]["weight"] = 0.9


@pytest.mark.parametrize(
    "tamper",
    [_retitle, _move_voter, _reweigh, _reweigh_criterion],
    ids=["title", "roll-entry", "category-weight", "criterion-weight"],
)
def test_a_package_changed_after_signing_is_refused(
    election: SyntheticElection, tamper: Mutation
) -> None:
    document = sign_package(election.package, election.authority).to_json()
    tamper(document["package"])
    read_package(document["package"])  # still a well-formed package: only the signature fails
    with pytest.raises(ElectionPackageError, match="not signed by the pinned authority key"):
        verify_package(document, election.authority.public_key)


@pytest.mark.parametrize("length", [0, 63, 65])
def test_a_signature_of_the_wrong_length_is_refused(
    election: SyntheticElection, length: int
) -> None:
    document = sign_package(election.package, election.authority).to_json()
    document["signature"] = b64e(bytes(length))
    with pytest.raises(ElectionPackageError, match="signature"):
        verify_package(document, election.authority.public_key)


def test_a_package_without_a_signature_is_refused(election: SyntheticElection) -> None:
    document = sign_package(election.package, election.authority).to_json()
    del document["signature"]
    with pytest.raises(ElectionPackageError, match=r"signature: is missing"):
        verify_package(document, election.authority.public_key)


def test_an_unsigned_package_document_is_refused(election: SyntheticElection) -> None:
    with pytest.raises(ElectionPackageError, match="signature"):
        verify_package(election.package.to_json(), election.authority.public_key)


def test_a_signed_package_with_an_extra_field_is_refused(election: SyntheticElection) -> None:
    document = sign_package(election.package, election.authority).to_json()
    document["comment"] = "hello"
    with pytest.raises(ElectionPackageError, match="unknown field"):
        verify_package(document, election.authority.public_key)


def test_a_pinned_authority_key_of_the_wrong_length_verifies_nothing(
    election: SyntheticElection,
) -> None:
    document = sign_package(election.package, election.authority).to_json()
    with pytest.raises(ElectionPackageError):
        verify_package(document, election.authority.public_key[:31])


# -- refusals, each naming where the problem is --------------------------------------------------


def test_the_point_used_for_bad_card_keys_really_is_not_on_the_curve() -> None:
    assert not is_valid_ed25519_point(NOT_A_POINT)


def _put(*path: str | int, value: Any) -> Mutation:
    """A mutation that sets the field at ``path`` to ``value``."""

    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _drop(*path: str | int) -> Mutation:
    """A mutation that removes the field at ``path``."""

    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return mutate


def _duplicate_option(d: dict[str, Any]) -> None:
    d["options"].append(copy.deepcopy(d["options"][0]))


def _duplicate_card(d: dict[str, Any]) -> None:
    twin = copy.deepcopy(d["roll"][0])
    twin["category"], twin["group"], twin["excluded"] = "expert", "g002", []
    d["roll"].append(twin)


def _card_on_roll_and_staff(d: dict[str, Any]) -> None:
    d["staff"][0]["card_key"] = d["roll"][0]["card_key"]


def _padded_card_key(d: dict[str, Any]) -> None:
    d["roll"][0]["card_key"] += "="


def _weighted_sum_not_one(d: dict[str, Any]) -> None:
    d["tally"]["method"] = "weighted_sum"
    d["tally"]["channels"]["kiosk"]["weight"] = 0.7


def _test_key_is_ballot_key(d: dict[str, Any]) -> None:
    d["keys"]["test_ballot"] = d["keys"]["ballot"]


def _test_secret_of_another_key(d: dict[str, Any]) -> None:
    d["keys"]["test_ballot_secret"] = b64e(bytes(range(32)))


def _criteria_on_choice(d: dict[str, Any]) -> None:
    d["contests"][1]["criteria"] = copy.deepcopy(d["contests"][2]["criteria"])


def _repeated_criterion(d: dict[str, Any]) -> None:
    d["contests"][2]["criteria"][1]["id"] = d["contests"][2]["criteria"][0]["id"]


# contests: [0] review (score, resident+expert), [1] likes (choice, online),
# [2] expert-criteria (score with criteria), [3] rules (yesno, resident).
# roll[0] is a resident of g001 recused from p0001-01; staff[0] is a poll worker.
BAD_PACKAGES = [
    pytest.param(_put("colour", value="blue"), "unknown field(s): colour", id="unknown-field"),
    pytest.param(
        _put("contests", 0, "colour", value="blue"), "contests[0]: unknown", id="unknown-nested"
    ),
    pytest.param(_put("contests", 3, "max", value=1), "contests[3]: unknown", id="yesno-with-max"),
    pytest.param(_drop("options", 2, "summary"), "options[2].summary: is missing", id="missing"),
    pytest.param(_drop("keys", "nullifier_salt"), "keys.nullifier_salt", id="missing-salt"),
    pytest.param(_put("v", value=2), "v: unsupported", id="wrong-version"),
    pytest.param(_put("v", value="1"), "v: must be a whole number", id="version-as-text"),
    pytest.param(_put("id", value="Test Review"), "id: 'Test Review'", id="bad-election-id"),
    pytest.param(_put("options", 2, "id", value="P-3"), "options[2].id", id="bad-option-id"),
    pytest.param(_put("groups", 1, "id", value="g/2"), "groups[1].id", id="bad-group-id"),
    pytest.param(_duplicate_option, "p0001-01", id="duplicate-option"),
    pytest.param(
        _put("options", 0, "group", value="g999"), "option p0001-01", id="option-missing-group"
    ),
    pytest.param(
        _put("contests", 0, "categories", value=["resident", "mayor"]),
        "contest review",
        id="contest-missing-category",
    ),
    pytest.param(
        _put("contests", 0, "categories", value=[]), "contests[0].categories", id="no-categories"
    ),
    pytest.param(
        _put("contests", 0, "categories", value=["resident", "expert", "resident"]),
        "contests[0].categories",
        id="duplicate-category",
    ),
    pytest.param(_put("contests", 1, "min", value=7), "contests[1]", id="choice-min-over-max"),
    pytest.param(_put("contests", 1, "max", value=0), "contests[1]", id="choice-max-zero"),
    pytest.param(_put("contests", 0, "min", value=10), "contests[0]", id="score-min-equals-max"),
    pytest.param(_put("contests", 0, "max", value=0), "contests[0]", id="score-min-over-max"),
    pytest.param(_criteria_on_choice, "contests[1].criteria", id="criteria-on-choice"),
    pytest.param(_repeated_criterion, "contests[2].criteria", id="repeated-criterion"),
    pytest.param(_put("contests", 0, "kind", value="rank"), "contests[0].kind", id="bad-kind"),
    pytest.param(_put("contests", 0, "scope", value="town"), "contests[0].scope", id="bad-scope"),
    pytest.param(
        _put("roll", 0, "card_key", value=b64e(bytes(31))), "roll[0].card_key", id="key-31-bytes"
    ),
    pytest.param(
        _put("roll", 0, "card_key", value=b64e(bytes(33))), "roll[0].card_key", id="key-33-bytes"
    ),
    pytest.param(
        _put("roll", 0, "card_key", value="not base64url!"), "roll[0].card_key", id="key-not-b64"
    ),
    pytest.param(_put("roll", 0, "card_key", value=7), "roll[0].card_key", id="key-not-text"),
    pytest.param(_padded_card_key, "roll[0].card_key", id="key-padded"),
    pytest.param(
        _put("roll", 0, "card_key", value=b64e(NOT_A_POINT)), "roll[0].card_key", id="not-a-point"
    ),
    pytest.param(
        _put("staff", 0, "card_key", value=b64e(NOT_A_POINT)),
        "staff[0].card_key",
        id="staff-not-a-point",
    ),
    pytest.param(_duplicate_card, "roll[", id="card-twice-on-roll"),
    pytest.param(_card_on_roll_and_staff, "staff[0]", id="card-on-roll-and-staff"),
    pytest.param(_put("roll", 0, "group", value=None), "roll[0]", id="roll-without-group"),
    pytest.param(_drop("roll", 0, "group"), "roll[0]", id="roll-group-absent"),
    pytest.param(_put("roll", 0, "group", value="g999"), "roll[0]", id="roll-unknown-group"),
    pytest.param(_put("roll", 0, "category", value="mayor"), "roll[0]", id="roll-unknown-category"),
    pytest.param(
        _put("roll", 0, "excluded", value=["p0009-09"]), "roll[0]", id="excluded-not-an-option"
    ),
    pytest.param(_put("roll", 0, "excluded", value=[1]), "roll[0].excluded", id="excluded-number"),
    pytest.param(_put("staff", 0, "role", value="mayor"), "staff[0].role", id="bad-staff-role"),
    pytest.param(
        _put("schedule", "opens", value="2017-11-25T09:00:00"), "schedule.opens", id="no-time-zone"
    ),
    pytest.param(
        _put("schedule", "closes", value="25 November 2017"), "schedule.closes", id="not-iso-8601"
    ),
    pytest.param(
        _put("schedule", "closes", value="2017-11-25T08:00:00+09:00"),
        "must close after it opens",
        id="closes-before-opens",
    ),
    pytest.param(
        _put("schedule", "closes", value="2017-11-25T09:00:00+09:00"),
        "must close after it opens",
        id="closes-when-it-opens",
    ),
    pytest.param(_weighted_sum_not_one, "tally.channels", id="weights-not-adding-to-one"),
    pytest.param(
        _put("tally", "channels", "mail", value={"weight": 0.0, "winners": 1}),
        "tally.channels",
        id="unknown-channel",
    ),
    pytest.param(_put("tally", "channels", value={}), "tally.channels", id="no-channel"),
    pytest.param(_put("tally", "method", value="borda"), "tally.method", id="bad-tally-method"),
    pytest.param(_test_key_is_ballot_key, "test ballot key", id="test-key-is-ballot-key"),
    pytest.param(_test_secret_of_another_key, "test_ballot_secret", id="test-secret-mismatch"),
    pytest.param(_put("keys", "ballot", value=b64e(bytes(31))), "keys.ballot", id="short-key"),
    pytest.param(_put("categories", 0, "weight", value=0), "categories[0].weight", id="weight-0"),
    pytest.param(
        _put("categories", 0, "weight", value=-1.0), "categories[0].weight", id="weight-negative"
    ),
    pytest.param(_put("contests", 1, "max", value=True), "contests[1].max", id="bool-for-number"),
    pytest.param(_put("contests", 0, "min", value=1.0), "contests[0].min", id="float-for-int"),
    pytest.param(_put("options", 0, "budget", value=1.5), "options[0].budget", id="float-budget"),
    pytest.param(
        _put("categories", 0, "weight", value=True), "categories[0].weight", id="bool-for-weight"
    ),
    pytest.param(_put("title", "ko", value="  "), "title.ko", id="blank-title"),
    pytest.param(
        _put("duplicate_policy", value="newest"), "duplicate_policy", id="bad-duplicate-policy"
    ),
]


@pytest.mark.parametrize(("mutate", "where"), BAD_PACKAGES)
def test_a_bad_package_is_refused_naming_where_the_problem_is(
    document: dict[str, Any], mutate: Mutation, where: str
) -> None:
    mutate(document)
    with pytest.raises(ElectionPackageError) as refused:
        read_package(document)
    assert where in str(refused.value)


@pytest.mark.parametrize("value", [[], "package", None, 1])
def test_a_document_that_is_not_an_object_is_refused(value: object) -> None:
    with pytest.raises(ElectionPackageError, match="must be an object"):
        read_package(value)


def test_a_schedule_closing_later_in_another_time_zone_is_accepted(
    document: dict[str, Any],
) -> None:
    document["schedule"] = {
        "opens": "2017-11-25T09:00:00+09:00",
        "closes": "2017-11-25T08:00:00+00:00",
    }
    read_package(document)


def test_a_schedule_closing_earlier_in_another_time_zone_is_refused(
    document: dict[str, Any],
) -> None:
    document["schedule"] = {
        "opens": "2017-11-25T09:00:00+00:00",
        "closes": "2017-11-25T10:00:00+09:00",
    }
    with pytest.raises(ElectionPackageError, match="must close after it opens"):
        read_package(document)


def test_a_quota_tally_need_not_have_weights_adding_to_one(document: dict[str, Any]) -> None:
    document["tally"]["channels"]["kiosk"]["weight"] = 0.7
    assert read_package(document).tally.method is TallyMethod.QUOTA


def test_weighted_sum_weights_adding_to_one_are_accepted(document: dict[str, Any]) -> None:
    document["tally"]["method"] = "weighted_sum"
    document["tally"]["channels"]["kiosk"]["weight"] = 0.3
    document["tally"]["channels"]["online"]["weight"] = 0.7
    tally = read_package(document).tally
    assert tally.channel_weights == {Channel.KIOSK: 0.3, Channel.ONLINE: 0.7}


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
        assert len(voter.nullifier) == 32


def test_residents_are_recused_from_their_own_proposal(package: ElectionPackage) -> None:
    voter = package.voter_for_card(package.roll[0].card_key)
    assert voter is not None
    assert (voter.category, voter.group) == ("resident", "g001")
    assert voter.excluded == frozenset({OptionId("p0001-01")})


def test_the_same_card_always_has_the_same_nullifier(election: SyntheticElection) -> None:
    key = election.voter_keys[3].public_key
    first, second = election.package.voter_for_card(key), election.package.voter_for_card(key)
    assert first is not None and second is not None
    assert first.nullifier == second.nullifier


def test_different_cards_have_different_nullifiers(election: SyntheticElection) -> None:
    voters = [election.package.voter_for_card(k.public_key) for k in election.voter_keys]
    nullifiers = {v.nullifier for v in voters if v is not None}
    assert len(nullifiers) == len(election.voter_keys)


def test_the_same_card_has_another_nullifier_in_an_election_with_another_salt(
    package: ElectionPackage, document: dict[str, Any]
) -> None:
    document["keys"]["nullifier_salt"] = b64e(sha256(b"hanpyo-test/another salt"))
    other = read_package(document)
    key = package.roll[0].card_key
    here, there = package.voter_for_card(key), other.voter_for_card(key)
    assert here is not None and there is not None
    assert here.nullifier != there.nullifier


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
    assert parse_json(ASSET.read_bytes()) == review_definition()


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
