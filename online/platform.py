"""The online platform's service: one more source of the election, like a kiosk. It keeps its
own signed chain in the kiosk's SQLCipher store (``BallotBox``), syncs it to the ledger with the
kiosk's sync worker, and records a ballot only after every check has passed; the answer to the
voter is sent only once the ballot's block is committed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kiosk import __version__
from kiosk.core.block import BlockKind, Mode, SignedBlock
from kiosk.core.chain import Schedule, Session
from kiosk.core.duplicates import new_ballot_counts
from kiosk.core.election import Channel, DuplicatePolicy, ElectionPackage, Voter
from kiosk.core.encrypted_ballot import EncryptedBallot, read_encrypted_ballot
from kiosk.core.errors import HanpyoError, StateError
from kiosk.core.heartbeat import Heartbeat, PrinterReport, ReaderState
from kiosk.store.ballot_box import BallotBox
from kiosk.store.errors import AlreadyVotedError, StoreError
from kiosk.store.keys import KioskKeys, load_keys
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import LedgerUnreachable, SyncError
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.worker import SyncWorker
from online import errors as msg
from online.ballots import (
    CheckedBallots,
    check_cast,
    check_sign_in,
    check_spoiled,
    online_voter,
)
from online.errors import ApiError
from online.files import PlatformConfig, open_store, saved_package
from online.limits import Challenges, RateLimiter, Sessions, VoterLimits
from online.limits import Session as VoterSession
from online.public_election import public_election

log = logging.getLogger("hanpyo.online")
T = TypeVar("T")
# After the ledger failed to answer a has-voted question in time, members vote without asking
# it for this long (as when it is unreachable): a slow ledger costs one wait, not one a request.
LEDGER_QUIET_S = 30.0


class Platform:
    """Everything the web layer acts through. Thread-safe: requests run in a thread pool."""

    def __init__(
        self,
        config: PlatformConfig,
        package: ElectionPackage,
        keys: KioskKeys,
        public_signature: bytes | None,
    ) -> None:
        self.config, self.package, self.keys = config, package, keys
        store = open_store(config.data_dir, keys, package, create=True)
        self.box = BallotBox(store, package)
        self._ledger_quiet_until = 0.0  # time.monotonic() before which has-voted is not asked
        # Only the spoiled blocks are read (and decoded): what a restart must not forget.
        self.checked = CheckedBallots(
            read_encrypted_ballot(signed.block.body["ballot"])
            for signed in store.blocks_of(BlockKind.SPOILED)
        )
        self.schedule = Schedule.of(package.opens, package.closes)
        # What every visitor reads, made once: the package's public part (rolls by hash) with
        # the authority's signature over it, from the signed file, which the page checks
        # before it derives anything (review F3; online/public_election.py).
        self.public = public_election(package, public_signature, config.authority)
        limits = config.limits
        self.challenges = Challenges(limits.challenge_ttl_s)
        self.sessions = Sessions(limits)
        self.voter_limits = VoterLimits(limits)
        self.challenge_limit = RateLimiter(
            limits.challenges_per_window, limits.window_s, max_keys=limits.max_entries
        )
        self.signin_limit = RateLimiter(
            limits.signins_per_window, limits.window_s, max_keys=limits.max_entries
        )
        self.failure_limit = RateLimiter(
            limits.failures_per_window, limits.failure_window_s, max_keys=limits.max_entries
        )
        self._record = threading.Lock()  # one ballot's last checks and its commit at a time
        self.ledger_url = (config.ledger_url or package.ledger_url).rstrip("/")
        self.client: LedgerClient | None = None
        self.check_client: LedgerClient | None = None  # short timeouts: a voter is waiting
        self.worker: SyncWorker | None = None
        log_key = config.log_key or (
            package.log_verifier.vkey if package.log_verifier is not None else None
        )
        if log_key and self.ledger_url:
            self._start_sync(log_key)
        else:
            log.warning(
                "no ledger log key (package or --log-key) and address: this platform keeps "
                "its chain but never syncs it, and cannot ask whether a voter voted elsewhere"
            )

    @classmethod
    def open(cls, config: PlatformConfig) -> Platform:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        package, public_signature = saved_package(config)
        return cls(config, package, load_keys(config.key_dir), public_signature)

    def _start_sync(self, log_key: str) -> None:
        package, url = self.package, self.ledger_url
        self.client, self.check_client = (
            LedgerClient(
                url,
                self.keys.kiosk_key,
                log_key=log_key,
                tls_pin=package.ledger_tls_pin,
                official=self.official,
                timeout=timeout,
            )
            for timeout in ((3.05, 15.0), (2.0, 3.0))
        )
        self.worker = SyncWorker(
            self.box.store,
            self.client,
            log_key,
            idle_s=self.config.sync_idle_s,
            heartbeat=self.heartbeat,
            witnesses=package.witnesses,
            tiles=(TileProofs(f"{url}/tiles"),)
            if package.witnesses.threshold and package.ledger_tls_pin is None
            else (),
        ).start()

    def heartbeat(self) -> Heartbeat:
        """What the ledger's fleet dashboard shows for the platform: it has no card reader
        and no printer (its voters sign in over the web), and says so."""
        state = self.box.state
        return Heartbeat(
            mode=state.mode,
            session=state.session,
            height=state.height,
            pending_blocks=0,  # the worker reports only once the ledger holds every block
            ballots_session=state.session_ballots,
            reader=ReaderState.NONE,
            printer=PrinterReport.NONE,
            version=__version__,
        )

    def official(self) -> bool:
        return self.box.state.mode is Mode.OFFICIAL

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        for client in (self.client, self.check_client):
            if client is not None:
                client.close()
        self.box.store.close()

    # -- what the page reads ---------------------------------------------------------------
    def status(self) -> str:
        """``open`` while the platform's session is open (and, in official mode, the schedule
        has begun); ``closed`` once the schedule has ended; ``not_open`` otherwise."""
        now = datetime.now(UTC)
        if now >= self.schedule.closes:
            return "closed"
        state = self.box.state
        if state.session is Session.OPEN and (
            state.mode is Mode.TEST or now >= self.schedule.opens
        ):
            return "open"
        return "not_open"

    def check_base(self) -> str | None:
        base = self.config.check_url or self.ledger_url
        return f"{base.rstrip('/')}/check" if base else None

    def check_link(self, tracking_code: str) -> str | None:
        base = self.check_base()
        return f"{base}?code={tracking_code}" if base else None

    def election(self) -> dict[str, Any]:
        """The signed public part and the platform's state, for the page."""
        # A member may vote again here when the policy counts a later online ballot (``last``,
        # ``in_person_wins``); the count keeps the last and lists the earlier as superseded.
        return self.public.to_json() | {
            "status": self.status(),
            "revote": self.box.store.repeats,
            "check_url": self.check_base(),
        }

    # -- signing in --------------------------------------------------------------------------
    def challenge(self, address: str) -> bytes:
        self.challenge_limit.hit(address)
        return self.challenges.issue()

    def sign_in(
        self, address: str, key: bytes, challenge: bytes, signature: bytes
    ) -> dict[str, Any]:
        self.failure_limit.check(address)
        self.signin_limit.hit(address)
        if not self.challenges.fresh(challenge):
            # Not counted as a failure: anyone can make up a challenge, so counting it would
            # let anyone lock an address out; it was never an attempt at a code either.
            raise ApiError(
                401, "bad_signature", msg.BAD_SIGNATURE, "unknown, used or expired challenge"
            )
        try:
            voter = online_voter(self.package, key)
            check_sign_in(self.package, key, challenge, signature)
        except ApiError:
            self.failure_limit.record(address)  # a key off the roll or a forged signature
            raise
        if not self.challenges.use(challenge):  # the same answer sent twice at once
            raise ApiError(401, "bad_signature", msg.BAD_SIGNATURE, "challenge used")
        self._require_open(voter)
        voted = self._refuse_repeat(voter)
        session = self.sessions.start(voter.voter_id, key, test=voter.test)
        return {
            "session": session.token,
            "voter": voter.voter_id.hex(),
            "entry": {
                "category": voter.category,
                "group": voter.group,
                "excluded": sorted(voter.excluded),
            },
            "test": voter.test,
            "voted": voted,
            "expires": session.expires,
        }

    # -- recording -------------------------------------------------------------------------
    def cast(self, token: str | None, body: Any) -> dict[str, Any]:
        session = self.sessions.get(token)
        self.sessions.count_cast(session.token)
        self.voter_limits.check_refusals(session)
        checked = self._refused_counted(session, lambda: check_cast(self.package, session, body))
        self._refuse_repeat(checked.voter)
        with self._record:
            self._require_open(checked.voter)
            # In the lock: a checked ballot recorded a moment ago is seen.
            self._refused_counted(session, lambda: self.checked.refuse_cast(checked.ballot))
            try:
                receipt = self.box.cast_encrypted(
                    checked.voter, checked.ballot, checked.card_key, checked.card_sig
                )
            except AlreadyVotedError as e:
                raise ApiError(409, "already_voted", msg.ALREADY_VOTED_HERE, str(e)) from e
            except StoreError as e:
                log.error("the ballot could not be recorded: %s", e)
                raise ApiError(503, "unavailable", msg.UNAVAILABLE, str(e)) from e
            except StateError as e:
                raise self._state_refusal(str(e)) from e
        self.sessions.end(session.token)  # voted: this session has nothing more to do
        if self.worker is not None:
            self.worker.wake()
        log.info("ballot recorded at height %d", receipt.height)
        return {
            "fingerprint": checked.ballot.fingerprint,
            "ballot_id": checked.ballot.ballot_id.hex(),
            "height": receipt.height,
            "tracking_code": receipt.tracking_code,
            "check_url": self.check_link(receipt.tracking_code),
        }

    def spoil(self, token: str | None, body: Any) -> dict[str, Any]:
        session = self.sessions.get(token)
        self.sessions.count_spoil(session.token)
        self.voter_limits.check_refusals(session)
        voter = self._session_voter(session)
        self.voter_limits.take_spoil(session)
        try:
            ballot = self._refused_counted(
                session, lambda: check_spoiled(self.package, voter, body)
            )
            signed = self._record_spoiled(voter, body, ballot)
        except BaseException:
            self.voter_limits.give_back_spoil(session)  # nothing was recorded
            raise
        if self.worker is not None:
            self.worker.wake()
        return {
            "fingerprint": ballot.fingerprint,
            "tracking_code": signed.tracking_code,
            "check_url": self.check_link(signed.tracking_code),
        }

    def _record_spoiled(self, voter: Voter, body: Any, ballot: EncryptedBallot) -> SignedBlock:
        with self._record:
            self._require_open(voter)
            try:
                signed = self.box.store.append(BlockKind.SPOILED, body)
            except StoreError as e:
                log.error("the checked ballot could not be recorded: %s", e)
                raise ApiError(503, "unavailable", msg.UNAVAILABLE, str(e)) from e
            except StateError as e:
                raise self._state_refusal(str(e)) from e
            self.checked.add(ballot)
            return signed

    def _refused_counted(self, session: VoterSession, check: Callable[[], T]) -> T:
        """``check()``, counting a ballot it refuses (422) against the member's limit."""
        try:
            return check()
        except ApiError as e:
            if e.status == 422:
                self.voter_limits.count_refusal(session)
            raise

    def _session_voter(self, session: VoterSession) -> Voter:
        find = self.package.test_voter_for_card if session.test else self.package.voter_for_card
        voter = find(session.key)
        if voter is None:  # the package is fixed for the process's life; never happens
            raise ApiError(401, "session_expired", msg.SESSION_EXPIRED, "voter left the roll")
        return voter

    # -- the rules -----------------------------------------------------------------------------
    def _require_open(self, voter: Voter) -> None:
        """Ballots only while the platform's session is open, in the mode of the voter's roll
        (test credentials in test mode only), official ones within the schedule (the ledger and
        every verifier refuse an official ballot dated outside it), and none while the ledger
        refuses the platform's chain."""
        status = self.status()
        if status == "closed":
            raise ApiError(410, "election_closed", msg.CLOSED, "the schedule has ended")
        if status != "open":
            raise ApiError(403, "not_open", msg.NOT_OPEN, "the platform's session is not open")
        mode = self.box.state.mode
        if voter.test and mode is not Mode.TEST:
            raise ApiError(403, "not_open", msg.TEST_ONLY_IN_TEST, "test credential, official")
        if not voter.test and mode is not Mode.OFFICIAL:
            raise ApiError(403, "not_open", msg.OFFICIAL_NOT_IN_TEST, "official credential, test")
        if not voter.test and self.schedule.fault(self.box.store.next_block_time()) is not None:
            # the chain's last block is dated after the close: this clock once ran ahead
            raise ApiError(410, "election_closed", msg.CLOSED, "block time after the close")
        refused = self.worker.status.refused if self.worker is not None else None
        if refused is not None:
            # The ledger will never take this chain from the refused block on (the election
            # closed early, another package, the platform quarantined, a fork): a ballot
            # recorded now would never count. Refused until a sync pass succeeds again.
            detail = f"the ledger does not take this platform's chain: {refused}"
            raise ApiError(503, "unavailable", msg.LEDGER_REFUSES, detail)

    def _state_refusal(self, detail: str) -> ApiError:
        if self.status() == "closed":
            return ApiError(410, "election_closed", msg.CLOSED, detail)
        return ApiError(403, "not_open", msg.NOT_OPEN, detail)

    def _refuse_repeat(self, voter: Voter) -> bool:
        """Whether ``voter`` voted already, anywhere the platform can see; 409 when the
        duplicate policy would not count a ballot cast here now."""
        kind = BlockKind.TEST_BALLOT if voter.test else BlockKind.BALLOT
        here = self.box.store.has_voted(kind, voter.voter_id)
        if here and not self.box.store.repeats:
            raise ApiError(409, "already_voted", msg.ALREADY_VOTED_HERE, "voted on this platform")
        if voter.test or self.check_client is None:
            return here  # test ballots are not in the ledger's voter index
        if time.monotonic() < self._ledger_quiet_until:
            return here  # the ledger failed to answer a moment ago: not asked again yet
        try:
            voted, channels = self.check_client.has_voted(voter.voter_id)
        except SyncError as e:
            # Offline, the voter votes: the ledger applies the same policy to duplicates when
            # the blocks arrive (kiosk/sync/eligibility.py does the same at a kiosk). A ledger
            # that does not answer in time is not asked again for a while, so that a slow
            # ledger does not hold every request thread for seconds (review F9).
            log.warning("the ledger could not say whether a voter voted: %s", e)
            if isinstance(e, LedgerUnreachable):
                self._ledger_quiet_until = time.monotonic() + LEDGER_QUIET_S
            return here
        earlier = [*channels] if voted else []
        if here:
            earlier.append(Channel.ONLINE)  # not synced yet, perhaps: this platform's own
        if earlier and not new_ballot_counts(
            self.package.duplicate_policy, earlier, Channel.ONLINE
        ):
            in_person = self.package.duplicate_policy is DuplicatePolicy.IN_PERSON_WINS
            text = msg.VOTED_IN_PERSON if in_person else msg.FIRST_COUNTS
            raise ApiError(409, "already_voted", text, f"voted already through {earlier}")
        return bool(earlier)

    # -- staff -------------------------------------------------------------------------------
    def open_session(self, mode: Mode) -> dict[str, Any]:
        with self._record:
            state = self.box.state
            if state.session is not Session.CLOSED:
                raise HanpyoError("the platform's session is already open")
            if state.mode is not mode:
                self.box.set_mode(mode)
            self.box.open_session()
        if self.worker is not None:
            self.worker.wake()
        return self.report()

    def close_session(self) -> dict[str, Any]:
        with self._record:
            if self.box.state.session is Session.CLOSED:
                raise HanpyoError("the platform's session is not open")
            self.box.close_session()
        if self.worker is not None:
            self.worker.wake()
        return self.report()

    def sync_now(self) -> dict[str, Any]:
        """Push the chain to the ledger now, as a kiosk's staff screen does: the worker backs
        off up to a minute after failures, and staff who just brought the ledger back wait
        for nothing."""
        if self.worker is None:
            raise HanpyoError("no ledger is configured (a log key and a ledger address)")
        self.worker.wake()
        return self.report()

    def report(self) -> dict[str, Any]:
        """What staff see: the chain, the session and how far the ledger holds the chain."""
        state = self.box.state
        sync = self.worker.status if self.worker is not None else None
        return {
            "election": self.package.id,
            "package": self.package.short_hash,
            "source": self.keys.kiosk_id,
            "channel": Channel.ONLINE.value,
            "status": self.status(),
            "mode": state.mode.value,
            "session": state.session.value,
            "session_number": state.session_number,
            "height": state.height,
            "ballots": state.ballots,
            "test_ballots": state.test_ballots,
            "session_ballots": state.session_ballots,
            "session_test_ballots": state.session_test_ballots,
            "ledger": self.ledger_url or None,
            "synced_height": self.box.store.acknowledged_height(),
            "sync_online": None if sync is None else sync.online,
            "sync_alarm": None if sync is None else sync.alarm,
            # the ledger will not take this chain (its reason); ballots are refused meanwhile
            "sync_refused": None if sync is None else sync.refused,
        }
