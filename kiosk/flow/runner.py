"""Carries out the flow's effects against the services and devices, without Qt.

Card I/O, printing and ledger questions run on one background thread, in order; their
answers are posted back as events through ``post`` (which the Qt bridge delivers on the GUI
thread). Encrypting a ballot runs on a second background thread, so the card
and the printer never wait behind it. Casting, staff actions on the chain and reading the
USB drive run at once, on the caller's thread: each is one short local step, and the next
screen depends on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, assert_never

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.chain import Mode
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.tally import count_test_ballots
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow.events import StaffAction as A
from kiosk.flow.staff_report import report_receipt
from kiosk.flow.state import Setup
from kiosk.hardware.card.auth import identify, prove, sign_ballot
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.devices import Connection, ReaderEvent, ReaderEventKind
from kiosk.hardware.printer.receipt import PrinterState, Receipt
from kiosk.store.errors import AlreadyVotedError
from kiosk.sync.eligibility import check_elsewhere

if TYPE_CHECKING:
    from kiosk.app import KioskServices

log = logging.getLogger("hanpyo.kiosk.flow")


class Timers(Protocol):
    """The idle timer and the one-second countdown (the bridge uses Qt timers; tests a fake)."""

    def start_idle(self, seconds: float) -> None: ...

    def start_countdown(self) -> None: ...

    def stop(self) -> None: ...


def setup_of(services: KioskServices) -> Setup:
    """What the flow needs to know of these services' configuration."""
    c = services.config
    return Setup(
        kiosk_id=services.kiosk_id,
        version=services.version,
        idle_s=c.timeouts.idle_s,
        warning_s=c.timeouts.warning_s,
        reader=c.reader,
        has_printer=services.printer is not None,
    )


class EffectRunner:
    """Runs effects; ``executor`` is the one background thread (tests pass one that runs
    each job at once)."""

    def __init__(
        self,
        services: KioskServices,
        post: Callable[[ev.Event], None],
        timers: Timers,
        *,
        quit_app: Callable[[], None] = lambda: None,
        executor: Executor | None = None,
        crypto_executor: Executor | None = None,
    ) -> None:
        self.services = services
        self._post = post
        self._timers = timers
        self._quit_app = quit_app
        self._pool = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="hanpyo-card")
        # Ballot encryption: its own thread, so a card or printer answer never
        # waits behind it; tests that pass one inline executor get it for both.
        self._crypto = (
            crypto_executor
            or executor
            or ThreadPoolExecutor(max_workers=1, thread_name_prefix="hanpyo-encrypt")
        )
        self._cards: dict[int, tuple[Connection, OpenPGPCard]] = {}  # only the pool touches it
        self._watching = False
        self._stopped = False
        self._on_sync = lambda status: self._post(ev.SyncChanged(status))

    # -- starting and stopping ---------------------------------------------------------------
    def start(self) -> None:
        """Say where the election stands, then watch the readers and the sync worker."""
        self.election_changed()
        self.services.on_sync_status.append(self._on_sync)
        self._post(ev.SyncChanged(self.services.sync_status))
        self.services.devices.reader.watch(self._reader_event)
        self._watching = True

    def stop(self) -> None:
        self._stopped = True
        if self._on_sync in self.services.on_sync_status:
            self.services.on_sync_status.remove(self._on_sync)
        if self._watching:
            self.services.devices.reader.stop()
            self._watching = False
        self._timers.stop()
        for visit in list(self._cards):
            self._pool.submit(self._close, visit)
        self._pool.shutdown(wait=True)
        if self._crypto is not self._pool:
            self._crypto.shutdown(wait=True)

    def election_changed(self) -> None:
        s = self.services
        self._post(
            ev.ElectionChanged(
                s.package,
                s.box.state if s.box else None,
                sync_configured=s.worker is not None,
                check_elsewhere=s.check_client is not None,
            )
        )

    def _reader_event(self, event: ReaderEvent) -> None:
        kind = event.kind
        match kind:
            case ReaderEventKind.READER_ADDED:
                self._post(ev.ReaderAdded(event.reader))
            case ReaderEventKind.READER_REMOVED:
                self._post(ev.ReaderRemoved(event.reader, event.detail))
            case ReaderEventKind.SERVICE_LOST:
                self._post(ev.ReaderServiceLost(event.detail))
            case ReaderEventKind.CARD_INSERTED:
                self._post(ev.CardInserted(event.reader))
            case ReaderEventKind.CARD_REMOVED:
                self._post(ev.CardPulled(event.reader))
            case ReaderEventKind.SERVICE_BACK:
                pass
            case _:
                assert_never(kind)

    # -- effects -----------------------------------------------------------------------------
    def run(self, effect: fx.Effect) -> None:
        if self._stopped:
            return
        s = self.services
        match effect:
            case fx.StartIdleTimer(seconds=seconds):
                self._timers.start_idle(seconds)
            case fx.StartCountdown():
                self._timers.start_countdown()
            case fx.StopTimers():
                self._timers.stop()
            case fx.ReadCard(visit=visit, reader=reader):
                self._background(visit, lambda: self._read(visit, reader), ev.CardRead)
            case fx.ProveCard(visit=visit, holder=holder, pin=pin):
                self._pool.submit(self._prove, visit, holder, pin)
            case fx.CloseCard(visit=visit):
                self._pool.submit(self._close, visit)
            case fx.CheckVotedHere(visit=visit, voter=voter):
                box = s.box
                self._post(ev.VotedHereAnswered(visit, box is not None and box.has_voted(voter)))
            case fx.AskElsewhere(visit=visit, voter=voter, policy=policy):
                self._pool.submit(self._ask_elsewhere, visit, voter, policy)
            case fx.EncryptBallot():
                self._crypto.submit(self._encrypt, effect)
            case fx.SignBallot():
                self._pool.submit(self._sign, effect)
            case fx.CastEncrypted():
                self._cast_encrypted(effect)
            case fx.SpoilBallot():
                self._spoil(effect)
            case fx.PrintReceipt():
                self._print_receipt(effect)
            case fx.SyncNow():
                s.sync_now()
            case fx.ReportReader(ready=ready):
                s.reader_state = "ok" if ready else "missing"
            case fx.RunStaffAction():
                self._staff_action(effect)
            case fx.PrintReport(visit=visit, kind=kind):
                self._print_report(visit, kind)
            case fx.CheckPrinter(visit=visit):
                self._pool.submit(self._check_printer, visit)
            case fx.ReadUsbPackage(visit=visit):
                self._read_usb(visit)
            case fx.FetchPackage(visit=visit):
                self._pool.submit(self._fetch, visit)
            case fx.Diagnose(visit=visit):
                self._pool.submit(self._diagnose, visit)
            case fx.CountTestTally(visit=visit):
                self._pool.submit(self._count, visit)
            case fx.LeaveKiosk():
                self._quit_app()
            case _:
                assert_never(effect)

    def _background(
        self, visit: int, work: Callable[[], Any], then: Callable[[int, Any], ev.Event]
    ) -> None:
        def job() -> None:
            try:
                value = work()
            except Exception as e:
                self._post(ev.CardFailed(visit, e))
            else:
                self._post(then(visit, value))

        self._pool.submit(job)

    # -- on the background thread ------------------------------------------------------------
    def _read(self, visit: int, reader: str) -> Any:
        package = self.services.package
        assert package is not None  # noqa: S101 - the flow asks only with an election
        connection = self.services.devices.reader.connect(reader)
        card = OpenPGPCard(connection)
        self._cards[visit] = (connection, card)
        return identify(card, package)

    def _prove(self, visit: int, holder: Any, pin: str) -> None:
        entry, package = self._cards.get(visit), self.services.package
        if entry is None or package is None:
            return
        try:
            proven = prove(entry[1], holder, pin, package.id, self.services.kiosk_id)
        except Exception as e:
            self._post(ev.CardFailed(visit, e))
        else:
            self._post(ev.CardProved(visit, proven))

    def _encrypt(self, effect: fx.EncryptBallot) -> None:
        package = self.services.package
        try:
            if package is None:
                raise HanpyoError("no election is loaded")
            ballot, secrets = encrypt_ballot(
                package, effect.ballot, effect.excluded, test=effect.test
            )
        except Exception as e:
            self._post(ev.EncryptionFailed(effect.visit, effect.review, e))
        else:
            self._post(ev.BallotEncrypted(effect.visit, effect.review, ballot, secrets))

    def _sign(self, effect: fx.SignBallot) -> None:
        entry = self._cards.get(effect.visit)
        try:
            if entry is None:
                raise HanpyoError("the card is no longer connected")
            signature = sign_ballot(entry[1], effect.holder, effect.ballot)
        except Exception as e:
            self._post(ev.SigningFailed(effect.visit, e))
        else:
            self._post(ev.BallotSigned(effect.visit, effect.ballot.hash, signature))

    def _close(self, visit: int) -> None:
        entry = self._cards.pop(visit, None)
        if entry is not None:
            entry[0].close()

    def _ask_elsewhere(self, visit: int, voter: Any, policy: Any) -> None:
        client = self.services.check_client
        try:
            if client is None:
                raise HanpyoError("no ledger is configured")
            answer = check_elsewhere(client, voter.voter_id, policy)
        except Exception as e:
            log.warning("eligibility check failed: %s", e)
            self._post(ev.ElsewhereAnswered(visit, None))
        else:
            self._post(ev.ElsewhereAnswered(visit, answer))

    def _print(self, receipt: Receipt) -> BaseException | None:
        printer = self.services.printer
        if printer is None:
            return HanpyoError("no printer")
        try:
            printer.print_receipt(receipt)
        except Exception as e:
            return e
        return None

    def _check_printer(self, visit: int) -> None:
        try:
            state = self.services.printer_state()
        except Exception:
            state = PrinterState.OFFLINE
        self._post(ev.PrinterChecked(visit, state))

    def _fetch(self, visit: int) -> None:
        try:
            raw = self.services.fetch_package()
        except Exception as e:
            self._post(ev.PackageRefused(visit, e, checked=False))
            return
        self._offer(visit, raw)

    def _diagnose(self, visit: int) -> None:
        try:
            printer = self.services.printer_state()
            try:
                height, error = self.services.probe_ledger(), ""
            except HanpyoError as e:
                height, error = None, str(e)
        except Exception as e:
            self._post(ev.Diagnosed(visit, error=e))
        else:
            self._post(ev.Diagnosed(visit, printer, height, error))

    def _count(self, visit: int) -> None:
        box, package = self.services.box, self.services.package
        try:
            if box is None or package is None:
                raise HanpyoError("no election is loaded")
            results = count_test_ballots(package, box.store.blocks())
        except Exception as e:
            self._post(ev.TallyCounted(visit, None, e))
        else:
            self._post(ev.TallyCounted(visit, results, None))

    # -- at once -----------------------------------------------------------------------------
    def _cast_encrypted(self, effect: fx.CastEncrypted) -> None:
        box = self.services.box
        assert box is not None  # noqa: S101 - the flow casts only with a ballot box
        try:
            receipt = box.cast_encrypted(
                effect.voter, effect.ballot, effect.card_key, effect.card_sig
            )
        except HanpyoError as e:
            log.warning("cast refused: %s", e)
            self._post(ev.CastRefused(effect.visit, isinstance(e, AlreadyVotedError)))
            return
        self.election_changed()
        url = self.services.check_url(receipt.tracking_code)
        self._post(ev.Cast(effect.visit, receipt.tracking_code, url, receipt.test))

    def _spoil(self, effect: fx.SpoilBallot) -> None:
        box = self.services.box
        assert box is not None  # noqa: S101 - the flow checks only with a ballot box
        try:
            receipt = box.spoil(effect.ballot, effect.secrets)
        except HanpyoError as e:
            log.warning("check refused: %s", e)
            self._post(ev.SpoilRefused(effect.visit))
            return
        self.election_changed()
        url = self.services.check_url(receipt.tracking_code)
        self._post(ev.Spoiled(effect.visit, receipt.tracking_code, url, receipt.test))

    def _print_receipt(self, effect: fx.PrintReceipt) -> None:
        printer, package = self.services.printer, self.services.package
        if printer is None or package is None:
            return
        title = package.title.ko + "\n" + package.title.en
        receipt = Receipt(title, receipt_lines(effect), effect.tracking_code, effect.check_url)
        visit = effect.visit
        self._pool.submit(lambda: self._post(ev.Printed(visit, self._print(receipt))))

    def _print_report(self, visit: int, kind: Any) -> None:
        s = self.services
        printer, box, package = s.printer, s.box, s.package
        if printer is None or box is None or package is None:
            return
        receipt = report_receipt(
            kind,
            election=package.title,
            package_code=package.short_hash,
            kiosk_id=s.kiosk_id,
            state=box.state,
            head=b64e(box.state.head)[:16],
            printed_at=s.devices.clock.now(),
        )
        self._pool.submit(lambda: self._post(ev.ReportPrinted(visit, self._print(receipt))))

    def _staff_action(self, effect: fx.RunStaffAction) -> None:
        s, action, visit = self.services, effect.action, effect.visit
        box = s.box
        if action is A.EXPORT and s.devices.stick.folder() is None:
            self._post(ev.StaffDone(visit, action, no_drive=True))
            return
        try:
            match action:
                case A.OPEN if box is not None:
                    box.open_session()
                case A.PAUSE if box is not None:
                    box.pause_session()
                case A.RESUME if box is not None:
                    box.resume_session()
                case A.CLOSE if box is not None:
                    box.close_session()
                case A.SET_MODE if box is not None:
                    box.set_mode(effect.mode or Mode.UNSET)
                case A.EXPORT:
                    folder = s.devices.stick.folder()
                    assert folder is not None  # noqa: S101 - checked above
                    s.export_to_usb(folder)
                case A.CONFIRM_LOAD:
                    s.load_package(effect.raw)
                case _:
                    return
        except HanpyoError as e:
            error: BaseException | None = e
        else:
            error = None
        self.election_changed()
        self._post(ev.StaffDone(visit, action, error))

    def _read_usb(self, visit: int) -> None:
        folder = self.services.devices.stick.folder()
        path = folder / "election.json" if folder else None
        if path is None or not path.is_file():
            self._post(ev.PackageRefused(visit, None))
            return
        self._offer(visit, path.read_bytes())

    def _offer(self, visit: int, raw: bytes) -> None:
        try:
            package = self.services.read_package(raw)
        except HanpyoError as e:
            self._post(ev.PackageRefused(visit, e))
        else:
            self._post(ev.PackageOffered(visit, raw, package.short_hash))


def receipt_lines(effect: fx.PrintReceipt) -> tuple[str, ...]:
    """What a voter's slip says above its tracking code, in Korean and English: never the
    choices, never the randomness. A checked ballot's slip says it is not counted."""
    if effect.checked:
        lines = [
            "확인한 투표지 · CHECKED BALLOT",
            "집계되지 않습니다 · It is not counted",
            "확인 페이지에서 내 선택과 같은지 보세요 · See on the check page that it holds "
            "your choices",
        ]
    else:
        lines = ["투표가 기록되었습니다 · Your vote has been recorded"]
    if effect.fingerprint:
        lines += ["투표지 지문 · Ballot fingerprint", effect.fingerprint]
    lines.append("추적 코드 · Tracking code")
    if effect.test:
        lines.insert(0, "시험 투표 · TEST BALLOT — not counted")
    return tuple(lines)
