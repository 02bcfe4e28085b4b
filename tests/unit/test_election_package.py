"""The election package: it reads back equal to itself, its hash, its signature under the
authority key, and every way a bad package is refused naming where the problem is."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from kiosk.core.crypto import Domain, is_valid_ed25519_point, sha256
from kiosk.core.election import (
    Channel,
    ElectionPackage,
    TallyMethod,
    read_package,
    sign_package,
    verify_package,
)
from kiosk.core.encoding import b64e, canonical_json, parse_json
from kiosk.core.errors import ElectionPackageError
from testkit.elections import SyntheticElection
from testkit.keys import STRANGER

CROCKFORD_GROUP = "[0-9A-HJKMNP-TV-Z]{4}"


SHORT_HASH = re.compile(rf"^{CROCKFORD_GROUP}(-{CROCKFORD_GROUP}){{3}}$")


NOT_A_POINT = b"\x01" * 32


Mutation = Callable[[dict[str, Any]], object]


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
    d["staff"][0]["card_key"] = d["roll"][0]["keys"][0]


def _padded_card_key(d: dict[str, Any]) -> None:
    d["roll"][0]["keys"][0] += "="


def _weighted_sum_not_one(d: dict[str, Any]) -> None:
    d["tally"]["method"] = "weighted_sum"
    d["tally"]["channels"]["kiosk"]["weight"] = 0.7


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
    pytest.param(_put("v", value=1), "protocol 1 package", id="protocol-1"),
    pytest.param(_put("v", value=3), "v: unsupported", id="wrong-version"),
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
        _put("roll", 0, "keys", 0, value=b64e(bytes(31))), "roll[0].keys[0]", id="key-31-bytes"
    ),
    pytest.param(
        _put("roll", 0, "keys", 0, value=b64e(bytes(33))), "roll[0].keys[0]", id="key-33-bytes"
    ),
    pytest.param(
        _put("roll", 0, "keys", 0, value="not base64url!"), "roll[0].keys[0]", id="key-not-b64"
    ),
    pytest.param(_put("roll", 0, "keys", 0, value=7), "roll[0].keys[0]", id="key-not-text"),
    pytest.param(_padded_card_key, "roll[0].keys[0]", id="key-padded"),
    pytest.param(
        _put("roll", 0, "keys", 0, value=b64e(NOT_A_POINT)), "roll[0].keys[0]", id="not-a-point"
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
