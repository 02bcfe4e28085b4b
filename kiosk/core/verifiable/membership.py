"""The disjunctive Chaum–Pedersen proof that a ciphertext encrypts a value of a given set, and
the proof that a sum of ciphertexts lies in a range (the same proof on the homomorphic sum).

This is ElectionGuard 2.1 §3.3.5 ("range proofs", after Cramer, Damgård and Schoenmakers,
"Proofs of partial knowledge", CRYPTO 1994) written additively. For a ciphertext
(α, β) = (r·G, m·G + r·K) and a set S, the statement is the disjunction over j in S of
"α = r·G and β − j·G = r·K" (one secret r in both): a DLEQ per value. The prover answers the
branch of the true value m honestly and simulates every other branch by choosing its challenge
and response first; the branch challenges must add up to the Fiat–Shamir challenge, so at most
one branch can be simulated after it is known. The proof is the list of (c_j, v_j), one per
value of S in increasing order; the verifier recomputes every commitment
a_j = v_j·G + c_j·α, b_j = v_j·K + c_j·(β − j·G) and accepts only if Σ c_j is the hash of the
statement and those commitments.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce

from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import (
    ORDER,
    GroupError,
    Point,
    base_mul,
    random_scalar,
)
from kiosk.core.verifiable.proofs import ChallengeResponse, ProofError, challenge

MEMBERSHIP = "membership"
SUM_IN_RANGE = "sum-in-range"
#: Values of a set are encoded as 4 bytes each: far more than any contest or score needs.
MAX_VALUE = 2**32 - 1
#: A proof has a branch per value; a contest's rule that asks for more is a mistake (scores
#: are not proved by range, design/verifiable-election.md), and this bounds a verifier's work.
MAX_SET_SIZE = 1024

_NAMES = {
    MEMBERSHIP: "disjunctive Chaum–Pedersen (value in set)",
    SUM_IN_RANGE: "disjunctive Chaum–Pedersen (sum in range)",
}


@dataclass(frozen=True, slots=True)
class MembershipProof:
    """One (c_j, v_j) per value of the set, in the set's increasing order."""

    branches: tuple[ChallengeResponse, ...]

    def to_json(self) -> list[dict[str, str]]:
        return [branch.to_json() for branch in self.branches]

    @staticmethod
    def from_json(value: object, *, what: str = "membership proof") -> MembershipProof:
        if not (isinstance(value, list) and 0 < len(value) <= MAX_SET_SIZE):
            raise GroupError(
                f"{what}: a list of 1 to {MAX_SET_SIZE} (c, v) branches, one per allowed value"
            )
        return MembershipProof(
            tuple(
                ChallengeResponse.from_json(item, what=f"{what} branch {i}")
                for i, item in enumerate(value)
            )
        )


def canonical_set(allowed: Sequence[int]) -> tuple[int, ...]:
    """The set in increasing order without repeats; ValueError unless 0 ≤ j ≤ MAX_VALUE.

    The set comes from the election package, so a bad one is a caller's mistake, not a bad
    proof. Order and repeats do not change what is proved, so they do not change the proof.
    """
    if not all(isinstance(j, int) and 0 <= j <= MAX_VALUE for j in allowed):
        raise ValueError(f"allowed values are integers between 0 and {MAX_VALUE}")
    values = tuple(sorted(set(allowed)))
    if not 0 < len(values) <= MAX_SET_SIZE:
        raise ValueError(f"a set of allowed values holds 1 to {MAX_SET_SIZE} values")
    return values


def set_bytes(values: Sequence[int]) -> bytes:
    """The set as hashed: each value as 4 bytes big-endian, in increasing order."""
    return b"".join(j.to_bytes(4, "big") for j in values)


@lru_cache(maxsize=4096)
def _multiple_of_g(j: int) -> Point:
    """j·G, kept: the same few values of every set recur in every ballot."""
    return base_mul(j)


# --- one ciphertext, one set --------------------------------------------------------------


def prove_membership(
    ciphertext: Ciphertext,
    nonce: int,
    value: int,
    allowed: Sequence[int],
    key: Point,
    base_hash: bytes,
    context: bytes,
) -> MembershipProof:
    """Proves that ``ciphertext`` = Enc(value; nonce) under ``key`` holds a value of
    ``allowed``, bound to ``context``. ValueError if ``value`` is not in the set: the prover
    never tries to prove something false."""
    values = canonical_set(allowed)
    statement = _membership_statement(ciphertext, values, key, context)
    return _prove(MEMBERSHIP, statement, ciphertext, nonce, value, values, key, base_hash)


def verify_membership(
    proof: MembershipProof,
    ciphertext: Ciphertext,
    allowed: Sequence[int],
    key: Point,
    base_hash: bytes,
    context: bytes,
) -> None:
    """Raises ProofError unless ``proof`` shows that ``ciphertext`` encrypts a value of
    ``allowed`` under ``key`` for ``context``."""
    if ciphertext.alpha.is_identity():
        raise ProofError(_NAMES[MEMBERSHIP], "the ciphertext's α is the identity (no randomness)")
    values = canonical_set(allowed)
    statement = _membership_statement(ciphertext, values, key, context)
    _verify(MEMBERSHIP, proof, statement, ciphertext, values, key, base_hash)


def _membership_statement(
    ciphertext: Ciphertext, values: Sequence[int], key: Point, context: bytes
) -> list[bytes]:
    return [
        key.encoded,
        ciphertext.alpha.encoded,
        ciphertext.beta.encoded,
        set_bytes(values),
        context,
    ]


# --- a sum of ciphertexts, a range --------------------------------------------------------


def prove_sum_in_range(
    ciphertexts: Sequence[Ciphertext],
    nonces: Sequence[int],
    values: Sequence[int],
    minimum: int,
    maximum: int,
    key: Point,
    base_hash: bytes,
    context: bytes,
) -> MembershipProof:
    """Proves that the homomorphic sum of ``ciphertexts`` (each Enc(values[i]; nonces[i]))
    holds a value between ``minimum`` and ``maximum``, bound to ``context``: a membership
    proof for the sum, whose statement names every ciphertext added. ValueError if the sum of
    ``values`` is out of range."""
    if not (len(ciphertexts) == len(nonces) == len(values)) or not ciphertexts:
        raise ValueError("one nonce and one value for each of at least one ciphertext")
    allowed = _range(minimum, maximum)
    total = _sum(ciphertexts)
    statement = _sum_statement(ciphertexts, total, allowed, key, context)
    return _prove(
        SUM_IN_RANGE, statement, total, sum(nonces) % ORDER, sum(values), allowed, key, base_hash
    )


def verify_sum_in_range(
    proof: MembershipProof,
    ciphertexts: Sequence[Ciphertext],
    minimum: int,
    maximum: int,
    key: Point,
    base_hash: bytes,
    context: bytes,
) -> None:
    """Raises ProofError unless ``proof`` shows that the sum of ``ciphertexts``, which this
    function adds up itself, encrypts a value between ``minimum`` and ``maximum``."""
    if not ciphertexts:
        raise ProofError(_NAMES[SUM_IN_RANGE], "no ciphertexts to add up")
    allowed = _range(minimum, maximum)
    total = _sum(ciphertexts)
    statement = _sum_statement(ciphertexts, total, allowed, key, context)
    _verify(SUM_IN_RANGE, proof, statement, total, allowed, key, base_hash)


def _sum(ciphertexts: Sequence[Ciphertext]) -> Ciphertext:
    """The homomorphic sum, started from the first ciphertext rather than from zero: n − 1
    additions per component, not n (an addition costs a third of a multiplication here)."""
    return reduce(operator.add, ciphertexts)


def _range(minimum: int, maximum: int) -> tuple[int, ...]:
    if not 0 <= minimum <= maximum <= MAX_VALUE or maximum - minimum >= MAX_SET_SIZE:
        raise ValueError(
            f"a range is 0 ≤ minimum ≤ maximum ≤ {MAX_VALUE} of at most {MAX_SET_SIZE} values"
        )
    return tuple(range(minimum, maximum + 1))


def _sum_statement(
    ciphertexts: Sequence[Ciphertext],
    total: Ciphertext,
    values: Sequence[int],
    key: Point,
    context: bytes,
) -> list[bytes]:
    return [
        key.encoded,
        b"".join(c.encoded() for c in ciphertexts),
        total.alpha.encoded,
        total.beta.encoded,
        set_bytes(values),
        context,
    ]


# --- the proof itself (ElectionGuard 2.1 §3.3.5, additively) --------------------------------


def _prove(
    name: str,
    statement: list[bytes],
    ciphertext: Ciphertext,
    nonce: int,
    value: int,
    values: Sequence[int],
    key: Point,
    base_hash: bytes,
) -> MembershipProof:
    """Real branch: a = u·G, b = u·K. Simulated branch j (c_j, v_j random): the commitments the
    verifier will recompute, a_j = v_j·G + c_j·α and b_j = v_j·K + c_j·(β − j·G). Knowing r
    and m, the prover computes the same points as w·G and w·K + c_j·(m − j)·G with
    w = v_j + c_j·r: two fixed-base and one variable-base multiplication instead of one and
    three, identical results."""
    if value not in values:
        raise ValueError(f"{value} is not an allowed value: no proof is made for it")
    if key.is_identity():
        raise ValueError("the election key is the identity")
    # The real branch first, then the simulated ones in the set's order: the sequence of
    # operations is then the same whatever the value (what a side channel would watch).
    u = random_scalar()
    points = {value: (base_mul(u), key * u)}
    simulated: dict[int, ChallengeResponse] = {}
    for j in values:
        if j != value:
            c_j, v_j = random_scalar(), random_scalar()
            simulated[j] = ChallengeResponse(c_j, v_j)
            w = (v_j + c_j * nonce) % ORDER
            points[j] = (base_mul(w), key * w + base_mul(c_j * (value - j)))
    commitments = [p.encoded for j in values for p in points[j]]
    c = challenge(name, base_hash, statement, commitments)
    c_real = (c - sum(s.challenge for s in simulated.values())) % ORDER
    real = ChallengeResponse(c_real, (u - c_real * nonce) % ORDER)
    return MembershipProof(tuple(simulated.get(j, real) for j in values))


def _verify(
    name: str,
    proof: MembershipProof,
    statement: list[bytes],
    ciphertext: Ciphertext,
    values: Sequence[int],
    key: Point,
    base_hash: bytes,
) -> None:
    title = _NAMES[name]
    if len(proof.branches) != len(values):
        raise ProofError(title, f"{len(proof.branches)} branches for a set of {len(values)} values")
    _check_key(name, key)
    for branch in proof.branches:
        if not (0 <= branch.challenge < ORDER and 0 <= branch.response < ORDER):
            raise ProofError(title, "a branch's scalar is not reduced below the group order")
    alpha, beta = ciphertext.alpha, ciphertext.beta
    commitments: list[bytes] = []
    for j, branch in zip(values, proof.branches, strict=True):
        shifted = beta - _multiple_of_g(j) if j else beta
        a = base_mul(branch.response) + alpha * branch.challenge
        b = key * branch.response + shifted * branch.challenge
        commitments += [a.encoded, b.encoded]
    c = challenge(name, base_hash, statement, commitments)
    if c != sum(branch.challenge for branch in proof.branches) % ORDER:
        raise ProofError(title, "the branch challenges do not add up to the hash of the statement")


def _check_key(name: str, key: Point) -> None:
    # Under the identity "key" β shows m·G in the clear: it is no election key.
    if key.is_identity():
        raise ProofError(_NAMES[name], "the election key is the identity")
