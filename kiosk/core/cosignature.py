"""Witness cosignatures on checkpoints: C2SP tlog-cosignature's Ed25519 type
(c2sp.org/tlog-cosignature, "Format" and "Ed25519 signed message"; signature type 0x04 of
c2sp.org/signed-note), made by witnesses and counted against a k-of-n policy by everyone who
trusts a checkpoint (kiosks, ``ledger verify-proof``, the bundle verifier)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from kiosk.core.checkpoint import (
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteKey,
    _b64decode,
    _check_key_name,
    _split_note,
    verify_checkpoint,
)
from kiosk.core.crypto import SigningKey, is_valid_ed25519_point
from kiosk.core.errors import EncodingError, VerificationError

COSIGNATURE_TYPE = b"\x04"  # signed-note "Signature types": timestamped Ed25519 cosignatures
HEADER = "cosignature/v1\n"  # "Ed25519 signed message": the domain-separating header line
MAX_TIMESTAMP = 2**63 - 1  # "timestamp ... MUST NOT exceed 2^63 - 1"


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A witness's cosigning key: its name and Ed25519 public key (key type 0x04)."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.public_key) != 32 or not is_valid_ed25519_point(self.public_key):
            raise EncodingError(f"cosigner key {self.name!r} is not an Ed25519 public key")

    @property
    def key_id(self) -> int:
        """SHA-256(<name> || "\\n" || 0x04 || public key)[:4] ("Format")."""
        digest = hashlib.sha256(
            self.name.encode() + b"\n" + COSIGNATURE_TYPE + self.public_key
        ).digest()
        return int.from_bytes(digest[:4], "big")

    @property
    def vkey(self) -> str:
        """``<name>+<key id>+base64(0x04 || key)``: a signed-note vkey of type 0x04."""
        material = base64.b64encode(COSIGNATURE_TYPE + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> CosignerKey:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise EncodingError("a witness key is <name>+<key id>+<key>")
        name, id_hex, material = parts
        try:
            raw = _b64decode(material, "witness key")
        except VerificationError as e:
            raise EncodingError(str(e)) from e
        if len(raw) != 33 or raw[:1] != COSIGNATURE_TYPE:
            raise EncodingError("a witness key is a cosignature/v1 key (type 0x04, 32 bytes)")
        key = cls(name, raw[1:])
        if f"{key.key_id:08x}" != id_hex:
            raise EncodingError(f"witness key id {id_hex!r} does not match its name and key")
        return key


class TooFewCosignatures(VerificationError):
    """A checkpoint the log signed that too few of the policy's witnesses cosigned (yet): the
    witnesses may be down or behind, which is no evidence against the log. ``found`` names
    the witnesses whose cosignatures verified."""

    def __init__(self, threshold: int, keys: Sequence[CosignerKey], valid: list[Cosignature]):
        named = ", ".join(k.name for k in keys) or "no witness"
        signed = ", ".join(c.witness for c in valid) or "none"
        super().__init__(
            "the checkpoint has too few witness cosignatures",
            expected=f"{threshold} of {named}",
            found=signed,
        )
        self.threshold = threshold
        self.signed = tuple(c.witness for c in valid)


@dataclass(frozen=True, slots=True)
class Cosignature:
    witness: str
    timestamp: int


def cosigned_message(note_text: str, timestamp: int) -> bytes:
    """``cosignature/v1``, ``time <timestamp>``, then the whole checkpoint note text
    ("Ed25519 signed message")."""
    if not 0 < timestamp <= MAX_TIMESTAMP:
        raise EncodingError(f"a cosignature timestamp is 1 to 2^63 - 1, not {timestamp}")
    return f"{HEADER}time {timestamp}\n{note_text}".encode()


def cosign(note_text: str, name: str, key: SigningKey, timestamp: int) -> str:
    """The witness's signature line over ``note_text`` (the checkpoint body, no signatures):
    ``— <name> base64(key id || u64 timestamp || Ed25519 signature)``."""
    cosigner = CosignerKey(name, key.public_key)
    signature = nacl.signing.SigningKey(key.seed).sign(cosigned_message(note_text, timestamp))
    blob = cosigner.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature.signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode('ascii')}\n"


def is_line_of(line: str, name: str, key_id: int) -> bool:
    """Whether a note signature line names this key (name and key id), signed or not."""
    if not line.startswith(SIGNATURE_PREFIX):
        return False
    found, _, blob = line[len(SIGNATURE_PREFIX) :].rstrip("\n").partition(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return False
    return found == name and raw[:4] == key_id.to_bytes(4, "big")


def cosignatures(note: str | bytes, witnesses: Sequence[CosignerKey]) -> list[Cosignature]:
    """The valid cosignatures on ``note`` by ``witnesses``. Lines by other keys are ignored;
    a line that names a known witness (name and key id) but does not verify rejects the whole
    note, as signed-note's "Signatures" section says clients should."""
    text, lines = _split_note(note)
    known = {(w.name, w.key_id): w for w in witnesses}
    found: dict[str, Cosignature] = {}
    for name, key_id, blob in lines:
        witness = known.get((name, key_id))
        if witness is None:
            continue
        timestamp = _verify_line(witness, text, blob)
        found[witness.name] = Cosignature(witness.name, timestamp)
    return list(found.values())


def verify_cosigned(
    note: str | bytes,
    log_key: NoteKey,
    witness_keys: Sequence[str | CosignerKey],
    threshold: int,
) -> Checkpoint:
    """The checkpoint of ``note`` once the log's signature verifies and at least ``threshold``
    distinct witnesses of ``witness_keys`` cosigned it; ``VerificationError`` otherwise."""
    checkpoint = verify_checkpoint(note, log_key)
    keys = [k if isinstance(k, CosignerKey) else CosignerKey.parse(k) for k in witness_keys]
    if not 0 <= threshold <= len({(k.name, k.public_key) for k in keys}):
        raise VerificationError(
            "the witness policy asks for more cosignatures than it names witnesses",
            expected=f"at most {len(keys)}",
            found=str(threshold),
        )
    valid = cosignatures(note, keys)
    if len(valid) < threshold:
        raise TooFewCosignatures(threshold, keys, valid)
    return checkpoint


def _verify_line(witness: CosignerKey, text: str, blob: bytes) -> int:
    if len(blob) != 8 + 64:
        raise VerificationError(
            f"cosignature by {witness.name} has the wrong length",
            expected="72 bytes (timestamp and Ed25519 signature)",
            found=f"{len(blob)} bytes",
        )
    timestamp = int.from_bytes(blob[:8], "big")
    if not 0 < timestamp <= MAX_TIMESTAMP:
        raise VerificationError(f"cosignature by {witness.name} has no valid timestamp")
    try:
        nacl.signing.VerifyKey(witness.public_key).verify(
            cosigned_message(text, timestamp), blob[8:]
        )
    except (nacl.exceptions.CryptoError, ValueError) as e:
        raise VerificationError(f"cosignature by {witness.name} does not verify") from e
    return timestamp
