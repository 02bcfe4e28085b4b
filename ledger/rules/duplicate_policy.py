"""The duplicate policy applied: which of one voter's official ballots counts. Pure, so the
reconciliation, the tally and the offline verifier pick the same ballot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kiosk.core.duplicates import cast_order, counted_index
from kiosk.core.election import DuplicatePolicy


def counted_ballot(
    policy: DuplicatePolicy, ballots: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any]:
    """Which of one voter's official ballots counts. Each ballot names its ``time`` (the block
    time), ``kiosk`` (the source), ``height`` and ``channel``; they are put in the order they
    were cast (``cast_order``), never the order the ledger happened to receive them, and the
    rule itself is the core's (kiosk/core/duplicates.py), shared with the kiosk's check."""
    ordered = sorted(ballots, key=lambda b: cast_order(b["time"], b["kiosk"], b["height"]))
    return ordered[counted_index(policy, [b["channel"] for b in ordered])]
