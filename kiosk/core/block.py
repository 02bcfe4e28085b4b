"""Blocks: one signed record per kiosk event, linked by hash into that kiosk's chain."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.core.crypto import Domain, SigningKey, sha256, verify_signature
from kiosk.core.election import ElectionId
from kiosk.core.encoding import (
    b64d,
    b64e,
    canonical_json,
    crockford32,
    crockford32_decode,
    group4,
    parse_json,
)
from kiosk.core.errors import BlockError, EncodingError, VerificationError
from kiosk.core.jsonreader import Reader

BLOCK_VERSION = 1
ZERO_HASH = bytes(32)
MAX_SEALED_BYTES = 64 * 1024
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer RFC 8785 canonical JSON can carry
_TIME = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z\Z")
_KIOSK_ID = re.compile(r"\A[0-9a-f]{32}\Z")


class BlockKind(enum.StrEnum):
    GENESIS = "genesis"
    MODE = "mode"
    SESSION_OPEN = "session_open"
    SESSION_PAUSE = "session_pause"
    SESSION_RESUME = "session_resume"
    SESSION_CLOSE = "session_close"
    BALLOT = "ballot"
    TEST_BALLOT = "test_ballot"


class Mode(enum.StrEnum):
    """A kiosk's mode. A mode block records TEST or OFFICIAL; UNSET is a chain before any."""

    UNSET = "unset"
    TEST = "test"
    OFFICIAL = "official"


def _recorded_mode(value: str) -> Mode:
    mode = Mode(value)
    if mode is Mode.UNSET:
        raise ValueError(value)  # a mode block sets a mode; it never unsets one
    return mode


def block_time(moment: datetime | None = None) -> str:
    """A block timestamp: UTC, to the minute, so a block does not time a voter to the second."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True, slots=True)
class Block:
    election: ElectionId
    kiosk: str
    height: int
    prev: bytes
    time: str
    kind: BlockKind
    body: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": BLOCK_VERSION,
            "election": self.election,
            "kiosk": self.kiosk,
            "height": self.height,
            "prev": b64e(self.prev),
            "time": self.time,
            "kind": self.kind.value,
            "body": dict(self.body),
        }

    def hash(self) -> bytes:
        """SHA-256 of the canonical block without its signature."""
        return sha256(canonical_json(self.to_json()))


@dataclass(frozen=True, slots=True)
class SignedBlock:
    block: Block
    hash: bytes
    sig: bytes

    def to_json(self) -> dict[str, Any]:
        return self.block.to_json() | {"sig": b64e(self.sig)}

    def encode(self) -> bytes:
        """The signed block as canonical JSON: how it is stored, exported and uploaded."""
        return canonical_json(self.to_json())

    @property
    def tracking_code(self) -> str:
        return tracking_code(self.hash)


def sign_block(block: Block, key: SigningKey) -> SignedBlock:
    digest = block.hash()
    return SignedBlock(block, digest, key.sign(Domain.BLOCK, digest))


def tracking_code(block_hash: bytes) -> str:
    """First 10 bytes of the block hash in Crockford base32, in groups of four.

    It identifies the block in the public log and says nothing about the choices.
    """
    return group4(crockford32(block_hash[:10]))


def normalise_tracking_code(text: str) -> str:
    """A tracking code as a person typed it (any case, O for 0, hyphens or not), in the
    printed form; ``EncodingError`` if it cannot be one."""
    raw = crockford32_decode(text)
    if len(raw) < 10:
        raise EncodingError(f"{text!r} is too short for a tracking code")
    return tracking_code(raw[:10])


def read_signed_block(document: Any) -> SignedBlock:
    """Parse one signed block from JSON, checking its shape and its body's schema."""
    r = Reader(document, "block", BlockError)
    if r.integer("v") != BLOCK_VERSION:
        r.fail("unsupported block version", "v")
    kiosk = r.text("kiosk", max_len=32)
    if not _KIOSK_ID.match(kiosk):
        r.fail("must be 32 lower-case hex digits", "kiosk")
    time = r.text("time", max_len=17)
    if not _TIME.match(time):
        r.fail("must be a UTC time to the minute, like 2026-11-22T10:15Z", "time")
    try:
        datetime.strptime(time, "%Y-%m-%dT%H:%MZ")
    except ValueError:
        r.fail(f"{time!r} is not a real date and time", "time")
    kind = r.enum("kind", BlockKind)
    body = r.raw("body")
    block = Block(
        ElectionId(r.ident("election")),
        kiosk,
        r.integer("height", lo=0, hi=MAX_SAFE_INTEGER),
        r.binary("prev", length=32),
        time,
        kind,
        body,
    )
    sig = r.binary("sig", length=64)
    r.done()
    check_body(kind, body)
    return SignedBlock(block, block.hash(), sig)


def decode_signed_block(raw: bytes) -> SignedBlock:
    try:
        return read_signed_block(parse_json(raw))
    except EncodingError as e:
        raise BlockError(f"block is not valid JSON: {e}") from e


def check_body(kind: BlockKind, body: Any) -> None:
    """Raise ``BlockError`` unless ``body`` has exactly the fields its kind requires."""
    r = Reader(body, f"{kind.value}.body", BlockError)
    match kind:
        case BlockKind.GENESIS:
            r.binary("kiosk_key", length=32)
            r.binary("package", length=32)
        case BlockKind.MODE:
            r.enum("mode", _recorded_mode)
        case BlockKind.SESSION_OPEN | BlockKind.SESSION_PAUSE | BlockKind.SESSION_RESUME:
            r.integer("session", lo=1, hi=10**6)
        case BlockKind.SESSION_CLOSE:
            r.integer("session", lo=1, hi=10**6)
            r.integer("ballots", lo=0, hi=MAX_SAFE_INTEGER)
            r.integer("test_ballots", lo=0, hi=MAX_SAFE_INTEGER)
            r.text("checkpoint", optional=True, max_len=4096)
        case BlockKind.BALLOT | BlockKind.TEST_BALLOT:
            r.binary("nullifier", length=32)
            sealed = r.binary("sealed")
            if not 48 < len(sealed) <= MAX_SEALED_BYTES:
                r.fail(f"a sealed ballot is 49..{MAX_SEALED_BYTES} bytes", "sealed")
    r.done()


def verify_block(signed: SignedBlock, kiosk_key: bytes) -> None:
    """Check that ``signed`` is well formed, hashes as claimed and is signed by ``kiosk_key``."""
    check_body(signed.block.kind, signed.block.body)
    computed = signed.block.hash()
    if computed != signed.hash:
        raise VerificationError(
            "block hash does not match its content",
            expected=b64e(computed),
            found=b64e(signed.hash),
        )
    verify_signature(Domain.BLOCK, kiosk_key, computed, signed.sig)


def body_bytes(body: Mapping[str, Any], key: str) -> bytes:
    """A binary body field, already schema-checked by ``check_body``."""
    return b64d(body[key], name=key)
