"""Protocol v2's encrypted ballot: every contest kind encrypts with proofs that verify, the
form is the roll entry's, a tampered or replayed cell is caught, and a spoiled ballot opens to
exactly what the voter chose (or names a kiosk that encrypted something else)."""

from __future__ import annotations

import copy
import dataclasses
import random
from typing import Any

import pytest

from kiosk.core.ballot import Ballot, validate_ballot
from kiosk.core.ballot_crypto import (
    BallotProofError,
    encrypt_ballot,
    open_spoiled,
    spoiled_body,
    verify_ballot_proofs,
)
from kiosk.core.crypto import Domain, SigningKey, verify_signature
from kiosk.core.election import ElectionId, ElectionPackage, Voter, read_package
from kiosk.core.election_key import read_election_key
from kiosk.core.encrypted_ballot import (
    BallotFormError,
    card_challenge,
    card_message,
    check_form,
    read_encrypted_ballot,
)
from kiosk.core.errors import BallotError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.decryption import decrypt_all, decryption_shares
from kiosk.core.verifiable.elgamal import ciphertext_sum
from kiosk.core.verifiable.group import scalar_bytes
from testkit.elections import build_election, mixed_definition, random_ballot
from testkit.simulated_trustees import honest_ceremony


@pytest.fixture(scope="module")
def election() -> tuple[ElectionPackage, Any, Any]:
    ceremony, outcome, shares = honest_ceremony(5, 3)
    section = {
        "key": outcome.election_key.hex(),
        "threshold": 3,
        "setup_hash": outcome.setup_hash.hex(),
        "transcript_hash": outcome.transcript_hash.hex(),
        "trustees": [
            t.identity().to_json()
            | {"verification_key": outcome.verification_keys[i].hex(), "qualified": True}
            for i, t in sorted(ceremony.trustees.items())
        ],
    }
    document = build_election(mixed_definition(), seed="v2ballot").package.to_json()
    document["election_key"] = section
    package = read_package(document)
    assert package.election_key == read_election_key(Reader(section, "election_key", BallotError))
    return package, outcome, shares


def _voters(package: ElectionPackage) -> list[Voter]:
    out = []
    for entry in package.roll:
        voter = package.voter_for_card(entry.card_key)
        assert voter is not None
        out.append(voter)
    return out


def _ballot(package: ElectionPackage, voter: Voter, seed: int = 1) -> Ballot:
    ballot = random_ballot(package, voter, random.Random(seed))
    validate_ballot(package, voter, ballot)
    return ballot


def test_every_kind_of_contest_encrypts_with_proofs_that_verify(election: Any) -> None:
    package, _, _ = election
    kinds_seen = set()
    one_per_category = {v.category: v for v in _voters(package)}
    for n, voter in enumerate(one_per_category.values()):
        ballot = _ballot(package, voter, n)
        encrypted, secrets = encrypt_ballot(package, ballot, voter.excluded, test=False)
        check_form(package, encrypted, voter.category, voter.group, voter.excluded, test=False)
        verify_ballot_proofs(package, encrypted)
        kinds_seen |= {c.kind.value for c in encrypted.contests}
        again = read_encrypted_ballot(copy.deepcopy(encrypted.to_json()))
        assert again == encrypted and again.hash == encrypted.hash
        assert len(encrypted.fingerprint.replace("-", "")) == 16
        assert "<hidden>" in repr(secrets)
    assert kinds_seen == {"choice", "score", "yesno"}


def test_the_ballot_never_holds_a_cell_for_the_voters_own_proposal(election: Any) -> None:
    package, _, _ = election
    voter = next(v for v in _voters(package) if v.excluded)
    encrypted, _ = encrypt_ballot(package, _ballot(package, voter), voter.excluded, test=False)
    options = {cell.spot.option for c in encrypted.contests for cell in c.cells}
    assert not options & voter.excluded
    # A ballot made for a voter without the recusal does not fit this voter's roll entry.
    other, _ = encrypt_ballot(package, _ballot(package, voter), frozenset(), test=False)
    with pytest.raises(BallotFormError, match="cells are not this voter's options"):
        check_form(package, other, voter.category, voter.group, voter.excluded, test=False)


def test_a_ballot_whose_category_or_mode_is_not_the_roll_entrys_is_refused(
    election: Any,
) -> None:
    package, _, _ = election
    voter = _voters(package)[0]
    encrypted, _ = encrypt_ballot(package, _ballot(package, voter), voter.excluded, test=False)
    with pytest.raises(BallotFormError, match="roll entry says"):
        check_form(package, encrypted, "someone-else", voter.group, voter.excluded, test=False)
    with pytest.raises(BallotFormError, match="official ballot in a test block"):
        check_form(package, encrypted, voter.category, voter.group, voter.excluded, test=True)
    replayed = dataclasses.replace(encrypted, election=ElectionId("another-election"))
    with pytest.raises(BallotFormError, match="for election"):
        check_form(package, replayed, voter.category, voter.group, voter.excluded, test=False)


def _flip_cell(document: dict[str, Any], contest: int, cell: int, other: dict[str, Any]) -> None:
    document["contests"][contest]["cells"][cell]["ct"] = other["contests"][contest]["cells"][cell][
        "ct"
    ]


def test_a_ciphertext_copied_from_another_ballot_fails_its_proof(election: Any) -> None:
    package, _, _ = election
    voter = _voters(package)[0]
    mine, _ = encrypt_ballot(package, _ballot(package, voter, 1), voter.excluded, test=False)
    theirs, _ = encrypt_ballot(package, _ballot(package, voter, 2), voter.excluded, test=False)
    for index in range(len(mine.contests)):
        document = mine.to_json()
        _flip_cell(document, index, 0, theirs.to_json())
        tampered = read_encrypted_ballot(document)
        with pytest.raises(BallotProofError, match=f"contest {mine.contests[index].id}"):
            verify_ballot_proofs(package, tampered)
    # Same cells and proofs under another ballot id: every proof is bound to the ballot.
    moved = dataclasses.replace(mine, ballot_id=bytes(16))
    with pytest.raises(BallotProofError):
        verify_ballot_proofs(package, moved)


def test_the_homomorphic_sum_of_ballots_decrypts_with_three_trustees(election: Any) -> None:
    package, outcome, shares = election
    voters = [v for v in _voters(package) if v.category == _voters(package)[0].category][:4]
    contest = package.contests_for(voters[0].category)[0]
    option_cells: dict[str, list[Any]] = {}
    expected: dict[str, int] = {}
    for n, voter in enumerate(voters):
        ballot = _ballot(package, voter, 10 + n)
        encrypted, secrets = encrypt_ballot(package, ballot, voter.excluded, test=False)
        index = [c.id for c in encrypted.contests].index(contest.id)
        for cell, value in zip(encrypted.contests[index].cells, secrets.values[index], strict=True):
            option_cells.setdefault(cell.spot.option, []).append(cell.ciphertext)
            expected[cell.spot.option] = expected.get(cell.spot.option, 0) + value
    sums = [ciphertext_sum(cts) for cts in option_cells.values()]
    base, context = b"b" * 32, b"test-sum"
    decryption = [
        s for j in (1, 3, 5) for s in decryption_shares(shares[j], sums, outcome, base, context)
    ]
    totals = decrypt_all(sums, decryption, outcome, 3, 10_000, base, context)
    assert dict(zip(option_cells, totals, strict=True)) == expected


def test_a_spoiled_ballot_opens_to_what_the_voter_chose(election: Any) -> None:
    package, _, _ = election
    for n, voter in enumerate(_voters(package)[:4]):
        ballot = _ballot(package, voter, 20 + n)
        encrypted, secrets = encrypt_ballot(package, ballot, voter.excluded, test=False)
        body = spoiled_body(encrypted, secrets)
        opened = open_spoiled(package, copy.deepcopy(body))
        assert opened.plaintext.plaintext() == ballot.plaintext()
        assert opened.ballot.hash == encrypted.hash


def test_a_kiosk_that_encrypted_other_choices_is_caught_when_the_ballot_is_checked(
    election: Any,
) -> None:
    package, _, _ = election
    voter = _voters(package)[0]
    chosen, encrypted_instead = _ballot(package, voter, 30), _ballot(package, voter, 31)
    assert chosen.plaintext() != encrypted_instead.plaintext()
    encrypted, secrets = encrypt_ballot(package, encrypted_instead, voter.excluded, test=False)
    body = spoiled_body(encrypted, secrets)
    body["plaintext"] = chosen.to_json()  # what it printed for the voter
    with pytest.raises(BallotError, match="other than what the voter chose"):
        open_spoiled(package, body)
    body = spoiled_body(encrypted, secrets)
    body["nonces"][0][0] = scalar_bytes(12345).hex()
    with pytest.raises(BallotError, match="randomness does not make this ciphertext"):
        open_spoiled(package, body)


def test_the_card_signs_this_ballot_for_this_voter_only(election: Any) -> None:
    package, _, _ = election
    voter = _voters(package)[0]
    encrypted, _ = encrypt_ballot(package, _ballot(package, voter), voter.excluded, test=False)
    card, voter_id = SigningKey.generate(), bytes(range(16))
    challenge = card_challenge(package.id, voter_id, encrypted.hash)
    assert challenge.startswith(b"hanpyo/ballot/v2\n")
    message = card_message(package.id, voter_id, encrypted.hash)
    signature = card.sign(Domain.BALLOT, message)
    verify_signature(Domain.BALLOT, card.public_key, message, signature)
    for other in (
        card_message(package.id, bytes(16), encrypted.hash),
        card_message("another", voter_id, encrypted.hash),
        card_message(package.id, voter_id, bytes(32)),
    ):
        with pytest.raises(Exception, match="signature does not verify"):
            verify_signature(Domain.BALLOT, card.public_key, other, signature)


def test_reading_refuses_what_is_off_schema(election: Any) -> None:
    package, _, _ = election
    voter = _voters(package)[0]
    encrypted, _ = encrypt_ballot(package, _ballot(package, voter), voter.excluded, test=False)
    cases = {
        "v": ("v", 1),
        "extra": ("sneaky", 1),
        "ballot_id": ("ballot_id", "AB" * 16),
    }
    for name, (key, value) in cases.items():
        document = encrypted.to_json()
        document[key] = value
        with pytest.raises(BallotFormError):
            read_encrypted_ballot(document)
        assert name
    document = encrypted.to_json()
    document["contests"][0]["cells"][0]["ct"][0] = "ff" * 32  # not a canonical point
    with pytest.raises(BallotFormError, match=r"contests\[0\]\.cells\[0\]"):
        read_encrypted_ballot(document)
