"""The proofs a ballot carries, on examples a reader can follow: a yes/no contest (one-hot over
yes and no: a {0,1} proof per option and a proof that the two add up to one), a choice contest
of five options where a voter picks one to three, and a score cell's proof of knowledge of its
randomness, which does not travel to another ballot."""

from __future__ import annotations

import pytest

from kiosk.core.verifiable.elgamal import Ciphertext, encrypt
from kiosk.core.verifiable.group import G, GroupError, Point, base_mul, random_scalar
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


# Known answers for independent verifiers (the report's protocol text lists them): key and
# ciphertexts from fixed scalars, base hash 00 01 .. 1f, context "hanpyo test vector".
VECTOR_KEY = "4063042e39ff5d8735727a35bae0d2dbf261d15881916e0b99d1ee0289ddaf2d"
VECTOR_ONE = [  # Enc(1; r)
    "f65c92b19fe51e3073e82ec27415d4888c33a0227e95ef0a457d54a6697bf937",
    "52c08eb18f2cc68a5a3763c6c6836a7f0f05a89aaa2d1f64002baad8ef5b6d1a",
]
VECTOR_ZERO = [  # Enc(0; r')
    "201a8829993c85c0e1b3af846b155a9eb8af1cade22d311538e6635e4c78f861",
    "025aad3f4d100221c727328eef9ed1e0aee6a366418f198bf8928cf02ab90a00",
]
VECTOR_MEMBERSHIP = [  # VECTOR_ONE holds a value of {0, 1}
    {
        "c": "1dff9e28cea1d8fef4801183cf91dd1df7a9af2e397f68a7f9b5deec9cee7f0f",
        "v": "347a95f3d50bbbee1662f414a5658ad514584dcb81e31f19da8e3d68683d8806",
    },
    {
        "c": "ba4f773b1640044ecf7abf2d6e69bba8b104ae4f8a3f796913982bc73db1fe00",
        "v": "39c8bb685efdcc17185bff4efacee0e9821a88c09de8c3b504e5fee4840ced06",
    },
]
VECTOR_SUM = [  # VECTOR_ONE + VECTOR_ZERO holds a value of 1..1
    {
        "c": "eb723fbcbb97d8089f39f4313d1f67325f16639bc4a69913188ee7aa26582201",
        "v": "3f5c1d2125f4cf85c1666ac9e17f8174f2b8786757c9fbf41bed82620e05880c",
    }
]
VECTOR_RANDOMNESS = {  # knowledge of VECTOR_ONE's randomness
    "c": "658dfcc9affdbf69ac6198e7e82b065ab872ce825d5b19791590f4e0d3f3630d",
    "v": "b86e8be9bf8579ff0d20730ac345cb224c6aa05595b077882418356c93a9c40a",
}


def test_known_answer_vectors_verify_and_nothing_else_does() -> None:
    key = Point.from_hex(VECTOR_KEY)
    one, zero = Ciphertext.from_json(VECTOR_ONE), Ciphertext.from_json(VECTOR_ZERO)
    base_hash, context = bytes(range(32)), b"hanpyo test vector"
    member = MembershipProof.from_json(VECTOR_MEMBERSHIP)
    total = MembershipProof.from_json(VECTOR_SUM)
    knows = ChallengeResponse.from_json(VECTOR_RANDOMNESS, what="vector")
    verify_membership(member, one, [0, 1], key, base_hash, context)
    verify_sum_in_range(total, [one, zero], 1, 1, key, base_hash, context)
    verify_randomness_knowledge(knows, one, key, base_hash, context)
    with pytest.raises(ProofError):
        verify_membership(member, one, [0, 1], key, base_hash, context + b".")
    with pytest.raises(ProofError):
        verify_sum_in_range(total, [zero, one], 1, 1, key, base_hash, context)
    with pytest.raises(ProofError):
        verify_randomness_knowledge(knows, zero, key, base_hash, context)
