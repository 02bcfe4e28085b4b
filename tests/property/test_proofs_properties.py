"""Every proof of protocol v2's ballots and keys, under Hypothesis: honest proofs verify; a
change to any one value of the statement (each point, the set or the bounds, the context, the
base hash) or of the proof (each scalar) makes verification fail with ProofError; a proof for
a value outside the set cannot be made to verify; malformed encodings are refused with
GroupError.

Every example changes every field in turn (the replacement values drawn by Hypothesis), so no
field is left to chance; example counts stay small because the suite shares two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.verifiable.elgamal import Ciphertext, encrypt_with
from kiosk.core.verifiable.group import (
    IDENTITY,
    ORDER,
    GroupError,
    Point,
    base_mul,
)
from kiosk.core.verifiable.knowledge import (
    prove_randomness_knowledge,
    verify_randomness_knowledge,
)
from kiosk.core.verifiable.membership import (
    MembershipProof,
    prove_membership,
    prove_sum_in_range,
    verify_membership,
    verify_sum_in_range,
)
from kiosk.core.verifiable.proofs import (
    ChallengeResponse,
    ProofError,
    prove_dleq,
    prove_schnorr,
    verify_dleq,
    verify_schnorr,
)
from testkit.proof_forgery import forge_all_simulated, written_challenge

PROOFS = settings(max_examples=25, deadline=None)

scalars = st.integers(min_value=1, max_value=ORDER - 1)
points = scalars.map(base_mul)
base_hashes = st.binary(min_size=32, max_size=32)
contexts = st.binary(max_size=48)
value_sets = st.sets(st.integers(min_value=0, max_value=12), min_size=1, max_size=5).map(sorted)


def other_point(data: st.DataObject, point: Point) -> Point:
    return data.draw(points.filter(lambda p: p != point), label="replacement point")


def other_bytes(data: st.DataObject, value: bytes, size: int | None = None) -> bytes:
    drawn = st.binary(min_size=size or 0, max_size=size or 48)
    return data.draw(drawn.filter(lambda b: b != value), label="replacement bytes")


def shifted(data: st.DataObject, scalar: int) -> int:
    """The scalar plus a non-zero amount, mod ℓ: a different scalar, still canonical."""
    delta = data.draw(st.integers(min_value=1, max_value=ORDER - 1), label="shift")
    return (scalar + delta) % ORDER


def changed_challenge(data: st.DataObject, proof: ChallengeResponse) -> ChallengeResponse:
    return replace(proof, challenge=shifted(data, proof.challenge))


def changed_response(data: st.DataObject, proof: ChallengeResponse) -> ChallengeResponse:
    return replace(proof, response=shifted(data, proof.response))


def changed_alpha(data: st.DataObject, ciphertext: Ciphertext) -> Ciphertext:
    return replace(ciphertext, alpha=other_point(data, ciphertext.alpha))


def changed_beta(data: st.DataObject, ciphertext: Ciphertext) -> Ciphertext:
    return replace(ciphertext, beta=other_point(data, ciphertext.beta))


def other_base_hash(data: st.DataObject, value: bytes) -> bytes:
    return other_bytes(data, value, 32)


Change = Callable[[st.DataObject, Any], Any]
#: The changes every statement shares: what is bound besides the points.
BINDING: list[tuple[str, Change]] = [("base_hash", other_base_hash), ("context", other_bytes)]


def every_change_fails(
    data: st.DataObject,
    verify: Callable[..., None],
    honest: dict[str, Any],
    changes: Sequence[tuple[str, Change]],
) -> None:
    """``verify(**honest)`` passes; with any one argument changed it raises ProofError."""
    verify(**honest)
    for name, change in changes:
        changed = {**honest, name: change(data, honest[name])}
        if changed[name] == honest[name]:
            continue  # e.g. two equal ciphertexts swapped: no change to catch
        with pytest.raises(ProofError):
            verify(**changed)


def branch_changes(proof: MembershipProof) -> list[tuple[str, Change]]:
    """Each branch's c, each branch's v, and a challenge moved between two branches with
    their sum kept (what a forger adjusting challenges would try)."""

    def at(i: int, change: Change) -> Change:
        def changed(data: st.DataObject, proof: MembershipProof) -> MembershipProof:
            branches = list(proof.branches)
            branches[i] = change(data, branches[i])
            return MembershipProof(tuple(branches))

        return changed

    def moved(data: st.DataObject, proof: MembershipProof) -> MembershipProof:
        branches = list(proof.branches)
        delta = data.draw(scalars, label="moved amount")
        first, last = branches[0], branches[-1]
        branches[0] = replace(first, challenge=(first.challenge + delta) % ORDER)
        branches[-1] = replace(last, challenge=(last.challenge - delta) % ORDER)
        return MembershipProof(tuple(branches))

    changes: list[tuple[str, Change]] = []
    for i in range(len(proof.branches)):
        changes += [("proof", at(i, changed_challenge)), ("proof", at(i, changed_response))]
    if len(proof.branches) > 1:
        changes.append(("proof", moved))
    return changes


def other_set(data: st.DataObject, values: list[int]) -> list[int]:
    return data.draw(value_sets.filter(lambda s: s != values), label="replacement set")


def fails(check: Callable[[], None]) -> None:
    with pytest.raises(ProofError):
        check()


# --- Schnorr -----------------------------------------------------------------------------

PAIR: list[tuple[str, Change]] = [("proof", changed_challenge), ("proof", changed_response)]


@PROOFS
@given(secret=scalars, base_hash=base_hashes, context=contexts, data=st.data())
def test_schnorr(secret: int, base_hash: bytes, context: bytes, data: st.DataObject) -> None:
    public = base_mul(secret)
    proof = prove_schnorr(secret, public, base_hash, context)
    honest = {"proof": proof, "public": public, "base_hash": base_hash, "context": context}
    every_change_fails(data, verify_schnorr, honest, [("public", other_point), *BINDING, *PAIR])


# --- DLEQ (Chaum–Pedersen) ---------------------------------------------------------------


@PROOFS
@given(secret=scalars, base=points, base_hash=base_hashes, context=contexts, data=st.data())
def test_dleq(
    secret: int, base: Point, base_hash: bytes, context: bytes, data: st.DataObject
) -> None:
    public, result = base_mul(secret), base * secret
    proof = prove_dleq(secret, base, public, result, base_hash, context)
    honest = {
        "proof": proof,
        "base": base,
        "public": public,
        "result": result,
        "base_hash": base_hash,
        "context": context,
    }
    points_changed = [(name, other_point) for name in ("base", "public", "result")]
    every_change_fails(data, verify_dleq, honest, [*points_changed, *BINDING, *PAIR])


@PROOFS
@given(secret=scalars, other=scalars, base=points, base_hash=base_hashes)
def test_dleq_for_two_different_logarithms_does_not_verify(
    secret: int, other: int, base: Point, base_hash: bytes
) -> None:
    """The prover's secret matches ``public`` but ``result`` is another multiple of base."""
    if other == secret:
        other = (other + 1) % ORDER or 1
    public, result = base_mul(secret), base * other
    proof = prove_dleq(secret, base, public, result, base_hash, b"")
    fails(lambda: verify_dleq(proof, base, public, result, base_hash, b""))


# --- membership (disjunctive Chaum–Pedersen) ---------------------------------------------


@PROOFS
@given(
    secret=scalars,
    nonce=scalars,
    values=value_sets,
    base_hash=base_hashes,
    context=contexts,
    data=st.data(),
)
def test_membership(
    secret: int,
    nonce: int,
    values: list[int],
    base_hash: bytes,
    context: bytes,
    data: st.DataObject,
) -> None:
    key = base_mul(secret)
    value = data.draw(st.sampled_from(values), label="value")
    ciphertext = encrypt_with(value, key, nonce)
    proof = prove_membership(ciphertext, nonce, value, values, key, base_hash, context)
    again = MembershipProof.from_json(proof.to_json())
    verify_membership(again, ciphertext, values, key, base_hash, context)
    honest = {
        "proof": proof,
        "ciphertext": ciphertext,
        "allowed": values,
        "key": key,
        "base_hash": base_hash,
        "context": context,
    }
    statement: list[tuple[str, Change]] = [
        ("ciphertext", changed_alpha),
        ("ciphertext", changed_beta),
        ("allowed", other_set),
        ("key", other_point),
    ]
    every_change_fails(
        data, verify_membership, honest, [*statement, *BINDING, *branch_changes(proof)]
    )


@PROOFS
@given(secret=scalars, nonce=scalars, values=value_sets, outside=st.integers(0, 40), data=st.data())
def test_a_value_outside_the_set_cannot_be_proved(
    secret: int, nonce: int, values: list[int], outside: int, data: st.DataObject
) -> None:
    """Three ways to try: ask the prover (it refuses), simulate every branch and force the
    challenges to add up, or run the honest prover pretending the value is one of the set."""
    if outside in values:
        outside = max(values) + 1 + outside
    key, base_hash = base_mul(secret), bytes(32)
    ciphertext = encrypt_with(outside, key, nonce)
    with pytest.raises(ValueError):
        prove_membership(ciphertext, nonce, outside, values, key, base_hash, b"")
    forced = data.draw(st.integers(0, len(values) - 1), label="forced branch")
    forged = forge_all_simulated(ciphertext, values, key, base_hash, b"", forced=forced)
    fails(lambda: verify_membership(forged, ciphertext, values, key, base_hash, b""))
    pretend = data.draw(st.sampled_from(values), label="pretended value")
    lying = prove_membership(ciphertext, nonce, pretend, values, key, base_hash, b"")
    fails(lambda: verify_membership(lying, ciphertext, values, key, base_hash, b""))


@PROOFS
@given(secret=scalars, nonce=scalars, values=value_sets, base_hash=base_hashes, data=st.data())
def test_the_written_recipe_gives_the_challenge_the_module_hashes(
    secret: int, nonce: int, values: list[int], base_hash: bytes, data: st.DataObject
) -> None:
    """An independent reading of the protocol text (testkit.proof_forgery) recomputes the
    commitments and the hash of an honest proof and gets the sum of its challenges: so the
    forgeries above fail because they are forgeries, not because the helper hashes
    something else."""
    value = data.draw(st.sampled_from(values))
    key = base_mul(secret)
    ciphertext = encrypt_with(value, key, nonce)
    proof = prove_membership(ciphertext, nonce, value, values, key, base_hash, b"ctx")
    expected = sum(b.challenge for b in proof.branches) % ORDER
    assert written_challenge(proof, ciphertext, values, key, base_hash, b"ctx") == expected


# --- sum in range ------------------------------------------------------------------------


@st.composite
def marked_ballots(draw: st.DrawFn) -> tuple[list[int], int, int]:
    """Marks of 0/1 for 1..6 options and a (minimum, maximum) rule their count satisfies."""
    marks = draw(st.lists(st.integers(0, 1), min_size=1, max_size=6))
    total = sum(marks)
    minimum = draw(st.integers(0, total))
    maximum = draw(st.integers(total, len(marks)))
    return marks, minimum, maximum


def ciphertext_list_changes(count: int) -> list[tuple[str, Change]]:
    """For each ciphertext: its α, its β, dropping it, adding it twice; and swapping the
    first two (the sum stays, the statement names them in order)."""

    def at(i: int, change: Callable[[st.DataObject, Ciphertext], list[Ciphertext]]) -> Change:
        def changed(data: st.DataObject, items: list[Ciphertext]) -> list[Ciphertext]:
            return [*items[:i], *change(data, items[i]), *items[i + 1 :]]

        return changed

    changes: list[tuple[str, Change]] = []
    for i in range(count):
        changes += [
            ("ciphertexts", at(i, lambda d, c: [changed_alpha(d, c)])),
            ("ciphertexts", at(i, lambda d, c: [changed_beta(d, c)])),
            ("ciphertexts", at(i, lambda d, c: [])),
            ("ciphertexts", at(i, lambda d, c: [c, c])),
        ]
    if count > 1:
        changes.append(("ciphertexts", lambda d, items: [items[1], items[0], *items[2:]]))
    return changes


def other_bound(data: st.DataObject, bound: int) -> int:
    return data.draw(st.integers(0, 8).filter(lambda b: b != bound), label="bound")


@PROOFS
@given(
    secret=scalars,
    ballot=marked_ballots(),
    base_hash=base_hashes,
    context=contexts,
    data=st.data(),
)
def test_sum_in_range(
    secret: int,
    ballot: tuple[list[int], int, int],
    base_hash: bytes,
    context: bytes,
    data: st.DataObject,
) -> None:
    marks, minimum, maximum = ballot
    key = base_mul(secret)
    nonces = data.draw(st.lists(scalars, min_size=len(marks), max_size=len(marks)))
    ciphertexts = [encrypt_with(m, key, r) for m, r in zip(marks, nonces, strict=True)]
    proof = prove_sum_in_range(
        ciphertexts, nonces, marks, minimum, maximum, key, base_hash, context
    )
    honest = {
        "proof": proof,
        "ciphertexts": ciphertexts,
        "minimum": minimum,
        "maximum": maximum,
        "key": key,
        "base_hash": base_hash,
        "context": context,
    }
    bounds: list[tuple[str, Change]] = []
    if minimum > 0:
        bounds.append(("minimum", lambda d, b: d.draw(st.integers(0, b - 1))))
    if minimum < maximum:
        bounds.append(("minimum", lambda d, b: d.draw(st.integers(b + 1, maximum))))
        bounds.append(("maximum", lambda d, b: d.draw(st.integers(minimum, b - 1))))
    bounds.append(("maximum", lambda d, b: d.draw(st.integers(b + 1, b + 4))))
    changes = [
        *ciphertext_list_changes(len(ciphertexts)),
        *bounds,
        ("key", other_point),
        *BINDING,
        *branch_changes(proof),
    ]
    every_change_fails(data, verify_sum_in_range, honest, changes)


@PROOFS
@given(secret=scalars, marks=st.lists(st.integers(0, 1), min_size=2, max_size=6), data=st.data())
def test_a_sum_outside_the_range_cannot_be_proved(
    secret: int, marks: list[int], data: st.DataObject
) -> None:
    """The prover refuses an out-of-range sum; told a wrong sum, its proof does not verify."""
    key, base_hash = base_mul(secret), bytes(32)
    total = sum(marks)
    bounds = st.tuples(st.integers(0, 6), st.integers(0, 6))
    minimum, maximum = data.draw(
        bounds.filter(lambda b: b[0] <= b[1] and not b[0] <= total <= b[1]), label="bounds"
    )
    nonces = data.draw(st.lists(scalars, min_size=len(marks), max_size=len(marks)))
    ciphertexts = [encrypt_with(m, key, r) for m, r in zip(marks, nonces, strict=True)]
    with pytest.raises(ValueError):
        prove_sum_in_range(ciphertexts, nonces, marks, minimum, maximum, key, base_hash, b"")
    # Lying about the marks so that they add up to an allowed total.
    claimed = data.draw(st.integers(minimum, maximum), label="claimed total")
    lie = [claimed] + [0] * (len(marks) - 1)
    proof = prove_sum_in_range(ciphertexts, nonces, lie, minimum, maximum, key, base_hash, b"")
    fails(lambda: verify_sum_in_range(proof, ciphertexts, minimum, maximum, key, base_hash, b""))


# --- knowledge of a ciphertext's randomness ----------------------------------------------


@PROOFS
@given(
    secret=scalars,
    nonce=scalars,
    value=st.integers(0, 100),
    base_hash=base_hashes,
    context=contexts,
    data=st.data(),
)
def test_randomness_knowledge(
    secret: int,
    nonce: int,
    value: int,
    base_hash: bytes,
    context: bytes,
    data: st.DataObject,
) -> None:
    key = base_mul(secret)
    ciphertext = encrypt_with(value, key, nonce)
    proof = prove_randomness_knowledge(ciphertext, nonce, key, base_hash, context)
    honest = {
        "proof": proof,
        "ciphertext": ciphertext,
        "key": key,
        "base_hash": base_hash,
        "context": context,
    }
    statement: list[tuple[str, Change]] = [
        ("ciphertext", changed_alpha),
        ("ciphertext", changed_beta),
        ("key", other_point),
    ]
    every_change_fails(data, verify_randomness_knowledge, honest, [*statement, *BINDING, *PAIR])


@PROOFS
@given(secret=scalars, nonce=scalars)
def test_a_ciphertext_without_randomness_is_refused(secret: int, nonce: int) -> None:
    """α = identity (r = 0) would put m·G in β in the clear: no proof accepts it."""
    key = base_mul(secret)
    plain = Ciphertext(IDENTITY, base_mul(1))
    proof = prove_randomness_knowledge(plain, 0, key, bytes(32), b"")
    fails(lambda: verify_randomness_knowledge(proof, plain, key, bytes(32), b""))
    member = prove_membership(plain, 0, 1, [0, 1], key, bytes(32), b"")
    fails(lambda: verify_membership(member, plain, [0, 1], key, bytes(32), b""))


# --- encodings -------------------------------------------------------------------------------

not_a_scalar = st.one_of(
    st.text(max_size=70).filter(lambda t: len(t) != 64),
    st.integers(ORDER, 2**256 - 1).map(lambda n: n.to_bytes(32, "little").hex()),
    st.text(alphabet="ghijklmnopqrstuvwxyz", min_size=64, max_size=64),
    st.none(),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)


@PROOFS
@given(secret=scalars, nonce=scalars, bad=not_a_scalar, data=st.data())
def test_malformed_proof_json_is_refused(
    secret: int, nonce: int, bad: object, data: st.DataObject
) -> None:
    key = base_mul(secret)
    ciphertext = encrypt_with(1, key, nonce)
    proof = prove_membership(ciphertext, nonce, 1, [0, 1, 2], key, bytes(32), b"")
    encoded = proof.to_json()
    branch = data.draw(st.integers(0, len(encoded) - 1), label="branch")
    field = data.draw(st.sampled_from(["c", "v"]), label="field")
    broken: list[object] = [dict(b) for b in encoded]
    broken[branch] = {**encoded[branch], field: bad}
    with pytest.raises(GroupError):
        MembershipProof.from_json(broken)
    with pytest.raises(GroupError):
        ChallengeResponse.from_json(broken[branch], what="randomness proof")
    shapes: list[object] = [
        [],
        {},
        encoded[0],
        [[b["c"], b["v"]] for b in encoded],
        [{**encoded[0], "x": "00"}],
        encoded * 400,  # 1200 branches: more than any set may hold
    ]
    for shape in shapes:
        with pytest.raises(GroupError):
            MembershipProof.from_json(shape)


@PROOFS
@given(secret=scalars, nonce=scalars, data=st.data())
def test_a_flipped_bit_anywhere_in_a_recorded_proof_is_caught(
    secret: int, nonce: int, data: st.DataObject
) -> None:
    """A record (ciphertext and proof as hex) with one bit flipped: decoding refuses it
    (GroupError: not a canonical point or scalar) or verification does (ProofError)."""
    key = base_mul(secret)
    ciphertext = encrypt_with(0, key, nonce)
    proof = prove_membership(ciphertext, nonce, 0, [0, 1], key, bytes(32), b"ctx")
    fields = [*ciphertext.to_json()] + [b[f] for b in proof.to_json() for f in ("c", "v")]
    index = data.draw(st.integers(0, len(fields) - 1), label="field")
    bit = data.draw(st.integers(0, 255), label="bit")
    raw = bytearray(bytes.fromhex(fields[index]))
    raw[bit // 8] ^= 1 << (bit % 8)
    fields[index] = raw.hex()
    with pytest.raises((GroupError, ProofError)):
        decoded = Ciphertext.from_json(fields[:2])
        branches = [{"c": fields[i], "v": fields[i + 1]} for i in range(2, len(fields), 2)]
        verify_membership(
            MembershipProof.from_json(branches), decoded, [0, 1], key, bytes(32), b"ctx"
        )
