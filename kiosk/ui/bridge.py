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
from typing import Any

import segno
from PySide6.QtCore import (
    Property,
    QCoreApplication,
    QObject,
    QThread,
    QTimer,
    Signal,
    Slot,
)

from kiosk.app import KioskServices, Timeouts
from kiosk.core.encoding import b64e
from kiosk.flow import events as ev
from kiosk.flow import state as st
from kiosk.flow import views as vw
from kiosk.flow.events import StaffAction
from kiosk.flow.runner import EffectRunner, setup_of
from kiosk.flow.step import start, step
from kiosk.ui.models import RowModel
from kiosk.ui.texts import say
from kiosk.ui.theme import Theme
from kiosk.ui.wording import Wording, or_none

log = logging.getLogger("hanpyo.kiosk.ui")


@functools.lru_cache(maxsize=8)
def _qr_data_uri(text: str) -> str:
    """A QR code as a PNG data URI, drawn once per text (QML reads it on every change)."""
    # One pixel a module: QML scales it up with smooth: false, so the squares stay sharp, and the
    # PNG is a few hundred bytes instead of a 300-pixel image to compress on every receipt.
    return str(segno.make(text, error="m").png_data_uri(scale=1, border=2))


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
    _receipt_qr: str
    _w: Wording

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
        self._receipt_qr = ""
        self._busy = False
        self._stopped = False
        self._state = start(setup_of(services))
        self._views = vw.views(self._state)
        self._w = Wording(self._views.settings.language)
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
        self._stopped = True  # an answer still on its way is dropped
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
        if isinstance(event, ev.CardPulled | ev.ReaderRemoved | ev.ReaderServiceLost):
            # A card or reader that is gone is acted on at once: a tap on Cast queued behind
            # it must find the visit over, never commit a ballot for a card that has left.
            self._receive(event)
            return
        # One more turn of the event loop before a background answer is shown, so the
        # screen a touch produced is seen before the answer to it (as staff see it).
        QTimer.singleShot(0, self, functools.partial(self._receive, event))

    def _receive(self, event: ev.Event) -> None:
        if self._stopped:
            return
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
        self._w = Wording(new.settings.language)
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
        if new.receipt.url != old.receipt.url:
            # The receipt shows its tracking code at once; its QR code (some 12 ms to encode)
            # is drawn on the next turn of the event loop and appears a moment later.
            self._receipt_qr = ""
            if new.receipt.url:
                QTimer.singleShot(
                    0, self, functools.partial(self._draw_receipt_qr, new.receipt.url)
                )
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

    def _option_row(self, row: vw.OptionRow) -> dict[str, Any]:
        return {
            "optionId": row.option_id,
            "title": self._w.text(row.title),
            "summary": self._w.text(row.summary),
            "budget": self._w.money(row.budget),
            "score": or_none(row.score),
            "chosen": row.chosen,
            "scores": [
                {
                    "criterion": c.criterion,
                    "title": self._w.text(c.title),
                    "score": or_none(c.score),
                }
                for c in row.scores
            ],
            "image": self.services.media_url(row.image),
        }

    def _review_row(self, row: vw.ReviewRow) -> dict[str, Any]:
        return {
            "index": row.index,
            "title": self._w.text(row.title),
            "lines": [self._w.review_line(line) for line in row.lines],
            "problem": say(row.problem[0], row.problem[1]) if row.problem else "",
        }

    def _draw_receipt_qr(self, url: str) -> None:
        if self._stopped or self._views.receipt.url != url:
            return  # the voter has gone, or another receipt is showing
        self._receipt_qr = self.qr(url)
        self.receiptChanged.emit()

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

    @Slot()
    def checkBallot(self) -> None:
        """Protocol v2: "Check this ballot" (the overlay that explains it comes first)."""
        self.post(ev.CheckAsked())

    @Slot()
    def confirmCheck(self) -> None:
        self.post(ev.CheckConfirmed())

    @Slot()
    def cancelCheck(self) -> None:
        self.post(ev.CheckCancelled())

    @Slot()
    def ballotAgain(self) -> None:
        self.post(ev.BallotAgain())

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
        logic-and-accuracy check. Official ballots stay encrypted: nobody holds their key whole."""
        self._staff(StaffAction.TEST_TALLY)

    @Slot()
    def leaveKiosk(self) -> None:
        self._staff(StaffAction.LEAVE)

    # -- properties, grouped by the view they come from ----------------------------------------
    def _g(kind: Any, notify: Signal, read: Callable[[KioskBridge], Any]) -> Property:
        return Property(kind, read, notify=notify)

    V = Callable[["KioskBridge"], vw.Views]

    screen = _g(str, sessionChanged, lambda b: b._views.session.screen)
    electionTitle = _g(str, sessionChanged, lambda b: b._w.text(b._views.session.election_title))
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
    contestTitle = _g(str, ballotChanged, lambda b: b._w.text(b._views.ballot.contest_title))
    contestKind = _g(str, ballotChanged, lambda b: b._views.ballot.contest_kind)
    contestMin = _g(int, ballotChanged, lambda b: b._views.ballot.contest_min)
    contestMax = _g(int, ballotChanged, lambda b: b._views.ballot.contest_max)
    chosenCount = _g(int, ballotChanged, lambda b: b._views.ballot.chosen_count)
    optionCount = _g(int, ballotChanged, lambda b: len(b._views.ballot.options))
    answer = _g(str, ballotChanged, lambda b: b._views.ballot.answer)
    canCast = _g(bool, ballotChanged, lambda b: b._views.ballot.can_cast)

    warning = _g(str, overlayChanged, lambda b: b._w.warning(b._views.overlay.warning))
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

    encryptedBallot = _g(bool, reviewChanged, lambda b: b._views.review.encrypted)
    fingerprint = _g(str, reviewChanged, lambda b: b._views.review.fingerprint)
    ballotReady = _g(bool, reviewChanged, lambda b: b._views.review.ready)
    checksLeft = _g(int, reviewChanged, lambda b: b._views.review.checks_left)
    askingCheck = _g(bool, reviewChanged, lambda b: b._views.review.asking_check)

    receiptCode = _g(str, receiptChanged, lambda b: b._views.receipt.code)
    receiptFingerprint = _g(str, receiptChanged, lambda b: b._views.receipt.fingerprint)
    checksLeftAfter = _g(int, receiptChanged, lambda b: b._views.receipt.checks_left)
    receiptQr = _g(str, receiptChanged, lambda b: b._receipt_qr)
    printNote = _g(str, receiptChanged, lambda b: say(b._views.receipt.print_key))

    staffName = _g(str, staffChanged, lambda b: b._views.staff.staff_name)
    isManager = _g(bool, staffChanged, lambda b: b._views.staff.is_manager)
    counts = _g("QVariantMap", staffChanged, lambda b: b._counts())
    syncText = _g(str, staffChanged, lambda b: b._w.sync_text(b._views.staff))
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
    staffNote = _g(str, staffChanged, lambda b: " ".join(b._w.note(p) for p in b._views.staff.note))
    pendingHash = _g(str, staffChanged, lambda b: b._views.staff.pending_hash)
    diagnostics = _g(
        "QVariantList",
        staffChanged,
        lambda b: [b._w.staff_line(x) for x in b._views.staff.diagnostics],
    )
    testTally = _g(
        "QVariantList",
        staffChanged,
        lambda b: [b._w.staff_line(x) for x in b._views.staff.test_tally],
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
        return self._w.printer_word(self._views.staff.printer)
