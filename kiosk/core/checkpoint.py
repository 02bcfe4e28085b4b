"""The log's signed tree heads: C2SP tlog-checkpoint texts, signed and verified as C2SP signed
notes with Ed25519, so standard transparency-log witnesses and verifiers can read them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from kiosk.core.crypto import ED25519_SIGNATURE_BYTES, SigningKey, is_valid_ed25519_point
from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.merkle import HASH_SIZE, MAX_TREE_SIZE

ED25519_SIGNATURE_TYPE = b"\x01"  # the signed-note signature type byte for Ed25519
SIGNATURE_PREFIX = "\u2014 "  # em dash, space: how every signature line starts
# Limits against hostile notes. The signed-note spec asks verifiers to take at least 16
# signatures of up to ~5 kB (post-quantum); we take 100 lines and 128 KiB in all.
MAX_NOTE_BYTES = 128 * 1024
MAX_SIGNATURES = 100
MAX_CHECKPOINT_LINES = 64

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # every ASCII control character but newline
_KEY_ID_HEX = re.compile("[0-9a-f]{8}")
_DIGITS = re.compile("[0-9]+")


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A known Ed25519 note key: its name and public key. ``vkey`` is its published form."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.public_key) != 32 or not is_valid_ed25519_point(self.public_key):
            raise EncodingError(f"note key {self.name!r} is not an Ed25519 public key")

    @property
    def key_id(self) -> int:
        return note_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """``<name>+<hex key id>+<base64(0x01 || public key)>``, as Go's sumdb/note prints it."""
        material = base64.b64encode(ED25519_SIGNATURE_TYPE + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{material}"

    @property
    def reference(self) -> str:
        """``<name>+<hex key id>``: enough to tell which key a message means."""
        return f"{self.name}+{self.key_id:08x}"

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Read a published verifier key, checking its key id against its name and key."""
        parts = vkey.split("+", 2)  # the base64 material may itself contain '+'
        if len(parts) != 3:
            raise EncodingError("a verifier key is <name>+<key id>+<key>")
        name, id_hex, material = parts
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise EncodingError(f"verifier key id {id_hex!r} is not 8 lowercase hex digits")
        try:
            raw = _b64decode(material, "verifier key")
        except VerificationError as e:
            raise EncodingError(str(e)) from e
        if len(raw) != 33 or raw[:1] != ED25519_SIGNATURE_TYPE:
            raise EncodingError("verifier key is not an Ed25519 note key (type 0x01, 32 bytes)")
        verifier = cls(name, raw[1:])
        if verifier.key_id != int(id_hex, 16):
            raise EncodingError(
                f"verifier key id {id_hex} does not match its name and key "
                f"(computed {verifier.key_id:08x})"
            )
        return verifier


NoteKey = str | tuple[str, bytes] | NoteVerifier


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One tree head of the log: which log, how many leaves, and their root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, line in [("origin", self.origin), *(("extension", e) for e in self.extensions)]:
            if not line or "\n" in line or _CONTROL.search(line):
                raise EncodingError(f"checkpoint {what} must be one non-empty line: {line!r}")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise EncodingError(f"checkpoint tree size {self.size!r} is not a uint64")
        if len(self.root) != HASH_SIZE:
            raise EncodingError(f"checkpoint root hash is 32 bytes, not {len(self.root)}")

    def body(self) -> str:
        """The note text: origin, size, base64 root and extensions, each ending in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def note_key_id(name: str, public_key: bytes) -> int:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def sign_note(text: str, key_name: str, signing_key: SigningKey) -> str:
    """``text`` followed by a blank line and the Ed25519 signature line of ``key_name``.

    The signature covers exactly the UTF-8 text, as the signed-note spec defines: no Hanpyo
    domain prefix, so that any signed-note verifier accepts it.
    """
    _check_key_name(key_name)
    if not text.endswith("\n") or _CONTROL.search(text):
        raise EncodingError("a note text ends in a newline and has no other control characters")
    signer = nacl.signing.SigningKey(signing_key.seed)
    key_id = note_key_id(key_name, bytes(signer.verify_key))
    signature = signer.sign(text.encode()).signature
    blob = base64.b64encode(key_id.to_bytes(4, "big") + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {blob}\n"


def open_note(note: str | bytes, key: NoteKey) -> str:
    """The text of ``note`` once ``key``'s signature on it verifies.

    Signatures by other keys are ignored, as the spec requires; a signature that claims to be
    ``key``'s (same name and key id) but does not verify rejects the whole note.
    """
    verifier = _as_verifier(key)
    text, signatures = _split_note(note)
    mine = [s for s in signatures if s[0] == verifier.name and s[1] == verifier.key_id]
    if not mine:
        found = ", ".join(f"{name}+{key_id:08x}" for name, key_id, _ in signatures)
        raise VerificationError(
            "note is not signed by the expected key", expected=verifier.reference, found=found
        )
    for _, _, signature in mine:
        _verify_ed25519(verifier, text, signature)
    return text


def sign_checkpoint(
    origin: str,
    size: int,
    root: bytes,
    key_name: str,
    signing_key: SigningKey,
    extensions: tuple[str, ...] = (),
) -> str:
    """The signed checkpoint note for the tree of ``size`` leaves with ``root``."""
    return sign_note(Checkpoint(origin, size, root, extensions).body(), key_name, signing_key)


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint's note text (not a whole signed note: use ``verify_checkpoint``)."""
    if len(text) > MAX_NOTE_BYTES:
        raise VerificationError(
            "checkpoint is too long", expected=f"at most {MAX_NOTE_BYTES}", found=str(len(text))
        )
    if not text.endswith("\n"):
        raise VerificationError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if "" in lines:
        raise VerificationError(
            "checkpoint text has an empty line (is this a whole signed note? use verify_checkpoint)"
        )
    if not 3 <= len(lines) <= MAX_CHECKPOINT_LINES:
        raise VerificationError(
            "checkpoint has the wrong number of lines",
            expected=f"origin, size, root and at most {MAX_CHECKPOINT_LINES - 3} extensions",
            found=f"{len(lines)} lines",
        )
    origin, size_line, root_line, *extensions = lines
    size = _parse_tree_size(size_line)
    root = _b64decode(root_line, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise VerificationError(
            "checkpoint root is not a SHA-256 hash", expected="32 bytes", found=f"{len(root)} bytes"
        )
    try:
        return Checkpoint(origin, size, root, tuple(extensions))
    except EncodingError as e:
        raise VerificationError(e.detail) from e


def verify_checkpoint(
    note: str | bytes, key: NoteKey, expected_origin: str | None = None
) -> Checkpoint:
    """The checkpoint in ``note`` once ``key``'s signature verifies (and, if given, it names
    ``expected_origin``); ``VerificationError`` otherwise."""
    checkpoint = parse_checkpoint(open_note(note, key))
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise VerificationError(
            "checkpoint is for another log", expected=expected_origin, found=checkpoint.origin
        )
    return checkpoint


def _as_verifier(key: NoteKey) -> NoteVerifier:
    if isinstance(key, NoteVerifier):
        return key
    if isinstance(key, str):
        return NoteVerifier.parse(key)
    return NoteVerifier(*key)


def _check_key_name(name: str) -> None:
    # Names end at the first space of a signature line and at the first '+' of a vkey.
    if not name or "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise EncodingError(f"note key name {name!r} is empty or has a space or '+'")
    # Key ids hash the name's UTF-8; a name read from argv with undecodable bytes holds lone
    # surrogates, which have none.
    if not name.isascii():
        try:
            name.encode()
        except UnicodeEncodeError:
            raise EncodingError(f"note key name {name!r} is not valid UTF-8") from None


def _split_note(note: str | bytes) -> tuple[str, list[tuple[str, int, bytes]]]:
    """The text and the (key name, key id, signature) of each signature line of ``note``."""
    text = _decode_note(note)
    split = text.rfind("\n\n")  # the last empty line separates text from signatures
    if split < 0:
        raise VerificationError("note has no empty line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise VerificationError("note has no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(
            "note has too many signatures",
            expected=f"at most {MAX_SIGNATURES}",
            found=str(len(lines)),
        )
    return body, [_parse_signature_line(line) for line in lines]


def _decode_note(note: str | bytes) -> str:
    if len(note) > MAX_NOTE_BYTES:  # before encoding: a str has at most as many chars as bytes
        raise _too_long(len(note))
    try:
        raw = note if isinstance(note, bytes) else note.encode()
        text = raw.decode()
    except UnicodeError as e:
        raise VerificationError("note is not valid UTF-8") from e
    if len(raw) > MAX_NOTE_BYTES:
        raise _too_long(len(raw))
    if _CONTROL.search(text):
        raise VerificationError("note has a control character other than newline")
    if not text.endswith("\n"):
        raise VerificationError("note must end with a newline")
    return text


def _too_long(length: int) -> VerificationError:
    return VerificationError(
        "note is too long", expected=f"at most {MAX_NOTE_BYTES} bytes", found=f"{length} or more"
    )


def _parse_signature_line(line: str) -> tuple[str, int, bytes]:
    if not line.startswith(SIGNATURE_PREFIX):
        raise VerificationError(f"note signature line does not start with an em dash: {line!r}")
    name, _, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        _check_key_name(name)
    except EncodingError as e:
        raise VerificationError(e.detail) from e
    raw = _b64decode(blob, f"signature by {name}")
    if len(raw) < 5:
        raise VerificationError(f"signature by {name} is too short to hold a key id")
    return name, int.from_bytes(raw[:4], "big"), raw[4:]


def _verify_ed25519(verifier: NoteVerifier, text: str, signature: bytes) -> None:
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise VerificationError(
            f"signature by {verifier.reference} has the wrong length",
            expected=f"{ED25519_SIGNATURE_BYTES} bytes",
            found=f"{len(signature)} bytes",
        )
    try:
        nacl.signing.VerifyKey(verifier.public_key).verify(text.encode(), signature)
    except (nacl.exceptions.CryptoError, ValueError) as e:
        raise VerificationError(f"signature by {verifier.reference} does not verify") from e


def _parse_tree_size(line: str) -> int:
    if not _DIGITS.fullmatch(line):
        raise VerificationError(
            "checkpoint tree size is not a decimal number", expected="ASCII digits", found=line
        )
    if len(line) > 1 and line.startswith("0"):
        raise VerificationError(
            "checkpoint tree size has leading zeros", expected="no leading zeros", found=line
        )
    if len(line) > 20 or int(line) > MAX_TREE_SIZE:  # 20 digits: no huge int from hostile text
        raise VerificationError(
            "checkpoint tree size does not fit in 64 bits", expected="at most 2^64 - 1", found=line
        )
    return int(line)


def _b64decode(text: str, what: str) -> bytes:
    """Standard padded base64, refusing anything but the one canonical spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerificationError(f"{what} is not valid base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64")
    return raw
