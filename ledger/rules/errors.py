"""Errors of the ledger, with machine-readable reasons for rejected uploads."""

from __future__ import annotations

from kiosk.core.errors import HanpyoError


class LedgerError(HanpyoError):
    """A request the ledger refuses; ``reason`` is a short code for programs."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.explanation = detail  # for answers, which carry the reason separately
