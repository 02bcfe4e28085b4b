"""PC/SC through pyscard: the only module that imports ``smartcard``.

It turns every PC/SC failure into the project's card errors, connects to cards, and
watches readers and cards in a thread that survives pcscd restarts and reader unplugging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from smartcard import scard

from kiosk.hardware.card.errors import CardError, CardRemovedError, ReaderError

# The reader events are device values (kiosk.hardware.devices); named here too, as before.
from kiosk.hardware.devices import ReaderEvent as ReaderEvent
from kiosk.hardware.devices import ReaderEventKind as ReaderEventKind

PNP_READER = "\\\\?PnP?\\Notification"
_SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}
_CARD_GONE = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
_READER_GONE = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE}


def _code(rc: int) -> int:
    return rc & 0xFFFFFFFF


def _error(rc: int, doing: str) -> CardError:
    """The project's error for PC/SC return code ``rc``."""
    code = _code(rc)
    text = f"{doing}: {scard.SCardGetErrorMessage(rc)} ({code:#010x})"
    if code in {_code(c) for c in _CARD_GONE}:
        return CardRemovedError(text)
    if code in {_code(c) for c in _SERVICE_GONE | _READER_GONE}:
        return ReaderError(text)
    if code == _code(scard.SCARD_E_SHARING_VIOLATION):
        return ReaderError(text + "; another program holds the card")
    return CardError(text)


def _check(rc: int, doing: str) -> None:
    if rc != scard.SCARD_S_SUCCESS:
        raise _error(rc, doing)


class _Context:
    """A PC/SC context, established on demand and dropped when the service goes away."""

    def __init__(self) -> None:
        self.handle: Any = None

    def get(self) -> Any:
        if self.handle is None:
            rc, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            _check(rc, "connecting to the PC/SC service")
            self.handle = handle
        return self.handle

    def release(self) -> None:
        if self.handle is not None:
            scard.SCardReleaseContext(self.handle)
            self.handle = None


def list_readers() -> list[str]:
    """The names of the connected readers; ``ReaderError`` if pcscd is not running."""
    context = _Context()
    try:
        return _list(context.get())
    finally:
        context.release()


def _list(handle: Any) -> list[str]:
    rc, readers = scard.SCardListReaders(handle, [])
    if _code(rc) == _code(scard.SCARD_E_NO_READERS_AVAILABLE):
        return []
    _check(rc, "listing readers")
    return list(readers)


class PcscConnection:
    """A connection to the card in one reader; implements ``openpgp.CardConnection``."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self._context = _Context()
        self._card: Any = None
        self._protocol: Any = None

    def connect(self) -> PcscConnection:
        try:
            handle = self._context.get()
            rc, card, protocol = scard.SCardConnect(
                handle,
                self.reader,
                scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            _check(rc, f"connecting to the card in {self.reader}")
        except CardError:
            self._context.release()
            raise
        self._card, self._protocol = card, protocol
        return self

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._card is None:
            raise CardRemovedError("no card is connected")
        rc, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        if rc != scard.SCARD_S_SUCCESS:
            error = _error(rc, "talking to the card")
        elif len(response) < 2:
            error = CardError(f"the card answered {len(response)} bytes, not a status word")
        else:
            return bytes(response[:-2]), (response[-2] << 8) | response[-1]
        # Readers report a card pulled mid-command in different ways (an error, or an empty
        # answer); what the user did is best told by whether the card is still there.
        if not isinstance(error, CardRemovedError | ReaderError) and self._card_gone():
            raise CardRemovedError(f"the card was removed from {self.reader}: {error}")
        raise error

    def _card_gone(self, settle_ms: int = 1000) -> bool:
        """True if the card left the reader, waiting briefly for pcscd to notice."""
        handle = self._context.get()
        state = scard.SCARD_STATE_UNAWARE
        for timeout in (0, settle_ms):
            rc, changed = scard.SCardGetStatusChange(handle, timeout, [(self.reader, state)])
            if _code(rc) == _code(scard.SCARD_E_TIMEOUT):
                return False
            if rc != scard.SCARD_S_SUCCESS:
                return True  # the reader itself is gone: so is the card, for the user
            state = changed[0][1] & ~scard.SCARD_STATE_CHANGED
            if not state & scard.SCARD_STATE_PRESENT:
                return True
        return False

    def close(self) -> None:
        if self._card is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None
        self._context.release()

    def __enter__(self) -> PcscConnection:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        self._context = _Context()
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
        self._sync_readers(_list(handle))
        states = [(r, self._states[r]) for r in sorted(self._states)]
        states.append((PNP_READER, self._pnp_state))
        rc, changed = scard.SCardGetStatusChange(handle, self._poll_ms, states)
        code = _code(rc)
        if code in (_code(scard.SCARD_E_TIMEOUT), _code(scard.SCARD_E_CANCELLED)):
            return
        if code == _code(scard.SCARD_E_UNKNOWN_READER):
            return  # a reader vanished between listing and waiting; the next round sees it
        _check(rc, "waiting for card events")
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


def wait_for_card(reader: str, *, present: bool, timeout_s: float) -> None:
    """Block until a card is in (or out of) ``reader``; ``CardError`` after ``timeout_s``."""
    context = _Context()
    try:
        handle = context.get()
        state = scard.SCARD_STATE_UNAWARE
        deadline_ms = int(timeout_s * 1000)
        while True:
            rc, changed = scard.SCardGetStatusChange(
                handle,
                0 if state == scard.SCARD_STATE_UNAWARE else min(deadline_ms, 250),
                [(reader, state)],
            )
            if _code(rc) == _code(scard.SCARD_E_TIMEOUT):
                deadline_ms -= 250
                if deadline_ms <= 0:
                    raise CardError(
                        f"timed out waiting for the card to be "
                        f"{'inserted in' if present else 'removed from'} {reader}"
                    )
                continue
            _check(rc, f"watching {reader}")
            state = changed[0][1] & ~scard.SCARD_STATE_CHANGED
            if bool(state & scard.SCARD_STATE_PRESENT) == present:
                return
    finally:
        context.release()


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
