"""The platform's short-lived state, in memory: sign-in challenges, voters' sessions and the
rate limits. None of it is a record: a restart forgets it and voters sign in again, while every
ballot already accepted is in the chain store."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import struct
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from online.errors import (
    SESSION_EXPIRED,
    TOO_MANY,
    TOO_MANY_CHECKS,
    TOO_MANY_CHECKS_VOTER,
    TOO_MANY_REFUSED,
    ApiError,
)

CHALLENGE_BYTES = 32  # what the page and docs/spec/online.md expect
CHALLENGE_RANDOM_BYTES = 8
CHALLENGE_MAC_BYTES = 16
SECRET_BYTES = 32
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
    # Per member, across all their sessions, for the life of the process:
    spoils_per_voter: int = 5  # checked (spoiled) ballots recorded
    refusals_per_voter: int = 10  # ballots refused (a bad proof, form or signature ...)
    max_entries: int = 200_000  # open sessions, or client addresses the limits track


def client_key(host: str) -> str:
    """What the per-address limits count under: an IPv4 client's address, an IPv6 client's
    /64 (one household or phone is handed a whole /64, so a /128 would let it take 2^64
    keys), and anything else (a proxy's name, "unknown") as it is."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


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
    """Sign-in challenges the platform need not remember until they are used. A challenge is
    time || random || MAC: the issuing time (milliseconds on the platform's clock, 8 bytes),
    8 random bytes and HMAC-SHA256 (RFC 2104) under a per-process 32-byte secret over both,
    truncated to its first 16 bytes as RFC 2104 §5 allows (at least half the hash's length):
    32 bytes in all, the size the page and docs/spec/online.md expect. Issuing one stores
    nothing, so no flood of requests for challenges can fill anything up; only challenges
    used in a sign-in whose signature verified are kept, until they expire, so none is
    accepted twice. A restart draws a new secret: challenges issued before it are refused."""

    def __init__(
        self, ttl_s: float, clock: Clock = time.monotonic, secret: bytes | None = None
    ) -> None:
        self._ttl, self._clock = ttl_s, clock
        self._secret = secret if secret is not None else secrets.token_bytes(SECRET_BYTES)
        self._used: OrderedDict[bytes, float] = OrderedDict()  # challenge -> when to forget it
        self._lock = threading.Lock()

    def issue(self) -> bytes:
        issued = struct.pack(">Q", int(self._clock() * 1000))
        signed = issued + secrets.token_bytes(CHALLENGE_RANDOM_BYTES)
        return signed + self._mac(signed)

    def fresh(self, challenge: bytes) -> bool:
        """Issued here (its MAC verifies), not expired and not used yet."""
        if len(challenge) != CHALLENGE_BYTES:
            return False
        signed, mac = challenge[:-CHALLENGE_MAC_BYTES], challenge[-CHALLENGE_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(signed)):
            return False
        age = self._clock() - struct.unpack(">Q", signed[:8])[0] / 1000
        if not -1.0 <= age < self._ttl:  # a little slack for the milliseconds cut off
            return False
        with self._lock:
            return challenge not in self._used

    def use(self, challenge: bytes) -> bool:
        """Mark ``challenge`` used: False if it was used already (two sign-ins racing)."""
        with self._lock:
            self._drop_expired()
            if challenge in self._used:
                return False
            # Kept a full lifetime from now: at least as long as the challenge is good for.
            self._used[challenge] = self._clock() + self._ttl
            return True

    @property
    def used(self) -> int:
        """How many used challenges are remembered (they are forgotten once expired)."""
        with self._lock:
            return len(self._used)

    def _mac(self, signed: bytes) -> bytes:
        # The secret keys this MAC and nothing else, so no domain tag is needed.
        digest = hmac.new(self._secret, signed, hashlib.sha256).digest()
        return digest[:CHALLENGE_MAC_BYTES]

    def _drop_expired(self) -> None:
        # Entries are added with the same lifetime, so they expire in the order they came.
        now = self._clock()
        while self._used:
            first, forget_at = next(iter(self._used.items()))
            if forget_at > now:
                return
            del self._used[first]


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
    """Voters' sessions by bearer token, each for ``ttl_s`` seconds from sign-in, and at most
    one live session per member: signing in again ends the earlier one (its token answers 401
    ``session_expired``), so one code cannot pile up sessions, nor the checks each allows."""

    def __init__(self, limits: Limits, clock: Clock = time.monotonic) -> None:
        self._limits, self._clock = limits, clock
        self._by_token: OrderedDict[str, Session] = OrderedDict()
        self._by_voter: dict[tuple[bytes, bool], str] = {}
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
            earlier = self._by_voter.pop((voter_id, test), None)
            if earlier is not None:
                del self._by_token[earlier]
            if len(self._by_token) >= self._limits.max_entries:
                raise ApiError(429, "too_many_attempts", TOO_MANY, "too many open sessions")
            self._by_token[session.token] = session
            self._by_voter[(voter_id, test)] = session.token
        return session

    def get(self, token: str | None) -> Session:
        """The live session of ``token``; 401 ``session_expired`` for none or an expired one."""
        with self._lock:
            session = self._by_token.get(token or "")
            if session is not None and session.expires_at <= self._clock():
                self._forget(session)
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
            session = self._by_token.get(token)
            if session is not None:
                self._forget(session)

    def _forget(self, session: Session) -> None:
        del self._by_token[session.token]
        if self._by_voter.get((session.voter_id, session.test)) == session.token:
            del self._by_voter[(session.voter_id, session.test)]

    def _drop_expired(self) -> None:
        # Sessions all live ttl_s from their start, so they expire in the order they began.
        now = self._clock()
        while self._by_token:
            first = next(iter(self._by_token.values()))
            if first.expires_at > now:
                return
            self._forget(first)


class VoterLimits:
    """What one member may do across all their sessions, for the life of the process: record
    at most ``spoils_per_voter`` checked ballots and send at most ``refusals_per_voter``
    ballots that are refused; past either, 429 and nothing is checked or recorded. Without
    this, signing in again would buy a fresh allowance each time. The counts live in memory
    only (a restart starts them again: see online/README.md); one entry per member who
    signed in, so the roll bounds them."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._spoils: dict[tuple[bytes, bool], int] = {}
        self._refusals: dict[tuple[bytes, bool], int] = {}
        self._lock = threading.Lock()

    def check_refusals(self, session: Session) -> None:
        """429 once the member's refused ballots reached the limit."""
        with self._lock:
            refused = self._refusals.get(_member(session), 0)
        if refused >= self._limits.refusals_per_voter:
            raise ApiError(429, "too_many_attempts", TOO_MANY_REFUSED, "refused-ballot limit")

    def count_refusal(self, session: Session) -> None:
        with self._lock:
            member = _member(session)
            self._refusals[member] = self._refusals.get(member, 0) + 1

    def take_spoil(self, session: Session) -> None:
        """Count one checked ballot before it is recorded; 429 past the limit."""
        with self._lock:
            member = _member(session)
            spoiled = self._spoils.get(member, 0)
            if spoiled >= self._limits.spoils_per_voter:
                raise ApiError(
                    429, "too_many_attempts", TOO_MANY_CHECKS_VOTER, "checked-ballot limit"
                )
            self._spoils[member] = spoiled + 1

    def give_back_spoil(self, session: Session) -> None:
        """The checked ballot counted by ``take_spoil`` was not recorded after all."""
        with self._lock:
            member = _member(session)
            self._spoils[member] = max(0, self._spoils.get(member, 0) - 1)


def _member(session: Session) -> tuple[bytes, bool]:
    return session.voter_id, session.test
