"""What the flow asks the world to do. The runner carries each one out and posts the answer
back as an event tagged with the visit it was asked for."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import BallotSecrets
from kiosk.core.chain import Mode
from kiosk.core.election import DuplicatePolicy, OptionId, Voter
from kiosk.core.encrypted_ballot import EncryptedBallot
from kiosk.flow.events import StaffAction
from kiosk.flow.staff_report import ReportKind
from kiosk.hardware.card.auth import CardHolder


# -- timers (the "are you still there?" warning) -----------------------------------------------
@dataclass(frozen=True, slots=True)
class StartIdleTimer:
    """Post ``IdleTimedOut`` after ``seconds`` without a new start; replaces any earlier one."""

    seconds: float


@dataclass(frozen=True, slots=True)
class StartCountdown:
    """Post ``CountdownTick`` every second until stopped."""


@dataclass(frozen=True, slots=True)
class StopTimers:
    pass


# -- the card ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadCard:
    """Connect to the card in ``reader`` and read who holds it: ``CardRead``/``CardFailed``."""

    visit: int
    reader: str


@dataclass(frozen=True, slots=True)
class ProveCard:
    """Have the card prove its key with ``pin``: ``CardProved``/``CardFailed``."""

    visit: int
    holder: CardHolder
    pin: str = field(repr=False)  # never printed: an effect may reach a log


@dataclass(frozen=True, slots=True)
class CloseCard:
    visit: int


# -- the voter ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckVotedHere:
    """Does this kiosk's ballot box hold the voter's ballot: ``VotedHereAnswered``."""

    visit: int
    voter: Voter


@dataclass(frozen=True, slots=True)
class AskElsewhere:
    """Ask the ledger whether this voter voted elsewhere: ``ElsewhereAnswered``."""

    visit: int
    voter: Voter
    policy: DuplicatePolicy


@dataclass(frozen=True, slots=True)
class EncryptBallot:
    """Encrypt ``ballot`` with its proofs off the GUI thread, as the review screen
    shows: ``BallotEncrypted``/``EncryptionFailed`` for showing number ``review``."""

    visit: int
    review: int
    ballot: Ballot = field(repr=False)  # the voter's choices: never printed
    excluded: frozenset[OptionId]
    test: bool


@dataclass(frozen=True, slots=True)
class SignBallot:
    """Protocol v2: have the voter's card sign the encrypted ballot (INTERNAL AUTHENTICATE)
    and check the signature: ``BallotSigned``/``SigningFailed``."""

    visit: int
    holder: CardHolder
    ballot: EncryptedBallot


@dataclass(frozen=True, slots=True)
class CastEncrypted:
    """Record the card-signed ballot (one short commit): ``Cast``/``CastRefused``."""

    visit: int
    voter: Voter
    ballot: EncryptedBallot
    card_key: bytes
    card_sig: bytes


@dataclass(frozen=True, slots=True)
class SpoilBallot:
    """Protocol v2, Check: record the ballot opened, in a ``spoiled`` block that never counts:
    ``Spoiled``/``SpoilRefused``."""

    visit: int
    ballot: EncryptedBallot
    secrets: BallotSecrets


@dataclass(frozen=True, slots=True)
class PrintReceipt:
    """Print the voter's receipt: ``Printed``. ``fingerprint``: the v2 ballot's; ``checked``:
    the slip of a checked ballot (published, not counted) instead of a cast one."""

    visit: int
    tracking_code: str
    check_url: str
    test: bool
    fingerprint: str = ""
    checked: bool = False


@dataclass(frozen=True, slots=True)
class SyncNow:
    pass


@dataclass(frozen=True, slots=True)
class ReportReader:
    """Tell the services whether a reader is in use (the fleet heartbeat says so)."""

    ready: bool


# -- staff -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunStaffAction:
    """Open, pause, resume, close, set the mode, export to USB, or load the pending package:
    ``StaffDone``."""

    visit: int
    action: StaffAction
    mode: Mode | None = None
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class PrintReport:
    visit: int
    kind: ReportKind


@dataclass(frozen=True, slots=True)
class CheckPrinter:
    visit: int


@dataclass(frozen=True, slots=True)
class ReadUsbPackage:
    """Read and verify election.json from the USB drive: ``PackageOffered``/``PackageRefused``."""

    visit: int


@dataclass(frozen=True, slots=True)
class FetchPackage:
    """Fetch the package from the ledger and verify it: ``PackageOffered``/``PackageRefused``."""

    visit: int


@dataclass(frozen=True, slots=True)
class Diagnose:
    visit: int


@dataclass(frozen=True, slots=True)
class CountTestTally:
    visit: int


@dataclass(frozen=True, slots=True)
class LeaveKiosk:
    pass


Effect = (
    StartIdleTimer
    | StartCountdown
    | StopTimers
    | ReadCard
    | ProveCard
    | CloseCard
    | CheckVotedHere
    | AskElsewhere
    | EncryptBallot
    | SignBallot
    | CastEncrypted
    | SpoilBallot
    | PrintReceipt
    | SyncNow
    | ReportReader
    | RunStaffAction
    | PrintReport
    | CheckPrinter
    | ReadUsbPackage
    | FetchPackage
    | Diagnose
    | CountTestTally
    | LeaveKiosk
)
