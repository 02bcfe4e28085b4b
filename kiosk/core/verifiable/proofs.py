"""Zero-knowledge proofs of the protocol, non-interactive by strong Fiat–Shamir, and the two
every other proof builds on: Schnorr (knowledge of a discrete logarithm) and Chaum–Pedersen
(equality of two discrete logarithms, DLEQ).

Every proof here follows the shape of ElectionGuard 2.1 §3.2.2 and §3.6.3 written additively:
the prover commits, the challenge c is a hash of the election's base hash, the proof's name,
the whole statement and every commitment (strong Fiat–Shamir: Bernhard, Pereira, Warinschi,
"How not to prove yourself", 2012, which broke Helios's weak form), and the response is
v = u − c·x. A proof is stored as (c, v): the verifier recomputes the commitments from them and
accepts only if hashing gives back the same c.

``verify_*`` returns None and raises ``ProofError`` naming the proof and what failed; callers
never test a boolean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.core.errors import VerificationError
from kiosk.core.verifiable.group import (
    ORDER,
    GroupError,
    Point,
    base_mul,
    hash_to_scalar,
    random_scalar,
    scalar_bytes,
    scalar_from_hex,
)


class ProofError(VerificationError):
    """A proof that did not verify; ``proof`` names which one, the message says what failed."""

    def __init__(self, proof: str, detail: str) -> None:
        super().__init__(f"{proof} proof: {detail}")
        self.proof = proof


def challenge(
    name: str, base_hash: bytes, statement: Sequence[bytes], commitments: Sequence[bytes]
) -> int:
    """c = H(``challenge/<name>``; base hash, statement count, statement..., commitments...).

    The count keeps the boundary between statement and commitments unambiguous.
    """
    return hash_to_scalar(
        f"challenge/{name}",
        base_hash,
        len(statement).to_bytes(4, "big"),
        *statement,
        *commitments,
    )


@dataclass(frozen=True, slots=True)
class ChallengeResponse:
    """(c, v): the challenge and the response of a one-secret sigma proof."""

    challenge: int
    response: int

    def to_json(self) -> dict[str, str]:
        return {"c": scalar_bytes(self.challenge).hex(), "v": scalar_bytes(self.response).hex()}

    @staticmethod
    def from_json(value: object, *, what: str) -> ChallengeResponse:
        if not (isinstance(value, dict) and set(value) == {"c", "v"}):
            raise GroupError(f"{what}: a proof is an object with c and v")
        return ChallengeResponse(
            scalar_from_hex(value["c"], what=f"{what} c"),
            scalar_from_hex(value["v"], what=f"{what} v"),
        )


# --- Schnorr: knowledge of x with X = x·G (ElectionGuard 2.1 §3.2.2) ---------------------


def prove_schnorr(
    secret: int, public: Point, base_hash: bytes, context: bytes
) -> ChallengeResponse:
    """Proves knowledge of ``secret`` with public = secret·G, bound to ``context``."""
    u = random_scalar()
    commitment = base_mul(u)
    c = challenge("schnorr", base_hash, [public.encoded, context], [commitment.encoded])
    return ChallengeResponse(c, (u - c * secret) % ORDER)


def verify_schnorr(
    proof: ChallengeResponse, public: Point, base_hash: bytes, context: bytes
) -> None:
    """Raises ProofError unless ``proof`` shows knowledge of log_G(public) for ``context``."""
    if public.is_identity():
        raise ProofError("Schnorr", "the public key is the identity")
    commitment = base_mul(proof.response) + public * proof.challenge
    c = challenge("schnorr", base_hash, [public.encoded, context], [commitment.encoded])
    if c != proof.challenge:
        raise ProofError("Schnorr", "the challenge does not match the statement and commitment")


# --- Chaum–Pedersen: log_G(A) = log_H(B) (ElectionGuard 2.1 §3.6.3) ----------------------


def prove_dleq(
    secret: int, base: Point, public: Point, result: Point, base_hash: bytes, context: bytes
) -> ChallengeResponse:
    """Proves public = secret·G and result = secret·base with one secret, bound to ``context``."""
    u = random_scalar()
    a, b = base_mul(u), base * u
    c = challenge(
        "dleq",
        base_hash,
        [base.encoded, public.encoded, result.encoded, context],
        [a.encoded, b.encoded],
    )
    return ChallengeResponse(c, (u - c * secret) % ORDER)


def verify_dleq(
    proof: ChallengeResponse,
    base: Point,
    public: Point,
    result: Point,
    base_hash: bytes,
    context: bytes,
) -> None:
    """Raises ProofError unless log_G(public) = log_base(result)."""
    a = base_mul(proof.response) + public * proof.challenge
    b = base * proof.response + result * proof.challenge
    c = challenge(
        "dleq",
        base_hash,
        [base.encoded, public.encoded, result.encoded, context],
        [a.encoded, b.encoded],
    )
    if c != proof.challenge:
        raise ProofError("Chaum–Pedersen (DLEQ)", "the challenge does not match the statement")
