"""The kiosk's recording service: mode, sessions and cast ballots, each one block in the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.core.ballot_crypto import BallotSecrets, spoiled_body
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.bodies import (
    ballot_kind,
    encrypted_ballot_body,
    mode_body,
    session_close_body,
    session_open_body,
    session_pause_body,
    session_resume_body,
)
from kiosk.core.chain import ChainState, Mode, Schedule, Session
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.election import ElectionPackage, Voter
from kiosk.core.encrypted_ballot import EncryptedBallot, card_message, check_form
from kiosk.core.errors import BallotError, StateError
from kiosk.store.chain_store import ChainStore
from kiosk.store.errors import AlreadyVotedError


@dataclass(frozen=True, slots=True)
class CastReceipt:
    """What the voter is told once their ballot is committed."""

    tracking_code: str
    height: int
    test: bool


class BallotBox:
    """Records what happens at one kiosk for one election. Cannot open its own ballots."""

    def __init__(self, store: ChainStore, package: ElectionPackage) -> None:
        self.store = store
        self.package = package
        self._schedule = Schedule.of(package.opens, package.closes)  # once, not per cast

    @property
    def state(self) -> ChainState:
        return self.store.state

    def set_mode(self, mode: Mode) -> SignedBlock:
        if mode is Mode.UNSET:
            raise StateError("the mode is either test or official")
        if self.state.mode is Mode.OFFICIAL and mode is Mode.TEST and self.state.ballots:
            raise StateError("official ballots were cast: this kiosk cannot go back to test mode")
        return self.store.append(BlockKind.MODE, mode_body(mode))

    def open_session(self) -> SignedBlock:
        return self.store.append(BlockKind.SESSION_OPEN, session_open_body(self.state))

    def pause_session(self) -> SignedBlock:
        return self.store.append(BlockKind.SESSION_PAUSE, session_pause_body(self.state))

    def resume_session(self) -> SignedBlock:
        return self.store.append(BlockKind.SESSION_RESUME, session_resume_body(self.state))

    def close_session(self) -> SignedBlock:
        """Close the session with its counts and the latest ledger checkpoint this kiosk has
        verified (recorded by the sync worker), if it ever reached the ledger."""
        latest = self.store.latest_checkpoint()
        checkpoint = latest[1] if latest is not None else None
        return self.store.append(
            BlockKind.SESSION_CLOSE, session_close_body(self.state, checkpoint)
        )

    def has_voted(self, voter: Voter) -> bool:
        return self.store.has_voted(self._ballot_kind(), voter.voter_id)

    def cast_encrypted(
        self, voter: Voter, ballot: EncryptedBallot, card_key: bytes, card_sig: bytes
    ) -> CastReceipt:
        """Record a ballot the voter's card has signed; return its receipt once it is committed.

        Checked first, as the ledger will check it on arrival (the count's own rules, such as
        the duplicate policy across sources, come later): the session is open, the voter's card
        kind fits the mode (test cards in test mode only), the ballot's form is the voter's roll
        entry's, and the card's signature verifies over this ballot for this voter.
        """
        self._check_open()
        kind = self._ballot_kind()
        test = kind is BlockKind.TEST_BALLOT
        if voter.test != test:
            raise StateError(
                "a test card votes only in test mode, a voter card only in official mode"
            )
        check_form(self.package, ballot, voter.category, voter.group, voter.excluded, test=test)
        if card_key != voter.card_key:
            raise BallotError("the card that signed is not the card that signed in")
        message = card_message(ballot.election, voter.voter_id, ballot.hash)
        verify_signature(Domain.BALLOT, card_key, message, card_sig)
        if not test:
            self._check_schedule()
        if not self.store.repeats and self.store.has_voted(kind, voter.voter_id):
            raise AlreadyVotedError("this voter already cast a ballot on this kiosk")
        body = encrypted_ballot_body(voter, ballot, card_key, card_sig)
        signed = self.store.append(kind, body, voter=voter.voter_id)
        return CastReceipt(signed.tracking_code, signed.block.height, test)

    def spoil(self, ballot: EncryptedBallot, secrets: BallotSecrets) -> CastReceipt:
        """Record a ballot the voter chose to check (Benaloh's challenge): a ``spoiled`` block
        with its randomness and plaintext, so that anyone opens it on the check page. It names no
        voter, carries no card signature and never counts."""
        self._check_open()
        if ballot.test != (self._ballot_kind() is BlockKind.TEST_BALLOT):
            raise StateError("the ballot was encrypted for the other mode")
        signed = self.store.append(BlockKind.SPOILED, spoiled_body(ballot, secrets))
        return CastReceipt(signed.tracking_code, signed.block.height, ballot.test)

    def _check_open(self) -> None:
        if self.state.session is not Session.OPEN:
            raise StateError(
                "voting is not open on this kiosk",
                user_message=(
                    "지금은 투표 시간이 아닙니다. 진행 요원에게 알려 주세요.",
                    "Voting is not open. Please tell a staff member.",
                ),
            )

    def _check_schedule(self) -> None:
        """An official ballot is cast only while the election is open by its schedule, and
        only if the time its block will carry is in it too: the ledger and every verifier
        refuse one dated outside it (kiosk/core/chain.py). A block is dated at the later of
        the clock and the chain's last block, so a clock that once ran ahead (past the close)
        would date every later ballot after the close: refused here, with the clock named, so
        staff fix it before a voter is told their ballot is recorded."""
        now = datetime.now(UTC)
        if now < self._schedule.opens:
            raise StateError(
                f"the election opens at {self.package.opens}",
                user_message=(
                    "아직 투표가 시작되지 않았습니다. 진행 요원에게 알려 주세요.",
                    "Voting has not started yet. Please tell a staff member.",
                ),
            )
        if now >= self._schedule.closes:
            raise StateError(
                f"the election closed at {self.package.closes}",
                user_message=(
                    "투표가 마감되었습니다. 진행 요원에게 알려 주세요.",
                    "Voting has closed. Please tell a staff member.",
                ),
            )
        if self._schedule.fault(self.store.next_block_time()) is not None:
            raise StateError(
                f"the chain's last block is dated {self.state.time}, after the close: this "
                "kiosk's clock ran ahead; a ballot now would be dated outside the schedule",
                user_message=(
                    "이 투표기의 시계에 문제가 있어 지금은 투표할 수 없습니다. "
                    "진행 요원에게 알려 주세요.",
                    "This kiosk's clock is wrong, so it cannot take votes now. "
                    "Please tell a staff member.",
                ),
            )

    def _ballot_kind(self) -> BlockKind:
        return ballot_kind(self.state.mode)
