"""How a key ceremony ended, computed by anyone from its public signed messages alone: who is
qualified, who is disqualified and why, the election key K, every trustee's verification key
Z_j and the transcript hash; then each trustee's own share z_j, checked against Z_j.

Disqualification follows Joint-Feldman (Gennaro, Jarecki, Krawczyk, Rabin, J. Cryptology
2007, §3): a trustee with no or bad commitments, no or malformed shares, or a complaint whose
reveal fails or never came, is out; the key is the sum over the rest (ElectionGuard 2.1
§3.2.2 eq. 25), and with fewer than k left there is no key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import canonical_json, parse_json
from kiosk.core.errors import EncodingError
from kiosk.core.verifiable.ceremony_messages import (
    KINDS,
    MAX_TRUSTEES,
    SETUP_HASH_BYTES,
    BadShare,
    CeremonyError,
    CeremonySetup,
    SignedMessage,
    strict_hex,
)
from kiosk.core.verifiable.ceremony_rounds import (
    check_commitments,
    check_reveal,
    check_shares_message,
    committed_share,
    verdict_complaints,
)
from kiosk.core.verifiable.group import (
    ORDER,
    Point,
    base_mul,
    hash_to_scalar,
    point_sum,
    scalar_bytes,
    scalar_from_hex,
)

#: The kinds the transcript holds; ``result`` messages sign the transcript, so stay out of it.
TRANSCRIPT_KINDS = ("commitments", "shares", "verdict", "reveal")


@dataclass(frozen=True, slots=True)
class CeremonyOutcome:
    """The public end of a ceremony. Its mappings are read-only by convention."""

    setup_hash: bytes
    threshold: int
    qualified: tuple[int, ...]
    disqualified: Mapping[int, str]  # trustee → why
    election_key: Point  # K = Σ_{i qualified} K_i0
    commitments: Mapping[int, tuple[Point, ...]]  # the qualified trustees' K_i0..K_i,k−1
    verification_keys: Mapping[int, Point]  # Z_j for every trustee j = 1..n
    complaints: Mapping[tuple[int, int], str]  # (complainer, accused) → reason
    revealed: Mapping[tuple[int, int], int]  # (sender, recipient) → P_sender(recipient), public
    silent: tuple[int, ...]  # trustees who sent no verdict (silence accepts)
    transcript_hash: bytes

    def result_body(self) -> dict[str, Any]:
        """What every trustee signs in their ``result`` message, and the authority publishes.

        Only what any verifier recomputes exactly: the reasons for a disqualification are
        words of this implementation, so they are shown, not signed."""
        return {
            "election_key": self.election_key.hex(),
            "verification_keys": {
                str(j): z.hex() for j, z in sorted(self.verification_keys.items())
            },
            "qualified": list(self.qualified),
            "transcript": self.transcript_hash.hex(),
        }


def evaluate(setup: CeremonySetup, messages: Iterable[SignedMessage]) -> CeremonyOutcome:
    """The outcome of the ceremony these messages make (``result`` messages are skipped).

    Refuses (CeremonyError) a message not signed by its sender for this setup, two different
    messages of one kind from one trustee (naming the equivocating trustee), a malformed
    verdict, and an end with fewer than ``threshold`` qualified trustees.
    """
    chosen = _one_per_kind(setup, messages)
    disqualified: dict[int, str] = {}
    commitments = _commitments(setup, chosen, disqualified)
    _check_shares(setup, chosen, disqualified)
    complaints = _complaints(setup, chosen)
    revealed = _judge_complaints(setup, chosen, complaints, commitments, disqualified)
    qualified = tuple(i for i in setup.indices() if i not in disqualified)
    if len(qualified) < setup.threshold:
        reasons = "; ".join(f"trustee {i}: {why}" for i, why in sorted(disqualified.items()))
        raise CeremonyError(
            f"only {len(qualified)} trustees remain qualified, the threshold is "
            f"{setup.threshold}: the ceremony must start again ({reasons})"
        )
    kept = {i: commitments[i] for i in qualified}
    return CeremonyOutcome(
        setup_hash=setup.base_hash(),
        threshold=setup.threshold,
        qualified=qualified,
        disqualified=dict(sorted(disqualified.items())),
        election_key=point_sum(kept[i][0] for i in qualified),
        commitments=kept,
        verification_keys=_verification_keys(setup, kept),
        complaints=complaints,
        revealed=revealed,
        silent=tuple(i for i in setup.indices() if ("verdict", i) not in chosen),
        transcript_hash=_transcript_hash(setup, chosen),
    )


def _one_per_kind(
    setup: CeremonySetup, messages: Iterable[SignedMessage]
) -> dict[tuple[str, int], SignedMessage]:
    """Every message checked for its signature; one per (kind, sender). Copies of one message
    collapse (the smallest signature stays, so every reader keeps the same one); two different
    messages of one kind from one trustee are equivocation."""
    chosen: dict[tuple[str, int], SignedMessage] = {}
    for message in messages:
        message.verify(setup)
        if message.kind not in TRANSCRIPT_KINDS:
            continue
        key = (message.kind, message.sender)
        earlier = chosen.get(key)
        if earlier is None or (
            earlier.content() == message.content() and message.signature < earlier.signature
        ):
            chosen[key] = message
        elif earlier.content() != message.content():
            raise CeremonyError(
                f"sent two different {message.kind} messages (equivocation)",
                trustee=message.sender,
            )
    return chosen


def _commitments(
    setup: CeremonySetup,
    chosen: Mapping[tuple[str, int], SignedMessage],
    disqualified: dict[int, str],
) -> dict[int, tuple[Point, ...]]:
    commitments: dict[int, tuple[Point, ...]] = {}
    for i in setup.indices():
        message = chosen.get(("commitments", i))
        if message is None:
            disqualified[i] = "sent no commitments"
            continue
        try:
            commitments[i] = tuple(check_commitments(message, setup))
        except CeremonyError as error:
            disqualified[i] = error.reason
    return commitments


def _check_shares(
    setup: CeremonySetup,
    chosen: Mapping[tuple[str, int], SignedMessage],
    disqualified: dict[int, str],
) -> None:
    for i in setup.indices():
        if i in disqualified or setup.size == 1:
            continue
        message = chosen.get(("shares", i))
        if message is None:
            disqualified[i] = "sent no shares"
            continue
        try:
            check_shares_message(message, setup)
        except CeremonyError as error:
            disqualified[i] = error.reason


def _complaints(
    setup: CeremonySetup, chosen: Mapping[tuple[str, int], SignedMessage]
) -> dict[tuple[int, int], str]:
    complaints: dict[tuple[int, int], str] = {}
    for j in setup.indices():
        message = chosen.get(("verdict", j))
        if message is not None:
            for accused, reason in verdict_complaints(message, setup).items():
                complaints[(j, accused)] = reason
    return complaints


def _judge_complaints(
    setup: CeremonySetup,
    chosen: Mapping[tuple[str, int], SignedMessage],
    complaints: Mapping[tuple[int, int], str],
    commitments: Mapping[int, tuple[Point, ...]],
    disqualified: dict[int, str],
) -> dict[tuple[int, int], int]:
    """A complaint against a still-qualified trustee is dismissed when their reveal holds a
    share for the complainer and every share it reveals matches their commitments; otherwise
    the complaint is upheld and the accused is disqualified."""
    revealed: dict[tuple[int, int], int] = {}
    for accused in sorted({a for _, a in complaints}):
        if accused in disqualified:
            continue
        complainers = sorted(j for j, a in complaints if a == accused)
        named = ", ".join(str(j) for j in complainers)
        message = chosen.get(("reveal", accused))
        if message is None:
            disqualified[accused] = f"complaint by trustee {named} upheld: no reveal"
            continue
        try:
            shares = check_reveal(message, setup, commitments[accused])
        except BadShare as error:
            disqualified[accused] = f"complaint by trustee {named} upheld: {error.reason}"
            continue
        missing = [j for j in complainers if j not in shares]
        if missing:
            listed = ", ".join(str(j) for j in missing)
            disqualified[accused] = f"complaint by trustee {listed} upheld: not revealed"
            continue
        revealed.update({(accused, j): share for j, share in shares.items()})
    return revealed


def _verification_keys(
    setup: CeremonySetup, commitments: Mapping[int, tuple[Point, ...]]
) -> dict[int, Point]:
    """Z_j = Σ_{i qualified} Σ_t j^t·K_it, summing over i first: k multiplications per j."""
    joint = [point_sum(c[t] for c in commitments.values()) for t in range(setup.threshold)]
    return {j: committed_share(joint, j) for j in setup.indices()}


def _transcript_hash(
    setup: CeremonySetup, chosen: Mapping[tuple[str, int], SignedMessage]
) -> bytes:
    """H(``ceremony/transcript``; setup hash, each message's canonical {setup, kind, sender,
    body}), the messages ordered by kind (commitments, shares, verdict, reveal) then sender.

    What was said, not how it was signed: Ed25519 gives one signer many valid signatures of
    one message (RFC 8032 verification accepts any nonce), so a hash over signatures would let
    a sender split the board by showing different readers different copies. The signatures
    stay in the collected record as evidence of who said it."""
    ordered = sorted(chosen.items(), key=lambda item: (KINDS.index(item[0][0]), item[0][1]))
    parts = [message.signed_content(setup) for _, message in ordered]
    return scalar_bytes(hash_to_scalar("ceremony/transcript", setup.base_hash(), *parts))


# --- results: each trustee signs what they computed ---------------------------------------


def result_message(
    me: int, outcome: CeremonyOutcome, signing_key: SigningKey, setup: CeremonySetup
) -> SignedMessage:
    """My signature on K, every Z_j, who is qualified, and the transcript hash."""
    if outcome.setup_hash != setup.base_hash():
        raise CeremonyError("this outcome is of another ceremony", trustee=me)
    return SignedMessage.sign("result", me, outcome.result_body(), signing_key, setup)


@dataclass(frozen=True, slots=True)
class SignedResults:
    """Who signed which result: the evidence, never a veto."""

    confirmed: tuple[int, ...]  # every result they signed is the computed one
    dissenting: tuple[int, ...]  # signed at least one other result (kept as evidence)

    def confirmed_by_qualified(self, outcome: CeremonyOutcome) -> tuple[int, ...]:
        return tuple(i for i in self.confirmed if i in outcome.qualified)


def check_results(
    setup: CeremonySetup, outcome: CeremonyOutcome, messages: Iterable[SignedMessage]
) -> SignedResults:
    """Sort the signed ``result`` messages by whether they say what ``outcome`` says.

    A trustee who signed something else is named, not obeyed: the result is the transcript's
    own evaluation, which anyone recomputes, so one hostile (or disqualified) trustee's
    signature on another result must not block it for ever (through the relay their message
    can never be taken back). Whether enough qualified trustees confirmed it is the caller's
    threshold rule. A message not signed by its sender for this setup is refused."""
    body = outcome.result_body()
    agreed: set[int] = set()
    other: set[int] = set()
    for message in messages:
        if message.kind != "result":
            continue
        message.verify(setup)
        (agreed if message.body == body else other).add(message.sender)
    return SignedResults(tuple(sorted(agreed - other)), tuple(sorted(other)))


# --- each trustee's own share of the key --------------------------------------------------


def secret_share(me: int, received: Mapping[int, int], outcome: CeremonyOutcome) -> int:
    """z_me = Σ_{i qualified} P_i(me) (ElectionGuard 2.1 eq. 24), ``received`` holding what I
    opened (and my own P_me(me) under ``me``); a revealed share replaces what I received.
    Checked share by share against the commitments and at the end against Z_me."""
    total = 0
    for sender in outcome.qualified:
        share = outcome.revealed.get((sender, me), received.get(sender))
        if share is None:
            raise CeremonyError(f"trustee {me} holds no share from this trustee", trustee=sender)
        if base_mul(share) != committed_share(outcome.commitments[sender], me):
            raise CeremonyError(
                f"the share trustee {me} received does not match the commitments; "
                "it should have been complained about",
                trustee=sender,
            )
        total = (total + share) % ORDER
    if base_mul(total) != outcome.verification_keys[me]:
        raise CeremonyError("the share of the key does not match its verification key", trustee=me)
    return total


@dataclass(frozen=True, slots=True)
class TrusteeShare:
    """What a trustee keeps on their own medium after the ceremony: z_j, for one ceremony."""

    setup_hash: bytes
    index: int
    secret: int

    def __repr__(self) -> str:  # never print the share, not even in a traceback
        return f"TrusteeShare(trustee={self.index}, setup={self.setup_hash.hex()[:16]}…)"

    def verification_key(self) -> Point:
        return base_mul(self.secret)

    def to_json(self) -> dict[str, Any]:
        return {
            "setup": self.setup_hash.hex(),
            "trustee": self.index,
            "share": scalar_bytes(self.secret).hex(),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @staticmethod
    def from_json(value: object) -> TrusteeShare:
        if isinstance(value, bytes | str):
            value = parse_json(value)
        if not (isinstance(value, dict) and set(value) == {"setup", "trustee", "share"}):
            raise EncodingError("a trustee's share is an object with setup, trustee, share")
        index = value["trustee"]
        if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= MAX_TRUSTEES:
            raise EncodingError("a trustee's share names its trustee by index")
        return TrusteeShare(
            _setup_hash(value["setup"]), index, scalar_from_hex(value["share"], what="share")
        )


def _setup_hash(value: object) -> bytes:
    data = strict_hex(value, "the ceremony of a trustee's share")
    if len(data) != SETUP_HASH_BYTES:
        raise EncodingError("a trustee's share names its ceremony by a 32-byte hash")
    return data
