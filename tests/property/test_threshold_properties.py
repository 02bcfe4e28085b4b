"""Threshold properties for any number of trustees (2..6) and any threshold k (2..n): k
trustees decrypt, k − 1 hold nothing usable, every change to a decryption share is caught,
and a trustee who deals a bad share is complained about and disqualified."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.verifiable.ceremony import CeremonyError, SignedMessage, evaluate
from kiosk.core.verifiable.decryption import (
    BadDecryptionShare,
    DecryptionError,
    combine,
    decryption_shares,
    lagrange_coefficient,
    verify_decryption_share,
)
from kiosk.core.verifiable.elgamal import ciphertext_sum, encrypt
from kiosk.core.verifiable.group import ORDER, base_mul
from kiosk.core.verifiable.proofs import ChallengeResponse
from testkit.simulated_trustees import honest_ceremony, simulated_ceremony

CONTEXT = b"property"
BASE = b"base hash"


@st.composite
def boards(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """(n, k, the trustees present in a random order)."""
    n = draw(st.integers(min_value=2, max_value=6))
    k = draw(st.integers(min_value=2, max_value=n))
    return n, k, draw(st.permutations(list(range(1, n + 1))))


@settings(max_examples=25, deadline=None)
@given(board=boards(), votes=st.lists(st.integers(0, 1), min_size=1, max_size=6))
def test_any_k_trustees_decrypt_and_k_minus_one_are_refused(
    board: tuple[int, int, list[int]], votes: list[int]
) -> None:
    n, k, order = board
    _, outcome, shares = honest_ceremony(n, k)
    total = ciphertext_sum(encrypt(v, outcome.election_key)[0] for v in votes)
    partial = {
        j: decryption_shares(shares[j], [total], outcome, BASE, CONTEXT)[0].share for j in order
    }
    present = {j: partial[j] for j in order[:k]}
    assert combine(total, present, k) == base_mul(sum(votes))
    fewer = {j: partial[j] for j in order[: k - 1]}
    with pytest.raises(DecryptionError, match="needed"):
        combine(total, fewer, k)


@settings(max_examples=25, deadline=None)
@given(board=boards(), claimed=st.integers(0, 1000), guess=st.integers(1, ORDER - 1))
def test_k_minus_one_shares_fit_every_plaintext_equally(
    board: tuple[int, int, list[int]], claimed: int, guess: int
) -> None:
    """With k − 1 true partial decryptions, a made-up k-th one can make the ciphertext say
    any plaintext at all (so the k − 1 tell nothing about it), and a guessed one gives the
    true plaintext only when it is the true share."""
    n, k, order = board
    _, outcome, shares = honest_ceremony(n, k)
    truth = 7
    ciphertext, _ = encrypt(truth, outcome.election_key)
    known, missing = order[: k - 1], order[k - 1]
    present = [*known, missing]
    partial = {j: ciphertext.alpha * shares[j].secret for j in present}
    weight_of_missing = lagrange_coefficient(missing, present)
    known_part = ciphertext.beta - base_mul(claimed)
    for j in known:
        known_part = known_part - partial[j] * lagrange_coefficient(j, present)
    made_up = known_part * pow(weight_of_missing, -1, ORDER)
    assert combine(ciphertext, {**{j: partial[j] for j in known}, missing: made_up}, k) == (
        base_mul(claimed)
    )
    guessed = {**{j: partial[j] for j in known}, missing: ciphertext.alpha * guess}
    opened = combine(ciphertext, guessed, k)
    assert (opened == base_mul(truth)) == (guess == shares[missing].secret)


FIELDS = ("trustee", "ciphertext_index", "share", "challenge", "response")


@settings(max_examples=50, deadline=None)
@given(field=st.sampled_from(FIELDS), delta=st.integers(1, ORDER - 1))
def test_every_change_to_a_decryption_share_fails_verification(field: str, delta: int) -> None:
    _, outcome, shares = honest_ceremony(3, 2)
    ciphertexts = [encrypt(m, outcome.election_key)[0] for m in (3, 5)]
    share = decryption_shares(shares[2], ciphertexts, outcome, BASE, CONTEXT)[1]
    verify_decryption_share(share, ciphertexts[1], outcome.verification_keys[2], BASE, CONTEXT)
    proof = share.proof
    changed = {
        "trustee": dataclasses.replace(share, trustee=1 if delta % 2 else 3),
        "ciphertext_index": dataclasses.replace(share, ciphertext_index=0),
        "share": dataclasses.replace(share, share=share.share + base_mul(delta)),
        "challenge": dataclasses.replace(
            share, proof=ChallengeResponse((proof.challenge + delta) % ORDER, proof.response)
        ),
        "response": dataclasses.replace(
            share, proof=ChallengeResponse(proof.challenge, (proof.response + delta) % ORDER)
        ),
    }[field]
    assert changed != share
    key = outcome.verification_keys[changed.trustee]
    with pytest.raises(BadDecryptionShare, match=f"trustee {changed.trustee}"):
        verify_decryption_share(changed, ciphertexts[1], key, BASE, CONTEXT)


@settings(max_examples=25, deadline=None)
@given(board=boards(), reveal=st.sampled_from(["none", "wrong"]), data=st.data())
def test_a_dealer_of_a_bad_share_is_disqualified_and_the_ceremony_ends_without_them(
    board: tuple[int, int, list[int]], reveal: str, data: st.DataObject
) -> None:
    n, k, order = board
    cheat, victim = order[0], order[1]
    ceremony = simulated_ceremony(n, k)
    commitments = ceremony.commitments()
    wrong = ceremony.trustee(cheat).polynomial.evaluate(victim) + data.draw(
        st.integers(1, ORDER - 1), label="error"
    )
    shares = [
        *ceremony.shares(skip=[cheat]),
        ceremony.shares_with_wrong_value(cheat, victim, wrong),
    ]
    ceremony.open_all(commitments, shares)
    assert set(ceremony.complaints[victim]) == {cheat}
    messages = [*commitments, *shares, *ceremony.verdicts()]
    if reveal == "wrong":
        bad = {"shares": {str(victim): (wrong % ORDER).to_bytes(32, "little").hex()}}
        signing_key = ceremony.trustee(cheat).signing_key
        messages.append(SignedMessage.sign("reveal", cheat, bad, signing_key, ceremony.setup))
    if n - 1 < k:
        with pytest.raises(CeremonyError, match=f"only {n - 1} trustees remain qualified"):
            evaluate(ceremony.setup, messages)
        return
    outcome = evaluate(ceremony.setup, messages)
    assert list(outcome.disqualified) == [cheat]
    rest = [j for j in range(1, n + 1) if j != cheat]
    assert outcome.election_key == ceremony.election_key_of(rest)
    held = ceremony.trustee_shares(outcome)
    ciphertext, _ = encrypt(1, outcome.election_key)
    partial = {j: ciphertext.alpha * held[j].secret for j in order[1 : k + 1]}
    assert combine(ciphertext, partial, k) == base_mul(1)
