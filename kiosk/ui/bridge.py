"""The Qt side of the kiosk: one signal per view of ``kiosk.flow``, slots that only post
events, and the one place where the flow's keys and numbers become translated text.

QML reads the properties (named as the screens have always named them); each property's
notify signal is the signal of the view it comes from, so a tick of the idle countdown
does not make the ballot re-read its options.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, assert_never

import segno
from PySide6.QtCore import (
    Property,
    QCoreApplication,
    QLocale,
    QObject,
    QThread,
    QTimer,
    Signal,
    Slot,
)

from kiosk.app import KioskServices, Timeouts
from kiosk.core.election import Text
from kiosk.core.encoding import b64e
from kiosk.flow import events as ev
from kiosk.flow import state as st
from kiosk.flow import views as vw
from kiosk.flow.events import StaffAction
from kiosk.flow.runner import EffectRunner, setup_of
from kiosk.flow.step import start, step
from kiosk.hardware.printer import PrinterState
from kiosk.ui.models import RowModel
from kiosk.ui.texts import say, say_staff
from kiosk.ui.theme import Theme

log = logging.getLogger("hanpyo.kiosk.ui")


@functools.lru_cache(maxsize=8)
def _qr_data_uri(text: str) -> str:
    """A QR code as a PNG data URI, drawn once per text (QML reads it on every change)."""
    return str(segno.make(text, error="m").png_data_uri(scale=8, border=2))


def _or_none(score: int | None, none: Any = -1) -> Any:
    """A score for the screen: 0 is a real score, so "no score yet" is ``none`` (-1)."""
    return none if score is None else score


def tr(source: str) -> str:
    return QCoreApplication.translate("Kiosk", source)


class QtTimers:
    """The flow's idle timer and countdown as Qt timers on the GUI thread."""

    def __init__(self, parent: QObject, post: Callable[[ev.Event], None]) -> None:
        self._idle = QTimer(parent)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(lambda: post(ev.IdleTimedOut()))
        self._countdown = QTimer(parent)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(lambda: post(ev.CountdownTick()))

    def start_idle(self, seconds: float) -> None:
        self._countdown.stop()
        self._idle.start(int(seconds * 1000))

    def start_countdown(self) -> None:
        self._countdown.start()

    def stop(self) -> None:
        self._idle.stop()
        self._countdown.stop()


class KioskBridge(QObject):
    sessionChanged = Signal()
    settingsChanged = Signal()
    pinChanged = Signal()
    messageChanged = Signal()
    ballotChanged = Signal()
    overlayChanged = Signal()
    reviewChanged = Signal()
    receiptChanged = Signal()
    staffChanged = Signal()
    _posted = Signal(object)  # an event from any thread, delivered on the GUI thread
    _views: vw.Views

    def __init__(
        self,
        services: KioskServices,
        theme: Theme,
        *,
        retranslate: Callable[[str], None] = lambda language: None,
        quit_app: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self.services = services
        self.theme = theme
        self._retranslate = retranslate
        self._posted.connect(self._from_thread)
        self._queue: list[ev.Event] = []
        self._busy = False
        self._state = start(setup_of(services))
        self._views = vw.views(self._state)
        self._timers = QtTimers(self, self.post)
        self.runner = EffectRunner(services, self.post, self._timers, quit_app=quit_app)
        self.options = RowModel(
            ("optionId", "title", "summary", "budget", "score", "chosen", "scores", "image")
        )
        self.review = RowModel(("index", "title", "lines", "problem"))

    # -- the flow ----------------------------------------------------------------------------
    @property
    def state(self) -> st.Kiosk:
        """The flow's state now (for tests and diagnostics; read-only)."""
        return self._state

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()

    def set_timeouts(self, timeouts: Timeouts) -> None:
        """Use other idle and warning times from now on (the next timer started)."""
        self.post(ev.TimeoutsChanged(timeouts.idle_s, timeouts.warning_s))

    def post(self, event: ev.Event) -> None:
        """Hand ``event`` to the flow; from any thread."""
        if QThread.currentThread() is self.thread():
            self._receive(event)
        else:
            self._posted.emit(event)

    @Slot(object)
    def _from_thread(self, event: ev.Event) -> None:
        # One more turn of the event loop before a background answer is shown, so the
        # screen a touch produced is seen before the answer to it (as staff see it).
        QTimer.singleShot(0, self, functools.partial(self._receive, event))

    def _receive(self, event: ev.Event) -> None:
        self._queue.append(event)
        if self._busy:
            return  # an effect answered at once: handled after the current event
        self._busy = True
        try:
            while self._queue:
                self._state, effects = step(self._state, self._queue.pop(0))
                # The screen first, then the effects: background work starts once the
                # views are out, as a voter's touch is answered before the card is.
                self._show(vw.views(self._state))
                for effect in effects:
                    self.runner.run(effect)
        finally:
            self._busy = False

    def _show(self, new: vw.Views) -> None:
        old, self._views = self._views, new
        if new.settings != old.settings:
            self.theme.set_scale_index(new.settings.text_size)
            self.theme.set_high_contrast(new.settings.high_contrast)
            if new.settings.language != old.settings.language:
                self._retranslate(new.settings.language)
        language_changed = new.settings.language != old.settings.language
        if new.ballot != old.ballot or language_changed:
            rows = [self._option_row(r) for r in new.ballot.options]
            if rows:
                self.options.update(rows)
            else:
                self.options.reset([])
        if new.review != old.review or language_changed:
            review = [self._review_row(r) for r in new.review.rows]
            if review:
                self.review.update(review)
            else:
                self.review.reset([])
        for name, signal in (
            ("session", self.sessionChanged),
            ("settings", self.settingsChanged),
            ("pin", self.pinChanged),
            ("message", self.messageChanged),
            ("ballot", self.ballotChanged),
            ("overlay", self.overlayChanged),
            ("review", self.reviewChanged),
            ("receipt", self.receiptChanged),
            ("staff", self.staffChanged),
        ):
            if language_changed or getattr(new, name) != getattr(old, name):
                signal.emit()

    # -- text ----------------------------------------------------------------------------------
    def _text(self, text: Text | None) -> str:
        if text is None:
            return ""
        return text.ko if self._views.settings.language == "ko" else text.en

    def _money(self, amount: int | None) -> str:
        if amount is None:
            return ""
        locale = QLocale(
            QLocale.Language.Korean
            if self._views.settings.language == "ko"
            else QLocale.Language.English
        )
        return QCoreApplication.translate("Kiosk", "Budget: %1 won").replace(
            "%1", locale.toString(amount)
        )

    def _option_row(self, row: vw.OptionRow) -> dict[str, Any]:
        return {
            "optionId": row.option_id,
            "title": self._text(row.title),
            "summary": self._text(row.summary),
            "budget": self._money(row.budget),
            "score": _or_none(row.score),
            "chosen": row.chosen,
            "scores": [
                {"criterion": c.criterion, "title": self._text(c.title), "score": _or_none(c.score)}
                for c in row.scores
            ],
            "image": self.services.media_url(row.image),
        }

    def _review_row(self, row: vw.ReviewRow) -> dict[str, Any]:
        return {
            "index": row.index,
            "title": self._text(row.title),
            "lines": [self._review_line(line) for line in row.lines],
            "problem": say(row.problem[0], row.problem[1]) if row.problem else "",
        }

    def _review_line(self, line: vw.ReviewLine) -> str:
        match line:
            case vw.CriteriaLine(title=title, parts=parts):
                said = [f"{self._text(t)} {_or_none(score, '—')}" for t, score in parts]
                return f"{self._text(title)}: {', '.join(said)}"
            case vw.ScoreLine(title=title, score=score):
                return f"{self._text(title)}: " + (
                    QCoreApplication.translate("Kiosk", "score %n", None, score)
                    if score is not None
                    else QCoreApplication.translate("Kiosk", "not scored")
                )
            case vw.ChoiceLine(title=title):
                return self._text(title)
            case vw.NothingChosen():
                return QCoreApplication.translate("Kiosk", "nothing chosen")
            case vw.AnswerLine(answer=answer):
                return {
                    "yes": QCoreApplication.translate("Kiosk", "Yes"),
                    "no": QCoreApplication.translate("Kiosk", "No"),
                    "blank": QCoreApplication.translate("Kiosk", "Blank"),
                }.get(answer or "", QCoreApplication.translate("Kiosk", "no answer"))
            case _:
                assert_never(line)

    def _printer_word(self, state: PrinterState | None) -> str:
        if state is None:
            return QCoreApplication.translate("Kiosk", "none")
        return {
            PrinterState.READY: QCoreApplication.translate("Kiosk", "ready"),
            PrinterState.PAPER_LOW: QCoreApplication.translate("Kiosk", "paper low"),
            PrinterState.NO_PAPER: QCoreApplication.translate("Kiosk", "out of paper"),
            PrinterState.OFFLINE: QCoreApplication.translate("Kiosk", "offline"),
        }[state]

    def _note(self, part: st.NotePart) -> str:
        match part:
            case st.Said(key=key):
                return say_staff(key)
            case st.Explained(text=text):
                return text
            case _:
                assert_never(part)

    def _staff_line(self, line: st.StaffLine) -> str:
        match line:
            case st.Said() | st.Explained():
                return self._note(line)
            case st.ReadersLine(readers=readers):
                return QCoreApplication.translate("Kiosk", "Card readers: %1").replace(
                    "%1", ", ".join(readers) or QCoreApplication.translate("Kiosk", "none")
                )
            case st.PrinterLine(state=printer):
                return QCoreApplication.translate("Kiosk", "Printer: %1").replace(
                    "%1", self._printer_word(printer)
                )
            case st.LedgerLine(height=None, error=error):
                return QCoreApplication.translate("Kiosk", "Ledger: not reachable (%1)").replace(
                    "%1", error
                )
            case st.LedgerLine(height=height):
                return QCoreApplication.translate(
                    "Kiosk", "Ledger: reachable; it holds this kiosk's blocks up to %1"
                ).replace("%1", str(height))
            case st.TallyTotal(counted=counted):
                return QCoreApplication.translate(
                    "Kiosk", "Test tally: test ballots counted: %n", None, counted
                )
            case st.TallyInvalid(invalid=invalid):
                return QCoreApplication.translate(
                    "Kiosk", "Test ballots that could not be counted: %n", None, invalid
                )
            case st.TallyContest(title=title):
                return self._text(title)
            case st.TallyYesNo(yes=yes, no=no, blank=blank):
                return "  " + QCoreApplication.translate(
                    "Kiosk", "yes %1 · no %2 · blank %3"
                ).replace("%1", str(yes)).replace("%2", str(no)).replace("%3", str(blank))
            case st.TallyVotes(title=title, votes=votes):
                return f"  {self._text(title)}: " + QCoreApplication.translate(
                    "Kiosk", "votes: %n", None, votes
                )
            case st.TallyScores(title=title, scores=scores, mean=mean):
                return f"  {self._text(title)}: " + QCoreApplication.translate(
                    "Kiosk", "scores: %n, mean %1", None, scores
                ).replace("%1", f"{mean:.2f}")
            case st.TallyNothing():
                return "  " + QCoreApplication.translate("Kiosk", "nothing yet")
            case _:
                assert_never(line)

    def _sync_text(self, v: vw.StaffView) -> str:
        if not v.sync_configured:
            return QCoreApplication.translate("Kiosk", "not configured (offline kiosk)")
        if not v.sync.trusted:
            return QCoreApplication.translate(
                "Kiosk", "STOPPED: the ledger could not be trusted. Call the election manager."
            )
        pending = v.sync.pending  # a plain name: lupdate 6.11 skips calls whose count is dotted
        if not v.sync.online:
            return QCoreApplication.translate("Kiosk", "offline; blocks waiting: %n", None, pending)
        return QCoreApplication.translate("Kiosk", "online; blocks waiting: %n", None, pending)

    def _warning(self, warning: st.Warning | None) -> str:
        if warning is None:
            return ""
        if warning.key == "full":
            n = warning.n  # a plain name: lupdate 6.11 skips calls whose count is dotted
            return QCoreApplication.translate(
                "Kiosk", "You may choose up to %n. Remove one first to choose another.", None, n
            )
        return say(warning.key, warning.n)

    def qr(self, text: str) -> str:
        """A QR code for the screen ("" for no text); the bench wraps it to time it."""
        return _qr_data_uri(text) if text else ""

    def _chain_qr_text(self, v: vw.StaffView) -> str:
        if v.chain_head is None or not v.election_id:
            return ""
        return self.qr(
            f"hanpyo:election={v.election_id};package={v.package_hash};"
            f"kiosk={self._views.session.kiosk_id};"
            f"height={v.chain_height};head={b64e(v.chain_head)}"
        )

    # -- slots: each only posts an event -------------------------------------------------------
    @Slot()
    def moreTime(self) -> None:
        self.post(ev.MoreTimeAsked())

    @Slot()
    def touch(self) -> None:
        self.post(ev.Touched())

    @Slot(str)
    def setLanguage(self, language: str) -> None:
        self.post(ev.LanguageChosen(language))

    @Slot(int)
    def setTextSize(self, index: int) -> None:
        self.post(ev.TextSizeChosen(index))

    @Slot(bool)
    def setHighContrast(self, on: bool) -> None:
        self.post(ev.HighContrastChosen(on))

    @Slot(bool)
    def setMoreTime(self, on: bool) -> None:
        self.post(ev.MoreTimeChosen(on))

    @Slot(int)
    def pinDigit(self, digit: int) -> None:
        self.post(ev.PinDigit(digit))

    @Slot()
    def pinBack(self) -> None:
        self.post(ev.PinBack())

    @Slot()
    def pinSubmit(self) -> None:
        self.post(ev.PinSubmitted())

    @Slot()
    def startVoting(self) -> None:
        self.post(ev.StartVoting())

    @Slot(str, int)
    def setScore(self, option_id: str, score: int) -> None:
        self.post(ev.ScoreGiven(option_id, "", score))

    @Slot(str, str, int)
    def setCriterionScore(self, option_id: str, criterion: str, score: int) -> None:
        self.post(ev.ScoreGiven(option_id, criterion, score))

    @Slot(str)
    def clearScore(self, option_id: str) -> None:
        self.post(ev.ScoreCleared(option_id))

    @Slot(str)
    def toggleChoice(self, option_id: str) -> None:
        self.post(ev.ChoiceToggled(option_id))

    @Slot(str)
    def setAnswer(self, answer: str) -> None:
        self.post(ev.AnswerGiven(answer))

    @Slot(str)
    def showDetail(self, option_id: str) -> None:
        self.post(ev.DetailShown(option_id))

    @Slot()
    def closeDetail(self) -> None:
        self.post(ev.DetailClosed())

    @Slot()
    def next(self) -> None:
        self.post(ev.NextPage())

    @Slot()
    def goOnAnyway(self) -> None:
        self.post(ev.GoOnAnyway())

    @Slot()
    def closeWarning(self) -> None:
        self.post(ev.WarningClosed())

    @Slot()
    def back(self) -> None:
        self.post(ev.PreviousPage())

    @Slot(int)
    def change(self, index: int) -> None:
        self.post(ev.ChangeContest(index))

    @Slot()
    def cast(self) -> None:
        self.post(ev.CastAsked())

    def _staff(self, action: StaffAction, mode: str = "") -> None:
        self.post(ev.StaffAsked(action, mode))

    @Slot()
    def openSession(self) -> None:
        self._staff(StaffAction.OPEN)

    @Slot()
    def pauseSession(self) -> None:
        self._staff(StaffAction.PAUSE)

    @Slot()
    def resumeSession(self) -> None:
        self._staff(StaffAction.RESUME)

    @Slot()
    def closeSession(self) -> None:
        self._staff(StaffAction.CLOSE)

    @Slot()
    def printReport(self) -> None:
        self._staff(StaffAction.REPORT)

    @Slot(str)
    def setMode(self, mode: str) -> None:
        self._staff(StaffAction.SET_MODE, mode)

    @Slot()
    def exportUsb(self) -> None:
        self._staff(StaffAction.EXPORT)

    @Slot()
    def loadFromUsb(self) -> None:
        self._staff(StaffAction.LOAD_USB)

    @Slot()
    def loadFromLedger(self) -> None:
        self._staff(StaffAction.LOAD_LEDGER)

    @Slot()
    def confirmLoad(self) -> None:
        self._staff(StaffAction.CONFIRM_LOAD)

    @Slot()
    def cancelLoad(self) -> None:
        self._staff(StaffAction.CANCEL_LOAD)

    @Slot()
    def runDiagnostics(self) -> None:
        self._staff(StaffAction.DIAGNOSE)

    @Slot()
    def showTestTally(self) -> None:
        """Count this kiosk's test ballots with the package's test key, for a manager's
        logic-and-accuracy check. Official ballots stay sealed: the kiosk has no key for them."""
        self._staff(StaffAction.TEST_TALLY)

    @Slot()
    def leaveKiosk(self) -> None:
        self._staff(StaffAction.LEAVE)

    # -- properties, grouped by the view they come from ----------------------------------------
    def _g(kind: Any, notify: Signal, read: Callable[[KioskBridge], Any]) -> Property:
        return Property(kind, read, notify=notify)

    V = Callable[["KioskBridge"], vw.Views]

    screen = _g(str, sessionChanged, lambda b: b._views.session.screen)
    electionTitle = _g(str, sessionChanged, lambda b: b._text(b._views.session.election_title))
    hasElection = _g(bool, sessionChanged, lambda b: b._views.session.has_election)
    readerReady = _g(bool, sessionChanged, lambda b: b._views.session.reader_ready)
    votingOpen = _g(bool, sessionChanged, lambda b: b._views.session.voting_open)
    sessionState = _g(str, sessionChanged, lambda b: b._views.session.session_state)
    mode = _g(str, sessionChanged, lambda b: b._views.session.mode)
    testMode = _g(bool, sessionChanged, lambda b: b._views.session.mode == "test")
    version = _g(str, sessionChanged, lambda b: b._views.session.version)
    kioskId = _g(str, sessionChanged, lambda b: b._views.session.kiosk_id)

    language = _g(str, settingsChanged, lambda b: b._views.settings.language)
    moreTimeOn = _g(bool, settingsChanged, lambda b: b._views.settings.more_time)

    pinLength = _g(int, pinChanged, lambda b: b._views.pin.length)
    pinReady = _g(bool, pinChanged, lambda b: b._views.pin.ready)
    pinWrong = _g(bool, pinChanged, lambda b: b._views.pin.wrong)
    pinTriesLeft = _g(int, pinChanged, lambda b: b._views.pin.tries_left)

    message = _g(str, messageChanged, lambda b: say(b._views.message.key))
    messageKey = _g(str, messageChanged, lambda b: b._views.message.key)
    nextStep = _g(str, messageChanged, lambda b: say(b._views.message.next_key))
    notice = _g(str, messageChanged, lambda b: say(b._views.message.notice_key))

    pageIndex = _g(int, ballotChanged, lambda b: b._views.ballot.page_index)
    pageCount = _g(int, ballotChanged, lambda b: b._views.ballot.page_count)
    contestTitle = _g(str, ballotChanged, lambda b: b._text(b._views.ballot.contest_title))
    contestKind = _g(str, ballotChanged, lambda b: b._views.ballot.contest_kind)
    contestMin = _g(int, ballotChanged, lambda b: b._views.ballot.contest_min)
    contestMax = _g(int, ballotChanged, lambda b: b._views.ballot.contest_max)
    chosenCount = _g(int, ballotChanged, lambda b: b._views.ballot.chosen_count)
    optionCount = _g(int, ballotChanged, lambda b: len(b._views.ballot.options))
    answer = _g(str, ballotChanged, lambda b: b._views.ballot.answer)
    canCast = _g(bool, ballotChanged, lambda b: b._views.ballot.can_cast)

    warning = _g(str, overlayChanged, lambda b: b._warning(b._views.overlay.warning))
    warningBlocks = _g(
        bool,
        overlayChanged,
        lambda b: bool(b._views.overlay.warning and b._views.overlay.warning.blocks),
    )
    detail = _g(
        "QVariantMap",
        overlayChanged,
        lambda b: b._option_row(b._views.overlay.detail) if b._views.overlay.detail else {},
    )
    secondsLeft = _g(int, overlayChanged, lambda b: b._views.overlay.seconds_left)

    receiptCode = _g(str, receiptChanged, lambda b: b._views.receipt.code)
    receiptQr = _g(str, receiptChanged, lambda b: b.qr(b._views.receipt.url))
    printNote = _g(str, receiptChanged, lambda b: say(b._views.receipt.print_key))

    staffName = _g(str, staffChanged, lambda b: b._views.staff.staff_name)
    isManager = _g(bool, staffChanged, lambda b: b._views.staff.is_manager)
    counts = _g("QVariantMap", staffChanged, lambda b: b._counts())
    syncText = _g(str, staffChanged, lambda b: b._sync_text(b._views.staff))
    readerText = _g(
        str,
        staffChanged,
        lambda b: b._views.staff.reader or QCoreApplication.translate("Kiosk", "no card reader"),
    )
    printerText = _g(str, staffChanged, lambda b: b._printer_text())
    packageHash = _g(str, staffChanged, lambda b: b._views.staff.package_hash)
    chainHead = _g(
        str,
        staffChanged,
        lambda b: b64e(b._views.staff.chain_head)[:16] if b._views.staff.chain_head else "",
    )
    chainQr = _g(str, staffChanged, lambda b: b._chain_qr_text(b._views.staff))
    staffNote = _g(str, staffChanged, lambda b: " ".join(b._note(p) for p in b._views.staff.note))
    pendingHash = _g(str, staffChanged, lambda b: b._views.staff.pending_hash)
    diagnostics = _g(
        "QVariantList",
        staffChanged,
        lambda b: [b._staff_line(x) for x in b._views.staff.diagnostics],
    )
    testTally = _g(
        "QVariantList",
        staffChanged,
        lambda b: [b._staff_line(x) for x in b._views.staff.test_tally],
    )
    optionModel = Property(QObject, lambda self: self.options, constant=True)
    reviewModel = Property(QObject, lambda self: self.review, constant=True)
    del _g, V

    def _counts(self) -> dict[str, int]:
        c = self._views.staff.counts
        if c is None:
            return {}
        return {
            "session": c.session,
            "sessionTest": c.session_test,
            "total": c.total,
            "totalTest": c.total_test,
            "sessionNumber": c.session_number,
        }

    def _printer_text(self) -> str:
        if not self._views.staff.printer_known:
            return QCoreApplication.translate("Kiosk", "Checking…")
        return self._printer_word(self._views.staff.printer)
