"""The close statement: the text the log key signs when the election closes, and its check.
Pure: the close service signs it, the offline verifier checks it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.checkpoint import NoteKey, open_note
from kiosk.core.errors import VerificationError
from ledger.rules.errors import LedgerError

STATEMENT_HEADER = "hanpyo-close/v1"  # first line of the close statement, never a log origin


@dataclass(frozen=True, slots=True)
class Closure:
    closed_at: str
    size: int
    checkpoint: str
    statement: str
    waivers: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def statement_text(
    election: str, size: int, checkpoint: str, closed_at: str, waivers: Mapping[str, str]
) -> str:
    """The text the log key signs at the close: what was frozen, when, and every waiver."""
    root_line = checkpoint.splitlines()[2]
    lines = [
        STATEMENT_HEADER,
        f"election {election}",
        f"size {size}",
        f"root {root_line}",
        f"closed {closed_at}",
    ]
    lines += [f"waived {k} {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(waivers.items())]
    return "\n".join(lines) + "\n"


def verify_statement(statement: str, verifier: NoteKey, expected: Closure, election: str) -> None:
    """Check the close statement's signature and that it says what the record says, for
    ``election``."""
    try:
        text = open_note(statement, verifier)
    except VerificationError as e:
        raise LedgerError("bad_close_statement", f"the close statement does not verify: {e}") from e
    want = statement_text(
        election, expected.size, expected.checkpoint, expected.closed_at, expected.waivers
    )
    if text != want:
        raise LedgerError("bad_close_statement", "the close statement does not match the record")
