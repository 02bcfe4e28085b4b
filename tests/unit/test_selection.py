"""Selection (protocol v2): each way a ballot is stuffed, replayed or set aside is left out of
the count with its stable reason, and the ballots that should count do."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from typing import Any

import pytest

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.crypto import Domain, SigningKey, sha256
from kiosk.core.encoding import b64e
from kiosk.core.encrypted_ballot import EncryptedBallot, base_hash, card_message, document_hash
from ledger.rules.count_input import read_tally_input, small_columns, tally_input
from ledger.rules.selection import (
    REASONS,
    LoggedBlock,
    Selection,
    proof_fault,
    select,
    selection_bytes,
)
from testkit.elections import SyntheticElection, build_election, mixed_definition, random_ballot
from testkit.v2_ballots import (
    CastBallot,
    cast_ballot,
    encrypt_unchecked,
    log_block,
    roll_index,
    signed_body,
    spoiled,
)

KIOSK, ONLINE = "a" * 32, "b" * 32
CHANNEL = {KIOSK: "kiosk", ONLINE: "online"}


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    return build_election(mixed_definition(), protocol=2, test_cards=2, seed="selection")


class Log:
    """A closed log under construction: blocks in log order, each source's heights counting."""

    def __init__(self, election: SyntheticElection) -> None:
        self.election = election
        self.blocks: list[LoggedBlock] = []
        self.heights = {KIOSK: 0, ONLINE: 0}

    def add(
        self,
        body: dict[str, Any],
        *,
        kind: str = "ballot",
        source: str = KIOSK,
        time: str = "2026-12-07T10:00Z",
    ) -> int:
        self.heights[source] += 1
        height = self.heights[source]
        block = log_block(self.election.package.id, source, height, kind, body, time)
        position = len(self.blocks)
        self.blocks.append(LoggedBlock(position, source, height, block, CHANNEL[source]))
        return position

    def select(self) -> Selection:
        return select(self.election.package, self.blocks, "checkpoint text")


def reason_at(selection: Selection, position: int) -> str:
    found = [x for x in selection.left_out if x.position == position]
    assert len(found) == 1, f"position {position} is not left out: {selection.to_json()}"
    return found[0].reason


def resign(election: SyntheticElection, index: int, ballot: EncryptedBallot) -> dict[str, Any]:
    e = election.package.roll[index]
    assert e.voter_id is not None
    return signed_body(e.voter_id, ballot, election.voter_keys[index])


def test_honest_ballots_count_with_their_roll_entry_and_channel(
    election: SyntheticElection,
) -> None:
    log, rng = Log(election), random.Random(1)
    resident = roll_index(election, "resident", 0)
    member = roll_index(election, "online", 0)
    a = log.add(cast_ballot(election, resident, rng).body)
    b = log.add(cast_ballot(election, member, rng).body, source=ONLINE)
    s = log.select()
    assert [c.position for c in s.counted] == [a, b]
    assert s.left_out == ()
    first = s.counted[0].to_json()
    e = election.package.roll[resident]
    assert e.voter_id is not None and first["voter"] == e.voter_id.hex()
    assert (first["category"], first["group"], first["channel"]) == ("resident", e.group, "kiosk")
    assert s.counted[1].channel == "online"


def test_card_signature_missing_empty_or_wrong(election: SyntheticElection) -> None:
    log, rng = Log(election), random.Random(2)
    i = roll_index(election, "resident", 1)
    missing = cast_ballot(election, i, rng).body
    del missing["card_sig"]
    empty = cast_ballot(election, i, rng).body | {"card_sig": ""}
    wrong = cast_ballot(election, i, rng).body
    other = cast_ballot(election, i, rng)
    wrong["card_sig"] = other.body["card_sig"]  # the voter's real signature, of another ballot
    positions = [log.add(missing), log.add(empty), log.add(wrong)]
    s = log.select()
    assert [reason_at(s, p) for p in positions] == [
        "no_card_signature",
        "no_card_signature",
        "bad_card_signature",
    ]


def test_keys_of_another_voter_an_unenrolled_card_or_a_test_card(
    election: SyntheticElection,
) -> None:
    log, rng = Log(election), random.Random(3)
    victim, thief = roll_index(election, "resident", 2), roll_index(election, "resident", 3)
    ballot = cast_ballot(election, victim, rng).encrypted
    victim_id = election.package.roll[victim].voter_id
    assert victim_id is not None
    stranger = SigningKey(bytes(range(32)))
    by_thief = signed_body(victim_id, ballot, election.voter_keys[thief])
    by_stranger = signed_body(victim_id, ballot, stranger)
    by_test_card = signed_body(victim_id, ballot, election.test_card_keys[0])
    positions = [log.add(by_thief), log.add(by_stranger), log.add(by_test_card)]
    s = log.select()
    assert [reason_at(s, p) for p in positions] == [
        "key_of_another_voter",
        "key_not_on_roll",
        "key_not_on_roll",
    ]
    assert "test card" in s.left_out[2].detail
    assert s.counted == ()


def test_voter_not_on_the_roll(election: SyntheticElection) -> None:
    log, rng = Log(election), random.Random(4)
    body = cast_ballot(election, roll_index(election, "expert", 0), rng).body
    body["voter"] = "0" * 32
    p = log.add(body)
    s = log.select()
    assert reason_at(s, p) == "voter_not_on_roll"


def test_a_category_or_group_not_the_roll_entrys(election: SyntheticElection) -> None:
    """A resident of one group casts a ballot well formed for another group, and another for
    the expert category: signed by their own card, both refused as not theirs."""
    package, log, rng = election.package, Log(election), random.Random(5)
    i = roll_index(election, "resident", 0)
    entry = package.roll[i]
    assert entry.voter_id is not None
    other_group = next(g.id for g in package.groups if g.id != entry.group)
    expert = package.voter_for_card(package.roll[roll_index(election, "expert", 0)].keys[0])
    assert expert is not None
    as_other_group = random_ballot(
        package, replace(expert, category=entry.category, group=other_group), rng
    )
    as_expert = random_ballot(package, replace(expert, group=entry.group), rng)
    positions = []
    for plaintext in (as_other_group, as_expert):
        encrypted, _ = encrypt_unchecked(package, plaintext, entry.excluded, test=False)
        positions.append(log.add(signed_body(entry.voter_id, encrypted, election.voter_keys[i])))
    s = log.select()
    assert [reason_at(s, p) for p in positions] == ["category_or_group", "category_or_group"]


def test_bad_forms(election: SyntheticElection) -> None:
    """A v1 body, a ballot missing a cell (the voter's own proposal is never a cell, so one
    with a cell for it is refused too), a test ballot in an official block."""
    package, log, rng = election.package, Log(election), random.Random(6)
    i = roll_index(election, "resident", 4)
    v1 = log.add({"nullifier": b64e(bytes(32)), "sealed": b64e(bytes(64))})
    honest = cast_ballot(election, i, rng).encrypted
    first, *rest = honest.contests
    short = replace(honest, contests=(replace(first, cells=first.cells[1:]), *rest))
    missing_cell = log.add(resign(election, i, short))
    entry = package.roll[i]
    voter = package.voter_for_card(entry.keys[0])
    assert voter is not None
    test_ballot, _ = encrypt_ballot(
        package, random_ballot(package, voter, rng), entry.excluded, test=True
    )
    as_test = log.add(resign(election, i, test_ballot))
    s = log.select()
    assert [reason_at(s, p) for p in (v1, missing_cell, as_test)] == ["bad_form"] * 3
    assert "v1" in s.left_out[0].detail


def test_a_point_that_is_no_group_element_is_left_out_as_bad_form(
    election: SyntheticElection,
) -> None:
    """The ledger reads a ballot's points for their spelling only (read_ballot_shape); the
    count reads the ballot strictly: a card-signed ballot one of whose points is no
    ristretto255 element (spelled right) is left out, named."""
    log, rng = Log(election), random.Random(16)
    i = roll_index(election, "resident", 5)
    body = cast_ballot(election, i, rng).body
    ballot = copy.deepcopy(body["ballot"])
    ballot["contests"][0]["cells"][0]["ct"][0] = "ff" * 32
    entry = election.package.roll[i]
    assert entry.voter_id is not None
    message = card_message(ballot["election"], entry.voter_id, document_hash(ballot))
    signature = election.voter_keys[i].sign(Domain.BALLOT, message)
    position = log.add(body | {"ballot": ballot, "card_sig": b64e(signature)})
    s = log.select()
    assert reason_at(s, position) == "bad_form"
    assert "ristretto255" in s.left_out[0].detail


def test_a_bad_proof_is_named_by_contest_and_cell(election: SyntheticElection) -> None:
    log, rng = Log(election), random.Random(7)
    i = roll_index(election, "resident", 5)
    honest = cast_ballot(election, i, rng).encrypted
    contest = honest.contests[0]
    c0, c1, *more = contest.cells
    swapped = replace(c0, proof=c1.proof)  # a proof for another cell does not verify here
    bad = replace(
        honest, contests=(replace(contest, cells=(swapped, c1, *more)), *honest.contests[1:])
    )
    p = log.add(resign(election, i, bad))
    s = log.select()
    assert reason_at(s, p) == "bad_proof"
    assert f"contest {contest.id}, cell 0" in s.left_out[0].detail
    assert proof_fault(election.package, honest.to_json()) is None


def test_a_ballot_replayed_from_another_election(election: SyntheticElection) -> None:
    """The same voter ids and card keys enrolled in another election: a ballot its voter
    really signed there is named as another election's, not counted here."""
    other = build_election(
        mixed_definition(election_id="another-review"), protocol=2, seed="selection"
    )
    log, rng = Log(election), random.Random(8)
    i = roll_index(other, "expert", 1)
    assert other.package.roll[i].voter_id == election.package.roll[i].voter_id
    p = log.add(cast_ballot(other, i, rng).body)
    s = log.select()
    assert reason_at(s, p) == "other_election"


def test_replayed_ballot_id_copied_ciphertexts_and_a_checked_ballot(
    election: SyntheticElection,
) -> None:
    package, log, rng = election.package, Log(election), random.Random(9)
    e1, e2 = roll_index(election, "expert", 2), roll_index(election, "expert", 3)
    assert package.roll[e1].group == package.roll[e2].group
    original = cast_ballot(election, e1, rng)
    first = log.add(original.body)
    again_same_voter = log.add(original.body)
    copied_by_another = log.add(resign(election, e2, original.encrypted))
    # a checked ballot, published opened, then cast anyway
    resident = roll_index(election, "resident", 6)
    checked = cast_ballot(election, resident, rng)
    spoiled_at = log.add(spoiled(checked), kind="spoiled")
    cast_after_check = log.add(checked.body)
    s = log.select()
    assert [c.position for c in s.counted] == [first]
    assert [reason_at(s, p) for p in (again_same_voter, copied_by_another)] == [
        "replayed_ballot",
        "replayed_ballot",
    ]
    assert reason_at(s, spoiled_at) == "spoiled"
    assert reason_at(s, cast_after_check) == "replayed_ballot"


def test_test_ballots_and_the_schedule(election: SyntheticElection) -> None:
    log, rng = Log(election), random.Random(10)
    t = log.add(cast_ballot(election, 0, rng, test=True).body, kind="test_ballot")
    early = log.add(
        cast_ballot(election, roll_index(election, "expert", 4), rng).body, time="2016-01-01T00:00Z"
    )
    s = log.select()
    assert reason_at(s, t) == "test_ballot"
    assert reason_at(s, early) == "outside_schedule"
    assert s.left_out[0].voter is not None  # a test ballot still names its (test) voter


def _at(hour_minute: str) -> str:
    return f"2026-12-07T{hour_minute}Z"


def test_duplicates_by_policy_in_cast_order(election: SyntheticElection) -> None:
    """in_person_wins: a voter who voted online and then at a kiosk has the kiosk ballot
    counted; of two kiosk ballots the first cast counts, whatever order the log holds them."""
    assert election.package.duplicate_policy.value == "in_person_wins"
    log, rng = Log(election), random.Random(11)
    a = roll_index(election, "resident", 7)
    online_first = log.add(cast_ballot(election, a, rng).body, source=ONLINE, time=_at("09:00"))
    kiosk_later = log.add(cast_ballot(election, a, rng).body, time=_at("09:30"))
    b = roll_index(election, "resident", 8)
    kiosk_second = log.add(cast_ballot(election, b, rng).body, time=_at("11:00"))  # logged first
    online_ = log.add(cast_ballot(election, b, rng).body, source=ONLINE, time=_at("10:00"))
    kiosk_first = log.add(cast_ballot(election, b, rng).body, time=_at("10:30"))
    s = log.select()
    assert [c.position for c in s.counted] == [kiosk_later, kiosk_first]
    assert [reason_at(s, p) for p in (online_first, kiosk_second, online_)] == ["superseded"] * 3


def test_an_online_member_who_votes_again_has_the_last_online_ballot_counted(
    election: SyntheticElection,
) -> None:
    """in_person_wins with no ballot in person: the member's last online ballot counts (they
    changed their mind from home); a ballot in person still wins over every online one. A
    platform that appends the member's earlier ballot again after the later one (to make the
    earlier count) gets a replay, listed, and the later one still counts."""
    log, rng = Log(election), random.Random(15)
    a = roll_index(election, "resident", 9)
    first = cast_ballot(election, a, rng).body
    first_at = log.add(first, source=ONLINE, time=_at("09:00"))
    second_at = log.add(cast_ballot(election, a, rng).body, source=ONLINE, time=_at("09:40"))
    replay_at = log.add(first, source=ONLINE, time=_at("09:50"))
    b = roll_index(election, "resident", 10)
    online_1 = log.add(cast_ballot(election, b, rng).body, source=ONLINE, time=_at("09:00"))
    in_person = log.add(cast_ballot(election, b, rng).body, time=_at("09:20"))
    online_2 = log.add(cast_ballot(election, b, rng).body, source=ONLINE, time=_at("09:40"))
    s = log.select()
    assert [c.position for c in s.counted] == [second_at, in_person]
    assert reason_at(s, first_at) == "superseded"
    assert reason_at(s, replay_at) == "replayed_ballot"
    assert [reason_at(s, p) for p in (online_1, online_2)] == ["superseded"] * 2


def test_selection_is_deterministic_and_lists_every_reason_in_log_order(
    election: SyntheticElection,
) -> None:
    log, rng = Log(election), random.Random(12)
    for i in range(6):
        log.add(cast_ballot(election, i, rng).body)
    log.add(cast_ballot(election, 0, rng).body)  # a second ballot of voter 0: the first counts
    one, two = log.select(), log.select()
    assert selection_bytes(one) == selection_bytes(two)
    assert [x.position for x in one.left_out] == sorted(x.position for x in one.left_out)
    assert set(one.reasons()) <= set(REASONS)
    assert one.reasons() == {"superseded": 1}


def test_the_proof_checker_is_asked_only_about_ballots_that_passed_the_cheap_checks(
    election: SyntheticElection,
) -> None:
    log, rng = Log(election), random.Random(13)
    good = log.add(cast_ballot(election, 1, rng).body)
    log.add(cast_ballot(election, 0, rng, test=True).body, kind="test_ballot")
    asked: list[Any] = []

    def checker(ballots: Any) -> list[str | None]:
        asked.extend(ballots)
        return ["contest review, cell 0 (x): forged" for _ in ballots]

    s = select(election.package, log.blocks, "c", checker)
    assert len(asked) == 1
    assert reason_at(s, good) == "bad_proof"


def test_card_message_binds_the_election(election: SyntheticElection) -> None:
    """The signature made for the ballot's own election is what the count checks."""
    i = roll_index(election, "expert", 0)
    c: CastBallot = cast_ballot(election, i, random.Random(14))
    e = election.package.roll[i]
    assert e.voter_id is not None
    message = card_message(election.package.id, e.voter_id, c.encrypted.hash)
    assert c.body["card_sig"] == b64e(election.voter_keys[i].sign(Domain.BALLOT, message))


def test_the_tally_input_sums_choice_and_yesno_and_lists_score_columns_in_order(
    election: SyntheticElection,
) -> None:
    """tally-input.json from a selection: one aggregate per (contest, option, category,
    channel) with its ballot count, score columns in selection order, each column named when
    it holds fewer scores than the package's min_column (10 by default)."""
    log, rng = Log(election), random.Random(15)
    residents = [roll_index(election, "resident", n) for n in range(3)]
    cast_list = [cast_ballot(election, i, rng) for i in residents]
    for c in cast_list:
        log.add(c.body)
    member = cast_ballot(election, roll_index(election, "online", 0), rng)
    log.add(member.body, source=ONLINE)
    selection = log.select()
    sums = tally_input(election.package, selection)
    assert sums.base_hash == base_hash(election.package, test=False)
    assert sums.selection_hash == sha256(selection_bytes(selection))
    rules = [a for a in sums.aggregates if a.key.contest == "rules"]
    # every ballot has all three cells (one-hot): each sum holds the three residents' ballots
    assert [(a.key.option, a.ballots) for a in rules] == [("yes", 3), ("no", 3), ("blank", 3)]
    assert {a.key.channel for a in sums.aggregates if a.key.contest == "likes"} == {"online"}
    first = sums.columns[0]
    cells = [
        cell.ciphertext
        for c in cast_list
        for enc in c.encrypted.contests
        for cell in enc.cells
        if enc.id == first.key.contest and cell.spot.option == first.key.option
    ]
    assert list(first.cts) == cells  # in selection order
    assert read_tally_input(json.loads(sums.canonical())) == sums
    small = small_columns(election.package, sums)
    assert len(small) == len(sums.columns) and small[0].endswith(f": {len(first.cts)}")


def test_a_cast_ballot_copied_into_a_spoiled_block_without_its_randomness_still_counts(
    election: SyntheticElection,
) -> None:
    """Anyone can copy a cast ballot from the log; only its kiosk knows its randomness. A
    spoiled block whose nonces do not make the ciphertexts voids nothing."""
    log, rng = Log(election), random.Random(16)
    i = roll_index(election, "expert", 5)
    honest = cast_ballot(election, i, rng)
    counted = log.add(honest.body)
    other = cast_ballot(election, i, rng)
    forged = spoiled(other) | {"ballot": honest.encrypted.to_json()}  # someone else's nonces
    forged_at = log.add(forged, kind="spoiled", source=ONLINE)
    s = log.select()
    assert [c.position for c in s.counted] == [counted]
    assert reason_at(s, forged_at) == "spoiled"
