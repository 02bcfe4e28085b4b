"""Threshold decryption: each trustee's shares checked apart, so a wrong one names its
trustee; any k combine, fewer are refused."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.core.errors import EncodingError
from kiosk.core.verifiable.ceremony import CeremonyOutcome, TrusteeShare
from kiosk.core.verifiable.decryption import (
    BadDecryptionShare,
    DecryptionError,
    DecryptionShare,
    combine,
    decrypt_all,
    decryption_shares,
    lagrange_coefficient,
    verify_decryption_share,
)
from kiosk.core.verifiable.elgamal import Ciphertext, encrypt
from kiosk.core.verifiable.group import ORDER, G, base_mul
from kiosk.core.verifiable.proofs import ProofError
from testkit.simulated_trustees import honest_ceremony

K = 3
CONTEXT = b"tally of contest 1"


@pytest.fixture(scope="module")
def ceremony() -> tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes]:
    simulated, outcome, shares = honest_ceremony(5, K)
    return outcome, shares, simulated.setup.base_hash()


def published(
    outcome: CeremonyOutcome,
    shares: dict[int, TrusteeShare],
    base_hash: bytes,
    ciphertexts: list[Ciphertext],
    trustees: tuple[int, ...],
) -> list[DecryptionShare]:
    return [
        s
        for j in trustees
        for s in decryption_shares(shares[j], ciphertexts, outcome, base_hash, CONTEXT)
    ]


def test_a_wrong_decryption_share_names_its_trustee_and_its_ciphertext(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    ciphertexts = [encrypt(m, outcome.election_key)[0] for m in (4, 0, 9)]
    made = published(outcome, shares, base_hash, ciphertexts, (1, 3, 4))
    assert decrypt_all(ciphertexts, made, outcome, K, 10, base_hash, CONTEXT) == [4, 0, 9]
    bad = made.index(next(s for s in made if s.trustee == 3 and s.ciphertext_index == 1))
    made[bad] = dataclasses.replace(made[bad], share=made[bad].share + G)
    with pytest.raises(BadDecryptionShare, match="trustee 3 for ciphertext 1") as caught:
        decrypt_all(ciphertexts, made, outcome, K, 10, base_hash, CONTEXT)
    assert (caught.value.trustee, caught.value.ciphertext_index) == (3, 1)
    assert isinstance(caught.value, ProofError)


def test_a_share_made_for_another_ciphertext_or_context_does_not_verify(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    first, second = (encrypt(1, outcome.election_key)[0] for _ in range(2))
    share = decryption_shares(shares[2], [first], outcome, base_hash, CONTEXT)[0]
    key = outcome.verification_keys[2]
    verify_decryption_share(share, first, key, base_hash, CONTEXT)
    same_alpha = Ciphertext(first.alpha, second.beta)  # the share is for (α, β), β included
    for ciphertext, context, base in [
        (second, CONTEXT, base_hash),
        (same_alpha, CONTEXT, base_hash),
        (first, b"another contest", base_hash),
        (first, CONTEXT, b"another election"),
    ]:
        with pytest.raises(BadDecryptionShare, match="trustee 2"):
            verify_decryption_share(share, ciphertext, key, base, context)
    with pytest.raises(BadDecryptionShare):
        verify_decryption_share(share, first, outcome.verification_keys[3], base_hash, CONTEXT)


def test_fewer_than_k_trustees_are_refused_with_who_was_there(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    ciphertexts = [encrypt(2, outcome.election_key)[0]]
    made = published(outcome, shares, base_hash, ciphertexts, (2, 5))
    with pytest.raises(
        DecryptionError, match=r"3 trustees' shares are needed.*found 2 \(trustees 2, 5\)"
    ):
        decrypt_all(ciphertexts, made, outcome, K, 10, base_hash, CONTEXT)
    twice = made + made  # the same trustee twice is still one trustee
    with pytest.raises(DecryptionError, match="found 2"):
        decrypt_all(ciphertexts, twice, outcome, K, 10, base_hash, CONTEXT)
    with pytest.raises(DecryptionError, match="needed"):
        combine(ciphertexts[0], {}, K)


def test_all_available_trustees_take_part_and_agree(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    ciphertexts = [encrypt(7, outcome.election_key)[0]]
    made = published(outcome, shares, base_hash, ciphertexts, (1, 2, 3, 4, 5))
    assert decrypt_all(ciphertexts, made, outcome, K, 10, base_hash, CONTEXT) == [7]


def test_shares_from_strangers_or_for_nothing_asked_are_refused(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    ciphertexts = [encrypt(1, outcome.election_key)[0]]
    made = published(outcome, shares, base_hash, ciphertexts, (1, 2, 3))
    stranger = dataclasses.replace(made[0], trustee=9)
    with pytest.raises(DecryptionError, match="trustee 9: not a trustee"):
        decrypt_all(ciphertexts, [*made, stranger], outcome, K, 10, base_hash, CONTEXT)
    beyond = dataclasses.replace(made[0], ciphertext_index=1)
    with pytest.raises(DecryptionError, match="trustee 1: a share for ciphertext 1"):
        decrypt_all(ciphertexts, [*made, beyond], outcome, K, 10, base_hash, CONTEXT)
    other = decryption_shares(shares[1], ciphertexts, outcome, base_hash, CONTEXT)[0]
    changed = dataclasses.replace(other, share=other.share + G)
    with pytest.raises(DecryptionError, match="trustee 1: two different shares"):
        decrypt_all(ciphertexts, [*made, changed], outcome, K, 10, base_hash, CONTEXT)


def test_a_trustee_cannot_decrypt_with_a_share_that_is_not_theirs(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    ciphertexts = [encrypt(1, outcome.election_key)[0]]
    swapped = dataclasses.replace(shares[1], index=2)
    with pytest.raises(DecryptionError, match="trustee 2: this share of the key does not match"):
        decryption_shares(swapped, ciphertexts, outcome, base_hash, CONTEXT)
    foreign = dataclasses.replace(shares[1], setup_hash=bytes(32))
    with pytest.raises(DecryptionError, match="of another ceremony"):
        decryption_shares(foreign, ciphertexts, outcome, base_hash, CONTEXT)


def test_lagrange_coefficients_rebuild_the_constant_term() -> None:
    # P(x) = 5 + 3x + 2x²: P(1) = 10, P(2) = 19, P(4) = 49
    points = {1: 10, 2: 19, 4: 49}
    assert sum(lagrange_coefficient(i, points) * y for i, y in points.items()) % ORDER == 5
    assert lagrange_coefficient(1, [1]) == 1
    with pytest.raises(DecryptionError):
        lagrange_coefficient(3, [1, 2])
    with pytest.raises(DecryptionError):
        lagrange_coefficient(0, [0, 1])


def test_combine_gives_the_plaintext_point() -> None:
    secret = 123456789
    ciphertext, _ = encrypt(5, base_mul(secret))
    # a 2-of-n sharing of `secret` along P(x) = secret + 11x
    partial = {j: ciphertext.alpha * (secret + 11 * j) for j in (2, 3)}
    assert combine(ciphertext, partial, 2) == base_mul(5)


def test_a_decryption_share_survives_its_file() -> None:
    _, outcome, shares = honest_ceremony(3, 2)
    ciphertexts = [encrypt(1, outcome.election_key)[0]]
    share = decryption_shares(shares[3], ciphertexts, outcome, b"h", CONTEXT)[0]
    assert DecryptionShare.from_json(share.to_json()) == share
    with pytest.raises(EncodingError):
        DecryptionShare.from_json({**share.to_json(), "share": "ff" * 32})
    with pytest.raises(EncodingError):
        DecryptionShare.from_json({**share.to_json(), "trustee": True})


def test_decryption_keeps_the_ceremony_threshold(
    ceremony: tuple[CeremonyOutcome, dict[int, TrusteeShare], bytes],
) -> None:
    outcome, shares, base_hash = ceremony
    ciphertexts = [encrypt(1, outcome.election_key)[0]]
    made = published(outcome, shares, base_hash, ciphertexts, (1, 2))
    with pytest.raises(DecryptionError, match="threshold is 3, not 2"):
        decrypt_all(ciphertexts, made, outcome, 2, 10, base_hash, CONTEXT)
