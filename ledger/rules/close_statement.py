"""The close statement: the text the log key signs when the election closes, and its check.
Pure: the close service signs it, the offline verifiers check it.

Besides the final checkpoint and the waivers, the statement signs a hash of the enrolled
sources (each one's id, key, name, channel and quarantined flag) and of the equivocation
evidence as they stood at the close (docs/spec/record.md §2.4). The count splits its sums and
score columns by the channel a source has in that list, so a record whose ``sources.json``
moved a source to the other channel, renamed one, or whose ``evidence.json`` dropped a fork,
no longer matches what the log key signed."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.checkpoint import NoteKey, open_note
from kiosk.core.crypto import sha256
from kiosk.core.encoding import canonical_json
from kiosk.core.errors import HanpyoError, VerificationError
from ledger.rules.errors import LedgerError

STATEMENT_HEADER = "hanpyo-close/v2"  # first line of the close statement, never a log origin
SOURCES = "sources.json"
EVIDENCE = "evidence.json"
_HASH_LINE = re.compile(r"(sources|evidence) ([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Closure:
    closed_at: str
    size: int
    checkpoint: str
    statement: str
    waivers: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def list_hash(entries: Sequence[Any]) -> str:
    """Hex SHA-256 of the canonical JSON (RFC 8785) of ``entries`` sorted by each entry's own
    canonical bytes: the order a record lists them in does not matter, a changed, added,
    dropped or repeated entry does."""
    try:
        ordered = sorted(canonical_json(e) for e in entries)
    except (HanpyoError, TypeError, ValueError) as e:
        raise LedgerError(
            "bad_record_list", f"the list cannot be put in canonical form: {e}"
        ) from e
    return sha256(b"[" + b",".join(ordered) + b"]").hex()


@dataclass(frozen=True, slots=True)
class RecordLists:
    """The record's ``sources.json`` entries (``{"kiosk", "public_key", "name", "channel",
    "quarantined"}``) and ``evidence.json`` entries (``{"kiosk", "height", "block"}``) as they
    stood at the close."""

    sources: tuple[dict[str, Any], ...]
    evidence: tuple[dict[str, Any], ...]

    def hashes(self) -> ListHashes:
        return ListHashes(list_hash(self.sources), list_hash(self.evidence))


@dataclass(frozen=True, slots=True)
class ListHashes:
    """What the close statement signs of the sources and the evidence (``list_hash`` of each)."""

    sources: str
    evidence: str

    def check(self, sources: Sequence[Any], evidence: Sequence[Any] | None) -> str:
        """Refuse, naming the file, unless ``sources`` (and ``evidence``, when the caller has
        it) are the lists the statement signed; say what was checked."""
        if list_hash(sources) != self.sources:
            raise LedgerError(
                "sources_not_signed",
                f"{SOURCES} is not the list of sources the close statement signed: a source "
                "was added, dropped, or its key, name, channel or quarantined flag changed",
            )
        if evidence is not None and list_hash(evidence) != self.evidence:
            raise LedgerError(
                "evidence_not_signed",
                f"{EVIDENCE} is not the equivocation evidence the close statement signed: an "
                "entry was dropped, added or changed",
            )
        said = f"{SOURCES} ({_count(len(sources), 'source', 'sources')})"
        if evidence is not None:
            said += f" and {EVIDENCE} ({_count(len(evidence), 'entry', 'entries')})"
        return said + " are the lists the close statement signed"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def statement_text(
    election: str,
    size: int,
    checkpoint: str,
    closed_at: str,
    waivers: Mapping[str, str],
    lists: ListHashes,
) -> str:
    """The text the log key signs at the close: what was frozen, when, the sources and the
    evidence as they stood, and every waiver."""
    root_line = checkpoint.splitlines()[2]
    lines = [
        STATEMENT_HEADER,
        f"election {election}",
        f"size {size}",
        f"root {root_line}",
        f"closed {closed_at}",
        f"sources {lists.sources}",
        f"evidence {lists.evidence}",
    ]
    lines += [f"waived {k} {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(waivers.items())]
    return "\n".join(lines) + "\n"


def verify_statement(
    statement: str, verifier: NoteKey, expected: Closure, election: str
) -> ListHashes:
    """Check the close statement's signature and that it says what the record says, for
    ``election``; return the hashes of the sources and evidence it signs, which the caller
    compares with the record's lists (``ListHashes.check``)."""
    try:
        text = open_note(statement, verifier)
    except VerificationError as e:
        raise LedgerError("bad_close_statement", f"the close statement does not verify: {e}") from e
    signed = _signed_hashes(text)
    want = statement_text(
        election, expected.size, expected.checkpoint, expected.closed_at, expected.waivers, signed
    )
    if text != want:
        raise LedgerError("bad_close_statement", "the close statement does not match the record")
    return signed


def _signed_hashes(text: str) -> ListHashes:
    """The ``sources`` and ``evidence`` lines of a statement of this format (lines 6 and 7)."""
    lines = text.split("\n")
    if lines[0] != STATEMENT_HEADER:
        raise LedgerError(
            "bad_close_statement",
            f"the close statement is not of the format {STATEMENT_HEADER} (it starts "
            f"{lines[0][:40]!r}): it was written by another version of Hanpyo",
        )
    found = [_HASH_LINE.fullmatch(line) for line in lines[5:7]]
    if len(found) != 2 or found[0] is None or found[1] is None:
        raise LedgerError(
            "bad_close_statement", "the close statement does not sign the sources and evidence"
        )
    if (found[0].group(1), found[1].group(1)) != ("sources", "evidence"):
        raise LedgerError("bad_close_statement", "the close statement's lines are out of order")
    return ListHashes(found[0].group(2), found[1].group(2))
