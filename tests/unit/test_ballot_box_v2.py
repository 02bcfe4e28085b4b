"""The ballot box in protocol v2, on a real SQLCipher store: a cast ballot's block is the body the
v2 contract describes, its card signature verifies and it holds no randomness; a checked ballot's
spoiled block opens to the voter's choices; what the ledger would leave out is refused before
anything is written. The card's signature comes from the card simulator (sign_ballot)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.ballot_crypto import encrypt_ballot, open_spoiled
from kiosk.core.block import BlockKind, verify_block
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import Domain, SigningKey, verify_signature
from kiosk.core.election import Voter
from kiosk.core.encoding import b64d, canonical_json
from kiosk.core.encrypted_ballot import EncryptedBallot, card_message, read_encrypted_ballot
from kiosk.core.errors import BallotError, HanpyoError, StateError, VerificationError
from kiosk.hardware.card.auth import CardHolder, identify, prove, sign_ballot
from kiosk.hardware.card.errors import AuthenticationFailedError
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.devices import FakeReader
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.errors import AlreadyVotedError
from testkit.elections import SyntheticElection, build_election, mixed_definition, random_ballot

PIN = "123456"


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    return build_election(
        mixed_definition(),
        seed="box-v2",
        experts_per_group=1,
        online_per_proposal=1,
        protocol=2,
        test_cards=1,
    )


@pytest.fixture
def box(tmp_path: Path, v2: SyntheticElection) -> Iterator[BallotBox]:
    with ChainStore.create(
        tmp_path / "k.db", os.urandom(32), SigningKey.generate(), v2.package
    ) as store:
        box = BallotBox(store, v2.package)
        box.set_mode(Mode.OFFICIAL)
        box.open_session()
        yield box


def _signed_in(election: SyntheticElection, seed: bytes) -> tuple[OpenPGPCard, CardHolder]:
    """A card in a fake reader, read and proved with its PIN as at the kiosk's sign-in."""
    reader = FakeReader()
    reader.insert(VirtualCard.with_auth_key(seed, "Hong"))
    card = OpenPGPCard(reader.connect(reader.name))
    holder = identify(card, election.package)
    return card, prove(card, holder, PIN, election.package.id, "00" * 16)


def _voter_index(election: SyntheticElection, category: str = "resident", n: int = 0) -> int:
    return [i for i, e in enumerate(election.package.roll) if e.category == category][n]


def _encrypt(
    election: SyntheticElection, voter: Voter, *, test: bool = False, seed: int = 1
) -> tuple[EncryptedBallot, object]:
    ballot = random_ballot(election.package, voter, random.Random(seed))
    return encrypt_ballot(election.package, ballot, voter.excluded, test=test)


def test_cast_writes_the_contracts_body_signed_by_the_voters_card(
    box: BallotBox, v2: SyntheticElection
) -> None:
    card, holder = _signed_in(v2, v2.voter_keys[_voter_index(v2)].seed)
    voter = holder.voter
    assert voter is not None and voter.voter_id is not None and not voter.test
    encrypted, secrets = _encrypt(v2, voter)
    signature = sign_ballot(card, holder, encrypted)  # INTERNAL AUTHENTICATE on the simulator

    receipt = box.cast_encrypted(voter, encrypted, holder.card_key, signature)
    last = list(box.store.blocks())[-1]
    assert last.tracking_code == receipt.tracking_code and last.block.kind is BlockKind.BALLOT
    body = last.block.body
    assert set(body) == {"voter", "ballot", "card_key", "card_sig"}
    assert body["voter"] == voter.voter_id.hex() and len(body["voter"]) == 32
    assert read_encrypted_ballot(body["ballot"]) == encrypted
    verify_signature(
        Domain.BALLOT,
        b64d(body["card_key"]),
        card_message(v2.package.id, voter.voter_id, encrypted.hash),
        b64d(body["card_sig"]),
    )
    assert b64d(body["card_key"]) == v2.voter_keys[_voter_index(v2)].public_key
    # No randomness and no plaintext anywhere in the block.
    raw = canonical_json(last.block.to_json()).decode()
    assert "nonces" not in raw and "plaintext" not in raw
    for contest in secrets.nonces:  # type: ignore[attr-defined]
        for nonce in contest:
            assert nonce.to_bytes(32, "little").hex() not in raw
    verify_block(last, box.store.state.kiosk_key)
    verify_chain(list(box.store.blocks()))
    assert box.has_voted(voter)
    with pytest.raises(AlreadyVotedError):
        box.cast_encrypted(voter, encrypted, holder.card_key, signature)


def test_a_checked_ballot_is_a_spoiled_block_that_opens_to_the_choices(
    box: BallotBox, v2: SyntheticElection
) -> None:
    voter = v2.package.voter_for_card(v2.voter_keys[_voter_index(v2, "expert")].public_key)
    assert voter is not None
    choices = random_ballot(v2.package, voter, random.Random(7))
    encrypted, secrets = encrypt_ballot(v2.package, choices, voter.excluded, test=False)
    receipt = box.spoil(encrypted, secrets)
    last = list(box.store.blocks())[-1]
    assert last.block.kind is BlockKind.SPOILED and last.tracking_code == receipt.tracking_code
    assert set(last.block.body) == {"ballot", "nonces", "plaintext"}
    opened = open_spoiled(v2.package, last.block.body)
    assert opened.ballot == encrypted and opened.plaintext.plaintext() == choices.plaintext()
    assert box.state.ballots == 0 and not box.has_voted(voter)  # a check is not a vote


def test_what_the_count_would_leave_out_is_refused_before_anything_is_written(
    box: BallotBox, v2: SyntheticElection
) -> None:
    card, holder = _signed_in(v2, v2.voter_keys[_voter_index(v2, "resident", 1)].seed)
    voter = holder.voter
    assert voter is not None
    encrypted, _ = _encrypt(v2, voter, seed=3)
    signature = sign_ballot(card, holder, encrypted)
    other = v2.package.voter_for_card(v2.voter_keys[_voter_index(v2, "resident", 2)].public_key)
    assert other is not None
    again, _ = _encrypt(v2, voter, seed=4)  # the same voter's other ballot, unsigned
    test_ballot, _ = _encrypt(v2, voter, test=True, seed=5)
    height = box.state.height

    refusals: list[tuple[Voter, EncryptedBallot, bytes, bytes, type[HanpyoError]]] = [
        (voter, again, holder.card_key, signature, VerificationError),  # signed another
        (other, encrypted, holder.card_key, signature, BallotError),  # another voter's ballot
        (voter, encrypted, other.card_key, signature, BallotError),  # not the signing card
        (voter, encrypted, holder.card_key, bytes(64), VerificationError),  # no real signature
        (voter, test_ballot, holder.card_key, signature, BallotError),  # a test ballot
    ]
    for who, ballot, key, sig, error in refusals:
        with pytest.raises(error):
            box.cast_encrypted(who, ballot, key, sig)
    assert box.state.height == height


def test_sign_ballot_refuses_a_card_that_signs_with_another_key(v2: SyntheticElection) -> None:
    card, holder = _signed_in(v2, v2.voter_keys[_voter_index(v2)].seed)
    voter = holder.voter
    assert voter is not None
    encrypted, _ = _encrypt(v2, voter)
    impostor = CardHolder(
        v2.voter_keys[_voter_index(v2, "resident", 1)].public_key, "x", 3, voter=voter
    )
    with pytest.raises(AuthenticationFailedError, match="did not sign the ballot"):
        sign_ballot(card, impostor, encrypted)


def test_test_mode_takes_only_test_cards_and_test_ballots(
    tmp_path: Path, v2: SyntheticElection
) -> None:
    with ChainStore.create(
        tmp_path / "t.db", os.urandom(32), SigningKey.generate(), v2.package
    ) as store:
        box = BallotBox(store, v2.package)
        box.set_mode(Mode.TEST)
        box.open_session()
        card, holder = _signed_in(v2, v2.test_card_keys[0].seed)
        tester = holder.voter
        assert tester is not None and tester.test
        encrypted, _ = _encrypt(v2, tester, test=True)
        receipt = box.cast_encrypted(
            tester, encrypted, holder.card_key, sign_ballot(card, holder, encrypted)
        )
        assert receipt.test and list(store.blocks())[-1].block.kind is BlockKind.TEST_BALLOT

        card, holder = _signed_in(v2, v2.voter_keys[_voter_index(v2)].seed)
        real = holder.voter
        assert real is not None and not real.test
        encrypted, _ = _encrypt(v2, real, test=True)
        with pytest.raises(StateError, match="test card votes only in test mode"):
            box.cast_encrypted(
                real, encrypted, holder.card_key, sign_ballot(card, holder, encrypted)
            )
        official, secrets = _encrypt(v2, real, test=False)
        with pytest.raises(StateError, match="other mode"):
            box.spoil(official, secrets)  # type: ignore[arg-type]
