"""Closing the election: every kiosk closed and delivered (or waived, with a reason), then the
log is frozen under a final signed checkpoint and a close statement signed by the log key,
which also signs the sources (ids, keys, names, channels, quarantined flags) and the
equivocation evidence as they stand, kept for the record (ledger/rules/close_statement.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.core.checkpoint import sign_note
from ledger.rules.close_statement import Closure, RecordLists, statement_text
from ledger.rules.errors import LedgerError
from ledger.service.ledger import Ledger
from ledger.store.closure import closure as stored_closure
from ledger.store.closure import freeze_log
from ledger.store.snapshots import readiness_snapshot


@dataclass(frozen=True, slots=True)
class Unready:
    """A source that keeps the election from closing, and why, in plain words."""

    kiosk: str
    name: str
    reason: str


def unready_sources(ledger: Ledger) -> list[Unready]:
    """Every enrolled source that has not closed its session or has not delivered its blocks."""
    snapshot = readiness_snapshot(ledger.reader)
    closes, states, beats = snapshot.session_closes, snapshot.chain_states, snapshot.reports
    out = []
    for s in ledger.sources():
        state = states.get(s.kiosk_id, {})
        reported = beats.get(s.kiosk_id, {}).get("height")
        reason = None
        if s.quarantined:
            reason = f"quarantined ({s.quarantine_reason})"
        elif s.height < 0:
            reason = "no blocks have arrived; import its USB export"
        elif isinstance(reported, int) and reported > s.height:
            reason = (
                f"it reported block {reported} but the ledger holds up to {s.height}; "
                "sync it or import its USB export"
            )
        elif state.get("session", "closed") != "closed":
            reason = f"its session {state.get('session_number')} is still {state.get('session')}"
        elif not closes.get(s.kiosk_id):
            reason = "it never closed a session"
        if reason is not None:
            out.append(Unready(s.kiosk_id, s.name, reason))
    return out


def closure(ledger: Ledger) -> Closure | None:
    """The close record, or None while the election is open."""
    return stored_closure(ledger.reader)


def close_election(
    ledger: Ledger, waivers: Mapping[str, str], now: datetime | None = None
) -> Closure:
    """Freeze the log. Refuses, naming each source, unless every source is closed and
    delivered or waived with a reason. The waivers are recorded in the signed statement."""
    if closure(ledger) is not None:
        raise LedgerError("election_closed", "the election is already closed")
    known = {s.kiosk_id for s in ledger.sources()}
    for kiosk, reason in waivers.items():
        if kiosk not in known:
            raise LedgerError("unknown_kiosk", f"cannot waive {kiosk}: it is not enrolled")
        if not reason.strip():
            raise LedgerError("no_reason", f"a waiver for {kiosk} needs a reason")
    blocking = [u for u in unready_sources(ledger) if u.kiosk not in waivers]
    if blocking:
        lines = "\n".join(f"  {u.name} ({u.kiosk}): {u.reason}" for u in blocking)
        raise LedgerError(
            "not_ready",
            f"{len(blocking)} source(s) keep the election from closing:\n{lines}\n"
            'Deliver their blocks, or waive each with --waive KIOSK_ID "reason".',
        )
    closed_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")

    def sign_statement(size: int, checkpoint: str, lists: RecordLists) -> str:
        text = statement_text(
            ledger.election.id, size, checkpoint, closed_at, waivers, lists.hashes()
        )
        return sign_note(text, ledger.key.origin, ledger.key.key)

    return freeze_log(ledger.engine, ledger.key, closed_at, waivers, sign_statement)
