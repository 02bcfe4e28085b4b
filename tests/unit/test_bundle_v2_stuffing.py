"""Stuffing (issue 17, "Done means"): a ballot with no card signature, a bad one, another voter's
or an unenrolled key, a category or group not its roll entry's, a bad proof, replayed from
another election or re-cast after it was checked: the count's selection leaves each out with
its reason and `verify-bundle`, recomputing the selection from the log, agrees; a count that
counts it anyway is refused, naming the ballot and both sides' reasons.

The annex kiosk here is a corrupt kiosk: it signs whatever body it is given, so only the rules
of the count stand between these ballots and the results."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.crypto import SigningKey
from ledger.publish.nist_results import nist_results
from ledger.verify.bundle import Check, verify_bundle
from ledger.verify.parallel import Where
from testkit.elections import build_election, mixed_definition, random_ballot
from testkit.v2_ballots import cast_ballot, signed_body
from testkit.v2_record import Hall, Stuffing, V2Record, build_record, dishonest_count

HALL_VOTERS = (0, 3, 5, 8)  # roll indexes who vote at the hall; the others are stuffed


def _roll(hall: Hall, index: int) -> Any:
    return hall.election.package.roll[index]


def bad_card_signature(hall: Hall) -> dict[str, Any]:
    body = cast_ballot(hall.election, 1, hall.rng).body
    other = cast_ballot(hall.election, 1, hall.rng).body
    return body | {"card_sig": other["card_sig"]}  # the voter's own card, another ballot


def key_of_another_voter(hall: Hall) -> dict[str, Any]:
    ballot = cast_ballot(hall.election, 2, hall.rng).encrypted
    return signed_body(_roll(hall, 2).voter_id, ballot, hall.election.voter_keys[6])


def key_not_on_roll(hall: Hall) -> dict[str, Any]:
    ballot = cast_ballot(hall.election, 6, hall.rng).encrypted
    return signed_body(_roll(hall, 6).voter_id, ballot, SigningKey(bytes(range(32))))


def category_or_group(hall: Hall) -> dict[str, Any]:
    """Resident 7 (group g002) casts a ballot well formed for a resident of g001."""
    package, entry = hall.election.package, _roll(hall, 7)
    resident_of_g001 = package.voter_for_card(package.roll[0].keys[0])
    assert resident_of_g001 is not None and entry.group != resident_of_g001.group
    plaintext = random_ballot(package, replace(resident_of_g001, excluded=entry.excluded), hall.rng)
    encrypted, _ = encrypt_ballot(package, plaintext, entry.excluded, test=False)
    return signed_body(entry.voter_id, encrypted, hall.election.voter_keys[7])


def bad_proof(hall: Hall) -> dict[str, Any]:
    honest = cast_ballot(hall.election, 4, hall.rng).encrypted
    contest = honest.contests[0]
    c0, c1, *more = contest.cells
    cells = (replace(c0, proof=c1.proof), c1, *more)
    bad = replace(honest, contests=(replace(contest, cells=cells), *honest.contests[1:]))
    return signed_body(_roll(hall, 4).voter_id, bad, hall.election.voter_keys[4])


def other_election(hall: Hall) -> dict[str, Any]:
    """Voter 9 really signed this ballot, in another election enrolling the same card."""
    other = build_election(
        mixed_definition(groups=2, per_group=3, election_id="another-review"),
        protocol=2,
        seed="record",
        online_per_proposal=0,
    )
    assert other.package.roll[9].voter_id == _roll(hall, 9).voter_id
    return cast_ballot(other, 9, hall.rng).body


def checked_then_cast(hall: Hall) -> dict[str, Any]:
    """The ballot voter 0 checked (opened in a spoiled block) signed and cast afterwards."""
    return signed_body(_roll(hall, 0).voter_id, hall.checked.encrypted, hall.election.voter_keys[0])


STUFFED: list[tuple[str, Stuffing, str]] = [
    ("bad_card_signature", bad_card_signature, "bad_card_signature"),
    ("key_of_another_voter", key_of_another_voter, "key_of_another_voter"),
    ("key_not_on_roll", key_not_on_roll, "key_not_on_roll"),
    ("category_or_group", category_or_group, "category_or_group"),
    ("bad_proof", bad_proof, "bad_proof"),
    ("other_election", other_election, "other_election"),
    ("checked_then_cast", checked_then_cast, "replayed_ballot"),
]


@pytest.fixture(scope="module")
def record() -> V2Record:
    return build_record([(name, make) for name, make, _ in STUFFED], voters=HALL_VOTERS)


def verify(record: V2Record, files: dict[str, bytes], tmp_path: Path) -> dict[str, Check]:
    path = record.zip(tmp_path / "record.zip", files)
    return {c.name: c for c in verify_bundle(path, where=Where(1), nist=nist_results)}


def selection_check(checks: dict[str, Check]) -> Check:
    (found,) = [c for name, c in checks.items() if name.startswith("selection recomputed")]
    return found


def test_the_count_leaves_each_stuffed_ballot_out_with_its_reason_and_verify_agrees(
    record: V2Record, tmp_path: Path
) -> None:
    left = {x.position: x for x in record.selection.left_out}
    for name, _, reason in STUFFED:
        assert left[record.positions[name]].reason == reason, name
    assert len(record.selection.counted) == len(HALL_VOTERS)  # only the hall's voters
    checks = verify(record, record.files, tmp_path)
    assert [c.name for c in checks.values() if c.status == "FAILED"] == []
    detail = selection_check(checks).detail
    assert f"{len(HALL_VOTERS)} ballots counted" in detail
    for reason in {r for _, _, r in STUFFED}:
        assert reason in detail


@pytest.mark.parametrize(
    ("name", "reason"), [(n, r) for n, _, r in STUFFED], ids=[s[0] for s in STUFFED]
)
def test_a_count_that_counts_a_stuffed_ballot_fails_naming_it(
    record: V2Record, name: str, reason: str, tmp_path: Path
) -> None:
    position = record.positions[name]
    checks = verify(record, dishonest_count(record, position), tmp_path)
    found = selection_check(checks)
    assert found.status == "FAILED"
    assert f"log position {position}" in found.detail
    assert "the record says counted" in found.detail
    assert f"recomputed: left out, {reason}" in found.detail
    # the rest of the dishonest count is consistent with itself, and still refused
    assert checks["tally-input.json recomputed from the selection"].status == "FAILED"


def test_a_ballot_with_no_card_signature_is_refused_by_the_chain_and_never_counted(
    tmp_path: Path,
) -> None:
    """The block's schema requires the card's key and signature, so the ledger never accepts
    such a block; a log that holds one anyway fails its chain check, and a count that counts
    it is refused."""

    def unsigned(hall: Hall) -> dict[str, Any]:
        body = cast_ballot(hall.election, 1, hall.rng).body
        return {k: v for k, v in body.items() if k not in ("card_key", "card_sig")}

    record = build_record([("unsigned", unsigned)], voters=HALL_VOTERS)
    position = record.positions["unsigned"]
    assert position not in {c.position for c in record.selection.counted}
    checks = verify(record, record.files, tmp_path)
    chain = checks["every source's chain (signatures, links, rules)"]
    assert chain.status == "FAILED"
    assert f"line {position + 1}" in chain.detail and "card_key" in chain.detail
    counted_anyway = verify(record, dishonest_count(record, position), tmp_path)
    found = selection_check(counted_anyway)
    assert found.status == "FAILED"
    assert f"log position {position}" in found.detail
    assert "recomputed: not a readable block" in found.detail
