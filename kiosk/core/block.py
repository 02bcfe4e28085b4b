"""Blocks: one signed record per kiosk event, linked by hash into that kiosk's chain."""

from __future__ import annotations

import enum
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.core.ballot import read_ballot
from kiosk.core.crypto import Domain, SigningKey, is_valid_ed25519_point, sha256, verify_signature
from kiosk.core.election import ElectionId
from kiosk.core.encoding import (
    b64d,
    b64e,
    canonical_json,
    canonical_json_of_part,
    crockford32,
    crockford32_decode,
    group4,
    parse_json,
    plain_canonical_json,
)
from kiosk.core.encrypted_ballot import BallotShape, document_hash, read_ballot_shape
from kiosk.core.errors import BallotError, BlockError, EncodingError, VerificationError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.group import GroupError, scalar_from_hex

BLOCK_VERSION = 1
ZERO_HASH = bytes(32)
# A v2 ballot of the reference event's largest shape (12 proposals scored, and again on 3
# criteria, 12 to choose from, one yes/no: 63 cells) is 23,677 bytes of canonical JSON; four
# times that is allowed, anything larger is refused before it is parsed.
MAX_V2_BALLOT_BYTES = 96 * 1024
MAX_PLAINTEXT_BYTES = 16 * 1024  # a spoiled ballot's plaintext: 710 bytes for the same ballot
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer RFC 8785 canonical JSON can carry
_TIME = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z\Z")
_KIOSK_ID = re.compile(r"\A[0-9a-f]{32}\Z")
_VOTER_ID = re.compile(r"\A[0-9a-f]{32}\Z")  # 16 bytes, one spelling (lowercase hex)


class BlockKind(enum.StrEnum):
    GENESIS = "genesis"
    MODE = "mode"
    SESSION_OPEN = "session_open"
    SESSION_PAUSE = "session_pause"
    SESSION_RESUME = "session_resume"
    SESSION_CLOSE = "session_close"
    BALLOT = "ballot"
    TEST_BALLOT = "test_ballot"
    SPOILED = "spoiled"  # protocol v2: a ballot the voter checked, opened; it never counts


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
    return _read_signed(document, None).signed


@dataclass(frozen=True, slots=True)
class DecodedBlock:
    """A block as ingest reads it, once: the signed block (its body checked, its hash computed
    from its content), the bytes the ledger stores, and the ballot its body holds, read (a
    ``CastBallot`` for a ballot or test ballot, the ``BallotShape`` of a spoiled one)."""

    signed: SignedBlock
    raw: bytes
    ballot: CastBallot | BallotShape | None


# Whether a card key is one the election's rolls enrol (the package reader checked each such
# key is a valid Ed25519 point, so a ballot's key found there need not be checked again).
EnrolledKey = Callable[[bytes], bool]


def decode_block(raw: bytes, enrolled: EnrolledKey | None = None) -> DecodedBlock:
    """``decode_signed_block(raw)``, keeping what was read on the way. ``enrolled``: see
    ``decode_uploaded_block``."""
    try:
        document = parse_json(raw)
    except EncodingError as e:
        raise BlockError(f"block is not valid JSON: {e}") from e
    return _read_signed(document, None, raw, enrolled)


def decode_uploaded_block(item: Any, enrolled: EnrolledKey | None = None) -> DecodedBlock:
    """One block of an upload as the JSON parser gave it: the same block, and the same
    refusal, as ``decode_signed_block(canonical_json(item))``, for one canonical encoding and
    no second parse. When ``item`` takes canonical JSON's fast path, parsing the canonical
    bytes would give ``item`` back, so ``item`` is read as it is; anything else (floats, large
    integers, which canonical JSON rewrites) goes the long way, bytes and all."""
    canonical = plain_canonical_json(item)
    if canonical is not None:
        return _read_signed(item, canonical, canonical, enrolled)
    try:
        canonical = canonical_json(item)
    except EncodingError:
        # An upload's block that has no canonical form was always read as an empty object,
        # and refused as one: kept, so the refusal a kiosk sees stays the same.
        canonical = b"{}"
    return decode_block(canonical, enrolled)


def _read_signed(
    document: Any,
    canonical: bytes | None,
    raw: bytes | None = None,
    enrolled: EnrolledKey | None = None,
) -> DecodedBlock:
    """The block in ``document``; ``canonical``: its canonical bytes, when known, which bound
    its ballot's size and give its hash without encoding it again."""
    r = Reader(document, "block", BlockError)
    if r.integer("v") != BLOCK_VERSION:
        r.fail("unsupported block version", "v")
    kiosk = r.text("kiosk", max_len=32)
    if not _KIOSK_ID.match(kiosk):
        r.fail("must be 32 lower-case hex digits", "kiosk")
    time = r.text("time", max_len=17)
    if not _TIME.match(time):
        r.fail("must be a UTC time to the minute, like 2026-11-22T10:15Z", "time")
    if not _real_minute(time):
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
    small = canonical is not None and len(canonical) <= MAX_V2_BALLOT_BYTES
    ballot = _check_body(kind, body, small=small, enrolled=enrolled)
    digest = block.hash() if canonical is None else _hash_of_canonical(canonical, block, sig)
    return DecodedBlock(SignedBlock(block, digest, sig), raw or b"", ballot)


def _hash_of_canonical(canonical: bytes, block: Block, sig: bytes) -> bytes:
    """``block.hash()``, from the canonical bytes of the signed block it was read from.

    Canonical JSON writes an object's members sorted by key, and "body" sorts first: the signed
    block is ``{"body":<body>,`` then its scalar members, "sig" among them. Dropping "sig"
    from that tail gives the canonical block without its signature, which the hash covers
    (``Block.to_json``: the same members, each read back exactly as it was written). If the
    bytes do not end as expected, the hash is computed the long way."""
    unsigned = block.to_json()
    del unsigned["body"]
    signed_tail = b"," + canonical_json(unsigned | {"sig": b64e(sig)})[1:]
    if not canonical.startswith(b'{"body":') or not canonical.endswith(signed_tail):
        return block.hash()
    head = canonical[: len(canonical) - len(signed_tail)]
    return sha256(head + b"," + canonical_json(unsigned)[1:])


@functools.lru_cache(maxsize=4096)
def _real_minute(time: str) -> bool:
    """Whether a block time of the right form names a real minute. Cached: a batch's blocks
    share a few minutes, and strptime is slow."""
    try:
        datetime.strptime(time, "%Y-%m-%dT%H:%MZ")
    except ValueError:
        return False
    return True


def decode_signed_block(raw: bytes) -> SignedBlock:
    try:
        return read_signed_block(parse_json(raw))
    except EncodingError as e:
        raise BlockError(f"block is not valid JSON: {e}") from e


def check_body(kind: BlockKind, body: Any) -> None:
    """Raise ``BlockError`` unless ``body`` has exactly the fields its kind requires."""
    _check_body(kind, body, small=False)


def _check_body(
    kind: BlockKind, body: Any, *, small: bool, enrolled: EnrolledKey | None = None
) -> CastBallot | BallotShape | None:
    """``check_body``, returning the ballot it read; ``small``: the whole block is known to
    be within ``MAX_V2_BALLOT_BYTES`` of canonical JSON, so its ballot is too."""
    r = Reader(body, f"{kind.value}.body", BlockError)
    ballot: CastBallot | BallotShape | None = None
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
            # Protocol 1's sealed-box body ({"nullifier", "sealed"}) is no longer accepted: it
            # has no "voter", so this names that field first.
            ballot = _read_cast(r, small=small, enrolled=enrolled)
        case BlockKind.SPOILED:
            ballot = _read_spoiled(r, small=small)
    r.done()
    return ballot


# -- protocol v2 ballot bodies (docs/spec/ballot-v2.md; notes/v2_contract.md) -----------------


@dataclass(frozen=True, slots=True)
class CastBallot:
    """A v2 ballot or test ballot body, read: the voter (by id), the encrypted ballot and the
    signature of one of their card's keys over it. Whether that key is the voter's is a
    question for the roll (ledger.rules.ballot_arrival, the count)."""

    voter_id: bytes
    # the ballot's shape (every point spelled right; whether each is a group element is the
    # count's to check: it reads the ballot strictly, read_encrypted_ballot)
    ballot: BallotShape
    card_key: bytes
    card_sig: bytes
    # ``ballot.hash``, taken from the document read (encrypted_ballot.document_hash)
    ballot_hash: bytes


def read_cast_ballot(kind: BlockKind, body: Any) -> CastBallot:
    """A v2 ballot block's body, strictly (``BlockError`` naming the field)."""
    r = Reader(body, f"{kind.value}.body", BlockError)
    cast = _read_cast(r)
    r.done()
    return cast


def read_spoiled_ballot(body: Any) -> BallotShape:
    """The ballot of a ``spoiled`` body, after checking the body's whole shape."""
    r = Reader(body, f"{BlockKind.SPOILED.value}.body", BlockError)
    ballot = _read_spoiled(r)
    r.done()
    return ballot


def ballot_identity(body: Mapping[str, Any]) -> bytes:
    """Who cast a ballot block (schema-checked): the voter id. The duplicate checks (one ballot
    per voter and kind on a kiosk, has-voted, the ledger's voter index) key on it."""
    return bytes.fromhex(body["voter"])


def voter_id_from_hex(text: object) -> bytes:
    """A voter id as a v2 body and a has-voted question spell it: 32 lowercase hex digits (one
    spelling, so one voter is never two keys); ``EncodingError`` otherwise."""
    if not isinstance(text, str) or not _VOTER_ID.match(text):
        raise EncodingError("a voter id is 32 lower-case hex digits")
    return bytes.fromhex(text)


def _read_cast(
    r: Reader, *, small: bool = False, enrolled: EnrolledKey | None = None
) -> CastBallot:
    voter = r.text("voter", max_len=32)
    if not _VOTER_ID.match(voter):
        r.fail("must be a voter id: 32 lower-case hex digits", "voter")
    card_key = r.binary("card_key", length=32)
    # The point check costs a scalar multiplication (about a tenth of a ledger worker's time
    # at ingest); a key the rolls enrol passed it when the package was read. Same acceptance.
    if not (enrolled is not None and enrolled(card_key)) and not is_valid_ed25519_point(card_key):
        r.fail("is not a valid Ed25519 public key", "card_key")
    card_sig = r.binary("card_sig", length=64)
    ballot, ballot_hash = _read_ballot(r, small=small)
    return CastBallot(bytes.fromhex(voter), ballot, card_key, card_sig, ballot_hash)


def _read_spoiled(r: Reader, *, small: bool = False) -> BallotShape:
    ballot, _ = _read_ballot(r, small=small)
    rows = r.items("nonces", max_items=len(ballot.contests))
    if len(rows) != len(ballot.contests):
        r.fail("must hold one list of nonces per contest", "nonces")
    for i, (row, contest) in enumerate(zip(rows, ballot.contests, strict=True)):
        if not isinstance(row, list) or len(row) != len(contest.spots):
            r.fail("must hold one nonce per cell", f"nonces[{i}]")
        try:
            for nonce in row:
                scalar_from_hex(nonce, what=f"{r.path}.nonces[{i}]")
        except GroupError as e:
            r.fail(str(e))
    plaintext = r.raw("plaintext")
    if _canonical_size(r, plaintext, "plaintext") > MAX_PLAINTEXT_BYTES:
        r.fail(f"is larger than {MAX_PLAINTEXT_BYTES} bytes", "plaintext")
    try:
        read_ballot(plaintext)
    except (BallotError, EncodingError) as e:
        r.fail(str(e), "plaintext")
    return ballot


def _read_ballot(r: Reader, *, small: bool = False) -> tuple[BallotShape, bytes]:
    """The body's ``ballot`` and its hash: bounded in size before it is parsed, then its shape
    read strictly, every point's spelling but not its group membership, which the count
    checks (``read_ballot_shape``); the hash is taken from its canonical bytes
    (``document_hash``), not by writing the ballot out again. ``small``: the block holding
    it came by canonical JSON's fast path and is within the bound, so the ballot is too, and
    it is parsed with no lookup in the cache (ingest reads each ballot once)."""
    document = r.raw("ballot")
    where = f"{r.path}.ballot"
    if small:
        ballot = _parse_ballot(document, where)
        return ballot, document_hash(document, canonical_json_of_part(document))
    canonical = _canonical(r, document, "ballot")
    if len(canonical) > MAX_V2_BALLOT_BYTES:
        r.fail(f"is larger than {MAX_V2_BALLOT_BYTES} bytes", "ballot")
    with _PARSED_LOCK:
        known = _PARSED.get((canonical, where))
    if known is None:
        known = _parse_ballot(document, where)
        with _PARSED_LOCK:
            _PARSED[(canonical, where)] = known
            while len(_PARSED) > _PARSED_KEPT:
                _PARSED.popitem(last=False)
    return known, document_hash(document, canonical)


def _parse_ballot(document: Any, where: str) -> BallotShape:
    try:
        return read_ballot_shape(document, where)
    except (BallotError, EncodingError) as e:
        raise BlockError(str(e)) from e


# A ballot may be read more than once on its way into the ledger (decoding the block, the
# chain verifier's body check when it is not given decoded blocks, the arrival checks). Its
# canonical bytes, which the block's hash already covers, name it exactly, so the last few
# ballots read are kept. Only valid ones are kept.
_PARSED: OrderedDict[tuple[bytes, str], BallotShape] = OrderedDict()
_PARSED_KEPT = 64
_PARSED_LOCK = threading.Lock()


def _canonical_size(r: Reader, value: Any, key: str) -> int:
    return len(_canonical(r, value, key))


def _canonical(r: Reader, value: Any, key: str) -> bytes:
    try:
        return canonical_json(value)
    except EncodingError as e:
        r.fail(f"is not canonical JSON: {e}", key)


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
