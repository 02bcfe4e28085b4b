"""The duplicate policy applied: which of one voter's official ballots counts. Pure, so the
reconciliation, the tally and the offline verifier pick the same ballot."""

from __future__ import annotations

from typing import Any

from kiosk.core.duplicates import counted_index
from kiosk.core.election import DuplicatePolicy


def counted_ballot(policy: DuplicatePolicy, ballots: list[dict[str, Any]]) -> dict[str, Any]:
    """Which of one voter's official ballots counts. ``ballots`` are in log order; the rule
    itself is the core's (kiosk/core/duplicates.py), shared with the kiosk's eligibility check."""
    return ballots[counted_index(policy, [b["channel"] for b in ballots])]
