"""The platform's short-lived state, in memory: sign-in challenges, voters' sessions and the
rate limits. None of it is a record: a restart forgets it and voters sign in again, while every
ballot already accepted is in the chain store."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from online.errors import SESSION_EXPIRED, TOO_MANY, TOO_MANY_CHECKS, ApiError

CHALLENGE_BYTES = 32
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much the platform lets one client or session do. The defaults suit a vote from
    phones behind one carrier's addresses too: generous per address, strict on failures."""

    challenge_ttl_s: float = 120.0  # a challenge is good for one sign-in within 2 minutes
    session_ttl_s: float = 20 * 60.0  # a voter's session: 20 minutes from sign-in
    window_s: float = 60.0  # the window the per-address request limits count in
    challenges_per_window: int = 60  # challenges one address may ask for per window
    signins_per_window: int = 30  # sign-in attempts one address may make per window
    failure_window_s: float = 15 * 60.0  # failed sign-ins are counted over 15 minutes ...
    failures_per_window: int = 10  # ... and this many from one address lock it out
    spoils_per_session: int = 3  # encryption checks (spoiled ballots) per session
    casts_per_session: int = 10  # ballots sent in one session (each costs a proof check)
    max_entries: int = 200_000  # outstanding challenges, sessions or tracked addresses


class RateLimiter:
    """At most ``limit`` events per ``window_s`` for each key (a client address); the oldest
    keys are forgotten beyond ``max_keys`` so that a flood of addresses cannot exhaust memory."""

    def __init__(
        self, limit: int, window_s: float, *, max_keys: int, clock: Clock = time.monotonic
    ) -> None:
        self._limit, self._window, self._max_keys, self._clock = limit, window_s, max_keys, clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Raise 429 (with the seconds until a slot frees) if ``key`` used up its events."""
        with self._lock:
            events = self._current(key)
            if events is not None and len(events) >= self._limit:
                wait = int(events[0] + self._window - self._clock()) + 1
                raise ApiError(
                    429, "too_many_attempts", TOO_MANY, f"rate limit for {key}", retry_after=wait
                )

    def record(self, key: str) -> None:
        with self._lock:
            events = self._current(key)
            if events is None:
                events = self._events[key] = deque()
                while len(self._events) > self._max_keys:
                    self._events.popitem(last=False)
            events.append(self._clock())
            self._events.move_to_end(key)

    def hit(self, key: str) -> None:
        """``check`` then ``record``: one event that counts whether it succeeds or not."""
        self.check(key)
        self.record(key)

    def _current(self, key: str) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        horizon = self._clock() - self._window
        while events and events[0] <= horizon:
            events.popleft()
        return events


class Challenges:
    """Sign-in challenges: random, single use, good for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float, max_open: int, clock: Clock = time.monotonic) -> None:
        self._ttl, self._max, self._clock = ttl_s, max_open, clock
        self._open: OrderedDict[bytes, float] = OrderedDict()  # challenge -> when it expires
        self._lock = threading.Lock()

    def issue(self) -> bytes:
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        with self._lock:
            self._drop_expired()
            if len(self._open) >= self._max:
                raise ApiError(429, "too_many_attempts", TOO_MANY, "too many open challenges")
            self._open[challenge] = self._clock() + self._ttl
        return challenge

    def take(self, challenge: bytes) -> bool:
        """Use ``challenge`` up: True if it was issued here, unused and unexpired."""
        with self._lock:
            expires = self._open.pop(challenge, None)
        return expires is not None and expires > self._clock()

    def _drop_expired(self) -> None:
        now = self._clock()
        while self._open:
            first, expires = next(iter(self._open.items()))
            if expires > now:
                return
            del self._open[first]


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in voter: who, with which of their roll entry's keys, on which roll."""

    token: str
    voter_id: bytes
    key: bytes
    test: bool
    expires_at: float  # on the platform's monotonic clock
    expires: str  # the same moment as ISO 8601 UTC, for the page
    spoiled: int = 0
    casts: int = 0


class Sessions:
    """Voters' sessions by bearer token, each for ``ttl_s`` seconds from sign-in."""

    def __init__(self, limits: Limits, clock: Clock = time.monotonic) -> None:
        self._limits, self._clock = limits, clock
        self._by_token: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, voter_id: bytes, key: bytes, *, test: bool) -> Session:
        ttl = self._limits.session_ttl_s
        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        session = Session(
            secrets.token_urlsafe(32),
            voter_id,
            key,
            test,
            self._clock() + ttl,
            expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        with self._lock:
            self._drop_expired()
            if len(self._by_token) >= self._limits.max_entries:
                raise ApiError(429, "too_many_attempts", TOO_MANY, "too many open sessions")
            self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> Session:
        """The live session of ``token``; 401 ``session_expired`` for none or an expired one."""
        with self._lock:
            session = self._by_token.get(token or "")
            if session is not None and session.expires_at <= self._clock():
                del self._by_token[session.token]
                session = None
        if session is None:
            raise ApiError(401, "session_expired", SESSION_EXPIRED, "no live session")
        return session

    def count_spoil(self, token: str) -> None:
        """Count one encryption check against the session; 429 past the limit."""
        self._count(token, "spoiled", self._limits.spoils_per_session, TOO_MANY_CHECKS)

    def count_cast(self, token: str) -> None:
        """Count one ballot sent in the session (checking its proofs costs the platform far
        more than sending it costs a client); 429 past the limit."""
        self._count(token, "casts", self._limits.casts_per_session, TOO_MANY)

    def _count(self, token: str, field: str, most: int, message: tuple[str, str]) -> None:
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                raise ApiError(401, "session_expired", SESSION_EXPIRED, "no live session")
            used = session.spoiled if field == "spoiled" else session.casts
            if used >= most:
                raise ApiError(429, "too_many_attempts", message, f"{field} limit")
            if field == "spoiled":
                self._by_token[token] = replace(session, spoiled=used + 1)
            else:
                self._by_token[token] = replace(session, casts=used + 1)

    def end(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)

    def _drop_expired(self) -> None:
        # Sessions all live ttl_s from their start, so they expire in the order they began.
        now = self._clock()
        while self._by_token:
            first = next(iter(self._by_token.values()))
            if first.expires_at > now:
                return
            del self._by_token[first.token]
