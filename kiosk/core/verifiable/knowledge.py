"""The proof that whoever made a ciphertext knows its randomness, bound to a context (the
ballot it belongs to).

A Schnorr proof (ElectionGuard 2.1 §3.2.2, additively) of r with α = r·G, whose statement is
the whole ciphertext, the election key and the context. Knowing r means knowing the plaintext
(m·G = β − r·K), so a ciphertext copied out of someone else's ballot into a new one cannot be
given a valid proof for the new ballot's context: this is what stops a voter from re-casting
another's encrypted scores (the attack on Helios without such proofs, Cortier and Smyth,
"Attacking and fixing Helios", CSF 2011). Score ballots carry this proof instead of a range
proof; their values are checked after decryption.
"""

from __future__ import annotations

from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import ORDER, Point, base_mul, random_scalar
from kiosk.core.verifiable.proofs import ChallengeResponse, ProofError, challenge

RANDOMNESS = "randomness"
_TITLE = "knowledge of the randomness"


def prove_randomness_knowledge(
    ciphertext: Ciphertext, nonce: int, key: Point, base_hash: bytes, context: bytes
) -> ChallengeResponse:
    """Proves knowledge of ``nonce`` with α = nonce·G for ``ciphertext`` under ``key``, bound
    to ``context``."""
    u = random_scalar()
    commitment = base_mul(u)
    c = challenge(RANDOMNESS, base_hash, _statement(ciphertext, key, context), [commitment.encoded])
    return ChallengeResponse(c, (u - c * nonce) % ORDER)


def verify_randomness_knowledge(
    proof: ChallengeResponse, ciphertext: Ciphertext, key: Point, base_hash: bytes, context: bytes
) -> None:
    """Raises ProofError unless ``proof`` shows knowledge of log_G(α) for this ciphertext,
    this key and this context."""
    if ciphertext.alpha.is_identity():
        raise ProofError(_TITLE, "the ciphertext's α is the identity (no randomness)")
    if not (0 <= proof.challenge < ORDER and 0 <= proof.response < ORDER):
        raise ProofError(_TITLE, "a scalar is not reduced below the group order")
    commitment = base_mul(proof.response) + ciphertext.alpha * proof.challenge
    c = challenge(RANDOMNESS, base_hash, _statement(ciphertext, key, context), [commitment.encoded])
    if c != proof.challenge:
        raise ProofError(_TITLE, "the challenge does not match the statement and commitment")


def _statement(ciphertext: Ciphertext, key: Point, context: bytes) -> list[bytes]:
    return [key.encoded, ciphertext.alpha.encoded, ciphertext.beta.encoded, context]
