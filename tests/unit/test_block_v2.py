"""Protocol v2 blocks: the ballot body that names its voter and carries their card's signature,
the ``spoiled`` kind, and the one chain verifier's rules for them (protocol 1's sealed bodies
refused)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kiosk.core.block import (
    MAX_V2_BALLOT_BYTES,
    BlockKind,
    ballot_identity,
    check_body,
    read_cast_ballot,
    read_spoiled_ballot,
)
from kiosk.core.chain import ChainVerifier, Mode, verify_chain
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.encrypted_ballot import read_encrypted_ballot
from kiosk.core.errors import BallotError, BlockError, ChainError, StateError
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.v2_blocks import cast_by, spoiled_by, test_card, voter_card

START = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    definition = mixed_definition(groups=2, per_group=4, election_id="block-v2")
    return build_election(
        definition, protocol=2, test_cards=2, experts_per_group=1, online_per_proposal=1
    )


@pytest.fixture(scope="module")
def body(v2: SyntheticElection) -> dict[str, Any]:
    return cast_by(v2.package, voter_card(v2, "expert"))


def test_a_v2_ballot_body_is_read_and_names_its_voter(
    v2: SyntheticElection, body: dict[str, Any]
) -> None:
    check_body(BlockKind.BALLOT, body)
    cast = read_cast_ballot(BlockKind.BALLOT, body)
    card = voter_card(v2, "expert")
    assert cast.voter_id == card.voter.voter_id == ballot_identity(body)
    assert cast.card_key == card.key.public_key and len(cast.card_sig) == 64
    assert cast.ballot.category == "expert" and not cast.ballot.test


def test_a_protocol_1_body_is_refused_naming_the_voter_it_lacks() -> None:
    v1 = {"nullifier": b64e(bytes(range(32))), "sealed": b64e(bytes(60))}
    for kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
        with pytest.raises(BlockError, match="voter"):
            check_body(kind, v1)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda b: b.update(voter=b["voter"].upper()), "voter"),
        (lambda b: b.update(voter=b["voter"][:30]), "voter"),
        (lambda b: b.update(card_key=b64e(bytes(31))), "card_key"),
        # 0x02 followed by zeros has no square root on the curve: not a point
        (lambda b: b.update(card_key=b64e(b"\x02" + bytes(31))), "Ed25519"),
        (lambda b: b.update(card_sig=b64e(bytes(63))), "card_sig"),
        (lambda b: b.pop("card_sig"), "card_sig"),
        (lambda b: b.update(extra=1), "extra"),
        (lambda b: b.update(nullifier=b64e(bytes(32))), "nullifier"),
        (lambda b: b["ballot"].update(v=1), "ballot.v"),
        # a point spelled otherwise than in 64 lowercase hex digits
        (lambda b: b["ballot"]["contests"][0]["cells"][0]["ct"].__setitem__(0, "FF" * 32), "ct"),
        (lambda b: b["ballot"]["contests"][0]["cells"][0]["ct"].__setitem__(0, "ff" * 31), "ct"),
    ],
)
def test_a_misshapen_v2_ballot_body_is_refused_naming_the_field(
    body: dict[str, Any], change: Any, complaint: str
) -> None:
    bad = copy.deepcopy(body)
    change(bad)
    with pytest.raises(BlockError, match=complaint):
        check_body(BlockKind.BALLOT, bad)


def test_a_ballot_larger_than_four_reference_ballots_is_refused_before_parsing(
    body: dict[str, Any],
) -> None:
    bad = copy.deepcopy(body)
    contest = bad["ballot"]["contests"][0]
    while len(canonical_json(bad["ballot"])) <= MAX_V2_BALLOT_BYTES:
        contest["cells"] += contest["cells"]
    with pytest.raises(BlockError, match="larger than"):
        check_body(BlockKind.BALLOT, bad)


def test_a_reference_sized_ballot_fits_well_inside_the_bound() -> None:
    """12 proposals scored, again on 3 criteria, 12 to choose from and a yes/no question: the
    largest ballot of the reference event's shape is a quarter of the bound or less."""
    definition = mixed_definition(groups=1, per_group=12, election_id="reference-size")
    criteria = [{"id": f"c{i}", "title": {"ko": "항목", "en": "c"}, "weight": 1} for i in range(3)]
    definition["contests"][2] |= {"criteria": criteria, "min": 1, "max": 10}
    definition["contests"].append(
        {
            "id": "pick",
            "kind": "choice",
            "title": {"ko": "고르기", "en": "pick"},
            "categories": ["expert"],
            "scope": "group",
            "min": 0,
            "max": 3,
        }
    )
    definition["contests"][3]["categories"] = ["resident", "expert"]
    election = build_election(definition, protocol=2, experts_per_group=1, online_per_proposal=0)
    expert = cast_by(election.package, voter_card(election, "expert"))
    cells = sum(len(c["cells"]) for c in expert["ballot"]["contests"])
    assert cells == 12 + 36 + 12 + 3
    size = len(canonical_json(expert["ballot"]))
    assert 4 * size <= MAX_V2_BALLOT_BYTES
    check_body(BlockKind.BALLOT, expert)


def test_a_spoiled_body_is_read_and_a_broken_one_refused(v2: SyntheticElection) -> None:
    voter = voter_card(v2, "resident").voter
    spoiled = spoiled_by(v2.package, voter)
    check_body(BlockKind.SPOILED, spoiled)
    assert read_spoiled_ballot(spoiled).election == v2.package.id
    changes: list[tuple[Callable[[dict[str, Any]], object], str]] = [
        (lambda b: b["nonces"].pop(), "one list of nonces per contest"),
        (lambda b: b["nonces"][0].pop(), "one nonce per cell"),
        (lambda b: b["nonces"][0].__setitem__(0, "zz"), "hexadecimal"),
        (lambda b: b.pop("plaintext"), "plaintext"),
        (lambda b: b.update(voter="00" * 16), "voter"),  # a spoiled ballot names no voter
        (lambda b: b.update(card_sig=b64e(bytes(64))), "card_sig"),
    ]
    for change, complaint in changes:
        bad = copy.deepcopy(spoiled)
        change(bad)
        with pytest.raises(BlockError, match=complaint):
            check_body(BlockKind.SPOILED, bad)


def _writer(v2: SyntheticElection, mode: Mode) -> ChainWriter:
    writer = ChainWriter(v2.package, SigningKey.generate(), START, timedelta(minutes=1))
    writer.mode(mode)
    writer.open_session()
    return writer


def test_a_v2_chain_with_ballots_and_spoiled_ballots_verifies(v2: SyntheticElection) -> None:
    official = _writer(v2, Mode.OFFICIAL)
    resident, expert = voter_card(v2, "resident"), voter_card(v2, "expert")
    official.append(BlockKind.SPOILED, spoiled_by(v2.package, resident.voter, seed=1))
    official.append(BlockKind.BALLOT, cast_by(v2.package, resident))
    official.append(BlockKind.BALLOT, cast_by(v2.package, expert))
    official.close_session()
    state = verify_chain(official.blocks, package_hash=v2.package.package_hash)
    assert state.ballots == 2

    test = _writer(v2, Mode.TEST)
    card = test_card(v2)
    test.append(BlockKind.SPOILED, spoiled_by(v2.package, card.voter))
    test.append(BlockKind.TEST_BALLOT, cast_by(v2.package, card))
    test.close_session()
    assert verify_chain(test.blocks).test_ballots == 1


def test_a_test_ballot_never_goes_in_an_official_block_nor_the_reverse(
    v2: SyntheticElection,
) -> None:
    official = _writer(v2, Mode.OFFICIAL)
    with pytest.raises(StateError, match="holds a test ballot"):
        official.append(BlockKind.BALLOT, cast_by(v2.package, test_card(v2)))
    with pytest.raises(StateError, match="spoiled ballot is a test ballot in test mode"):
        official.append(BlockKind.SPOILED, spoiled_by(v2.package, test_card(v2).voter))
    test = _writer(v2, Mode.TEST)
    with pytest.raises(StateError, match="holds an official ballot"):
        test.append(BlockKind.TEST_BALLOT, cast_by(v2.package, voter_card(v2, "resident")))
    with pytest.raises(StateError, match="spoiled ballot is a test ballot in test mode"):
        test.append(BlockKind.SPOILED, spoiled_by(v2.package, voter_card(v2, "resident").voter))


def test_a_protocol_1_ballot_block_is_refused_by_the_chain_verifier(
    v2: SyntheticElection,
) -> None:
    v1_body = {"nullifier": b64e(bytes(32)), "sealed": b64e(bytes(60))}
    other = _writer(v2, Mode.OFFICIAL)
    other.append(BlockKind.BALLOT, v1_body)
    with pytest.raises(ChainError) as refused:
        verify_chain(other.blocks)
    assert refused.value.reason == "bad_body" and refused.value.height == 3


def test_a_voter_casting_twice_on_one_kiosk_is_refused_by_voter_id(
    v2: SyntheticElection,
) -> None:
    writer = _writer(v2, Mode.OFFICIAL)
    card = voter_card(v2, "online")
    writer.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=1))
    writer.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=2))  # new ciphertexts
    verifier = ChainVerifier()
    for block in writer.blocks[:-1]:
        verifier.add(block)
    with pytest.raises(ChainError) as repeat:
        verifier.add(writer.blocks[-1])
    assert repeat.value.reason == "repeat_nullifier"


def test_a_point_that_is_no_group_element_is_left_to_the_count(body: dict[str, Any]) -> None:
    """The block's schema (every chain check: ingest, mirrors, verify-bundle) reads a ballot's
    points for their spelling only; the count reads each ballot strictly and leaves one whose
    point is not a ristretto255 element out as bad_form (tests/unit/test_bundle_v2_stuffing)."""
    bad = copy.deepcopy(body)
    bad["ballot"]["contests"][0]["cells"][0]["ct"][0] = "ff" * 32  # not a canonical encoding
    check_body(BlockKind.BALLOT, bad)
    with pytest.raises(BallotError, match="ristretto255"):
        read_encrypted_ballot(bad["ballot"])
