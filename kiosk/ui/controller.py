"""The kiosk's view model: what every screen shows, and what every button does.

QML only displays these properties and calls these slots. Card I/O and ledger questions run
on one background thread; their answers come back to the GUI thread as a queued signal,
tagged with the card "visit" they belong to, so an answer for a card that has since been
pulled is dropped. Casting runs on the GUI thread: it is one short SQLCipher commit, and
the receipt screen can only appear after it.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from PySide6.QtCore import Property, QCoreApplication, QLocale, QObject, QTimer, Signal, Slot

from kiosk.app import KioskServices
from kiosk.core.chain import Mode, Session
from kiosk.core.election import ContestKind, ElectionPackage, Option, Text, Voter
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.export import export_bytes
from kiosk.core.tally import count_test_ballots
from kiosk.hardware import card_session as cs
from kiosk.hardware.auth import CardHolder, identify, prove
from kiosk.hardware.errors import CardError, ReaderError
from kiosk.hardware.openpgp import OpenPGPCard
from kiosk.hardware.pcsc import PcscConnection, ReaderEvent, ReaderEventKind, ReaderWatcher
from kiosk.hardware.printer import PrinterState, Receipt
from kiosk.store.errors import AlreadyVotedError
from kiosk.sync.eligibility import Elsewhere, check_elsewhere
from kiosk.flow.ballot_form import BallotForm, Finding
from kiosk.ui.models import RowModel
from kiosk.flow.staff_report import ReportKind, report_receipt
from kiosk.ui.texts import NEXT_STEP, say
from kiosk.ui.theme import Theme

log = logging.getLogger("hanpyo.kiosk.ui")

PIN_MAX = 12
PIN_MIN = 6


class Screen(enum.StrEnum):
    WAITING = "waiting"  # insert your card (or: voting is not open; or: no reader)
    READING = "reading"  # reading the card / checking the PIN / asking the ledger
    PIN = "pin"
    NOTICE = "notice"  # something the voter should know before voting (a ballot replaces one)
    BALLOT = "ballot"
    REVIEW = "review"
    RECEIPT = "receipt"
    MESSAGE = "message"  # a refusal or an ending, with what to do next; waits for the card
    STAFF = "staff"


@dataclass
class _Visit:
    """One card in the reader, from insertion to removal."""

    number: int
    connection: PcscConnection | None = None
    card: OpenPGPCard | None = None


@functools.lru_cache(maxsize=8)
def _qr_data_uri(text: str) -> str:
    """A QR code as a PNG data URI, drawn once per text (QML reads it on every change)."""
    return str(segno.make(text, error="m").png_data_uri(scale=8, border=2))


def _or_none(score: int | None, none: Any = -1) -> Any:
    """A score for the screen: 0 is a real score, so "no score yet" is ``none`` (-1)."""
    return none if score is None else score


def _text(text: Text, language: str) -> str:
    return text.ko if language == "ko" else text.en


class KioskController(QObject):
    changed = Signal()
    _finished = Signal(object)  # (visit number, callback, ok, value) from the worker thread
    _reader_event = Signal(object)  # ReaderEvent from the watcher thread
    _sync_event = Signal(object)  # SyncStatus from the sync thread

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
        self._quit_app = quit_app
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hanpyo-card")
        self._finished.connect(self._deliver)
        self._reader_event.connect(self._on_reader_event)
        self._sync_event.connect(lambda status: self.changed.emit())
        services.on_sync_status.append(self._sync_event.emit)

        self._language = "ko"
        self._more_time = False
        self._screen = Screen.WAITING
        self._card: cs.CardState = cs.NoReader()
        self._reader: str | None = None
        self._readers: list[str] = []
        self._visits = 0
        self._visit: _Visit | None = None
        self._pin = ""
        self._holder: CardHolder | None = None
        self._form: BallotForm | None = None
        self._page = 0
        self._warning_key = ""
        self._warning_n = -1
        self._warning_blocks = False
        self._message_key = ""
        self._next_key = ""
        self._notice_key = ""
        self._detail: dict[str, Any] = {}
        self._receipt_code = ""
        self._receipt_url = ""
        self._print_key = ""
        self._staff_note = ""
        self._pending_package: bytes | None = None
        self._pending_hash = ""
        self._diagnostics: list[str] = []
        self._test_tally: list[str] = []
        self._printer_state: PrinterState | None = None
        self._printer_known = False
        self.options = RowModel(
            ("optionId", "title", "summary", "budget", "score", "chosen", "scores", "image")
        )
        self.review = RowModel(("index", "title", "lines", "problem"))

        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._warn_timeout)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self._seconds_left = 0

        self._watcher: ReaderWatcher | None = None

    # -- starting and stopping ---------------------------------------------------------------
    def start(self) -> None:
        self._watcher = ReaderWatcher(self._reader_event.emit).start()
        self.changed.emit()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        self._idle.stop()
        self._countdown.stop()
        self._end_visit()
        self._pool.shutdown(wait=True)

    # -- background work ---------------------------------------------------------------------
    def _in_background(self, work: Callable[[], Any], then: Callable[[bool, Any], None]) -> None:
        number = self._visit.number if self._visit else -1

        def job() -> None:
            try:
                value, ok = work(), True
            except Exception as e:
                value, ok = e, False
            self._finished.emit((number, then, ok, value))

        self._pool.submit(job)

    @Slot(object)
    def _deliver(self, item: tuple[int, Callable[[bool, Any], None], bool, Any]) -> None:
        number, then, ok, value = item
        if self._visit is None or self._visit.number != number:
            return  # the card this was for has gone
        then(ok, value)

    # -- readers and cards -------------------------------------------------------------------
    @Slot(object)
    def _on_reader_event(self, event: ReaderEvent) -> None:
        kind = event.kind
        if kind is ReaderEventKind.READER_ADDED:
            self._readers.append(event.reader)
            wanted = self.services.config.reader
            if self._reader is None and (wanted is None or wanted == event.reader):
                self._reader = event.reader
                self._card_event(cs.ReaderReady())
        elif kind is ReaderEventKind.READER_REMOVED:
            if event.reader in self._readers:
                self._readers.remove(event.reader)
            if event.reader == self._reader:
                self._reader = None
                self._card_event(cs.ReaderLost(ReaderError(event.detail or "reader removed")))
        elif kind is ReaderEventKind.SERVICE_LOST:
            self._card_event(cs.ReaderLost(ReaderError(event.detail or "PC/SC service lost")))
        elif event.reader == self._reader:
            if kind is ReaderEventKind.CARD_INSERTED:
                self._card_event(cs.CardInserted())
            elif kind is ReaderEventKind.CARD_REMOVED:
                self._card_event(cs.CardRemoved())
        self.services.reader_state = "ok" if self._reader else "missing"
        self.changed.emit()

    def _card_event(self, event: cs.CardEvent) -> None:
        before = self._card
        self._card = cs.next_state(before, event)
        state = self._card
        match state:
            case cs.NoReader() | cs.Waiting():
                if not isinstance(before, cs.NoReader | cs.Waiting):
                    self._end_visit()
                self._set_screen(Screen.WAITING)
            case cs.Reading() if not isinstance(before, cs.Reading):
                self._begin_visit()
            case cs.AwaitingPin():
                self._pin = ""
                self._set_screen(Screen.PIN)
            case cs.CheckingPin():
                self._set_screen(Screen.READING)
            case cs.Authenticated(holder=holder):
                self._authenticated(holder)
            case cs.Refused(reason=reason):
                self._show_message(reason.value)
            case _:
                pass
        self.changed.emit()

    def _begin_visit(self) -> None:
        self._end_visit(keep_settings=True)  # chosen on the waiting screen for this voter
        self._visits += 1
        self._visit = _Visit(self._visits)
        self._set_screen(Screen.READING)
        reader, visit, package = self._reader, self._visit, self.services.package
        if reader is None or package is None:
            return

        def read() -> CardHolder:
            visit.connection = PcscConnection(reader).connect()
            visit.card = OpenPGPCard(visit.connection)
            return identify(visit.card, package)

        self._in_background(read, self._identified)

    def _identified(self, ok: bool, value: Any) -> None:
        if ok:
            self._card_event(cs.Identified(value))
        else:
            self._card_failed(value)

    def _card_failed(self, error: BaseException) -> None:
        if isinstance(error, CardError):
            self._card_event(cs.Failed(error))
        else:
            log.exception("unexpected error while reading a card", exc_info=error)
            self._card_event(cs.Failed(CardError(str(error))))

    def _end_visit(self, keep_settings: bool = False) -> None:
        """Forget everything about the card that was in the reader: PIN, ballot, settings."""
        visit, self._visit = self._visit, None
        if visit is not None:

            def close() -> None:
                if visit.connection is not None:
                    visit.connection.close()

            self._pool.submit(close)
        self._forget(keep_settings)

    def _forget(self, keep_settings: bool = False) -> None:
        """Drop the PIN, the ballot, the receipt and the staff screen's state."""
        self._pin = ""
        self._holder = None
        self._form = None
        self._page = 0
        self._detail = {}
        self._warning_key = ""
        self._receipt_code = self._receipt_url = self._print_key = ""
        self._notice_key = self._staff_note = ""
        self._pending_package = None
        self._diagnostics = []
        self._test_tally = []
        self.options.reset([])
        self.review.reset([])
        if not keep_settings:
            self._reset_settings()

    def _reset_settings(self) -> None:
        self.theme.reset()
        self._more_time = False
        if self._language != "ko":
            self._set_language("ko")

    # -- screens -----------------------------------------------------------------------------
    def _set_screen(self, screen: Screen) -> None:
        self._screen = screen
        self._idle.stop()
        self._countdown.stop()
        self._seconds_left = 0
        if screen not in (Screen.WAITING, Screen.READING):
            self._arm_idle()  # every screen where someone is expected to act
        self.changed.emit()

    def _show_message(self, key: str, next_key: str | None = None) -> None:
        self._message_key = key
        self._next_key = next_key if next_key is not None else NEXT_STEP.get(key, "ask_staff")
        self._form = None
        self._set_screen(Screen.MESSAGE)

    # -- timeouts ----------------------------------------------------------------------------
    def _timeouts(self) -> tuple[float, float]:
        t = self.services.config.timeouts
        factor = 2.0 if self._more_time else 1.0
        return t.idle_s * factor, t.warning_s * factor

    def _arm_idle(self) -> None:
        self._idle.start(int(self._timeouts()[0] * 1000))

    def _activity(self) -> None:
        if self._seconds_left:
            return  # while the warning shows, only "I need more time" counts
        if self._screen is not Screen.READING:
            # On the waiting screen too: a setting changed with no card is reset after a while.
            self._arm_idle()

    def _warn_timeout(self) -> None:
        if self._screen is Screen.WAITING or (self._screen is Screen.MESSAGE and not self._form):
            # Nothing to discard: settings go back to default (a message stays until the card
            # is taken, in Korean).
            self._reset_settings()
            self.changed.emit()
            return
        self._seconds_left = max(1, int(self._timeouts()[1]))
        self._countdown.start()
        self.changed.emit()

    def _tick(self) -> None:
        self._seconds_left -= 1
        if self._seconds_left <= 0:
            self._countdown.stop()
            self._time_out()
        self.changed.emit()

    def _time_out(self) -> None:
        """Nobody answered the warning: discard the ballot and everything typed."""
        key = {Screen.RECEIPT: "receipt_done", Screen.STAFF: "staff_idle"}.get(
            self._screen, "timed_out"
        )
        self._forget()
        if isinstance(self._card, cs.Waiting | cs.NoReader):
            self._set_screen(Screen.WAITING)
        else:
            self._show_message(key)
            self._idle.stop()

    @Slot()
    def moreTime(self) -> None:
        self._countdown.stop()
        self._seconds_left = 0
        self._arm_idle()
        self.changed.emit()

    @Slot()
    def touch(self) -> None:
        self._activity()

    # -- settings ----------------------------------------------------------------------------
    def _set_language(self, language: str) -> None:
        self._language = language
        self._retranslate(language)
        self._refresh_page()
        self.changed.emit()

    @Slot(str)
    def setLanguage(self, language: str) -> None:
        if language in ("ko", "en") and language != self._language:
            self._set_language(language)
        self._activity()

    @Slot(int)
    def setTextSize(self, index: int) -> None:
        self.theme.set_scale_index(index)
        self._activity()
        self.changed.emit()

    @Slot(bool)
    def setHighContrast(self, on: bool) -> None:
        self.theme.set_high_contrast(on)
        self._activity()
        self.changed.emit()

    @Slot(bool)
    def setMoreTime(self, on: bool) -> None:
        self._more_time = on
        self._activity()
        self.changed.emit()

    # -- the PIN -----------------------------------------------------------------------------
    @Slot(int)
    def pinDigit(self, digit: int) -> None:
        if self._screen is Screen.PIN and 0 <= digit <= 9 and len(self._pin) < PIN_MAX:
            self._pin += str(digit)
            self.changed.emit()
        self._activity()

    @Slot()
    def pinBack(self) -> None:
        self._pin = self._pin[:-1]
        self._activity()
        self.changed.emit()

    @Slot()
    def pinSubmit(self) -> None:
        state = self._card
        if self._screen is not Screen.PIN or not isinstance(state, cs.AwaitingPin):
            return
        if len(self._pin) < PIN_MIN:
            return
        pin, self._pin = self._pin, ""
        visit, package = self._visit, self.services.package
        self._card_event(cs.PinSubmitted())
        if visit is None or visit.card is None or package is None:
            return
        card, holder, kiosk = visit.card, state.holder, self.services.kiosk_id
        self._in_background(lambda: prove(card, holder, pin, package.id, kiosk), self._proved)

    def _proved(self, ok: bool, value: Any) -> None:
        if ok:
            self._card_event(cs.Proved(value))
        else:
            self._card_failed(value)

    # -- who is it ---------------------------------------------------------------------------
    def _authenticated(self, holder: CardHolder) -> None:
        self._holder = holder
        if holder.staff is not None:
            self._set_screen(Screen.STAFF)
            self._check_printer()
            return
        voter, box = holder.voter, self.services.box
        if voter is None or box is None:
            self._show_message("not_enrolled")
            return
        if box.state.session is not Session.OPEN:
            self._show_message("voting_closed")
            return
        if box.has_voted(voter):
            self._show_message("voted_here")
            return
        if not self.services.package or not self.services.package.contests_for(voter.category):
            self._show_message("no_contests")
            return
        client = self.services.check_client
        if client is None:
            self._start_ballot(voter)
            return
        self._set_screen(Screen.READING)
        policy = self.services.package.duplicate_policy
        self._in_background(
            lambda: check_elsewhere(client, voter.nullifier, policy),
            lambda ok, answer: self._elsewhere(voter, ok, answer),
        )

    def _elsewhere(self, voter: Voter, ok: bool, answer: Any) -> None:
        if not ok or not isinstance(answer, Elsewhere):
            log.warning("eligibility check failed: %s", answer)
            self._start_ballot(voter)  # the ledger applies the same policy on arrival
        elif not answer.allowed:
            self._show_message(answer.reason or "first_counts")
        elif answer.reason:
            self._notice_key = answer.reason
            self._start_ballot(voter, notice=True)
        else:
            self._start_ballot(voter)

    def _start_ballot(self, voter: Voter, notice: bool = False) -> None:
        package = self.services.package
        assert package is not None  # noqa: S101 - checked by _authenticated
        self._form = BallotForm(package, voter)
        self._page = 0
        self._refresh_page()
        self._set_screen(Screen.NOTICE if notice else Screen.BALLOT)

    @Slot()
    def startVoting(self) -> None:
        if self._screen is Screen.NOTICE and self._form is not None:
            self._set_screen(Screen.BALLOT)

    # -- the ballot --------------------------------------------------------------------------
    def _refresh_page(self) -> None:
        form = self._form
        if form is None:
            return
        contest = form.contest(self._page)
        rows = []
        for option in form.options(contest.id):
            rows.append(self._option_row(form, contest.id, option))
        self.options.update(rows)
        self._refresh_review()

    def _option_row(self, form: BallotForm, contest_id: str, option: Option) -> dict[str, Any]:
        contest = form.contest(self._page)
        return {
            "optionId": option.id,
            "title": _text(option.title, self._language),
            "summary": _text(option.summary, self._language),
            "budget": self._money(option.budget),
            "score": _or_none(form.score(contest_id, option.id)),
            "chosen": option.id in form.chosen(contest_id),
            "scores": [
                {
                    "criterion": c.id,
                    "title": _text(c.title, self._language),
                    "score": _or_none(form.score(contest_id, option.id, c.id)),
                }
                for c in contest.criteria
            ],
            "image": self._image_url(option.image),
        }

    def _image_url(self, image: str | None) -> str:
        if not image:
            return ""
        media = self.services.config.data_dir / "media"
        path = (media / image).resolve()
        if media.resolve() not in path.parents or not path.is_file():
            return ""  # pictures come only from the kiosk's own media folder
        return path.as_uri()

    def _money(self, amount: int | None) -> str:
        if amount is None:
            return ""
        locale = QLocale(
            QLocale.Language.Korean if self._language == "ko" else QLocale.Language.English
        )
        return QCoreApplication.translate("Kiosk", "Budget: %1 won").replace(
            "%1", locale.toString(amount)
        )

    def _refresh_review(self) -> None:
        form = self._form
        if form is None:
            return
        rows = []
        for index, contest in enumerate(form.contests):
            lines: list[str] = []
            titles: dict[str, str] = {
                o.id: _text(o.title, self._language) for o in form.options(contest.id)
            }
            if contest.kind is ContestKind.SCORE:
                for option in form.options(contest.id):
                    if contest.criteria:
                        parts = [
                            f"{_text(c.title, self._language)} "
                            f"{_or_none(form.score(contest.id, option.id, c.id), '—')}"
                            for c in contest.criteria
                        ]
                        lines.append(f"{titles[option.id]}: {', '.join(parts)}")
                    else:
                        score = form.score(contest.id, option.id)
                        lines.append(
                            f"{titles[option.id]}: "
                            + (
                                QCoreApplication.translate("Kiosk", "score %n", None, score)
                                if score is not None
                                else QCoreApplication.translate("Kiosk", "not scored")
                            )
                        )
            elif contest.kind is ContestKind.CHOICE:
                lines = [titles[o] for o in form.chosen(contest.id)] or [
                    QCoreApplication.translate("Kiosk", "nothing chosen")
                ]
            else:
                lines = [self._answer_text(form.answer(contest.id))]
            findings = form.findings(contest.id)
            rows.append(
                {
                    "index": index,
                    "title": _text(contest.title, self._language),
                    "lines": lines,
                    "problem": self._finding_text(findings[0]) if findings else "",
                }
            )
        self.review.update(rows)

    def _answer_text(self, answer: str | None) -> str:
        return {
            "yes": QCoreApplication.translate("Kiosk", "Yes"),
            "no": QCoreApplication.translate("Kiosk", "No"),
            "blank": QCoreApplication.translate("Kiosk", "Blank"),
        }.get(answer or "", QCoreApplication.translate("Kiosk", "no answer"))

    def _finding_text(self, finding: Finding) -> str:
        return say(finding.problem.value, finding.count)

    @Slot(str, int)
    def setScore(self, option_id: str, score: int) -> None:
        self.setCriterionScore(option_id, "", score)

    @Slot(str, str, int)
    def setCriterionScore(self, option_id: str, criterion: str, score: int) -> None:
        form = self._form
        if form is None or self._screen is not Screen.BALLOT:
            return
        form.set_score(form.contest(self._page).id, option_id, score, criterion)
        self._activity()
        self._refresh_page()
        self.changed.emit()

    @Slot(str)
    def clearScore(self, option_id: str) -> None:
        """Take back every score given to this proposal (a second tap on the chosen score)."""
        form = self._form
        if form is None or self._screen is not Screen.BALLOT:
            return
        form.clear_score(form.contest(self._page).id, option_id)
        self._activity()
        self._refresh_page()
        self.changed.emit()

    @Slot(str)
    def toggleChoice(self, option_id: str) -> None:
        form = self._form
        if form is None or self._screen is not Screen.BALLOT:
            return
        contest = form.contest(self._page)
        if not form.toggle_choice(contest.id, option_id):
            self._warning_key, self._warning_n, self._warning_blocks = "full", contest.max, True
        self._activity()
        self._refresh_page()
        self.changed.emit()

    @Slot(str)
    def setAnswer(self, answer: str) -> None:
        form = self._form
        if form is not None and self._screen is Screen.BALLOT:
            form.set_answer(form.contest(self._page).id, answer)
            self._activity()
            self._refresh_page()
            self.changed.emit()

    @Slot(str)
    def showDetail(self, option_id: str) -> None:
        row = next((r for r in self.options.rows if r["optionId"] == option_id), None)
        self._detail = dict(row) if row else {}
        self._activity()
        self.changed.emit()

    @Slot()
    def closeDetail(self) -> None:
        self._detail = {}
        self._activity()
        self.changed.emit()

    @Slot()
    def next(self) -> None:
        """Next page, or review after the last one; first warn about what is unfinished."""
        form = self._form
        if form is None or self._screen is not Screen.BALLOT:
            return
        self._activity()
        findings = form.findings(form.contest(self._page).id)
        if findings and not self._warning_key:
            finding = findings[0]
            self._warning_key = finding.problem.value
            self._warning_n = finding.count
            self._warning_blocks = finding.problem.blocks_casting
            self.changed.emit()
            return
        self._warning_key = ""
        self._go_forward()

    def _go_forward(self) -> None:
        form = self._form
        assert form is not None  # noqa: S101
        if self._page + 1 < len(form.contests):
            self._page += 1
            self._refresh_page()
            self.changed.emit()
        else:
            self._refresh_review()
            self._set_screen(Screen.REVIEW)

    @Slot()
    def goOnAnyway(self) -> None:
        if self._warning_key and not self._warning_blocks and self._form is not None:
            self._warning_key = ""
            self._go_forward()
        self._activity()

    @Slot()
    def closeWarning(self) -> None:
        self._warning_key = ""
        self._activity()
        self.changed.emit()

    @Slot()
    def back(self) -> None:
        self._activity()
        self._warning_key = ""
        if self._screen is Screen.REVIEW and self._form is not None:
            self._page = len(self._form.contests) - 1
            self._refresh_page()
            self._set_screen(Screen.BALLOT)
        elif self._screen is Screen.BALLOT and self._page > 0:
            self._page -= 1
            self._refresh_page()
            self.changed.emit()

    @Slot(int)
    def change(self, index: int) -> None:
        """From the review: go back to one contest."""
        if self._screen is Screen.REVIEW and self._form and 0 <= index < len(self._form.contests):
            self._page = index
            self._refresh_page()
            self._set_screen(Screen.BALLOT)

    @Slot()
    def cast(self) -> None:
        form, holder, box = self._form, self._holder, self.services.box
        if self._screen is not Screen.REVIEW or form is None or box is None:
            return
        if holder is None or holder.voter is None or not form.can_cast():
            return
        try:
            receipt = box.cast_ballot(holder.voter, form.ballot())
        except HanpyoError as e:
            log.warning("cast refused: %s", e)
            self._show_message("voted_here" if isinstance(e, AlreadyVotedError) else "cast_failed")
            return
        self._form = None
        self.options.reset([])
        self.review.reset([])
        self._receipt_code = receipt.tracking_code
        self._receipt_url = self.services.check_url(receipt.tracking_code)
        self._print_key = ""
        self._set_screen(Screen.RECEIPT)
        self.services.sync_now()
        self._print_receipt(receipt.tracking_code, receipt.test)

    def _print_receipt(self, code: str, test: bool) -> None:
        printer, package = self.services.printer, self.services.package
        if printer is None or package is None:
            return
        title = _text(package.title, "ko") + "\n" + _text(package.title, "en")
        lines = [
            "투표가 기록되었습니다 · Your vote has been recorded",
            "추적 코드 · Tracking code",
        ]
        if test:
            lines.insert(0, "시험 투표 · TEST BALLOT — not counted")
        receipt = Receipt(title, tuple(lines), code, self._receipt_url)
        self._in_background(
            lambda: printer.print_receipt(receipt),
            lambda ok, value: self._printed(ok, value),
        )

    def _printed(self, ok: bool, value: Any) -> None:
        if not ok:
            log.warning("receipt not printed: %s", value)
        self._print_key = "printed" if ok else "print_failed"
        self.changed.emit()

    # -- staff -------------------------------------------------------------------------------
    def _staff_action(self, action: Callable[[], Any], done: str) -> None:
        self._activity()
        try:
            action()
        except HanpyoError as e:
            self._staff_note = self._explain(e)
        else:
            self._staff_note = done
        self.changed.emit()

    def _explain(self, error: BaseException) -> str:
        """For staff: the error's own plain message in the screen's language, then the detail."""
        if isinstance(error, HanpyoError):
            plain = error.user_message[0 if self._language == "ko" else 1]
            return f"{plain} ({error.detail})"
        return str(error)

    def _is_manager(self) -> bool:
        h = self._holder
        return bool(h and h.staff and h.staff.role.value == "election_manager")

    @Slot()
    def openSession(self) -> None:
        box = self.services.box
        if box is not None and self._screen is Screen.STAFF:
            self._staff_action(
                box.open_session, QCoreApplication.translate("Kiosk", "The session is open.")
            )
            if box.state.session is Session.OPEN:
                self._print_report(ReportKind.OPENING)

    @Slot()
    def pauseSession(self) -> None:
        box = self.services.box
        if box is not None and self._screen is Screen.STAFF:
            self._staff_action(
                box.pause_session, QCoreApplication.translate("Kiosk", "The session is paused.")
            )

    @Slot()
    def resumeSession(self) -> None:
        box = self.services.box
        if box is not None and self._screen is Screen.STAFF:
            self._staff_action(
                box.resume_session,
                QCoreApplication.translate("Kiosk", "The session is open again."),
            )

    @Slot()
    def closeSession(self) -> None:
        box = self.services.box
        if box is not None and self._screen is Screen.STAFF:
            self._staff_action(
                box.close_session, QCoreApplication.translate("Kiosk", "The session is closed.")
            )
            if box.state.session is Session.CLOSED:
                self._print_report(ReportKind.CLOSING)
                self.services.sync_now()

    @Slot()
    def printReport(self) -> None:
        if self._screen is Screen.STAFF:
            self._staff_note = ""
            self._print_report(ReportKind.SESSION)

    def _print_report(self, kind: ReportKind) -> None:
        printer, box, package = self.services.printer, self.services.box, self.services.package
        if printer is None or box is None or package is None:
            return
        receipt = report_receipt(
            kind,
            election=package.title,
            package_code=package.short_hash,
            kiosk_id=self.services.kiosk_id,
            state=box.state,
            head=self._p_chainHead(),
            printed_at=datetime.now().astimezone(),
        )
        self._in_background(lambda: printer.print_receipt(receipt), self._report_printed)

    def _report_printed(self, ok: bool, value: Any) -> None:
        # Keep what the staff member just did ("The session is open.") and add the report's
        # outcome after it, rather than replacing it.
        outcome = (
            QCoreApplication.translate("Kiosk", "The report is printed.")
            if ok
            else self._explain(value)
        )
        done = self._staff_note
        self._staff_note = f"{done} {outcome}" if done and done != outcome else outcome
        self._check_printer()
        self.changed.emit()

    def _check_printer(self) -> None:
        """Ask the printer for its state off the GUI thread (a USB or network round trip);
        the staff screen shows the last answer."""
        self._in_background(self.services.printer_state, self._printer_checked)

    def _printer_checked(self, ok: bool, value: Any) -> None:
        self._printer_state = value if ok else PrinterState.OFFLINE
        self._printer_known = True
        self.changed.emit()

    @Slot(str)
    def setMode(self, mode: str) -> None:
        box = self.services.box
        if box is not None and self._screen is Screen.STAFF and self._is_manager():
            self._staff_action(
                lambda: box.set_mode(Mode(mode)),
                QCoreApplication.translate("Kiosk", "The mode is changed."),
            )

    @Slot()
    def exportUsb(self) -> None:
        box, usb = self.services.box, self.services.config.usb_dir
        if box is None or self._screen is not Screen.STAFF or not self._is_manager():
            return
        if usb is None or not usb.is_dir():
            self._staff_note = QCoreApplication.translate("Kiosk", "No USB drive is mounted.")
            self.changed.emit()
            return

        def export() -> None:
            blocks = list(box.store.blocks())
            data = export_bytes(blocks, self.services.keys.kiosk_key)
            name = f"hanpyo-{self.services.kiosk_id[:12]}-{blocks[-1].block.height}.jsonl"
            (usb / name).write_bytes(data)

        self._staff_action(
            export, QCoreApplication.translate("Kiosk", "The chain is exported to the USB drive.")
        )

    @Slot()
    def loadFromUsb(self) -> None:
        usb = self.services.config.usb_dir
        if not self._is_manager() or self._screen is not Screen.STAFF:
            return
        path = usb / "election.json" if usb else None
        if path is None or not path.is_file():
            self._staff_note = QCoreApplication.translate(
                "Kiosk", "There is no election.json on the USB drive."
            )
            self.changed.emit()
            return
        self._check_package(path.read_bytes())

    @Slot()
    def loadFromLedger(self) -> None:
        if not self._is_manager() or self._screen is not Screen.STAFF:
            return
        self._in_background(self.services.fetch_package, self._fetched)

    def _fetched(self, ok: bool, value: Any) -> None:
        if ok:
            self._check_package(value)
        else:
            self._staff_note = self._explain(value)
            self.changed.emit()

    def _check_package(self, raw: bytes) -> None:
        try:
            package = self.services.read_package(raw)
        except HanpyoError as e:
            self._staff_note = self._explain(e)
            self._pending_package = None
        else:
            self._pending_package = raw
            self._pending_hash = package.short_hash
            self._staff_note = ""
        self.changed.emit()

    @Slot()
    def confirmLoad(self) -> None:
        raw, self._pending_package = self._pending_package, None
        if raw is not None and self._is_manager():
            self._staff_action(
                lambda: self.services.load_package(raw),
                QCoreApplication.translate("Kiosk", "The election is loaded."),
            )

    @Slot()
    def cancelLoad(self) -> None:
        self._pending_package = None
        self.changed.emit()

    @Slot()
    def runDiagnostics(self) -> None:
        if self._screen is not Screen.STAFF or not self._is_manager():
            return
        self._diagnostics = [QCoreApplication.translate("Kiosk", "Checking…")]
        self.changed.emit()
        self._in_background(self._diagnose, self._diagnosed)

    def _diagnose(self) -> list[str]:
        out = [
            QCoreApplication.translate("Kiosk", "Card readers: %1").replace(
                "%1", ", ".join(self._readers) or QCoreApplication.translate("Kiosk", "none")
            )
        ]
        state = self.services.printer_state()
        out.append(
            QCoreApplication.translate("Kiosk", "Printer: %1").replace(
                "%1", self._printer_word(state)
            )
        )
        try:
            height = self.services.probe_ledger()
        except HanpyoError as e:
            out.append(
                QCoreApplication.translate("Kiosk", "Ledger: not reachable (%1)").replace(
                    "%1", str(e)
                )
            )
        else:
            out.append(
                QCoreApplication.translate(
                    "Kiosk", "Ledger: reachable; it holds this kiosk's blocks up to %1"
                ).replace("%1", str(height))
            )
        return out

    def _diagnosed(self, ok: bool, value: Any) -> None:
        self._diagnostics = value if ok else [self._explain(value)]
        self.changed.emit()

    @Slot()
    def showTestTally(self) -> None:
        """Count this kiosk's test ballots with the package's test key, for a manager's
        logic-and-accuracy check. Official ballots stay sealed: the kiosk has no key for them."""
        box, package = self.services.box, self.services.package
        if box is None or package is None or self._screen is not Screen.STAFF:
            return
        if not self._is_manager():
            return
        self._test_tally = [QCoreApplication.translate("Kiosk", "Counting…")]
        self.changed.emit()
        self._in_background(
            lambda: count_test_ballots(package, box.store.blocks()), self._test_tally_counted
        )

    def _test_tally_counted(self, ok: bool, value: Any) -> None:
        package = self.services.package
        if not ok or package is None:
            self._test_tally = [self._explain(value)]
        else:
            self._test_tally = self._tally_lines(package, value)
        self.changed.emit()

    def _tally_lines(self, package: ElectionPackage, results: dict[str, Any]) -> list[str]:
        """The test tally in plain lines: per contest, only what received votes or scores."""
        lang = self._language
        counted, invalid = results["ballots"]["counted"], results["ballots"]["invalid"]
        lines = [
            QCoreApplication.translate(
                "Kiosk", "Test tally: test ballots counted: %n", None, counted
            )
        ]
        if invalid:
            lines.append(
                QCoreApplication.translate(
                    "Kiosk", "Test ballots that could not be counted: %n", None, invalid
                )
            )
        titles = {o.id: _text(o.title, lang) for o in package.options}
        for contest in results["contests"]:
            lines.append(_text(Text(**contest["title"]), lang))
            if contest["kind"] == "yesno":
                lines.append(
                    "  "
                    + QCoreApplication.translate("Kiosk", "yes %1 · no %2 · blank %3")
                    .replace("%1", str(contest["yes"]))
                    .replace("%2", str(contest["no"]))
                    .replace("%3", str(contest["blank"]))
                )
                continue
            shown = 0
            for option in contest["options"]:
                title = titles.get(option["id"], option["id"])
                if contest["kind"] == "choice" and option["votes"]:
                    votes = option["votes"]
                    lines.append(
                        f"  {title}: "
                        + QCoreApplication.translate("Kiosk", "votes: %n", None, votes)
                    )
                    shown += 1
                elif contest["kind"] == "score" and option["count"]:
                    scores = option["count"]
                    mean = sum(c["sum"] for c in option["by_category"].values()) / scores
                    lines.append(
                        f"  {title}: "
                        + QCoreApplication.translate(
                            "Kiosk", "scores: %n, mean %1", None, scores
                        ).replace("%1", f"{mean:.2f}")
                    )
                    shown += 1
            if not shown:
                lines.append("  " + QCoreApplication.translate("Kiosk", "nothing yet"))
        return lines

    @Slot()
    def leaveKiosk(self) -> None:
        if self._screen is Screen.STAFF and self._is_manager():
            log.info("kiosk mode left by an election manager")
            self._quit_app()

    def _printer_word(self, state: PrinterState | None) -> str:
        if state is None:
            return QCoreApplication.translate("Kiosk", "none")
        return {
            PrinterState.READY: QCoreApplication.translate("Kiosk", "ready"),
            PrinterState.PAPER_LOW: QCoreApplication.translate("Kiosk", "paper low"),
            PrinterState.NO_PAPER: QCoreApplication.translate("Kiosk", "out of paper"),
            PrinterState.OFFLINE: QCoreApplication.translate("Kiosk", "offline"),
        }[state]

    # -- properties --------------------------------------------------------------------------
    def _qr(self, text: str) -> str:
        return _qr_data_uri(text) if text else ""

    def _get(name: str, kind: Any = str, notify: Signal = changed) -> Property:  # type: ignore[misc]
        return Property(kind, lambda self: getattr(self, "_p_" + name)(), notify=notify)

    def _p_screen(self) -> str:
        return self._screen.value

    def _p_language(self) -> str:
        return self._language

    def _p_moreTime(self) -> bool:
        return self._more_time

    def _p_electionTitle(self) -> str:
        p = self.services.package
        return _text(p.title, self._language) if p else ""

    def _p_hasElection(self) -> bool:
        return self.services.package is not None

    def _p_readerReady(self) -> bool:
        return self._reader is not None

    def _p_votingOpen(self) -> bool:
        box = self.services.box
        return box is not None and box.state.session is Session.OPEN

    def _p_sessionState(self) -> str:
        box = self.services.box
        return box.state.session.value if box else "closed"

    def _p_mode(self) -> str:
        box = self.services.box
        return box.state.mode.value if box else "unset"

    def _p_testMode(self) -> bool:
        return self._p_mode() == "test"

    def _p_pinLength(self) -> int:
        return len(self._pin)

    def _p_pinReady(self) -> bool:
        return len(self._pin) >= PIN_MIN

    def _p_pinWrong(self) -> bool:
        return isinstance(self._card, cs.AwaitingPin) and self._card.wrong_pin

    def _p_pinTriesLeft(self) -> int:
        return self._card.tries_left if isinstance(self._card, cs.AwaitingPin) else 0

    def _p_message(self) -> str:
        return say(self._message_key)

    def _p_messageKey(self) -> str:
        return self._message_key

    def _p_nextStep(self) -> str:
        return say(self._next_key)

    def _p_notice(self) -> str:
        return say(self._notice_key)

    def _p_pageIndex(self) -> int:
        return self._page

    def _p_pageCount(self) -> int:
        return len(self._form.contests) if self._form else 0

    def _p_contestTitle(self) -> str:
        return _text(self._form.contest(self._page).title, self._language) if self._form else ""

    def _p_contestKind(self) -> str:
        return self._form.contest(self._page).kind.value if self._form else ""

    def _p_contestMin(self) -> int:
        return self._form.contest(self._page).min if self._form else 0

    def _p_contestMax(self) -> int:
        return self._form.contest(self._page).max if self._form else 0

    def _p_chosenCount(self) -> int:
        form = self._form
        if form is None:
            return 0
        contest = form.contest(self._page)
        if contest.kind is ContestKind.SCORE:
            return form.scored_count(contest.id)
        return len(form.chosen(contest.id))

    def _p_optionCount(self) -> int:
        return len(self.options.rows)

    def _p_answer(self) -> str:
        form = self._form
        return (form.answer(form.contest(self._page).id) or "") if form else ""

    def _p_warning(self) -> str:
        if self._warning_key == "full":
            n = self._warning_n  # a plain name: lupdate 6.11 skips calls whose count is dotted
            return QCoreApplication.translate(
                "Kiosk", "You may choose up to %n. Remove one first to choose another.", None, n
            )
        return say(self._warning_key, self._warning_n) if self._warning_key else ""

    def _p_warningBlocks(self) -> bool:
        return self._warning_blocks

    def _p_canCast(self) -> bool:
        return self._form is not None and self._form.can_cast()

    def _p_detail(self) -> dict[str, Any]:
        return self._detail

    def _p_receiptCode(self) -> str:
        return self._receipt_code

    def _p_receiptQr(self) -> str:
        return self._qr(self._receipt_url)

    def _p_printNote(self) -> str:
        return say(self._print_key)

    def _p_secondsLeft(self) -> int:
        return self._seconds_left

    def _p_staffName(self) -> str:
        h = self._holder
        return h.staff.name if h and h.staff else ""

    def _p_isManager(self) -> bool:
        return self._is_manager()

    def _p_counts(self) -> dict[str, int]:
        box = self.services.box
        if box is None:
            return {}
        s = box.state
        return {
            "session": s.session_ballots,
            "sessionTest": s.session_test_ballots,
            "total": s.ballots,
            "totalTest": s.test_ballots,
            "sessionNumber": s.session_number,
        }

    def _p_syncText(self) -> str:
        if self.services.worker is None:
            return QCoreApplication.translate("Kiosk", "not configured (offline kiosk)")
        st = self.services.sync_status
        if not st.trusted:
            return QCoreApplication.translate(
                "Kiosk", "STOPPED: the ledger could not be trusted. Call the election manager."
            )
        pending = st.pending  # a plain name: lupdate 6.11 skips calls whose count is dotted
        if not st.online:
            return QCoreApplication.translate("Kiosk", "offline; blocks waiting: %n", None, pending)
        return QCoreApplication.translate("Kiosk", "online; blocks waiting: %n", None, pending)

    def _p_readerText(self) -> str:
        return self._reader or QCoreApplication.translate("Kiosk", "no card reader")

    def _p_printerText(self) -> str:
        if not self._printer_known:
            return QCoreApplication.translate("Kiosk", "Checking…")
        return self._printer_word(self._printer_state)

    def _p_packageHash(self) -> str:
        p = self.services.package
        return p.short_hash if p else ""

    def _p_chainHead(self) -> str:
        box = self.services.box
        return b64e(box.state.head)[:16] if box else ""

    def _p_chainQr(self) -> str:
        box, p = self.services.box, self.services.package
        if box is None or p is None:
            return ""
        s = box.state
        return self._qr(
            f"hanpyo:election={p.id};package={p.short_hash};kiosk={self.services.kiosk_id};"
            f"height={s.height};head={b64e(s.head)}"
        )

    def _p_staffNote(self) -> str:
        return self._staff_note

    def _p_pendingHash(self) -> str:
        return self._pending_hash if self._pending_package is not None else ""

    def _p_diagnostics(self) -> list[str]:
        return self._diagnostics

    def _p_testTally(self) -> list[str]:
        return self._test_tally

    def _p_version(self) -> str:
        return self.services.version

    def _p_kioskId(self) -> str:
        return self.services.kiosk_id

    screen = _get("screen")
    language = _get("language")
    moreTimeOn = _get("moreTime", bool)
    electionTitle = _get("electionTitle")
    hasElection = _get("hasElection", bool)
    readerReady = _get("readerReady", bool)
    votingOpen = _get("votingOpen", bool)
    sessionState = _get("sessionState")
    mode = _get("mode")
    testMode = _get("testMode", bool)
    pinLength = _get("pinLength", int)
    pinReady = _get("pinReady", bool)
    pinWrong = _get("pinWrong", bool)
    pinTriesLeft = _get("pinTriesLeft", int)
    message = _get("message")
    messageKey = _get("messageKey")
    nextStep = _get("nextStep")
    notice = _get("notice")
    pageIndex = _get("pageIndex", int)
    pageCount = _get("pageCount", int)
    contestTitle = _get("contestTitle")
    contestKind = _get("contestKind")
    contestMin = _get("contestMin", int)
    contestMax = _get("contestMax", int)
    chosenCount = _get("chosenCount", int)
    optionCount = _get("optionCount", int)
    answer = _get("answer")
    warning = _get("warning")
    warningBlocks = _get("warningBlocks", bool)
    canCast = _get("canCast", bool)
    detail = _get("detail", "QVariantMap")
    receiptCode = _get("receiptCode")
    receiptQr = _get("receiptQr")
    printNote = _get("printNote")
    secondsLeft = _get("secondsLeft", int)
    staffName = _get("staffName")
    isManager = _get("isManager", bool)
    counts = _get("counts", "QVariantMap")
    syncText = _get("syncText")
    readerText = _get("readerText")
    printerText = _get("printerText")
    packageHash = _get("packageHash")
    chainHead = _get("chainHead")
    chainQr = _get("chainQr")
    staffNote = _get("staffNote")
    pendingHash = _get("pendingHash")
    diagnostics = _get("diagnostics", "QVariantList")
    testTally = _get("testTally", "QVariantList")
    version = _get("version")
    kioskId = _get("kioskId")
    optionModel = Property(QObject, lambda self: self.options, constant=True)
    reviewModel = Property(QObject, lambda self: self.review, constant=True)
    del _get
