"""Errors of the kiosk's local store."""

from __future__ import annotations

from kiosk.core.errors import HanpyoError


class StoreError(HanpyoError):
    user_message = (
        "투표 기록 저장소에 문제가 있습니다. 진행 요원에게 알려 주세요.",
        "The kiosk's ballot store has a problem. Please tell a staff member.",
    )


class StoreLockedError(StoreError):
    """Wrong store key, or a file that is not a Hanpyo store at all."""


class StoreDamagedError(StoreError):
    """The file opens but its content is damaged or its chain does not verify."""


class AlreadyVotedError(StoreError):
    user_message = (
        "이 카드로 이 단말기에서 이미 투표하셨습니다.",
        "This card has already voted on this kiosk.",
    )


class KeyFileError(StoreError):
    """A kiosk or store key that is missing, malformed or readable by others."""
