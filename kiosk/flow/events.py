"""What can happen to the kiosk: a touch, a card, a timer, or the answer to an effect.

Answers to effects carry the visit (the card in the reader) they were asked for, so an
answer for a card that has since been pulled is dropped by the flow.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.ballot_crypto import BallotSecrets
from kiosk.core.chain import ChainState
from kiosk.core.election import ElectionPackage
from kiosk.core.encrypted_ballot import EncryptedBallot
from kiosk.hardware.card.auth import CardHolder
from kiosk.hardware.printer.receipt import PrinterState
from kiosk.sync.eligibility import Elsewhere
from kiosk.sync.worker import SyncStatus


class StaffAction(enum.StrEnum):
    """The staff screen's buttons."""

    OPEN = "open"
    PAUSE = "pause"
    RESUME = "resume"
    CLOSE = "close"
    REPORT = "report"
    SET_MODE = "set_mode"
    EXPORT = "export"
    LOAD_USB = "load_usb"
    LOAD_LEDGER = "load_ledger"
    CONFIRM_LOAD = "confirm_load"
    CANCEL_LOAD = "cancel_load"
    DIAGNOSE = "diagnose"
    TEST_TALLY = "test_tally"
    LEAVE = "leave"


# -- the world ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ElectionChanged:
    """The election and its chain as they stand now (at start, and after each change)."""

    package: ElectionPackage | None
    box: ChainState | None
    sync_configured: bool = False  # a sync worker runs for this election
    check_elsewhere: bool = False  # the ledger can be asked about voters


@dataclass(frozen=True, slots=True)
class TimeoutsChanged:
    """The configured idle and warning times changed (staff tools and tests)."""

    idle_s: float
    warning_s: float


@dataclass(frozen=True, slots=True)
class SyncChanged:
    status: SyncStatus


@dataclass(frozen=True, slots=True)
class ReaderAdded:
    reader: str


@dataclass(frozen=True, slots=True)
class ReaderRemoved:
    reader: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ReaderServiceLost:
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CardInserted:
    reader: str


@dataclass(frozen=True, slots=True)
class CardPulled:
    reader: str


# -- timers ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IdleTimedOut:
    """Nobody touched the screen for the idle time."""


@dataclass(frozen=True, slots=True)
class CountdownTick:
    """One second of the "are you still there?" countdown passed."""


# -- touches -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Touched:
    pass


@dataclass(frozen=True, slots=True)
class MoreTimeAsked:
    """The voter answered "I need more time" on the countdown."""


@dataclass(frozen=True, slots=True)
class LanguageChosen:
    language: str


@dataclass(frozen=True, slots=True)
class TextSizeChosen:
    index: int


@dataclass(frozen=True, slots=True)
class HighContrastChosen:
    on: bool


@dataclass(frozen=True, slots=True)
class MoreTimeChosen:
    """The accessibility setting "more time" (doubles both timeouts)."""

    on: bool


@dataclass(frozen=True, slots=True)
class PinDigit:
    digit: int


@dataclass(frozen=True, slots=True)
class PinBack:
    pass


@dataclass(frozen=True, slots=True)
class PinSubmitted:
    pass


@dataclass(frozen=True, slots=True)
class StartVoting:
    """From the notice screen to the ballot."""


@dataclass(frozen=True, slots=True)
class ScoreGiven:
    option: str
    criterion: str
    score: int


@dataclass(frozen=True, slots=True)
class ScoreCleared:
    option: str


@dataclass(frozen=True, slots=True)
class ChoiceToggled:
    option: str


@dataclass(frozen=True, slots=True)
class AnswerGiven:
    answer: str


@dataclass(frozen=True, slots=True)
class DetailShown:
    option: str


@dataclass(frozen=True, slots=True)
class DetailClosed:
    pass


@dataclass(frozen=True, slots=True)
class NextPage:
    pass


@dataclass(frozen=True, slots=True)
class GoOnAnyway:
    pass


@dataclass(frozen=True, slots=True)
class WarningClosed:
    pass


@dataclass(frozen=True, slots=True)
class PreviousPage:
    pass


@dataclass(frozen=True, slots=True)
class ChangeContest:
    index: int


@dataclass(frozen=True, slots=True)
class CastAsked:
    pass


@dataclass(frozen=True, slots=True)
class CheckAsked:
    """Protocol v2: "Check this ballot" on the review screen (Benaloh's challenge): the
    overlay that says what a check does."""


@dataclass(frozen=True, slots=True)
class CheckConfirmed:
    """The voter confirmed the check on the overlay: the ballot is published opened."""


@dataclass(frozen=True, slots=True)
class CheckCancelled:
    """The voter closed the overlay: back to the review, nothing done."""


@dataclass(frozen=True, slots=True)
class BallotAgain:
    """Protocol v2: from the checked-ballot screen back to the voter's choices."""


# -- staff touches -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StaffAsked:
    """A staff button: open, pause, resume, close, report, export, usb, ledger, confirm,
    cancel, diagnostics, tally, leave; ``mode`` carries the mode for "set mode"."""

    action: StaffAction
    mode: str = ""


# -- answers to effects ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CardRead:
    visit: int
    holder: CardHolder


@dataclass(frozen=True, slots=True)
class CardProved:
    visit: int
    holder: CardHolder


@dataclass(frozen=True, slots=True)
class VotedHereAnswered:
    """Whether this kiosk's ballot box already holds the voter's ballot."""

    visit: int
    voted: bool


@dataclass(frozen=True, slots=True)
class CardFailed:
    visit: int
    error: BaseException


@dataclass(frozen=True, slots=True)
class ElsewhereAnswered:
    visit: int
    answer: Elsewhere | None  # None: the ledger could not be asked


@dataclass(frozen=True, slots=True)
class Cast:
    visit: int
    tracking_code: str
    check_url: str
    test: bool


@dataclass(frozen=True, slots=True)
class CastRefused:
    visit: int
    already_voted: bool


@dataclass(frozen=True, slots=True)
class BallotEncrypted:
    """Protocol v2: the review screen's ballot, encrypted for showing number ``review``."""

    visit: int
    review: int
    ballot: EncryptedBallot
    secrets: BallotSecrets = field(repr=False)


@dataclass(frozen=True, slots=True)
class EncryptionFailed:
    visit: int
    review: int
    error: BaseException


@dataclass(frozen=True, slots=True)
class BallotSigned:
    """Protocol v2: the card signed the ballot whose hash is ``ballot_hash``; checked."""

    visit: int
    ballot_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SigningFailed:
    visit: int
    error: BaseException


@dataclass(frozen=True, slots=True)
class Spoiled:
    """Protocol v2: the checked ballot's ``spoiled`` block is committed."""

    visit: int
    tracking_code: str
    check_url: str
    test: bool


@dataclass(frozen=True, slots=True)
class SpoilRefused:
    visit: int


@dataclass(frozen=True, slots=True)
class Printed:
    visit: int
    error: BaseException | None  # None: printed


@dataclass(frozen=True, slots=True)
class ReportPrinted:
    visit: int
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class PrinterChecked:
    visit: int
    state: PrinterState | None


@dataclass(frozen=True, slots=True)
class StaffDone:
    """A staff action finished: ``error`` None when it worked. ``no_drive``: the export
    found no USB drive and did nothing. The chain's new state came just before, as
    ``ElectionChanged``."""

    visit: int
    action: StaffAction
    error: BaseException | None = None
    no_drive: bool = False


@dataclass(frozen=True, slots=True)
class PackageOffered:
    """A package read from the USB drive or the ledger and verified, waiting for confirm."""

    visit: int
    raw: bytes
    short_hash: str


@dataclass(frozen=True, slots=True)
class PackageRefused:
    """No package on the drive (``error`` None), or it could not be fetched (``checked``
    False) or verified."""

    visit: int
    error: BaseException | None
    checked: bool = True


@dataclass(frozen=True, slots=True)
class Diagnosed:
    visit: int
    printer: PrinterState | None = None
    ledger_height: int | None = None
    ledger_error: str = ""  # the error's text when the ledger could not say
    error: BaseException | None = None  # the check itself failed


@dataclass(frozen=True, slots=True)
class TallyCounted:
    visit: int
    results: dict[str, Any] | None
    error: BaseException | None


Event = (
    ElectionChanged
    | TimeoutsChanged
    | SyncChanged
    | ReaderAdded
    | ReaderRemoved
    | ReaderServiceLost
    | CardInserted
    | CardPulled
    | IdleTimedOut
    | CountdownTick
    | Touched
    | MoreTimeAsked
    | LanguageChosen
    | TextSizeChosen
    | HighContrastChosen
    | MoreTimeChosen
    | PinDigit
    | PinBack
    | PinSubmitted
    | StartVoting
    | ScoreGiven
    | ScoreCleared
    | ChoiceToggled
    | AnswerGiven
    | DetailShown
    | DetailClosed
    | NextPage
    | GoOnAnyway
    | WarningClosed
    | PreviousPage
    | ChangeContest
    | CastAsked
    | CheckAsked
    | CheckConfirmed
    | CheckCancelled
    | BallotAgain
    | StaffAsked
    | CardRead
    | CardProved
    | VotedHereAnswered
    | CardFailed
    | ElsewhereAnswered
    | Cast
    | CastRefused
    | BallotEncrypted
    | EncryptionFailed
    | BallotSigned
    | SigningFailed
    | Spoiled
    | SpoilRefused
    | Printed
    | ReportPrinted
    | PrinterChecked
    | StaffDone
    | PackageOffered
    | PackageRefused
    | Diagnosed
    | TallyCounted
)
