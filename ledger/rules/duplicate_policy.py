"""The duplicate policy applied: which of one voter's official ballots counts. Pure, so the
reconciliation, the tally and the offline verifier pick the same ballot."""

from __future__ import annotations

from typing import Any

from kiosk.core.election import DuplicatePolicy


def counted_ballot(policy: DuplicatePolicy, ballots: list[dict[str, Any]]) -> dict[str, Any]:
    """Which of one voter's official ballots counts. ``ballots`` are in log order."""
    match policy:
        case DuplicatePolicy.FIRST:
            return ballots[0]
        case DuplicatePolicy.LAST:
            return ballots[-1]
        case DuplicatePolicy.IN_PERSON_WINS:
            in_person = [b for b in ballots if b["channel"] == "kiosk"]
            return (in_person or ballots)[0]
