"""Where the kiosk stands: one frozen value the flow's steps replace, never change."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from kiosk.core.ballot_crypto import BallotSecrets
from kiosk.core.chain import ChainState
from kiosk.core.election import ElectionPackage, Text
from kiosk.core.encrypted_ballot import EncryptedBallot
from kiosk.flow.ballot_form import BallotForm
from kiosk.hardware.card import session as cs
from kiosk.hardware.card.auth import CardHolder
from kiosk.hardware.printer.receipt import PrinterState
from kiosk.sync.worker import SyncStatus

PIN_MAX = 12
PIN_MIN = 6
TEXT_SIZES = 4  # the text sizes a voter may pick (kiosk.ui.theme.TEXT_SCALES)
# How many ballots one voter may check (Benaloh's challenge) in one visit before casting: each
# check proves the kiosk honest with the same odds, and a few are plenty; more would let one
# visit fill the record with spoiled blocks. The check screen says how many are left.
MAX_CHECKS = 3


class Screen(enum.StrEnum):
    WAITING = "waiting"  # insert your card (or: voting is not open; or: no reader)
    READING = "reading"  # reading the card / checking the PIN / asking the ledger
    PIN = "pin"
    NOTICE = "notice"  # something the voter should know before voting (a ballot replaces one)
    BALLOT = "ballot"
    REVIEW = "review"
    CHECKED = "checked"  # the ballot the voter checked is published, not counted
    RECEIPT = "receipt"
    MESSAGE = "message"  # a refusal or an ending, with what to do next; waits for the card
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Setup:
    """What the flow needs to know of the kiosk's configuration."""

    kiosk_id: str
    version: str
    idle_s: float = 90.0
    warning_s: float = 30.0
    reader: str | None = None  # None: the first reader that appears
    sync_configured: bool = False  # a sync worker runs (the staff screen says so)
    check_elsewhere: bool = False  # the ledger is asked whether the voter voted elsewhere
    has_printer: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """What the voter chose on the waiting screen; reset after each voter."""

    language: str = "ko"
    more_time: bool = False
    text_size: int = 0
    high_contrast: bool = False


@dataclass(frozen=True, slots=True)
class Warning:
    """A warning over the ballot: a message key (or "full"), its number, and whether it
    must be fixed before going on."""

    key: str
    n: int = -1
    blocks: bool = False


# -- what the staff screen says ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Said:
    """A sentence the screens translate: one of the staff screen's keys (kiosk.ui.texts)."""

    key: str


@dataclass(frozen=True, slots=True)
class Explained:
    """An error explained to staff, already in the screen's language when it happened."""

    text: str


NotePart = Said | Explained


@dataclass(frozen=True, slots=True)
class ReadersLine:
    readers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PrinterLine:
    state: PrinterState | None


@dataclass(frozen=True, slots=True)
class LedgerLine:
    height: int | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class TallyTotal:
    counted: int


@dataclass(frozen=True, slots=True)
class TallyInvalid:
    invalid: int


@dataclass(frozen=True, slots=True)
class TallyContest:
    title: Text


@dataclass(frozen=True, slots=True)
class TallyYesNo:
    yes: int
    no: int
    blank: int


@dataclass(frozen=True, slots=True)
class TallyVotes:
    title: Text
    votes: int


@dataclass(frozen=True, slots=True)
class TallyScores:
    title: Text
    scores: int
    mean: float


@dataclass(frozen=True, slots=True)
class TallyNothing:
    pass


StaffLine = (
    Said
    | Explained
    | ReadersLine
    | PrinterLine
    | LedgerLine
    | TallyTotal
    | TallyInvalid
    | TallyContest
    | TallyYesNo
    | TallyVotes
    | TallyScores
    | TallyNothing
)


@dataclass(frozen=True, slots=True)
class Kiosk:
    """The whole kiosk between two events."""

    setup: Setup
    package: ElectionPackage | None = None
    box: ChainState | None = None
    sync: SyncStatus = field(default_factory=SyncStatus)
    card: cs.CardState = field(default_factory=cs.NoReader)
    reader: str | None = None
    readers: tuple[str, ...] = ()
    visits: int = 0
    visit: int | None = None  # the card in the reader now, numbered
    screen: Screen = Screen.WAITING
    settings: Settings = field(default_factory=Settings)
    seconds_left: int = 0  # the "are you still there?" countdown; 0 when not showing
    # the voter
    pin: str = field(default="", repr=False)  # never printed: a state may reach a log
    holder: CardHolder | None = None
    form: BallotForm | None = None
    page: int = 0
    warning: Warning | None = None
    detail: str = ""  # the option whose detail is shown
    message_key: str = ""
    next_key: str = ""
    notice_key: str = ""
    receipt_code: str = ""
    receipt_url: str = ""
    receipt_fingerprint: str = ""  # the cast (or checked) ballot's fingerprint
    print_key: str = ""
    # the ballot on the review screen, encrypted off the GUI thread. ``review``
    # numbers each showing of the review screen, so an encryption made for an earlier showing
    # (the voter went back to change a choice) is dropped when it arrives. ``secrets`` are the
    # randomness and plaintext: published by Check, dropped by Cast.
    review: int = 0
    encrypted: EncryptedBallot | None = None
    secrets: BallotSecrets | None = field(default=None, repr=False)
    recording: bool = False  # Cast or Check was tapped: the card signs, the kiosk records
    checks: int = 0  # ballots this voter checked in this visit (at most MAX_CHECKS)
    asking_check: bool = False  # the overlay that explains Check before it is done
    # staff
    staff_note: tuple[NotePart, ...] = ()
    pending_package: bytes | None = None
    pending_hash: str = ""
    diagnostics: tuple[StaffLine, ...] = ()
    test_tally: tuple[StaffLine, ...] = ()
    printer_state: PrinterState | None = None
    printer_known: bool = False

    @property
    def is_manager(self) -> bool:
        h = self.holder
        return bool(h and h.staff and h.staff.role.value == "election_manager")

    def timeouts(self) -> tuple[float, float]:
        factor = 2.0 if self.settings.more_time else 1.0
        return self.setup.idle_s * factor, self.setup.warning_s * factor


def forget(state: Kiosk, keep_settings: bool = False) -> Kiosk:
    """Drop the PIN, the ballot, the receipt and the staff screen's state (not the pending
    package's hash, which the screen shows only while a package is pending)."""
    out = replace(
        state,
        pin="",
        holder=None,
        form=None,
        page=0,
        detail="",
        warning=None,
        receipt_code="",
        receipt_url="",
        receipt_fingerprint="",
        print_key="",
        encrypted=None,
        secrets=None,  # no reference kept (see kiosk.flow.voter.cast on what that means)
        recording=False,
        checks=0,
        asking_check=False,
        notice_key="",
        staff_note=(),
        pending_package=None,
        diagnostics=(),
        test_tally=(),
    )
    return out if keep_settings else replace(out, settings=Settings())
