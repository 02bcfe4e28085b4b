"""The platform's in-memory state: challenges are single use, expire and take no memory until
used, sessions expire and count their encryption checks, and the rate limits let an address
(an IPv6 client's /64) through again in time."""

from __future__ import annotations

import pytest

from online.errors import ApiError
from online.limits import Challenges, Limits, RateLimiter, Sessions, client_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_challenge_is_used_once_and_only_before_it_expires() -> None:
    clock = FakeClock()
    challenges = Challenges(ttl_s=120, clock=clock)
    first, second = challenges.issue(), challenges.issue()
    assert len(first) == 32 and first != second
    assert challenges.fresh(first) and challenges.use(first)
    assert not challenges.fresh(first) and not challenges.use(first)  # used up
    assert not challenges.fresh(b"\x00" * 32)  # never issued
    assert not challenges.fresh(first[:31] + bytes([first[31] ^ 1]))  # its MAC altered
    assert not challenges.fresh(second[:-1])
    clock.now += 119
    assert challenges.fresh(second)
    clock.now += 2
    assert not challenges.fresh(second)  # expired


def test_issuing_challenges_stores_nothing_and_used_ones_are_forgotten_in_time() -> None:
    clock = FakeClock()
    challenges = Challenges(ttl_s=120, clock=clock)
    issued = [challenges.issue() for _ in range(1000)]
    assert challenges.used == 0 and all(challenges.fresh(c) for c in issued)
    assert challenges.use(issued[0]) and challenges.used == 1
    clock.now += 121
    challenges.use(challenges.issue())
    assert challenges.used == 1  # the first is forgotten: it could no longer be used anyway


def test_another_process_secret_refuses_the_challenge() -> None:
    clock = FakeClock()
    issued = Challenges(ttl_s=120, clock=clock).issue()
    assert not Challenges(ttl_s=120, clock=clock).fresh(issued)


def test_limits_count_ipv6_clients_by_their_64() -> None:
    assert client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:2::9") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("198.51.100.7") == "198.51.100.7"
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_key("fe80::1%eth0") == "fe80::/64"
    assert client_key("unknown") == "unknown"


def test_sessions_expire_and_count_checks() -> None:
    clock = FakeClock()
    sessions = Sessions(Limits(session_ttl_s=60, spoils_per_session=2), clock=clock)
    session = sessions.start(b"v" * 16, b"k" * 32, test=False)
    assert sessions.get(session.token).voter_id == b"v" * 16
    assert session.expires.endswith("Z")
    sessions.count_spoil(session.token)
    sessions.count_spoil(session.token)
    with pytest.raises(ApiError) as limited:
        sessions.count_spoil(session.token)
    assert (limited.value.status, limited.value.code) == (429, "too_many_attempts")
    clock.now += 61
    with pytest.raises(ApiError) as expired:
        sessions.get(session.token)
    assert (expired.value.status, expired.value.code) == (401, "session_expired")
    for token in (None, "", "unknown"):
        with pytest.raises(ApiError):
            sessions.get(token)


def test_an_ended_session_is_gone() -> None:
    sessions = Sessions(Limits(), clock=FakeClock())
    session = sessions.start(b"v" * 16, b"k" * 32, test=True)
    sessions.end(session.token)
    with pytest.raises(ApiError):
        sessions.get(session.token)


def test_the_rate_limit_says_when_to_retry_and_frees_in_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 60, max_keys=100, clock=clock)
    for _ in range(3):
        limiter.hit("198.51.100.7")
    with pytest.raises(ApiError) as limited:
        limiter.hit("198.51.100.7")
    assert limited.value.status == 429 and limited.value.retry_after == 61
    limiter.hit("203.0.113.9")  # another address is not held back
    clock.now += 30
    with pytest.raises(ApiError) as later:
        limiter.check("198.51.100.7")
    assert later.value.retry_after == 31
    clock.now += 31
    limiter.hit("198.51.100.7")


def test_the_rate_limit_forgets_the_oldest_addresses_beyond_its_bound() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 60, max_keys=2, clock=clock)
    limiter.hit("a")
    limiter.hit("b")
    limiter.hit("c")  # "a" is forgotten: memory stays bounded under a flood of addresses
    limiter.hit("a")
    with pytest.raises(ApiError):
        limiter.hit("c")


def test_a_session_sends_a_bounded_number_of_ballots() -> None:
    sessions = Sessions(Limits(casts_per_session=2), clock=FakeClock())
    session = sessions.start(b"v" * 16, b"k" * 32, test=False)
    sessions.count_cast(session.token)
    sessions.count_cast(session.token)
    with pytest.raises(ApiError) as limited:
        sessions.count_cast(session.token)
    assert limited.value.status == 429
    sessions.count_spoil(session.token)  # checks are counted apart
