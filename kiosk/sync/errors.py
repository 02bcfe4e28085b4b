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


class NotIntegrated(SyncError):
    """The ledger took the blocks (its signed answer says so) but no checkpoint it signed
    covers them yet: not delivered until proven in one; the next pass tries again."""


class UntrustedLedger(SyncError):
    """The ledger's checkpoint or proof did not verify: staff must be told, syncing stops."""

    user_message = (
        "중앙 원장을 신뢰할 수 없습니다. 선거 관리자에게 알려 주세요.",
        "The central ledger cannot be trusted. Tell the election manager.",
    )


class ForgedAnswer(UntrustedLedger):
    """An answer that should carry the ledger's signature for this request does not: it was
    changed or replayed on the way, or the ledger is not the one configured. Nothing is
    concluded from it: like a checkpoint that does not verify, it stops syncing until staff
    look, and a voter check says it could not check."""

    user_message = (
        "중앙 원장의 답에 원장의 서명이 맞지 않아 믿을 수 없습니다. 네트워크를 점검해 주세요. "
        "투표는 계속할 수 있습니다.",
        "An answer from the central ledger did not carry the ledger's signature, so it was "
        "not trusted. Check the network. Voting can go on.",
    )


class InsecureLedger(SyncError):
    """The ledger's address is plain http where https is required: the package pins the
    ledger's certificate, or the kiosk is in official mode and the ledger is not on this
    machine. Nothing is sent."""

    user_message = (
        "중앙 원장 주소가 암호화되지 않은 http 주소라서 연결하지 않습니다. 선거 관리자에게 "
        "https 주소를 요청해 주세요. 투표는 계속할 수 있습니다.",
        "The central ledger's address is plain http, so the kiosk does not connect to it. "
        "Ask the election manager for its https address. Voting can go on.",
    )


class NoLogKey(SyncError):
    """No usable log key is configured: the kiosk cannot sign for the ledger or check it."""

    user_message = (
        "중앙 원장의 로그 키가 설정되지 않았습니다. 선거 관리자에게 알려 주세요.",
        "The central ledger's log key is not configured. Tell the election manager.",
    )
