"""The witness's side of C2SP tlog-witness "add-checkpoint": read the request, check the log's
signature and the consistency proof against the latest checkpoint it cosigned, and answer with
a tlog-cosignature/v1 line, or with the status code the spec names for each refusal."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kiosk.core.checkpoint import (
    Checkpoint,
    NoteVerifier,
    open_note,
    parse_checkpoint,
)
from kiosk.core.cosignature import cosign, is_line_of
from kiosk.core.errors import HanpyoError, VerificationError
from kiosk.core.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from ledger.witness.store import Latest, Refusal, WitnessIdentity, WitnessStore

MAX_PROOF_LINES = 63  # "The client MUST NOT send more than 63 consistency proof lines."
MAX_REQUEST_BYTES = 256 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,19})")


class Refused(HanpyoError):
    """An add-checkpoint request the witness does not cosign, with its HTTP status."""

    def __init__(self, status: int, detail: str, *, body: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.body = body if body is not None else detail + "\n"
        self.content_type = SIZE_CONTENT_TYPE if status == 409 else "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    old_size: int
    proof: list[bytes]
    note: str


def read_request(body: bytes) -> Request:
    """The old size line, the proof lines, an empty line, then the checkpoint
    ("add-checkpoint"); 400 for anything else."""
    if len(body) > MAX_REQUEST_BYTES:
        raise Refused(400, f"the request is longer than {MAX_REQUEST_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the request is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise Refused(400, "the request has no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD_LINE.fullmatch(lines[0])
    if match is None:
        raise Refused(400, "the first line is not `old <size>` in decimal")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refused(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
    return Request(int(match[1]), [_proof_hash(line) for line in lines[1:]], note)


def add_checkpoint(
    store: WitnessStore,
    identity: WitnessIdentity,
    logs: Mapping[str, Sequence[NoteVerifier]],
    body: bytes,
) -> str:
    """The cosignature line for the checkpoint in ``body``; ``Refused`` with the status the
    spec names otherwise. A refused checkpoint that the log validly signed is kept."""
    request = read_request(body)
    checkpoint = _read_checkpoint(request.note)
    keys = logs.get(checkpoint.origin)
    if not keys:
        raise Refused(404, f"this witness does not follow the log {checkpoint.origin!r}")
    log_lines = _verify_log_signature(request.note, keys)
    if request.old_size > checkpoint.size:
        raise Refused(400, "the old size is larger than the checkpoint's size")
    try:
        return store.advance(
            checkpoint.origin,
            lambda latest: _cosign(identity, latest, request, checkpoint, log_lines),
        )
    except Refused as e:
        if e.status in (409, 422):  # signed by the log: proof of what it showed us
            store.keep_refused(Refusal(checkpoint.origin, e.status, e.detail, body.decode()))
        raise


def _cosign(
    identity: WitnessIdentity,
    latest: Latest | None,
    request: Request,
    checkpoint: Checkpoint,
    log_lines: list[str],
) -> tuple[Latest, str]:
    """Inside the store's write lock: the checks against the latest cosigned checkpoint."""
    held = 0 if latest is None else latest.size
    if request.old_size != held:
        raise Refused(
            409, f"this witness holds size {held}, not {request.old_size}", body=f"{held}\n"
        )
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        raise Refused(422, "a checkpoint of size 0 must have the empty tree's root")
    if request.old_size == 0 and request.proof:
        raise Refused(422, "no consistency proof is sent from size 0")
    if latest is not None and request.old_size > 0:
        try:
            verify_consistency(
                latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof
            )
        except VerificationError as e:
            raise Refused(422, f"the consistency proof does not verify: {e}") from e
    text = checkpoint.body()
    line = cosign(text, identity.name, identity.key, int(time.time()))
    # The monitoring copy: the log's verified signatures and ours ("Monitor Retrieval").
    stored = f"{text}\n{''.join(log_lines)}{line}"
    return Latest(checkpoint.size, checkpoint.root, stored), line


def _read_checkpoint(note: str) -> Checkpoint:
    text, blank, _ = note.partition("\n\n")
    if not blank:
        raise Refused(400, "the checkpoint has no signatures")
    try:
        return parse_checkpoint(text + "\n")
    except VerificationError as e:
        raise Refused(400, f"the checkpoint is malformed: {e}") from e


def _verify_log_signature(note: str, keys: Sequence[NoteVerifier]) -> list[str]:
    """The log's signature lines, once every trusted key that signed verifies (403 if none
    did, or if one that claims to be a trusted key fails); unknown keys are ignored."""
    signed: list[str] = []
    lines = _signature_lines(note)
    for key in keys:
        mine = [line for line in lines if is_line_of(line, key.name, key.key_id)]
        if not mine:
            continue
        try:
            open_note(note, key)
        except VerificationError as e:
            raise Refused(403, f"the log's signature does not verify: {e}") from e
        signed += mine
    if not signed:
        raise Refused(403, "the checkpoint carries no signature by the log's key")
    return signed


def _signature_lines(note: str) -> list[str]:
    block = note[note.rfind("\n\n") + 2 :]
    return [line + "\n" for line in block.split("\n") if line]


def _proof_hash(line: str) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, "a consistency proof line is not base64") from None
    if len(raw) != HASH_SIZE:
        raise Refused(400, "a consistency proof line is not a SHA-256 hash")
    return raw
