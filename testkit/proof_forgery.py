"""What a cheating prover would try against the disjunctive proofs, for tests: a proof that a
ciphertext holds a value of a set, made without the ciphertext holding one.

The statement is rebuilt here from the written recipe (the key, α, β, the set as 4-byte
values, the context), not taken from the module under test, so the forgery also checks that
the recipe is the one the module hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import ORDER, Point, base_mul, random_scalar
from kiosk.core.verifiable.membership import MEMBERSHIP, MembershipProof, set_bytes
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
    statement = [
        key.encoded,
        ciphertext.alpha.encoded,
        ciphertext.beta.encoded,
        set_bytes(values),
        context,
    ]
    c = challenge(MEMBERSHIP, base_hash, statement, commitments)
    forced %= len(branches)
    others = sum(b.challenge for i, b in enumerate(branches) if i != forced)
    branches[forced] = ChallengeResponse((c - others) % ORDER, branches[forced].response)
    return MembershipProof(tuple(branches))
