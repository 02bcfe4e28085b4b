"""The duplicate policy: of one voter's official ballots, which one counts. The kiosk asks it
before a voter votes again; the ledger and the bundle verifier apply it to the log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from kiosk.core.election import Channel, DuplicatePolicy


def cast_order(time: str, source: str, height: int) -> tuple[str, str, int]:
    """The order in which one voter's ballots were cast, whatever order they were synced or
    imported in: by block time (UTC, to the minute, so it sorts as text), then, for ballots
    of the same minute from different sources, by source id, then by height in the chain."""
    return (time, source, height)


def counted_index(policy: DuplicatePolicy, channels: Sequence[str]) -> int:
    """The position of the ballot that counts among one voter's ballots, given the channel
    of each in the order they were cast (``cast_order``). ``ValueError`` for a voter with no
    ballot."""
    if not channels:
        raise ValueError("a voter with no ballot has none that counts")
    match policy:
        case DuplicatePolicy.FIRST:
            return 0
        case DuplicatePolicy.LAST:
            return len(channels) - 1
        case DuplicatePolicy.IN_PERSON_WINS:
            # the first ballot cast in person; with none in person, the last one cast online
            # (online-channel.md: an online member may change their mind before the close,
            # and a member under pressure at home can vote again later, or in person)
            in_person = (i for i, c in enumerate(channels) if c == Channel.KIOSK)
            return next(in_person, len(channels) - 1)
        case _:
            assert_never(policy)


def chain_may_repeat(policy: DuplicatePolicy, channel: str) -> bool:
    """May one source's chain hold more than one ballot of one voter? Only an online
    platform's, and only when the policy counts a voter's later online ballot over an earlier
    one (``last``, ``in_person_wins``): the member votes again from home. A kiosk never
    records a voter twice (a second visit is a second kiosk's or refused), and under
    ``first`` a second online ballot could never count. The chain verifier, the kiosk's
    store, ingest, mirrors and ``verify-bundle`` all ask this one function."""
    return channel == Channel.ONLINE and new_ballot_counts(policy, [channel], channel)


def new_ballot_counts(
    policy: DuplicatePolicy, earlier: Sequence[str], channel: str = Channel.KIOSK
) -> bool:
    """Would a ballot cast now through ``channel`` be the one that counts, after the voter's
    ``earlier`` ballots? A kiosk lets the voter vote only if it would."""
    ballots = [*earlier, channel]
    return counted_index(policy, ballots) == len(ballots) - 1
