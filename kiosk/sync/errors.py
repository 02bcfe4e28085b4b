"""Errors of talking to the ledger."""

from __future__ import annotations

from kiosk.core.errors import HanpyoError


class SyncError(HanpyoError):
    user_message = (
        "중앙 원장과 동기화하지 못했습니다. 투표는 계속할 수 있습니다.",
        "Could not sync with the central ledger. Voting can go on.",
    )


class LedgerUnreachable(SyncError):
    """The network or the ledger is down: try again later, lose nothing."""


class LedgerRefused(SyncError):
    """The ledger answered with an error; ``reason`` is its machine-readable code."""

    def __init__(self, reason: str, detail: str, status: int) -> None:
        super().__init__(f"the ledger refused ({status} {reason}): {detail}")
        self.reason = reason
        self.status = status


class UntrustedLedger(SyncError):
    """The ledger's checkpoint or proof did not verify: staff must be told, syncing stops."""

    user_message = (
        "중앙 원장을 신뢰할 수 없습니다. 선거 관리자에게 알려 주세요.",
        "The central ledger cannot be trusted. Tell the election manager.",
    )
