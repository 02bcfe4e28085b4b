"""The trustees' key ceremony on paper: who takes part (the setup), the signed envelope every
message travels in, and the errors that name the trustee at fault.

The setup plays the role of ElectionGuard 2.1's parameter base hash (§3.1.2) for the
ceremony: every proof and every signature of the ceremony binds its hash, so nothing made
for one ceremony (another election, another list of trustees, another threshold) is accepted
in another.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from kiosk.core.crypto import (
    ED25519_PUBLIC_BYTES,
    X25519_PUBLIC_BYTES,
    Domain,
    SigningKey,
    is_usable_x25519_key,
    is_valid_ed25519_point,
    verify_signature,
)
from kiosk.core.encoding import canonical_json, parse_json
from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.verifiable.group import hash_to_scalar, scalar_bytes

#: The kinds of message, in the order the ceremony sends them (and the transcript lists them).
KINDS = ("commitments", "shares", "verdict", "reveal", "result")
#: More trustees than any board has; it keeps indices in 4-byte encodings and messages small.
MAX_TRUSTEES = 255
SETUP_HASH_BYTES = 32


class CeremonyError(VerificationError):
    """The ceremony cannot go on as asked; ``trustee`` names the trustee at fault, if one is."""

    user_message = (
        "키 생성 절차를 계속할 수 없습니다. 화면의 설명을 선거 관리자에게 알려 주세요.",
        "The key ceremony cannot go on. Please show the message to the election manager.",
    )

    def __init__(self, detail: str, *, trustee: int | None = None) -> None:
        super().__init__(detail if trustee is None else f"trustee {trustee}: {detail}")
        self.trustee = trustee
        self.reason = detail  # without the trustee's name in front


class BadShare(CeremonyError):
    """The share ``sender`` sent (or revealed) to a trustee fails its check: a complaint."""

    def __init__(self, sender: int, detail: str) -> None:
        super().__init__(detail, trustee=sender)
        self.sender = sender


@dataclass(frozen=True, slots=True)
class TrusteeIdentity:
    """A trustee's ceremony identity: the public halves of the keys on their own medium."""

    index: int  # 1..n: the point x = index their share of the key is evaluated at
    name: str
    signing_key: bytes  # Ed25519 public key: signs every message this trustee sends
    box_key: bytes  # X25519 public key: the shares sent to this trustee are sealed to it

    def __post_init__(self) -> None:
        if not isinstance(self.index, int) or not 1 <= self.index <= MAX_TRUSTEES:
            raise EncodingError(f"a trustee's index is 1..{MAX_TRUSTEES}, found {self.index!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise EncodingError(f"trustee {self.index} has no name")
        if has_control_characters(self.name):
            raise EncodingError(f"trustee {self.index}'s name holds control characters")
        if len(self.signing_key) != ED25519_PUBLIC_BYTES or not is_valid_ed25519_point(
            self.signing_key
        ):
            raise EncodingError(f"trustee {self.index}: the signing key is not an Ed25519 key")
        if len(self.box_key) != X25519_PUBLIC_BYTES or not is_usable_x25519_key(self.box_key):
            # a point of small order: no share could be sealed to it (or anyone could open it)
            raise EncodingError(f"trustee {self.index}: the box key is not a usable X25519 key")

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "signing_key": self.signing_key.hex(),
            "box_key": self.box_key.hex(),
        }

    @staticmethod
    def from_json(value: object) -> TrusteeIdentity:
        if not (
            isinstance(value, dict) and set(value) == {"index", "name", "signing_key", "box_key"}
        ):
            raise EncodingError("a trustee is an object with index, name, signing_key, box_key")
        index = value["index"]
        if not isinstance(index, int) or isinstance(index, bool):
            raise EncodingError("a trustee's index is an integer")
        return TrusteeIdentity(
            index,
            _text(value["name"], "name"),
            strict_hex(value["signing_key"], "signing key"),
            strict_hex(value["box_key"], "box key"),
        )


@dataclass(frozen=True, slots=True)
class CeremonySetup:
    """Who holds the key and how many of them decrypt: fixed before round 1, hashed into all."""

    election_id: str
    threshold: int  # k: any k trustees decrypt, k − 1 learn nothing
    trustees: tuple[TrusteeIdentity, ...]  # sorted by index, indices exactly 1..n

    def __post_init__(self) -> None:
        n = len(self.trustees)
        if not isinstance(self.election_id, str) or not self.election_id:
            raise EncodingError("the ceremony names no election")
        if has_control_characters(self.election_id):
            raise EncodingError("the election id holds control characters")
        if n == 0:
            raise EncodingError("a ceremony has at least one trustee")
        if [t.index for t in self.trustees] != list(range(1, n + 1)):
            raise EncodingError("trustees are numbered 1..n, each once, in order")
        if not isinstance(self.threshold, int) or not 1 <= self.threshold <= n:
            raise EncodingError(f"the threshold must be between 1 and {n}, found {self.threshold}")
        if self.threshold < 2 and n > 1:
            # one trustee of several could decrypt alone: that is a dealer by another name
            raise EncodingError("with several trustees the threshold is at least 2")
        for attribute in ("signing_key", "box_key"):
            if len({getattr(t, attribute) for t in self.trustees}) != n:
                raise EncodingError(f"two trustees share the same {attribute.replace('_', ' ')}")

    @property
    def size(self) -> int:
        return len(self.trustees)

    def indices(self) -> range:
        return range(1, self.size + 1)

    def trustee(self, index: int) -> TrusteeIdentity:
        if not isinstance(index, int) or not 1 <= index <= self.size:
            raise CeremonyError(f"there is no trustee {index!r} in this ceremony")
        return self.trustees[index - 1]

    def to_json(self) -> dict[str, Any]:
        return {
            "election_id": self.election_id,
            "threshold": self.threshold,
            "trustees": [t.to_json() for t in self.trustees],
        }

    @staticmethod
    def from_json(value: object) -> CeremonySetup:
        if isinstance(value, bytes | str):
            value = parse_json(value)
        if not (isinstance(value, dict) and set(value) == {"election_id", "threshold", "trustees"}):
            raise EncodingError(
                "a ceremony setup is an object with election_id, threshold, trustees"
            )
        threshold, trustees = value["threshold"], value["trustees"]
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            raise EncodingError("the threshold is an integer")
        if not isinstance(trustees, list):
            raise EncodingError("the trustees are a list")
        return CeremonySetup(
            _text(value["election_id"], "election_id"),
            threshold,
            tuple(TrusteeIdentity.from_json(t) for t in trustees),
        )

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def base_hash(self) -> bytes:
        """H(``ceremony/setup``; canonical JSON of the setup), 32 bytes: what every proof's
        challenge and every signature of the ceremony binds."""
        return scalar_bytes(hash_to_scalar("ceremony/setup", canonical_json(self.to_json())))


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """One trustee's message of one kind, signed by their identity over the setup it is for."""

    kind: str
    sender: int
    body: dict[str, Any]
    signature: bytes

    @staticmethod
    def sign(
        kind: str, sender: int, body: dict[str, Any], signing_key: SigningKey, setup: CeremonySetup
    ) -> SignedMessage:
        if kind not in KINDS:
            raise CeremonyError(f"no message of kind {kind!r} in a ceremony")
        if signing_key.public_key != setup.trustee(sender).signing_key:
            raise CeremonyError("this signing key is not the trustee's identity", trustee=sender)
        return SignedMessage(
            kind,
            sender,
            body,
            signing_key.sign(Domain.CEREMONY, _signed(kind, sender, body, setup)),
        )

    def verify(self, setup: CeremonySetup) -> None:
        """Raises CeremonyError naming the sender unless their identity signed this message
        for this setup."""
        if self.kind not in KINDS:
            raise CeremonyError(f"a message of unknown kind {self.kind!r}", trustee=self.sender)
        identity = setup.trustee(self.sender)
        try:
            verify_signature(
                Domain.CEREMONY,
                identity.signing_key,
                _signed(self.kind, self.sender, self.body, setup),
                self.signature,
            )
        except (VerificationError, EncodingError) as error:
            raise CeremonyError(
                f"the {self.kind} message is not signed by this trustee for this ceremony",
                trustee=self.sender,
            ) from error

    def content(self) -> bytes:
        """The canonical bytes of what was signed, without the signature: equal for two copies
        of one message, different for two messages (equivocation)."""
        return canonical_json({"kind": self.kind, "sender": self.sender, "body": self.body})

    def signed_content(self, setup: CeremonySetup) -> bytes:
        """Canonical JSON of {setup, kind, sender, body}: what the signature covers, without
        it (the transcript hashes this, ceremony.md §3)."""
        return _signed(self.kind, self.sender, self.body, setup)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sender": self.sender,
            "body": self.body,
            "signature": self.signature.hex(),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @staticmethod
    def from_json(value: object) -> SignedMessage:
        if isinstance(value, bytes | str):
            value = parse_json(value)
        if not (isinstance(value, dict) and set(value) == {"kind", "sender", "body", "signature"}):
            raise EncodingError(
                "a ceremony message is an object with kind, sender, body, signature"
            )
        kind, sender, body = value["kind"], value["sender"], value["body"]
        if kind not in KINDS:
            raise EncodingError(f"no message of kind {kind!r} in a ceremony")
        if not isinstance(sender, int) or isinstance(sender, bool):
            raise EncodingError("a message's sender is a trustee's index")
        if not isinstance(body, dict):
            raise EncodingError("a message's body is an object")
        return SignedMessage(kind, sender, body, strict_hex(value["signature"], "signature"))


def _signed(kind: str, sender: int, body: dict[str, Any], setup: CeremonySetup) -> bytes:
    """What the sender's Ed25519 key signs (after the domain ``hanpyo/ceremony/v2\\n``)."""
    return canonical_json(
        {"setup": setup.base_hash().hex(), "kind": kind, "sender": sender, "body": body}
    )


#: Unicode categories a terminal acts on instead of showing: controls (escape sequences,
#: carriage return, newline), format characters (bidirectional overrides reorder what is
#: shown) and the line and paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character that would act on a trustee's screen rather than
    show: names, the election id and complaint reasons are printed on other trustees'
    screens, next to the election key they read aloud to each other, so one hostile trustee
    could otherwise rewrite those lines."""
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise EncodingError(f"{what} is text")
    return value


def strict_hex(value: object, what: str = "value") -> bytes:
    """Bytes written as lowercase hexadecimal, the one spelling the protocol writes (so a
    message has one encoding); anything else refused."""
    if isinstance(value, str):
        try:
            data = bytes.fromhex(value)
        except ValueError:
            data = None
        if data is not None and data.hex() == value:
            return data
    raise EncodingError(f"{what}: not lowercase hexadecimal")
