"""What a cheating prover would try against the disjunctive proofs, for tests: a proof that a
ciphertext holds a value of a set, made without the ciphertext holding one.

The statement is rebuilt here from the written recipe (the key, α, β, the set as 4-byte
values, the context), not taken from the module under test, so the forgery also checks that
the recipe is the one the module hashes (``written_challenge``).
"""

from __future__ import annotations

from collections.abc import Sequence

from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import ORDER, Point, base_mul, random_scalar
from kiosk.core.verifiable.membership import MEMBERSHIP, MembershipProof
from kiosk.core.verifiable.proofs import ChallengeResponse, challenge


def simulated_branch(
    ciphertext: Ciphertext, j: int, key: Point
) -> tuple[ChallengeResponse, list[bytes]]:
    """A branch whose (c, v) are chosen first, with the commitments a verifier recomputes."""
    c, v = random_scalar(), random_scalar()
    a = base_mul(v) + ciphertext.alpha * c
    b = key * v + (ciphertext.beta - base_mul(j)) * c
    return ChallengeResponse(c, v), [a.encoded, b.encoded]


def forge_all_simulated(
    ciphertext: Ciphertext,
    allowed: Sequence[int],
    key: Point,
    base_hash: bytes,
    context: bytes,
    *,
    forced: int = -1,
) -> MembershipProof:
    """Every branch simulated, then branch ``forced``'s challenge changed so that the
    challenges add up to the hash (its commitments, already hashed, then no longer match)."""
    values = sorted(set(allowed))
    branches, commitments = [], []
    for j in values:
        branch, points = simulated_branch(ciphertext, j, key)
        branches.append(branch)
        commitments += points
    c = challenge(MEMBERSHIP, base_hash, _statement(ciphertext, values, key, context), commitments)
    forced %= len(branches)
    others = sum(b.challenge for i, b in enumerate(branches) if i != forced)
    branches[forced] = ChallengeResponse((c - others) % ORDER, branches[forced].response)
    return MembershipProof(tuple(branches))


def written_challenge(
    proof: MembershipProof,
    ciphertext: Ciphertext,
    allowed: Sequence[int],
    key: Point,
    base_hash: bytes,
    context: bytes,
) -> int:
    """The membership challenge as the protocol text defines it: the commitments recomputed
    as a_j = v_j·G + c_j·α, b_j = v_j·K + c_j·(β − j·G), hashed after the statement."""
    values = sorted(set(allowed))
    commitments: list[bytes] = []
    for j, branch in zip(values, proof.branches, strict=True):
        a = base_mul(branch.response) + ciphertext.alpha * branch.challenge
        b = key * branch.response + (ciphertext.beta - base_mul(j)) * branch.challenge
        commitments += [a.encoded, b.encoded]
    return challenge(
        MEMBERSHIP, base_hash, _statement(ciphertext, values, key, context), commitments
    )


def _statement(
    ciphertext: Ciphertext, values: Sequence[int], key: Point, context: bytes
) -> list[bytes]:
    """K, α, β, the set (each value 4 bytes big-endian, increasing), the context."""
    return [
        key.encoded,
        ciphertext.alpha.encoded,
        ciphertext.beta.encoded,
        b"".join(j.to_bytes(4, "big") for j in values),
        context,
    ]
