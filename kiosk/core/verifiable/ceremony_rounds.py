"""The rounds of the trustees' key ceremony with no dealer, pure functions over signed
messages (the trustee tool moves them as files or through the ledger's relay).

ElectionGuard 2.1 §3.2.2 ("Details of key generation") written additively in ristretto255:
trustee i draws P_i(x) = a_i0 + … + a_i,k−1·x^(k−1) (eq. 7), publishes K_it = a_it·G with a
Schnorr proof each (eq. 8, 10-11), sends P_i(j) to each other trustee j sealed to j's box key
(§3.2.2 "Share encryption"; here libsodium's sealed box, signed by i), and j checks
P_i(j)·G = Σ_t j^t·K_it (eq. 14, 28). Where ElectionGuard starts again from scratch after a
complaint, this follows the complaint-and-reveal rule of Joint-Feldman (Gennaro, Jarecki,
Krawczyk, Rabin, "Secure distributed key generation for discrete-log based cryptosystems",
J. Cryptology 2007, §3 steps 1-3): the accused reveals the share in the clear, and is
disqualified if it fails the check or never comes. Then K = Σ_{i qualified} K_i0 (eq. 25),
z_j = Σ_i P_i(j) (eq. 24) and Z_j = z_j·G, which anyone recomputes from the commitments.

Rounds, one message of each kind per trustee: ``commitments`` (round 1), ``shares`` (round 2:
ONE message per sender holding the sealed share of every other trustee), ``verdict`` (no
complaints = acceptance), ``reveal`` (only a trustee complained about), ``result``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.crypto import SealingKey, SigningKey, seal
from kiosk.core.errors import EncodingError, HanpyoError
from kiosk.core.verifiable.ceremony_messages import (
    MAX_TRUSTEES,
    SETUP_HASH_BYTES,
    BadShare,
    CeremonyError,
    CeremonySetup,
    SignedMessage,
    has_control_characters,
    strict_hex,
)
from kiosk.core.verifiable.group import (
    ORDER,
    Point,
    base_mul,
    point_sum,
    random_scalar,
    scalar_bytes,
    scalar_from_bytes,
    scalar_from_hex,
)
from kiosk.core.verifiable.proofs import (
    ChallengeResponse,
    ProofError,
    prove_schnorr,
    verify_schnorr,
)

#: A sealed share opens to: setup hash (32) || sender (4) || recipient (4) || P_i(j) (32).
SEALED_PLAINTEXT_BYTES = SETUP_HASH_BYTES + 4 + 4 + 32
#: libsodium's sealed box adds an ephemeral X25519 key (32) and a Poly1305 tag (16).
SEALED_SHARE_BYTES = SEALED_PLAINTEXT_BYTES + 48
MAX_REASON_CHARS = 500


@dataclass(frozen=True, slots=True)
class Polynomial:
    """A trustee's secret polynomial P_i (ElectionGuard 2.1 eq. 7): coefficients a_i0..a_i,k−1.

    It lives only on its trustee's medium between round 1 and round 2; never print or log it.
    """

    coefficients: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.coefficients or any(not 0 < a < ORDER for a in self.coefficients):
            raise EncodingError("a ceremony polynomial has non-zero coefficients below ℓ")

    def __repr__(self) -> str:
        return f"Polynomial(degree={len(self.coefficients) - 1}, coefficients hidden)"

    @staticmethod
    def draw(threshold: int) -> Polynomial:
        """k uniform non-zero coefficients: degree k − 1, so any k shares rebuild it, k − 1 not."""
        if not 1 <= threshold <= MAX_TRUSTEES:
            raise EncodingError(f"the threshold must be 1..{MAX_TRUSTEES}")
        return Polynomial(tuple(random_scalar() for _ in range(threshold)))

    def evaluate(self, x: int) -> int:
        """P_i(x) mod ℓ (Horner)."""
        value = 0
        for coefficient in reversed(self.coefficients):
            value = (value * x + coefficient) % ORDER
        return value

    def commitments(self) -> list[Point]:
        """K_it = a_it·G (eq. 8)."""
        return [base_mul(a) for a in self.coefficients]

    def to_json(self) -> dict[str, Any]:
        """For the trustee's own medium only."""
        return {"coefficients": [scalar_bytes(a).hex() for a in self.coefficients]}

    @staticmethod
    def from_json(value: object) -> Polynomial:
        if not (isinstance(value, dict) and isinstance(value.get("coefficients"), list)):
            raise EncodingError("a ceremony polynomial is an object with its coefficients")
        return Polynomial(
            tuple(scalar_from_hex(a, what="coefficient") for a in value["coefficients"])
        )


def committed_share(commitments: Sequence[Point], x: int) -> Point:
    """P_i(x)·G = Σ_t x^t·K_it from the public commitments alone (ElectionGuard 2.1 eq. 14)."""
    return point_sum(k * pow(x, t, ORDER) for t, k in enumerate(commitments))


# --- round 1: commitments with a Schnorr proof per coefficient --------------------------


def _coefficient_context(trustee: int, t: int) -> bytes:
    """Binds each coefficient's proof to its trustee and position (as eq. 11 hashes i)."""
    return b"coefficient" + trustee.to_bytes(4, "big") + t.to_bytes(4, "big")


def commitments_message(
    poly: Polynomial, me: int, signing_key: SigningKey, setup: CeremonySetup
) -> SignedMessage:
    if len(poly.coefficients) != setup.threshold:
        raise CeremonyError("the polynomial's degree does not fit the threshold", trustee=me)
    base_hash = setup.base_hash()
    commitments = poly.commitments()
    proofs = [
        prove_schnorr(a, k, base_hash, _coefficient_context(me, t))
        for t, (a, k) in enumerate(zip(poly.coefficients, commitments, strict=True))
    ]
    body = {
        "commitments": [k.hex() for k in commitments],
        "proofs": [p.to_json() for p in proofs],
    }
    return SignedMessage.sign("commitments", me, body, signing_key, setup)


def check_commitments(message: SignedMessage, setup: CeremonySetup) -> list[Point]:
    """The sender's K_i0..K_i,k−1 after checking the signature and every Schnorr proof
    (ElectionGuard 2.1 Verification 2); CeremonyError names the sender otherwise."""
    _expect(message, "commitments", setup)
    sender, body = message.sender, message.body
    try:
        if set(body) != {"commitments", "proofs"}:
            raise EncodingError("the body holds commitments and proofs, nothing else")
        raw, proofs = body["commitments"], body["proofs"]
        if not (isinstance(raw, list) and isinstance(proofs, list)):
            raise EncodingError("commitments and proofs are lists")
        if not len(raw) == len(proofs) == setup.threshold:
            raise EncodingError(f"{setup.threshold} commitments and proofs are needed")
        commitments = [
            Point.decode(strict_hex(k, f"commitment {t}"), what=f"commitment {t}")
            for t, k in enumerate(raw)
        ]
        base_hash = setup.base_hash()
        for t, (k, proof) in enumerate(zip(commitments, proofs, strict=True)):
            response = ChallengeResponse.from_json(proof, what=f"proof of coefficient {t}")
            verify_schnorr(response, k, base_hash, _coefficient_context(sender, t))
    except ProofError as error:
        raise CeremonyError(f"commitments: {error}", trustee=sender) from error
    except EncodingError as error:
        raise CeremonyError(f"commitments: {error}", trustee=sender) from error
    return commitments


# --- round 2: each other trustee's share, sealed to their box key ------------------------


def _share_plaintext(setup_hash: bytes, sender: int, recipient: int, share: int) -> bytes:
    """Binds the sealed share to its ceremony, sender and recipient (as eq. 16-17 bind i, ℓ)."""
    return (
        setup_hash + sender.to_bytes(4, "big") + recipient.to_bytes(4, "big") + scalar_bytes(share)
    )


def shares_message(
    poly: Polynomial, me: int, signing_key: SigningKey, setup: CeremonySetup
) -> SignedMessage:
    """One message holding P_me(j) sealed to trustee j's box key, for every other j."""
    setup_hash = setup.base_hash()
    sealed = {
        str(j): seal(
            setup.trustee(j).box_key, _share_plaintext(setup_hash, me, j, poly.evaluate(j))
        ).hex()
        for j in setup.indices()
        if j != me
    }
    return SignedMessage.sign("shares", me, {"shares": sealed}, signing_key, setup)


def check_shares_message(message: SignedMessage, setup: CeremonySetup) -> dict[int, bytes]:
    """The sealed share for each other trustee, after the checks anyone can make: the
    signature, and exactly one sealed share of the right size for every other trustee."""
    _expect(message, "shares", setup)
    body = message.body
    expected = {str(j) for j in setup.indices() if j != message.sender}
    shares = body.get("shares") if set(body) == {"shares"} else None
    if not isinstance(shares, dict) or set(shares) != expected:
        raise CeremonyError(
            "shares: not one sealed share for each other trustee", trustee=message.sender
        )
    sealed: dict[int, bytes] = {}
    for key, value in shares.items():
        try:
            data = strict_hex(value)
        except EncodingError:
            data = b""
        if len(data) != SEALED_SHARE_BYTES:
            raise CeremonyError(
                f"shares: the share for trustee {key} is malformed", trustee=message.sender
            )
        sealed[int(key)] = data
    return sealed


def open_share(
    message: SignedMessage,
    me: int,
    box_secret: SealingKey,
    setup: CeremonySetup,
    commitments: Sequence[Point],
) -> int:
    """P_sender(me), opened with my box key and checked against the sender's commitments
    (ElectionGuard 2.1 eq. 28). BadShare(sender, why) is a complaint to put in my verdict."""
    if box_secret.public_key != setup.trustee(me).box_key:
        raise CeremonyError("this box key is not the trustee's identity", trustee=me)
    sender = message.sender
    if sender == me:
        raise CeremonyError("a trustee does not open their own shares", trustee=me)
    _expect(message, "shares", setup)  # a forged message is nobody's share: no complaint
    try:
        sealed = check_shares_message(message, setup)[me]
    except CeremonyError as error:
        raise BadShare(sender, error.reason) from error
    try:
        plaintext = box_secret.open(sealed)
    except HanpyoError as error:
        raise BadShare(sender, f"the share sealed to trustee {me} does not open") from error
    share = _parse_share_plaintext(plaintext, setup.base_hash(), sender, me)
    if base_mul(share) != committed_share(commitments, me):
        raise BadShare(sender, f"the share for trustee {me} does not match the commitments")
    return share


def _parse_share_plaintext(plaintext: bytes, setup_hash: bytes, sender: int, me: int) -> int:
    if len(plaintext) != SEALED_PLAINTEXT_BYTES:
        raise BadShare(sender, f"the share sealed to trustee {me} has the wrong length")
    if plaintext[:SETUP_HASH_BYTES] != setup_hash:
        raise BadShare(sender, f"the share sealed to trustee {me} is for another ceremony")
    names = plaintext[SETUP_HASH_BYTES : SETUP_HASH_BYTES + 8]
    if names != sender.to_bytes(4, "big") + me.to_bytes(4, "big"):
        raise BadShare(sender, f"the share sealed to trustee {me} names other trustees")
    try:
        return scalar_from_bytes(plaintext[SETUP_HASH_BYTES + 8 :], what="share")
    except EncodingError as error:
        raise BadShare(sender, f"the share sealed to trustee {me} is not a scalar") from error


# --- verdicts and reveals ---------------------------------------------------------------


def verdict_message(
    me: int, complaints: Mapping[int, str], signing_key: SigningKey, setup: CeremonySetup
) -> SignedMessage:
    """My verdict on round 2: no complaints means I accept every share I received."""
    body = {"complaints": {str(i): reason for i, reason in sorted(complaints.items())}}
    message = SignedMessage.sign("verdict", me, body, signing_key, setup)
    verdict_complaints(message, setup)  # refuse to sign what readers would refuse
    return message


def verdict_complaints(message: SignedMessage, setup: CeremonySetup) -> dict[int, str]:
    """{accused: reason} from a signed verdict; CeremonyError names a malformed verdict's sender."""
    _expect(message, "verdict", setup)
    sender, body = message.sender, message.body
    raw = body.get("complaints") if set(body) == {"complaints"} else None
    if not isinstance(raw, dict):
        raise CeremonyError("verdict: the body holds complaints only", trustee=sender)
    complaints: dict[int, str] = {}
    for key, reason in raw.items():
        accused = _index(key, setup)
        if accused is None or accused == sender:
            raise CeremonyError(f"verdict: a complaint names {key!r}", trustee=sender)
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise CeremonyError(
                f"verdict: the reason against {key} is not short text", trustee=sender
            )
        if has_control_characters(reason):
            # the accused reads it on their screen: it must not act on that screen
            raise CeremonyError(
                f"verdict: the reason against {key} holds control characters", trustee=sender
            )
        complaints[accused] = reason
    return complaints


def reveal_message(
    poly: Polynomial,
    me: int,
    complained_by: Sequence[int],
    signing_key: SigningKey,
    setup: CeremonySetup,
) -> SignedMessage:
    """P_me(j) in the clear for each trustee j who complained about me (Joint-Feldman step 2)."""
    shares = {str(j): scalar_bytes(poly.evaluate(j)).hex() for j in sorted(set(complained_by))}
    return SignedMessage.sign("reveal", me, {"shares": shares}, signing_key, setup)


def check_reveal(
    message: SignedMessage, setup: CeremonySetup, commitments: Sequence[Point]
) -> dict[int, int]:
    """{recipient: P_sender(recipient)} after checking every revealed share against the
    sender's commitments; BadShare names the sender when one fails."""
    _expect(message, "reveal", setup)
    sender, body = message.sender, message.body
    raw = body.get("shares") if set(body) == {"shares"} else None
    if not isinstance(raw, dict):
        raise BadShare(sender, "reveal: the body holds shares only")
    revealed: dict[int, int] = {}
    for key, value in raw.items():
        recipient = _index(key, setup)
        if recipient is None or recipient == sender:
            raise BadShare(sender, f"reveal: a share for {key!r}")
        try:
            share = scalar_from_bytes(strict_hex(value), what="revealed share")
        except EncodingError as error:
            raise BadShare(
                sender, f"reveal: the share for trustee {key} is not a scalar"
            ) from error
        if base_mul(share) != committed_share(commitments, recipient):
            raise BadShare(
                sender, f"the share revealed for trustee {recipient} does not match the commitments"
            )
        revealed[recipient] = share
    return revealed


def _expect(message: SignedMessage, kind: str, setup: CeremonySetup) -> None:
    if message.kind != kind:
        raise CeremonyError(
            f"expected a {kind} message, found {message.kind}", trustee=message.sender
        )
    message.verify(setup)


def _index(key: object, setup: CeremonySetup) -> int | None:
    """A trustee index written as a JSON object key ("1".."n"), or None."""
    if not isinstance(key, str) or not key.isdigit() or key != str(int(key)):
        return None
    index = int(key)
    return index if 1 <= index <= setup.size else None
