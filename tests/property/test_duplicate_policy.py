"""The one duplicate policy against the two copies the kiosk and the ledger had before it moved
into the core: for every policy and every history of channels, the same outcome."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.duplicates import chain_may_repeat, counted_index, new_ballot_counts
from kiosk.core.election import DuplicatePolicy
from kiosk.sync.eligibility import decide
from ledger.rules.duplicate_policy import counted_ballot

channels = st.lists(st.sampled_from(["kiosk", "online"]), max_size=8)
policies = st.sampled_from(list(DuplicatePolicy))


def _ledger_before(policy: DuplicatePolicy, ballots: list[dict[str, Any]]) -> dict[str, Any]:
    """ledger/reconcile.py counted_ballot as it was, but for in_person_wins with no ballot in
    person: the last online one counts since online members may vote again (it was the
    first)."""
    match policy:
        case DuplicatePolicy.FIRST:
            return ballots[0]
        case DuplicatePolicy.LAST:
            return ballots[-1]
        case DuplicatePolicy.IN_PERSON_WINS:
            in_person = [b for b in ballots if b["channel"] == "kiosk"]
            return in_person[0] if in_person else ballots[-1]


def _kiosk_before(policy: DuplicatePolicy, earlier: list[str]) -> tuple[bool, str | None]:
    """kiosk/sync/eligibility.py decide as it was: (allowed, reason)."""
    if not earlier:
        return True, None
    match policy:
        case DuplicatePolicy.FIRST:
            return False, "first_counts"
        case DuplicatePolicy.LAST:
            return True, "replaces"
        case DuplicatePolicy.IN_PERSON_WINS:
            if "kiosk" in earlier:
                return False, "voted_in_person"
            return True, "replaces_online"


def _cast(history: list[str]) -> list[dict[str, Any]]:
    """One voter's ballots, cast a minute apart in ``history``'s order, from other sources."""
    return [
        {"channel": c, "time": f"2026-11-22T10:{i:02d}Z", "kiosk": f"k{9 - i}", "height": 9 - i}
        for i, c in enumerate(history)
    ]


@given(policies, channels.filter(bool))
def test_the_ledger_counts_the_same_ballot(policy: DuplicatePolicy, history: list[str]) -> None:
    ballots = _cast(history)
    expected = _ledger_before(policy, ballots)
    assert ballots[counted_index(policy, history)] is expected
    assert counted_ballot(policy, ballots) is expected


@given(policies, channels.filter(bool), st.randoms())
def test_the_counted_ballot_does_not_depend_on_when_ballots_reached_the_ledger(
    policy: DuplicatePolicy, history: list[str], rng: Any
) -> None:
    # A kiosk that was offline syncs its older ballot after a newer one from another source
    # reached the ledger: the order of the log must not decide which ballot counts.
    ballots = _cast(history)
    arrived = list(ballots)
    rng.shuffle(arrived)
    assert counted_ballot(policy, arrived) is counted_ballot(policy, ballots)


def test_ballots_of_the_same_minute_are_ordered_by_source_then_height() -> None:
    same_minute = [
        {"channel": "online", "time": "2026-11-22T10:00Z", "kiosk": "b", "height": 1},
        {"channel": "kiosk", "time": "2026-11-22T10:00Z", "kiosk": "a", "height": 7},
    ]
    assert counted_ballot(DuplicatePolicy.FIRST, same_minute)["kiosk"] == "a"
    assert counted_ballot(DuplicatePolicy.LAST, same_minute[::-1])["kiosk"] == "b"


@given(policies, channels)
def test_the_kiosk_decides_the_same(policy: DuplicatePolicy, earlier: list[str]) -> None:
    answer = decide(policy, earlier)
    assert (answer.allowed, answer.reason) == _kiosk_before(policy, earlier)
    assert answer.checked


@given(policies, channels.filter(bool))
def test_a_kiosk_allows_exactly_the_ballot_the_ledger_would_count(
    policy: DuplicatePolicy, earlier: list[str]
) -> None:
    # the two sides can no longer disagree: a voter let in is the voter whose ballot counts
    ballots = [{"channel": c} for c in [*earlier, "kiosk"]]
    counts = _ledger_before(policy, ballots) is ballots[-1]
    assert new_ballot_counts(policy, earlier) == counts == decide(policy, earlier).allowed


def test_a_voter_with_no_ballot_has_none_that_counts() -> None:
    import pytest

    with pytest.raises(ValueError, match="no ballot"):
        counted_index(DuplicatePolicy.FIRST, [])


@given(policies, st.lists(st.just("online"), min_size=2, max_size=6))
def test_an_online_chain_may_repeat_a_voter_exactly_when_a_later_online_ballot_counts(
    policy: DuplicatePolicy, history: list[str]
) -> None:
    # The chain rule and the count agree: where the platform may record a member again, the
    # newest online ballot is the one that counts; where it may not, a second would never count.
    may = chain_may_repeat(policy, "online")
    assert may is (counted_index(policy, history) == len(history) - 1)
    assert may is new_ballot_counts(policy, ["online"], "online")
    assert chain_may_repeat(policy, "kiosk") is False  # a kiosk never records a voter twice
