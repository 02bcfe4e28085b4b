"""The vpcd bridge: one virtual card in one vsmartcard vpcd reader, over vpcd's socket protocol.

The real pcscd and its vpcd driver do the rest; the simulator (kiosk.hardware.sim.simulator)
runs several of these readers.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import socket
import threading

from kiosk.hardware.sim.card_state import SimulatorError
from kiosk.hardware.sim.virtual_card import VirtualCard

log = logging.getLogger(__name__)

DEFAULT_PORT = 0x8C7B  # 35963: vpcd's default CHANNELID
RETRY_SECONDS = 0.1  # how soon a card tries vpcd again after pcscd went away
PULL_TIMEOUT = 5.0


class VpcdControl(enum.IntEnum):
    """vpcd's one-byte control frames (anything longer is an APDU)."""

    POWER_OFF = 0x00
    POWER_ON = 0x01
    RESET = 0x02
    GET_ATR = 0x04


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        if sock.family != socket.AF_UNIX:
            # ACK at once: vpcd sends a frame's length and body apart, and with a delayed
            # ACK its Nagle algorithm would hold the body back for about 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket) -> bytes | None:
    """One vpcd message (2-byte big-endian length, then the payload); None once vpcd hangs up."""
    header = _read_exactly(sock, 2)
    return None if header is None else _read_exactly(sock, int.from_bytes(header))


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(2) + payload


class _Insertion:
    """One stay of a card in a reader: a thread keeping it connected to vpcd until pulled.

    vpcd listens and the card connects. When pcscd stops, vpcd hangs up; the card then keeps
    trying, so it shows up again once pcscd is back, as a card left in a reader would.
    """

    def __init__(self, card: VirtualCard, address: tuple[str, int]) -> None:
        self.card = card
        self.connected = threading.Event()  # set while a connection to vpcd is open
        self._address = address
        self._pulled = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=f"vpcd:{address[1]}", daemon=True)
        self._thread.start()

    def pull(self) -> None:
        """Take the card out, even mid-command; returns once the card is served no more."""
        self._pulled.set()
        with self._lock:
            if self._sock is not None:
                # shutdown, not close: it wakes the thread blocked in recv, which closes it.
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)
        if threading.current_thread() is not self._thread:
            self._thread.join(PULL_TIMEOUT)

    def _run(self) -> None:
        while (sock := self._connect()) is not None:
            try:
                self._serve(sock)
            except OSError as e:  # vpcd went away, or the card was pulled
                log.debug("card %s lost vpcd on %s: %s", self.card.serial, self._address, e)
            finally:
                self.connected.clear()
                with self._lock:
                    self._sock = None
                sock.close()
            self._pulled.wait(RETRY_SECONDS)

    def _connect(self) -> socket.socket | None:
        while not self._pulled.is_set():
            try:
                sock = socket.create_connection(self._address, timeout=1.0)
            except OSError:  # pcscd is not running (yet)
                self._pulled.wait(RETRY_SECONDS)
                continue
            sock.settimeout(None)
            # vpcd writes each frame's length and body separately: without these, Nagle's
            # algorithm and delayed ACKs add about 40 ms to every APDU.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._pulled.is_set():
                    sock.close()
                    return None
                self._sock = sock
            self.connected.set()
            return sock
        return None

    def _serve(self, sock: socket.socket) -> None:
        while (message := read_frame(sock)) is not None:
            reply = self._answer(message)
            if reply is not None:
                sock.sendall(frame(reply))

    def _answer(self, message: bytes) -> bytes | None:
        if len(message) != 1:
            return self.card.process(message)
        match message[0]:
            case VpcdControl.GET_ATR:
                return self.card.atr
            case VpcdControl.POWER_OFF:
                self.card.power_off()
            case VpcdControl.POWER_ON:
                self.card.power_on()
            case VpcdControl.RESET:
                self.card.reset()
            case other:
                log.warning("unknown vpcd control frame %02X", other)
        return None  # vpcd expects no answer to power and reset frames


class VpcdReader:
    """One vpcd reader slot, seen from the card's side. Thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        if not 0 < port < 0x10000:
            raise SimulatorError(f"{port} is not a TCP port")
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._insertion: _Insertion | None = None

    def __repr__(self) -> str:
        return f"VpcdReader({self.host}:{self.port}, card={self.card!r})"

    @property
    def card(self) -> VirtualCard | None:
        with self._lock:
            return self._insertion.card if self._insertion else None

    def insert(self, card: VirtualCard) -> None:
        """Put ``card`` in the reader; it connects to vpcd in the background, retrying."""
        with self._lock:
            if self._insertion is not None:
                held = self._insertion.card.serial
                raise SimulatorError(f"the reader on port {self.port} already holds card {held}")
            self._insertion = _Insertion(card, (self.host, self.port))

    def remove(self) -> VirtualCard | None:
        """Take the card out, at any moment; the card removed, or None if there was none."""
        with self._lock:
            insertion, self._insertion = self._insertion, None
        if insertion is None:
            return None
        insertion.pull()
        return insertion.card

    def wait_connected(self, timeout: float) -> bool:
        """True once the inserted card has a connection to vpcd (pcscd sees it soon after)."""
        with self._lock:
            insertion = self._insertion
        return insertion is not None and insertion.connected.wait(timeout)
