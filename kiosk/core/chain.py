"""A kiosk's chain: the rules for what may follow what, and the verification of a whole chain."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

from kiosk.core.block import (
    ZERO_HASH,
    BlockKind,
    SignedBlock,
    ballot_identity,
    body_bytes,
    check_body,
)
from kiosk.core.block import Mode as Mode  # defined with the blocks that record it
from kiosk.core.crypto import Domain, kiosk_id_for, verify_signature
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import BlockError, ChainError, EncodingError, StateError, VerificationError


class Session(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class ChainState:
    """Where a kiosk chain stands after its last block: what the next block may be."""

    height: int = -1  # -1: nothing yet, the next block is the genesis block
    head: bytes = ZERO_HASH
    time: str = ""
    election: str = ""
    kiosk: str = ""
    kiosk_key: bytes = b""
    package_hash: bytes = b""
    mode: Mode = Mode.UNSET
    session: Session = Session.CLOSED
    session_number: int = 0
    ballots: int = 0
    test_ballots: int = 0
    session_ballots: int = 0
    session_test_ballots: int = 0

    @property
    def next_height(self) -> int:
        return self.height + 1


def next_state(state: ChainState, signed: SignedBlock) -> ChainState:
    """The state after ``signed``, or ``StateError`` if its kind is not allowed now.

    Pure: signatures and links are checked by ``verify_chain``; this decides only whether
    the event may happen in the kiosk's current mode and session.
    """
    block = signed.block
    base = replace(state, height=block.height, head=signed.hash, time=block.time)
    body = block.body
    match block.kind:
        case BlockKind.GENESIS:
            if state.height != -1:
                raise StateError("a genesis block may only start a chain")
            key = body_bytes(body, "kiosk_key")
            return replace(
                base,
                election=block.election,
                kiosk=block.kiosk,
                kiosk_key=key,
                package_hash=body_bytes(body, "package"),
            )
        case BlockKind.MODE:
            _need(state.session is Session.CLOSED, "the mode changes only between sessions")
            return replace(base, mode=Mode(body["mode"]))
        case BlockKind.SESSION_OPEN:
            _need(state.session is Session.CLOSED, "a session is already open")
            _need(state.mode is not Mode.UNSET, "choose test or official mode before opening")
            _need(
                body["session"] == state.session_number + 1,
                f"the next session is number {state.session_number + 1}",
            )
            return replace(
                base,
                session=Session.OPEN,
                session_number=body["session"],
                session_ballots=0,
                session_test_ballots=0,
            )
        case BlockKind.SESSION_PAUSE:
            _need(state.session is Session.OPEN, "only an open session can be paused")
            _need_session(state, body["session"])
            return replace(base, session=Session.PAUSED)
        case BlockKind.SESSION_RESUME:
            _need(state.session is Session.PAUSED, "only a paused session can be resumed")
            _need_session(state, body["session"])
            return replace(base, session=Session.OPEN)
        case BlockKind.SESSION_CLOSE:
            _need(state.session is not Session.CLOSED, "no session is open")
            _need_session(state, body["session"])
            _need(
                body["ballots"] == state.session_ballots
                and body["test_ballots"] == state.session_test_ballots,
                "the closing counts do not match the ballots in this session",
            )
            return replace(base, session=Session.CLOSED)
        case BlockKind.BALLOT:
            _need(state.session is Session.OPEN, "ballots are cast only in an open session")
            _need(state.mode is Mode.OFFICIAL, "official ballots need official mode")
            _need(
                _holds_test_ballot(body) is not True, "an official ballot block holds a test ballot"
            )
            return replace(
                base, ballots=state.ballots + 1, session_ballots=state.session_ballots + 1
            )
        case BlockKind.TEST_BALLOT:
            _need(state.session is Session.OPEN, "ballots are cast only in an open session")
            _need(state.mode is Mode.TEST, "test ballots need test mode")
            _need(
                _holds_test_ballot(body) is not False,
                "a test ballot block holds an official ballot",
            )
            return replace(
                base,
                test_ballots=state.test_ballots + 1,
                session_test_ballots=state.session_test_ballots + 1,
            )
        case BlockKind.SPOILED:
            # A checked ballot is made in a voter's session, in the kiosk's mode: test mode
            # spoils only test ballots, official mode only official ones. It counts nowhere.
            _need(state.session is Session.OPEN, "ballots are checked only in an open session")
            _need(
                _holds_test_ballot(body) is (state.mode is Mode.TEST),
                "a spoiled ballot is a test ballot in test mode and an official one otherwise",
            )
            return base
        case _:
            assert_never(block.kind)


def _holds_test_ballot(body: Any) -> bool | None:
    """Whether a body's encrypted ballot says it is a test ballot; None for a body without one.
    Read defensively: the kiosk's store calls ``next_state`` on
    a block it is about to sign, before any schema check."""
    if not isinstance(body, dict):
        return None
    ballot = body.get("ballot")
    if not isinstance(ballot, dict):
        return None
    return ballot.get("test") is True


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise StateError(message)


def _need_session(state: ChainState, number: object) -> None:
    _need(number == state.session_number, f"this is session {state.session_number}")


def verify_next(state: ChainState, signed: SignedBlock, *, decoded: bool = False) -> ChainState:
    """Check that ``signed`` may follow ``state`` in the chain; return the new state.

    Raises ``ChainError`` naming the block's height and the reason. ``decoded``: ``signed``
    comes straight from ``read_signed_block`` (or ``decode_block``), which checked its body
    and computed its hash from its content, so neither is done again here.
    """
    block = signed.block
    height = block.height

    def fail(
        reason: str, detail: str, expected: str | None = None, found: str | None = None
    ) -> ChainError:
        return ChainError(height, reason, detail, expected=expected, found=found)

    if height != state.next_height:
        # Named by the position where the chain breaks, not by the height the block claims.
        raise ChainError(
            state.next_height,
            "height_gap",
            "blocks must be consecutive",
            expected=str(state.next_height),
            found=str(height),
        )
    if not decoded:
        try:
            check_body(block.kind, block.body)
        except BlockError as e:
            raise fail("bad_body", str(e)) from e
    if block.prev != state.head:
        raise fail(
            "prev_mismatch",
            "does not link to the previous block",
            b64e(state.head),
            b64e(block.prev),
        )
    computed = signed.hash if decoded else _content_hash(signed, fail)
    if computed != signed.hash:
        raise fail(
            "hash_mismatch", "hash does not match the content", b64e(computed), b64e(signed.hash)
        )
    if state.height >= 0:
        if block.election != state.election:
            raise fail(
                "wrong_election", "belongs to another election", state.election, block.election
            )
        if block.kiosk != state.kiosk:
            raise fail("wrong_kiosk", "belongs to another kiosk", state.kiosk, block.kiosk)
        if block.time < state.time:
            raise fail(
                "time_backwards",
                "is dated before the block it follows",
                f">= {state.time}",
                block.time,
            )
        key = state.kiosk_key
    elif block.kind is BlockKind.GENESIS:
        key = body_bytes(block.body, "kiosk_key")
        if kiosk_id_for(key) != block.kiosk:
            raise fail(
                "wrong_kiosk",
                "the kiosk id is not derived from the genesis key",
                kiosk_id_for(key),
                block.kiosk,
            )
    else:
        raise fail(
            "not_genesis",
            "a chain must start with a genesis block",
            BlockKind.GENESIS.value,
            block.kind.value,
        )
    try:
        verify_signature(Domain.BLOCK, key, computed, signed.sig)
    except VerificationError as e:
        raise fail("bad_signature", "is not signed by this kiosk's key") from e
    try:
        return next_state(state, signed)
    except StateError as e:
        raise fail("not_allowed", f"{block.kind.value} is not allowed here: {e}") from e


def _content_hash(signed: SignedBlock, fail: Callable[[str, str], ChainError]) -> bytes:
    try:
        return signed.block.hash()
    except EncodingError as e:
        raise fail("bad_body", f"cannot be hashed: {e}") from e


def verify_chain(
    blocks: Iterable[SignedBlock],
    *,
    election: str | None = None,
    kiosk: str | None = None,
    package_hash: bytes | None = None,
    repeats: bool = False,
) -> ChainState:
    """Verify a whole kiosk chain from its genesis block; return the state at its head.

    Raises ``ChainError`` at the first block that fails, naming its height and the reason.
    With ``election``, ``kiosk`` or ``package_hash`` the chain must also be that election's,
    that kiosk's, or built on that exact election package. With ``repeats`` the chain may hold
    more than one ballot of a voter (``ChainVerifier``).
    """
    verifier = ChainVerifier(
        election=election, kiosk=kiosk, package_hash=package_hash, repeats=repeats
    )
    for signed in blocks:
        verifier.add(signed)
    return verifier.finish()


# How far ahead of the ledger's clock a block may be dated when it arrives. Kiosk clocks drift
# while they are offline with no time server; ten minutes covers a day of a bad clock, and
# block times are kept to the minute anyway. There is no limit on how late a block may
# arrive: a kiosk that was offline syncs or is imported from USB hours later, until the close.
CLOCK_TOLERANCE = timedelta(minutes=10)


def check_arrival(signed: SignedBlock, now: datetime) -> None:
    """Refuse a block dated after the ledger's clock ``now`` (plus ``CLOCK_TOLERANCE``)."""
    block = signed.block
    dated = _minute(block.time)
    if dated > now + CLOCK_TOLERANCE:
        raise ChainError(
            block.height,
            "time_in_future",
            f"is dated {block.time}, after the ledger's clock "
            f"({now.astimezone(UTC):%Y-%m-%dT%H:%MZ}) by more than "
            f"{int(CLOCK_TOLERANCE.total_seconds() // 60)} minutes",
        )


@dataclass(frozen=True, slots=True)
class Schedule:
    """The package's opening and close, parsed once: official ballots are dated inside them.

    A block time is kept to the minute, so a ballot cast in the minute the election opens is
    dated that minute: the opening is taken to the minute too."""

    opens: datetime  # UTC, to the minute
    closes: datetime  # UTC

    @classmethod
    def of(cls, opens: str, closes: str) -> Schedule:
        """From the package's ISO times with their offset."""
        start = datetime.fromisoformat(opens).astimezone(UTC).replace(second=0, microsecond=0)
        return cls(start, datetime.fromisoformat(closes).astimezone(UTC))

    def fault(self, time: str) -> str | None:
        """Why an official ballot dated ``time`` (a block time) is outside the schedule, or
        None: the one rule the kiosk applies before casting and every verifier after."""
        dated = _minute(time)
        if dated < self.opens:
            return "before_opening"
        if dated > self.closes:
            return "after_closing"
        return None


def check_schedule(signed: SignedBlock, schedule: Schedule) -> None:
    """Refuse an official ballot dated outside ``schedule``. Test ballots, mode and session
    blocks may be dated any time (staff test before the opening)."""
    block = signed.block
    if block.kind is not BlockKind.BALLOT:
        return
    match schedule.fault(block.time):
        case "before_opening":
            raise ChainError(
                block.height,
                "before_opening",
                f"is dated {block.time}, before the opening {schedule.opens:%Y-%m-%dT%H:%MZ}",
            )
        case "after_closing":
            raise ChainError(
                block.height,
                "after_closing",
                f"is dated {block.time}, after the close {schedule.closes.isoformat()}",
            )


@functools.lru_cache(maxsize=4096)
def _minute(time: str) -> datetime:
    # Cached: blocks are dated to the minute, so a batch shares a few times, and strptime is
    # slow; a datetime is immutable.
    return datetime.strptime(time, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


class ChainVerifier:
    """The one chain verifier: ``verify_chain`` one block at a time.

    Ingest (resuming from the chain head it stored, with ``voted_here`` looking up the voters
    it already holds for this source and ``arrived_at`` its clock), the kiosk's store,
    ``verify-chain`` and the bundle check all verify through this class, so a chain one
    accepts the others accept too: a ballot of a voter who already cast one of that kind on
    this kiosk is refused everywhere. With ``repeats`` the source may record a voter more than
    once (an online platform whose duplicate policy counts a later online ballot; the caller
    asks ``kiosk.core.duplicates.chain_may_repeat``); the count then keeps the ballot the policy
    names and lists the others as superseded. With ``decoded``, every block given comes straight
    from the decoder (ingest's): its body and hash, checked there, are not checked again.
    """

    def __init__(
        self,
        *,
        election: str | None = None,
        kiosk: str | None = None,
        package_hash: bytes | None = None,
        kiosk_key: bytes | None = None,
        state: ChainState | None = None,
        voted_here: Callable[[BlockKind, bytes], bool] | None = None,
        arrived_at: datetime | None = None,
        schedule: Schedule | None = None,
        decoded: bool = False,
        repeats: bool = False,
    ) -> None:
        self.expected = (election, kiosk, package_hash, kiosk_key)
        self._repeats = repeats  # this source may record one voter's ballots more than once
        self._decoded = decoded  # every block given comes straight from the decoder
        self.state = state or ChainState()
        self._voted_here = voted_here
        self._arrived_at = arrived_at  # the ledger's clock when the blocks arrived
        self._schedule = schedule  # the package's (opens, closes): official ballots in it
        self._seen: set[tuple[BlockKind, bytes]] = set()

    def add(self, signed: SignedBlock) -> ChainState:
        """Verify ``signed`` as the next block; the state moves on only if it passes."""
        state = verify_next(self.state, signed, decoded=self._decoded)
        block = signed.block
        if self._arrived_at is not None:  # after the signature: a forged time is bad_signature
            check_arrival(signed, self._arrived_at)
        if self._schedule is not None:
            check_schedule(signed, self._schedule)
        if block.height == 0:
            _check_expected(state, *self.expected)
        if block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT) and not self._repeats:
            key = (block.kind, ballot_identity(block.body))
            if key in self._seen or (self._voted_here is not None and self._voted_here(*key)):
                raise ChainError(
                    block.height,
                    "repeat_nullifier",  # protocol 1's name for it, kept: a stable reason
                    "the same voter cast a second ballot on this kiosk",
                )
            self._seen.add(key)
        self.state = state
        return state

    def finish(self) -> ChainState:
        if self.state.height < 0:
            raise ChainError(0, "empty", "the chain has no blocks")
        return self.state


def _check_expected(
    state: ChainState,
    election: str | None,
    kiosk: str | None,
    package_hash: bytes | None,
    kiosk_key: bytes | None,
) -> None:
    if election is not None and state.election != election:
        raise ChainError(
            0,
            "wrong_election",
            "chain is for another election",
            expected=election,
            found=state.election,
        )
    if kiosk is not None and state.kiosk != kiosk:
        raise ChainError(
            0, "wrong_kiosk", "chain is from another kiosk", expected=kiosk, found=state.kiosk
        )
    if kiosk_key is not None and state.kiosk_key != kiosk_key:
        raise ChainError(
            0,
            "wrong_key",
            "the genesis block names another key than the enrolled one",
            expected=b64e(kiosk_key),
            found=b64e(state.kiosk_key),
        )
    if package_hash is not None and state.package_hash != package_hash:
        raise ChainError(
            0,
            "wrong_package",
            "chain was started on another election package",
            expected=b64e(package_hash),
            found=b64e(state.package_hash),
        )


def state_to_json(state: ChainState) -> dict[str, object]:
    """A chain state as JSON, so a verifier can resume where it stopped (the ledger does)."""
    return {
        "height": state.height,
        "head": b64e(state.head),
        "time": state.time,
        "election": state.election,
        "kiosk": state.kiosk,
        "kiosk_key": b64e(state.kiosk_key),
        "package_hash": b64e(state.package_hash),
        "mode": state.mode.value,
        "session": state.session.value,
        "session_number": state.session_number,
        "ballots": state.ballots,
        "test_ballots": state.test_ballots,
        "session_ballots": state.session_ballots,
        "session_test_ballots": state.session_test_ballots,
    }


def state_from_json(value: dict[str, Any]) -> ChainState:
    try:
        return ChainState(
            height=int(value["height"]),
            head=b64d(value["head"]),
            time=str(value["time"]),
            election=str(value["election"]),
            kiosk=str(value["kiosk"]),
            kiosk_key=b64d(value["kiosk_key"]),
            package_hash=b64d(value["package_hash"]),
            mode=Mode(value["mode"]),
            session=Session(value["session"]),
            session_number=int(value["session_number"]),
            ballots=int(value["ballots"]),
            test_ballots=int(value["test_ballots"]),
            session_ballots=int(value["session_ballots"]),
            session_test_ballots=int(value["session_test_ballots"]),
        )
    except (KeyError, TypeError, ValueError, EncodingError) as e:
        raise EncodingError(f"stored chain state is malformed: {e}") from e
