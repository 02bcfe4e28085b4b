"""The reader watcher: reports readers and cards coming and going, through pcscd restarts.

``PcscReader`` is the real ``devices.CardReader``: this watcher plus PC/SC connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from smartcard import scard

from kiosk.hardware.card.errors import CardError
from kiosk.hardware.devices import ReaderEvent, ReaderEventKind
from kiosk.hardware.pcsc.connection import PcscConnection
from kiosk.hardware.pcsc.context import PNP_READER, Context, check, list_in, return_code


class ReaderWatcher:
    """Watches readers and cards in a background thread and reports every change.

    When pcscd goes away every known card and reader is reported removed, and the watcher
    keeps trying to reconnect; when it returns, readers and cards are reported again.
    """

    def __init__(
        self, on_event: Callable[[ReaderEvent], None], *, poll_ms: int = 250, retry_s: float = 0.5
    ) -> None:
        self._on_event = on_event
        self._poll_ms = poll_ms
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hanpyo-readers", daemon=True)
        self._context = Context()
        self._states: dict[str, int] = {}  # reader -> last known event state
        self._service_ok: bool | None = None
        self._pnp_state = scard.SCARD_STATE_UNAWARE

    def start(self) -> ReaderWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        handle = self._context.handle
        if handle is not None:
            scard.SCardCancel(handle)
        self._thread.join(timeout=5)

    def __enter__(self) -> ReaderWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def readers(self) -> list[str]:
        return sorted(self._states)

    def _emit(self, kind: ReaderEventKind, reader: str = "", detail: str = "") -> None:
        self._on_event(ReaderEvent(kind, reader, detail))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch_once()
            except CardError as e:
                self._lose_service(str(e))
                self._stop.wait(self._retry_s)
        self._context.release()

    def _lose_service(self, detail: str) -> None:
        self._context.release()
        for reader in sorted(self._states):
            if self._states[reader] & scard.SCARD_STATE_PRESENT:
                self._emit(ReaderEventKind.CARD_REMOVED, reader, detail)
            self._emit(ReaderEventKind.READER_REMOVED, reader, detail)
        self._states.clear()
        self._pnp_state = scard.SCARD_STATE_UNAWARE
        if self._service_ok is not False:
            self._service_ok = False
            self._emit(ReaderEventKind.SERVICE_LOST, detail=detail)

    def _watch_once(self) -> None:
        handle = self._context.get()
        if not self._service_ok:
            self._service_ok = True
            self._emit(ReaderEventKind.SERVICE_BACK)
        self._sync_readers(list_in(handle))
        states = [(r, self._states[r]) for r in sorted(self._states)]
        states.append((PNP_READER, self._pnp_state))
        rc, changed = scard.SCardGetStatusChange(handle, self._poll_ms, states)
        code = return_code(rc)
        if code in (return_code(scard.SCARD_E_TIMEOUT), return_code(scard.SCARD_E_CANCELLED)):
            return
        if code == return_code(scard.SCARD_E_UNKNOWN_READER):
            return  # a reader vanished between listing and waiting; the next round sees it
        check(rc, "waiting for card events")
        for reader, event_state, _atr in changed:
            if reader == PNP_READER:
                # Hand back what pcscd reported, or the next wait would return at once.
                self._pnp_state = event_state & ~scard.SCARD_STATE_CHANGED
            elif reader in self._states:
                self._update_card(reader, event_state & ~scard.SCARD_STATE_CHANGED)

    def _sync_readers(self, present: list[str]) -> None:
        for reader in sorted(set(self._states) - set(present)):
            if self._states.pop(reader) & scard.SCARD_STATE_PRESENT:
                self._emit(ReaderEventKind.CARD_REMOVED, reader)
            self._emit(ReaderEventKind.READER_REMOVED, reader)
        for reader in present:
            if reader not in self._states:
                self._states[reader] = scard.SCARD_STATE_UNAWARE
                self._emit(ReaderEventKind.READER_ADDED, reader)

    def _update_card(self, reader: str, state: int) -> None:
        was = bool(self._states[reader] & scard.SCARD_STATE_PRESENT)
        now = bool(state & scard.SCARD_STATE_PRESENT)
        self._states[reader] = state
        if now and not was:
            self._emit(ReaderEventKind.CARD_INSERTED, reader)
        elif was and not now:
            self._emit(ReaderEventKind.CARD_REMOVED, reader)


class PcscReader:
    """The real readers (``devices.CardReader``): the PC/SC watcher and connections."""

    def __init__(self) -> None:
        self._watcher: ReaderWatcher | None = None

    def watch(self, on_event: Callable[[ReaderEvent], None]) -> None:
        self._watcher = ReaderWatcher(on_event).start()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def connect(self, reader: str) -> PcscConnection:
        return PcscConnection(reader).connect()
