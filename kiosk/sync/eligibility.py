"""Has this voter already voted elsewhere? The ledger knows; the election's policy decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from kiosk.core.duplicates import new_ballot_counts
from kiosk.core.election import DuplicatePolicy
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import SyncError


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """The answer for the voter: may they vote here, and what to tell them (ko, en)."""

    allowed: bool
    message: tuple[str, str] | None
    checked: bool  # False when the ledger could not be asked: local rules applied alone
    # Which case it is, for screens that word it themselves: first_counts, replaces,
    # voted_in_person or replaces_online; None when there is nothing to tell.
    reason: str | None = None


FIRST_COUNTS = (
    "이미 다른 곳에서 투표하셨습니다. 이번 투표는 처음 한 투표만 인정하므로 다시 투표할 수 "
    "없습니다. 궁금한 점은 진행 요원에게 물어 주세요.",
    "You have already voted elsewhere. In this vote only your first ballot counts, so "
    "you cannot vote again. Please ask a staff member if you have questions.",
)
REPLACES = (
    "이미 다른 곳에서 투표하셨습니다. 지금 투표하시면 이 투표가 앞선 투표를 대신합니다.",
    "You have already voted elsewhere. If you vote now, this ballot replaces your earlier one.",
)
VOTED_IN_PERSON = (
    "이미 현장에서 투표하셨습니다. 다시 투표할 수 없습니다. 궁금한 점은 진행 요원에게 물어 주세요.",
    "You have already voted in person, so you cannot vote again. Please ask a "
    "staff member if you have questions.",
)
REPLACES_ONLINE = (
    "온라인으로 이미 투표하셨습니다. 여기서 투표하시면 현장 투표가 온라인 투표를 대신합니다.",
    "You have already voted online. If you vote here, this ballot counts instead "
    "of your online one.",
)


def decide(policy: DuplicatePolicy, channels: list[str]) -> Elsewhere:
    """What the policy says for a voter who already voted through ``channels``."""
    if not channels:
        return Elsewhere(True, None, True)
    allowed = new_ballot_counts(policy, channels)
    match policy:
        case DuplicatePolicy.FIRST:
            return Elsewhere(allowed, FIRST_COUNTS, True, "first_counts")
        case DuplicatePolicy.LAST:
            return Elsewhere(allowed, REPLACES, True, "replaces")
        case DuplicatePolicy.IN_PERSON_WINS if allowed:
            return Elsewhere(allowed, REPLACES_ONLINE, True, "replaces_online")
        case DuplicatePolicy.IN_PERSON_WINS:
            return Elsewhere(allowed, VOTED_IN_PERSON, True, "voted_in_person")
        case _:
            assert_never(policy)


def check_elsewhere(client: LedgerClient, identity: bytes, policy: DuplicatePolicy) -> Elsewhere:
    """Ask the ledger before showing the ballot. Offline, let the voter vote: the ledger
    applies the same policy to duplicates when the blocks arrive.

    ``identity`` is the voter's public voter id (``Voter.voter_id``), which is all the question
    carries."""
    try:
        voted, channels = client.has_voted(identity)
    except SyncError:
        return Elsewhere(True, None, False)
    return decide(policy, channels if voted else [])
