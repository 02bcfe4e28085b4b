"""The shuffle proof holds for every honest shuffle and for nothing else: a changed, dropped,
duplicated or substituted ciphertext, rows swapped after proving, any changed proof value, or
another key or election, and a cheating trustee running the honest prover over a mix that is
not a re-encryption of the input, are all refused."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.verifiable.elgamal import Ciphertext, decrypt_to_point, encrypt, reencrypt
from kiosk.core.verifiable.group import ORDER, G, GroupError, Point, base_mul, random_scalar
from kiosk.core.verifiable.proofs import ProofError
from kiosk.core.verifiable.shuffle import ShuffleProof, prove_shuffle, shuffle, verify_shuffle

SECRET = 0xC0FFEE
KEY = base_mul(SECRET)
BASE_HASH = b"\x16" * 32

Rows = list[list[Ciphertext]]
Shuffled = list[tuple[Ciphertext, ...]]

few = settings(max_examples=12, deadline=None)

#: Rows of scores 0..10, 1 to 5 rows of 1 to 3 ciphertexts; two rows may hold equal scores.
score_tables = st.integers(1, 3).flatmap(
    lambda width: st.lists(
        st.lists(st.integers(0, 10), min_size=width, max_size=width), min_size=1, max_size=5
    )
)


def encrypted(scores: list[list[int]]) -> Rows:
    return [[encrypt(m, KEY)[0] for m in row] for row in scores]


def honest(scores: list[list[int]]) -> tuple[Rows, Shuffled, ShuffleProof]:
    rows = encrypted(scores)
    shuffled, permutation, nonces = shuffle(rows, KEY)
    proof = prove_shuffle(rows, shuffled, permutation, nonces, KEY, BASE_HASH)
    return rows, shuffled, proof


def refused(proof: ShuffleProof, rows: Rows, shuffled: Shuffled | Rows) -> None:
    with pytest.raises(ProofError, match="Shuffle proof"):
        verify_shuffle(proof, rows, shuffled, KEY, BASE_HASH)


def replaced(shuffled: Shuffled, i: int, k: int, value: Ciphertext) -> Shuffled:
    out = [list(row) for row in shuffled]
    out[i][k] = value
    return [tuple(row) for row in out]


@few
@given(score_tables)
def test_an_honest_shuffle_verifies_and_keeps_the_scores(scores: list[list[int]]) -> None:
    rows, shuffled, proof = honest(scores)
    verify_shuffle(proof, rows, shuffled, KEY, BASE_HASH)
    verify_shuffle(ShuffleProof.from_json(proof.to_json()), rows, shuffled, KEY, BASE_HASH)
    out = sorted(tuple(decrypt_to_point(c, SECRET).encoded for c in row) for row in shuffled)
    assert out == sorted(tuple(base_mul(m).encoded for m in row) for row in scores)


def _add_one_vote(c: Ciphertext) -> Ciphertext:
    return Ciphertext(c.alpha, c.beta + G)


def _rerandomize(c: Ciphertext) -> Ciphertext:
    return reencrypt(c, KEY, random_scalar())


@few
@given(score_tables, st.data(), st.sampled_from([_add_one_vote, _rerandomize]))
def test_a_changed_output_ciphertext_is_refused(
    scores: list[list[int]], data: st.DataObject, change: Callable[[Ciphertext], Ciphertext]
) -> None:
    """Changing a score, or even only re-encrypting it again, breaks the proof: it speaks of
    exactly these ciphertexts."""
    rows, shuffled, proof = honest(scores)
    i = data.draw(st.integers(0, len(rows) - 1))
    k = data.draw(st.integers(0, len(rows[0]) - 1))
    refused(proof, rows, replaced(shuffled, i, k, change(shuffled[i][k])))


@few
@given(score_tables, st.data())
def test_a_dropped_output_row_is_refused(scores: list[list[int]], data: st.DataObject) -> None:
    rows, shuffled, proof = honest(scores)
    i = data.draw(st.integers(0, len(rows) - 1))
    refused(proof, rows, shuffled[:i] + shuffled[i + 1 :])


@few
@given(score_tables.filter(lambda s: len(s) >= 2), st.data())
def test_an_output_replaced_by_a_copy_of_another_is_refused(
    scores: list[list[int]], data: st.DataObject
) -> None:
    rows, shuffled, proof = honest(scores)
    i, j = data.draw(st.permutations(range(len(rows))))[:2]
    duplicated = list(shuffled)
    duplicated[i] = shuffled[j]
    refused(proof, rows, duplicated)


@few
@given(score_tables, st.data())
def test_an_input_swapped_for_a_fresh_encryption_of_the_same_score_is_refused(
    scores: list[list[int]], data: st.DataObject
) -> None:
    rows, shuffled, proof = honest(scores)
    j = data.draw(st.integers(0, len(rows) - 1))
    k = data.draw(st.integers(0, len(rows[0]) - 1))
    substituted = [list(row) for row in rows]
    substituted[j][k] = encrypt(scores[j][k], KEY)[0]
    refused(proof, substituted, shuffled)


@few
@given(score_tables.filter(lambda s: len(s) >= 2), st.data())
def test_output_rows_swapped_after_proving_are_refused(
    scores: list[list[int]], data: st.DataObject
) -> None:
    rows, shuffled, proof = honest(scores)
    i, j = data.draw(st.permutations(range(len(rows))))[:2]
    swapped = list(shuffled)
    swapped[i], swapped[j] = shuffled[j], shuffled[i]
    refused(proof, rows, swapped)


_POINT_FIELDS = ("permutation_commitment", "commitment_chain", "t1", "t2", "t3", "t4", "t_hat")
_SCALAR_FIELDS = ("s1", "s2", "s3", "s4", "s_hat", "s_prime")


def _changed(value: Any, index: int) -> Any:
    """``value`` (a point, a scalar, a pair, or a tuple of them) with one entry moved."""
    if isinstance(value, tuple):
        at = index % len(value)
        return (*value[:at], _changed(value[at], index), *value[at + 1 :])
    if isinstance(value, Point):
        return value + G
    if isinstance(value, Ciphertext):
        return Ciphertext(value.alpha, value.beta + G) if index % 2 else _add_alpha(value)
    assert isinstance(value, int)
    return (value + 1) % ORDER


def _add_alpha(value: Ciphertext) -> Ciphertext:
    return Ciphertext(value.alpha + G, value.beta)


@settings(max_examples=25, deadline=None)
@given(score_tables, st.sampled_from(_POINT_FIELDS + _SCALAR_FIELDS), st.integers(0, 20))
def test_any_changed_proof_value_is_refused(
    scores: list[list[int]], field: str, index: int
) -> None:
    rows, shuffled, proof = honest(scores)
    forged = dataclasses.replace(proof, **{field: _changed(getattr(proof, field), index)})
    refused(forged, rows, shuffled)


@few
@given(score_tables, st.integers(1, 2**64))
def test_another_key_or_base_hash_is_refused(scores: list[list[int]], other: int) -> None:
    rows, shuffled, proof = honest(scores)
    with pytest.raises(ProofError):
        verify_shuffle(proof, rows, shuffled, base_mul(SECRET + other), BASE_HASH)
    with pytest.raises(ProofError):
        verify_shuffle(proof, rows, shuffled, KEY, BASE_HASH + other.to_bytes(8, "big"))


@few
@given(score_tables.filter(lambda s: len(s) >= 2), st.data())
def test_a_trustee_who_duplicates_a_row_cannot_prove_it(
    scores: list[list[int]], data: st.DataObject
) -> None:
    """The cheat the proof exists for: a trustee drops one voter's row and puts in a fresh
    re-encryption of another's, then runs the honest prover with the real permutation and
    nonces. Whatever the scores, the proof does not verify."""
    rows = encrypted(scores)
    shuffled, permutation, nonces = shuffle(rows, KEY)
    i, j = data.draw(st.permutations(range(len(rows))))[:2]
    cheat = list(shuffled)
    cheat[i] = tuple(reencrypt(c, KEY, random_scalar()) for c in rows[permutation[j]])
    proof = prove_shuffle(rows, cheat, permutation, nonces, KEY, BASE_HASH)
    refused(proof, rows, cheat)


@few
@given(score_tables, st.data())
def test_a_trustee_who_changes_a_score_cannot_prove_it(
    scores: list[list[int]], data: st.DataObject
) -> None:
    rows = encrypted(scores)
    shuffled, permutation, nonces = shuffle(rows, KEY)
    i = data.draw(st.integers(0, len(rows) - 1))
    k = data.draw(st.integers(0, len(rows[0]) - 1))
    cheat = replaced(shuffled, i, k, _add_one_vote(shuffled[i][k]))
    proof = prove_shuffle(rows, cheat, permutation, nonces, KEY, BASE_HASH)
    refused(proof, rows, cheat)


@functools.cache
def published() -> tuple[Rows, Shuffled, dict[str, object]]:
    """One honest shuffle of 3 rows of 2, as a trustee would publish its proof."""
    rows, shuffled, proof = honest([[1, 2], [3, 4], [5, 6]])
    return rows, shuffled, proof.to_json()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_POINT_FIELDS + _SCALAR_FIELDS)), json_values)
def test_a_published_proof_with_any_field_replaced_is_refused(field: str, value: object) -> None:
    """Whatever a field is replaced with, reading refuses it (GroupError) or, if it still reads
    as a proof, checking does (ProofError); nothing else escapes."""
    rows, shuffled, good = published()
    try:
        proof = ShuffleProof.from_json(good | {field: value})
    except GroupError:
        return
    refused(proof, rows, shuffled)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_POINT_FIELDS + _SCALAR_FIELDS)), st.integers(0, 10**6))
def test_a_published_proof_with_one_hex_digit_changed_is_refused(field: str, where: int) -> None:
    rows, shuffled, good = published()
    text = json.dumps(good[field])
    digits = [i for i, ch in enumerate(text) if ch in "0123456789abcdef"]
    at = digits[where % len(digits)]
    changed = "0" if text[at] != "0" else "1"
    value = json.loads(text[:at] + changed + text[at + 1 :])
    try:
        proof = ShuffleProof.from_json(good | {field: value})
    except GroupError:
        return
    refused(proof, rows, shuffled)
