"""The kiosk's devices as protocols, each with a fake that has a handle to drive it (insert
or pull a card, plug or pull a USB stick, stop the clock), as VxSuite does. The real
drivers are ``pcsc.watcher.PcscReader``, ``UsbFolder`` and ``printer.escpos.open_printer``."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from kiosk.hardware.card.errors import CardRemovedError, ReaderError
from kiosk.hardware.sim.virtual_card import VirtualCard


# -- card readers --------------------------------------------------------------------------------
class ReaderEventKind(enum.StrEnum):
    SERVICE_LOST = "service_lost"  # pcscd stopped or cannot be reached
    SERVICE_BACK = "service_back"
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"


@dataclass(frozen=True, slots=True)
class ReaderEvent:
    kind: ReaderEventKind
    reader: str = ""
    detail: str = ""


class Connection(Protocol):
    """A connection to one card (``openpgp.CardConnection``) that can be closed."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...

    def close(self) -> None: ...


class CardReader(Protocol):
    """The kiosk's card readers: events from a background thread, and connections."""

    def watch(self, on_event: Callable[[ReaderEvent], None]) -> None:
        """Report every reader and card change to ``on_event`` (from any thread)."""
        ...

    def stop(self) -> None: ...

    def connect(self, reader: str) -> Connection:
        """Connect to the card in ``reader``; ``CardError`` when that fails."""
        ...


class _FakeConnection:
    def __init__(self, reader: FakeReader, card: VirtualCard) -> None:
        self._reader, self._card = reader, card
        self._open = True

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if not self._open or self._reader.card is not self._card:
            raise CardRemovedError(f"the card was removed from {self._reader.name}")
        response = self._card.process(apdu)
        return response[:-2], (response[-2] << 8) | response[-1]

    def close(self) -> None:
        self._open = False


class FakeReader:
    """One reader with an in-process virtual OpenPGP card: no pcscd. ``insert``, ``pull``,
    ``unplug`` and ``plug`` are the handle; events go to the watcher at once."""

    def __init__(self, name: str = "Fake Reader 00 00", *, plugged: bool = True) -> None:
        self.name = name
        self.card: VirtualCard | None = None
        self.plugged = plugged
        self._on_event: Callable[[ReaderEvent], None] | None = None
        self._lock = threading.Lock()

    def watch(self, on_event: Callable[[ReaderEvent], None]) -> None:
        self._on_event = on_event
        if self.plugged:
            self._emit(ReaderEventKind.READER_ADDED)
            if self.card is not None:
                self._emit(ReaderEventKind.CARD_INSERTED)

    def stop(self) -> None:
        self._on_event = None

    def connect(self, reader: str) -> Connection:
        with self._lock:
            if reader != self.name or not self.plugged:
                raise ReaderError(f"no reader {reader!r}")
            if self.card is None:
                raise CardRemovedError(f"no card in {reader}")
            return _FakeConnection(self, self.card)

    # -- the handle -----------------------------------------------------------------------------
    def insert(self, card: VirtualCard) -> None:
        with self._lock:
            self.card = card
            card.power_on()
        self._emit(ReaderEventKind.CARD_INSERTED)

    def pull(self) -> None:
        with self._lock:
            card, self.card = self.card, None
            if card is not None:
                card.power_off()
        self._emit(ReaderEventKind.CARD_REMOVED)

    def unplug(self) -> None:
        self.plugged = False
        self._emit(ReaderEventKind.READER_REMOVED, "reader unplugged")

    def plug(self) -> None:
        self.plugged = True
        self._emit(ReaderEventKind.READER_ADDED)

    def _emit(self, kind: ReaderEventKind, detail: str = "") -> None:
        if self._on_event is not None and (self.plugged or kind is ReaderEventKind.READER_REMOVED):
            self._on_event(ReaderEvent(kind, self.name, detail))


# -- USB sticks ----------------------------------------------------------------------------------
class UsbStick(Protocol):
    def folder(self) -> Path | None:
        """Where the mounted stick is, or None when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class UsbFolder:
    """The stick the host mounts at ``path`` (KioskConfig.usb_dir)."""

    path: Path | None

    def folder(self) -> Path | None:
        return self.path if self.path is not None and self.path.is_dir() else None


class FakeUsbStick:
    """A stick that is a folder; ``plug`` and ``pull`` are the handle."""

    def __init__(self, path: Path, *, plugged: bool = True) -> None:
        self.path = path
        self.plugged = plugged

    def folder(self) -> Path | None:
        if not self.plugged:
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    def plug(self) -> None:
        self.plugged = True

    def pull(self) -> None:
        self.plugged = False


# -- clocks --------------------------------------------------------------------------------------
class Clock(Protocol):
    def now(self) -> datetime:
        """Local time, with its zone (the staff reports print it)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now().astimezone()


class FakeClock:
    """A clock that stands still until ``set`` moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at
