"""Threshold decryption: each trustee's share of a decryption with its own proof, and the
combination of any k of them, so the whole key is never computed and a wrong share names its
trustee.

ElectionGuard 2.1 §3.6 written additively: trustee j's partial decryption of (α, β) is
M_j = z_j·α (§3.6.3 eq. 84); any set U of at least k trustees gives
m·G = β − Σ_{j∈U} w_j·M_j with the Lagrange coefficients w_j = Π_{ℓ∈U∖{j}} ℓ/(ℓ − j) mod ℓ_G
(§3.6.4 eq. 85-86). Where ElectionGuard accumulates one joint proof (§3.6.5), each share here
carries its own Chaum–Pedersen proof log_G(Z_j) = log_α(M_j) against the trustee's
verification key Z_j (the per-guardian check of §3.6.5 Note 3.7, eq. 94-95), so shares are
published apart and checked one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.verifiable.ceremony_outcome import CeremonyOutcome, TrusteeShare
from kiosk.core.verifiable.dlog import discrete_log
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import ORDER, Point, base_mul, point_sum
from kiosk.core.verifiable.proofs import (
    ChallengeResponse,
    ProofError,
    prove_dleq,
    verify_dleq,
)


class DecryptionError(VerificationError):
    """Decryption cannot be done as asked; ``trustee`` names the trustee at fault, if one is."""

    user_message = (
        "개표 복호화를 할 수 없습니다. 화면의 설명을 선거 관리자에게 알려 주세요.",
        "The count cannot be decrypted. Please show the message to the election manager.",
    )

    def __init__(self, detail: str, *, trustee: int | None = None) -> None:
        super().__init__(detail if trustee is None else f"trustee {trustee}: {detail}")
        self.trustee = trustee


class BadDecryptionShare(ProofError):
    """A decryption share whose proof fails: it names the trustee and the ciphertext."""

    def __init__(self, trustee: int, ciphertext_index: int, detail: str) -> None:
        super().__init__(
            f"decryption share of trustee {trustee} for ciphertext {ciphertext_index}", detail
        )
        self.trustee = trustee
        self.ciphertext_index = ciphertext_index


@dataclass(frozen=True, slots=True)
class DecryptionShare:
    """M_j = z_j·α for the ciphertext at ``ciphertext_index``, with its DLEQ proof."""

    trustee: int
    ciphertext_index: int
    share: Point
    proof: ChallengeResponse

    def to_json(self) -> dict[str, Any]:
        return {
            "trustee": self.trustee,
            "index": self.ciphertext_index,
            "share": self.share.hex(),
            "proof": self.proof.to_json(),
        }

    @staticmethod
    def from_json(value: object) -> DecryptionShare:
        if not (isinstance(value, dict) and set(value) == {"trustee", "index", "share", "proof"}):
            raise EncodingError("a decryption share is an object with trustee, index, share, proof")
        trustee, index = value["trustee"], value["index"]
        for number in (trustee, index):
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise EncodingError("a decryption share's trustee and index are whole numbers")
        what = f"decryption share of trustee {trustee} for ciphertext {index}"
        return DecryptionShare(
            trustee,
            index,
            Point.from_hex(value["share"], what=what),
            ChallengeResponse.from_json(value["proof"], what=f"{what}: proof"),
        )


def share_context(
    context: bytes, trustee: int, ciphertext_index: int, ciphertext: Ciphertext
) -> bytes:
    """What a share's proof binds beyond (α, Z_j, M_j): the caller's context (length-prefixed),
    the trustee, the ciphertext's index and the whole ciphertext, β included."""
    return (
        b"decryption-share"
        + len(context).to_bytes(4, "big")
        + context
        + trustee.to_bytes(4, "big")
        + ciphertext_index.to_bytes(8, "big")
        + ciphertext.encoded()
    )


def _keys(verification_keys: Mapping[int, Point] | CeremonyOutcome) -> Mapping[int, Point]:
    if isinstance(verification_keys, CeremonyOutcome):
        return verification_keys.verification_keys
    return verification_keys


def decryption_shares(
    trustee_share: TrusteeShare,
    ciphertexts: Sequence[Ciphertext],
    verification_keys: Mapping[int, Point] | CeremonyOutcome,
    base_hash: bytes,
    context: bytes,
    *,
    start: int = 0,
) -> list[DecryptionShare]:
    """My share z_j·α of every ciphertext, each with a proof against my Z_j (§3.6.3).
    ``ciphertexts`` are the list's from index ``start`` on (a slice, for a worker process)."""
    if (
        isinstance(verification_keys, CeremonyOutcome)
        and verification_keys.setup_hash != trustee_share.setup_hash
    ):
        raise DecryptionError(
            "this share of the key is of another ceremony", trustee=trustee_share.index
        )
    j, z = trustee_share.index, trustee_share.secret
    key = _keys(verification_keys).get(j)
    if key is None or base_mul(z) != key:
        raise DecryptionError(
            "this share of the key does not match the trustee's verification key", trustee=j
        )
    shares = []
    for index, ciphertext in enumerate(ciphertexts, start=start):
        partial = ciphertext.alpha * z
        proof = prove_dleq(
            z,
            ciphertext.alpha,
            key,
            partial,
            base_hash,
            share_context(context, j, index, ciphertext),
        )
        shares.append(DecryptionShare(j, index, partial, proof))
    return shares


def verify_decryption_share(
    share: DecryptionShare,
    ciphertext: Ciphertext,
    verification_key: Point,
    base_hash: bytes,
    context: bytes,
) -> None:
    """Raises BadDecryptionShare (a ProofError) naming the trustee unless
    log_G(Z_j) = log_α(M_j) for this ciphertext."""
    try:
        verify_dleq(
            share.proof,
            ciphertext.alpha,
            verification_key,
            share.share,
            base_hash,
            share_context(context, share.trustee, share.ciphertext_index, ciphertext),
        )
    except ProofError as error:
        raise BadDecryptionShare(share.trustee, share.ciphertext_index, str(error)) from error


def lagrange_coefficient(i: int, indices: Iterable[int]) -> int:
    """w_i = Π_{ℓ∈U∖{i}} ℓ/(ℓ − i) mod the group order (ElectionGuard 2.1 eq. 85): the weight
    of P(i) in P(0) for the trustees U = ``indices``."""
    others = set(indices)
    if i not in others or any(not 0 < x < ORDER for x in others):
        raise DecryptionError(f"trustee {i} is not among the positive indices {sorted(others)}")
    others.discard(i)
    numerator, denominator = 1, 1
    for x in others:
        numerator = numerator * x % ORDER
        denominator = denominator * (x - i) % ORDER
    return numerator * pow(denominator, -1, ORDER) % ORDER


def combine(
    ciphertext: Ciphertext, shares_by_trustee: Mapping[int, Point], threshold: int
) -> Point:
    """m·G = β − Σ_{j∈U} w_j·M_j over every trustee present (§3.6.4 eq. 86); refuses fewer
    than ``threshold`` trustees, who hold nothing that decrypts."""
    present = sorted(shares_by_trustee)
    if len(present) < max(threshold, 1):
        raise DecryptionError(
            f"{threshold} trustees' shares are needed to decrypt, found {len(present)}"
            + (f" (trustees {', '.join(map(str, present))})" if present else "")
        )
    weighted = (shares_by_trustee[j] * lagrange_coefficient(j, present) for j in present)
    return ciphertext.beta - point_sum(weighted)


def decrypt_all(
    ciphertexts: Sequence[Ciphertext],
    shares: Iterable[DecryptionShare],
    verification_keys: Mapping[int, Point] | CeremonyOutcome,
    threshold: int,
    bound: int,
    base_hash: bytes,
    context: bytes,
) -> list[int]:
    """The plaintexts in 0..bound: every share verified first (a bad one names its trustee),
    then at least ``threshold`` trustees' shares per ciphertext combined, then the discrete
    logarithm taken."""
    if isinstance(verification_keys, CeremonyOutcome) and threshold != verification_keys.threshold:
        raise DecryptionError(
            f"the ceremony's threshold is {verification_keys.threshold}, not {threshold}"
        )
    keys = _keys(verification_keys)
    by_index: list[dict[int, Point]] = [{} for _ in ciphertexts]
    for share in shares:
        _check_share(share, ciphertexts, keys, by_index, base_hash, context)
    plaintexts = []
    for index, (ciphertext, present) in enumerate(zip(ciphertexts, by_index, strict=True)):
        try:
            point = combine(ciphertext, present, threshold)
        except DecryptionError as error:
            raise DecryptionError(f"ciphertext {index}: {error.detail}") from error
        plaintexts.append(discrete_log(point, bound))
    return plaintexts


def _check_share(
    share: DecryptionShare,
    ciphertexts: Sequence[Ciphertext],
    keys: Mapping[int, Point],
    by_index: list[dict[int, Point]],
    base_hash: bytes,
    context: bytes,
) -> None:
    j, index = share.trustee, share.ciphertext_index
    key = keys.get(j)
    if key is None:
        raise DecryptionError("not a trustee of this election's key", trustee=j)
    if not 0 <= index < len(ciphertexts):
        raise DecryptionError(f"a share for ciphertext {index}, which is not asked for", trustee=j)
    earlier = by_index[index].get(j)
    if earlier is not None and earlier != share.share:
        raise DecryptionError(f"two different shares for ciphertext {index}", trustee=j)
    verify_decryption_share(share, ciphertexts[index], key, base_hash, context)
    by_index[index][j] = share.share
