"""The proofs a ballot carries, on examples a reader can follow: a yes/no contest (one-hot over
yes and no: a {0,1} proof per option and a proof that the two add up to one), a choice contest
of five options where a voter picks one to three, and a score cell's proof of knowledge of its
randomness, which does not travel to another ballot."""

from __future__ import annotations

import pytest

from kiosk.core.verifiable.elgamal import Ciphertext, encrypt
from kiosk.core.verifiable.group import G, GroupError, base_mul, random_scalar
from kiosk.core.verifiable.knowledge import (
    prove_randomness_knowledge,
    verify_randomness_knowledge,
)
from kiosk.core.verifiable.membership import (
    MAX_SET_SIZE,
    MembershipProof,
    prove_membership,
    prove_sum_in_range,
    verify_membership,
    verify_sum_in_range,
)
from kiosk.core.verifiable.proofs import ChallengeResponse, ProofError
from testkit.proof_forgery import forge_all_simulated

SECRET = random_scalar()
KEY = base_mul(SECRET)
BASE_HASH = bytes(range(32))
BALLOT = b"ballot 7f3a / contest referendum"


def cast(values: list[int]) -> tuple[list[Ciphertext], list[int]]:
    pairs = [encrypt(v, KEY) for v in values]
    return [c for c, _ in pairs], [r for _, r in pairs]


def test_a_yes_vote_proves_each_option_is_zero_or_one_and_one_option_is_marked() -> None:
    yes_no = [1, 0]  # the voter chose "yes"
    ciphertexts, nonces = cast(yes_no)
    option_proofs = [
        prove_membership(c, r, v, [0, 1], KEY, BASE_HASH, BALLOT + bytes([i]))
        for i, (c, r, v) in enumerate(zip(ciphertexts, nonces, yes_no, strict=True))
    ]
    one_marked = prove_sum_in_range(ciphertexts, nonces, yes_no, 1, 1, KEY, BASE_HASH, BALLOT)

    for i, (c, proof) in enumerate(zip(ciphertexts, option_proofs, strict=True)):
        verify_membership(proof, c, [0, 1], KEY, BASE_HASH, BALLOT + bytes([i]))
    verify_sum_in_range(one_marked, ciphertexts, 1, 1, KEY, BASE_HASH, BALLOT)

    # The proofs say nothing about which option: swap the two and the proof of option 0 no
    # longer matches its ciphertext.
    with pytest.raises(ProofError, match="value in set"):
        verify_membership(option_proofs[0], ciphertexts[1], [0, 1], KEY, BASE_HASH, BALLOT + b"\0")


def test_a_ballot_marking_both_yes_and_no_gets_no_sum_proof() -> None:
    ciphertexts, nonces = cast([1, 1])
    with pytest.raises(ValueError, match="not an allowed value"):
        prove_sum_in_range(ciphertexts, nonces, [1, 1], 1, 1, KEY, BASE_HASH, BALLOT)
    # A sum proof made for a one-hot ballot does not carry over to the double vote.
    honest, honest_nonces = cast([1, 0])
    proof = prove_sum_in_range(honest, honest_nonces, [1, 0], 1, 1, KEY, BASE_HASH, BALLOT)
    with pytest.raises(ProofError, match="sum in range"):
        verify_sum_in_range(proof, ciphertexts, 1, 1, KEY, BASE_HASH, BALLOT)


def test_a_choice_of_one_to_three_of_five_options() -> None:
    marks = [0, 1, 0, 1, 1]  # three options chosen
    ciphertexts, nonces = cast(marks)
    context = b"ballot 19c2 / contest committee"
    proof = prove_sum_in_range(ciphertexts, nonces, marks, 1, 3, KEY, BASE_HASH, context)
    verify_sum_in_range(proof, ciphertexts, 1, 3, KEY, BASE_HASH, context)
    assert len(proof.branches) == 3  # one branch per allowed total: 1, 2, 3

    # Dropping a ciphertext, or checking against a narrower rule, fails.
    with pytest.raises(ProofError):
        verify_sum_in_range(proof, ciphertexts[:4], 1, 3, KEY, BASE_HASH, context)
    with pytest.raises(ProofError, match="3 branches for a set of 2 values"):
        verify_sum_in_range(proof, ciphertexts, 1, 2, KEY, BASE_HASH, context)

    # A fourth choice cannot be proved.
    too_many, too_many_nonces = cast([1, 1, 0, 1, 1])
    with pytest.raises(ValueError, match="4 is not an allowed value"):
        prove_sum_in_range(too_many, too_many_nonces, [1, 1, 0, 1, 1], 1, 3, KEY, BASE_HASH, b"")


def test_a_proof_forged_for_a_value_outside_the_set_does_not_verify() -> None:
    """An encryption of 2 with a {0,1} proof made as a cheat would. First: every branch
    simulated, then the last challenge changed so the challenges add up to the hash; that
    branch's commitments no longer match, so the hash does not either. Second: the honest
    prover told the value is 1 when the ciphertext holds 2."""
    ciphertext, nonce = encrypt(2, KEY)
    all_simulated = forge_all_simulated(ciphertext, [0, 1], KEY, BASE_HASH, BALLOT)
    with pytest.raises(ProofError, match="do not add up"):
        verify_membership(all_simulated, ciphertext, [0, 1], KEY, BASE_HASH, BALLOT)
    pretending = prove_membership(ciphertext, nonce, 1, [0, 1], KEY, BASE_HASH, BALLOT)
    with pytest.raises(ProofError, match="do not add up"):
        verify_membership(pretending, ciphertext, [0, 1], KEY, BASE_HASH, BALLOT)
    with pytest.raises(ValueError, match="2 is not an allowed value"):
        prove_membership(ciphertext, nonce, 2, [0, 1], KEY, BASE_HASH, BALLOT)


def test_proofs_travel_as_json_and_malformed_json_is_refused() -> None:
    ciphertext, nonce = encrypt(1, KEY)
    proof = prove_membership(ciphertext, nonce, 1, [0, 1], KEY, BASE_HASH, BALLOT)
    again = MembershipProof.from_json(proof.to_json())
    verify_membership(again, ciphertext, [0, 1], KEY, BASE_HASH, BALLOT)
    for bad in ([], {"c": "00", "v": "00"}, [{"c": "zz", "v": "00"}], [{"c": "00" * 32}]):
        with pytest.raises(GroupError):
            MembershipProof.from_json(bad)


def test_a_score_cell_copied_into_another_ballot_loses_its_proof() -> None:
    score, nonce = encrypt(87, KEY)
    mine = b"ballot a1 / contest score / option 3"
    proof = prove_randomness_knowledge(score, nonce, KEY, BASE_HASH, mine)
    verify_randomness_knowledge(proof, score, KEY, BASE_HASH, mine)

    theirs = b"ballot b2 / contest score / option 3"
    with pytest.raises(ProofError, match="knowledge of the randomness"):
        verify_randomness_knowledge(proof, score, KEY, BASE_HASH, theirs)
    # Re-randomising the copy is no way round: the copier does not know the new α's log.
    shifted = Ciphertext(score.alpha + G, score.beta + KEY)
    with pytest.raises(ProofError):
        verify_randomness_knowledge(proof, shifted, KEY, BASE_HASH, mine)
    with pytest.raises(GroupError):
        ChallengeResponse.from_json({"c": "00" * 32, "v": "ff" * 32}, what="score proof")


def test_a_set_or_range_the_proofs_cannot_express_is_a_clear_error() -> None:
    """The set comes from the election package: an empty set, a negative value or a range
    of more than MAX_SET_SIZE values is the package's mistake, said as such, not a bad proof."""
    ciphertext, nonce = encrypt(0, KEY)
    for allowed in ([], [-1, 0], [0, 2**32]):
        with pytest.raises(ValueError, match="allowed values"):
            prove_membership(ciphertext, nonce, 0, allowed, KEY, BASE_HASH, BALLOT)
    proof = prove_membership(ciphertext, nonce, 0, [0, 1], KEY, BASE_HASH, BALLOT)
    with pytest.raises(ValueError, match="allowed values"):
        verify_membership(proof, ciphertext, [], KEY, BASE_HASH, BALLOT)
    for minimum, maximum in ((2, 1), (0, MAX_SET_SIZE)):
        with pytest.raises(ValueError, match="a range is"):
            verify_sum_in_range(proof, [ciphertext], minimum, maximum, KEY, BASE_HASH, BALLOT)
