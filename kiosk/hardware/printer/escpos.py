"""The ESC/POS receipt printer (USB or network) and ``open_printer``, which reads a printer spec.

A kiosk's configuration names its printer with a short spec; the screens only see the
``ReceiptPrinter`` protocol (kiosk.hardware.printer.receipt), so the memory printer of the
tests and the demo and a real ESC/POS printer are used the same way.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import suppress
from typing import TYPE_CHECKING

from escpos.exceptions import Error as EscposError  # light: loads no printer profiles

from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.printer.receipt import (
    CANNOT_PRINT,
    PrinterError,
    PrinterState,
    Receipt,
    ReceiptPrinter,
    refusal,
)
from kiosk.hardware.printer.render import PAPER_WIDTH, render_receipt

if TYPE_CHECKING:
    from escpos.escpos import Escpos

log = logging.getLogger(__name__)

NETWORK_TIMEOUT_S = 5.0  # connect and status answers; the heartbeat asks for status often
USB_TIMEOUT_MS = 10_000  # one write; a receipt is well under 100 kB

# python-escpos raises its own errors for what it detects and lets the OS's errors
# (a closed socket, an unplugged USB device) through.
DEVICE_ERRORS: tuple[type[Exception], ...] = (EscposError, OSError)


def _describe(error: Exception) -> str:
    """One log line for a device error (python-escpos's errors have an empty repr and
    messages over several lines)."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


_PAPER_STATES = {2: PrinterState.READY, 1: PrinterState.PAPER_LOW, 0: PrinterState.NO_PAPER}


def _answers_status(device: Escpos) -> bool:
    """Whether the device can read the printer's answers (USB, network, serial).

    A device file or a Dummy can only write: asking them would wait for nothing.
    """
    from escpos.escpos import Escpos

    return type(device)._read is not Escpos._read


def _fit_profile(device: Escpos, width: int) -> int:
    """The width to draw at: the printer's own when its python-escpos profile knows it.

    The default profile does not, and python-escpos then prints a warning on stdout for
    every image; the device's profile is told the width we draw at instead.
    """
    profile = device.profile
    media = dict(profile.profile_data.get("media", {}))
    known = media.get("width", {}).get("pixels")
    if isinstance(known, int):
        return known
    media["width"] = {**media.get("width", {}), "pixels": width}
    profile.profile_data = {**profile.profile_data, "media": media}  # this device only
    return width


class EscposPrinter:
    """A receipt printer that speaks ESC/POS through python-escpos (USB, device file, TCP).

    The device is opened on first use, and again after any failure, so a printer that was
    switched off or unplugged is picked up by the next status check once it is back.
    """

    def __init__(self, device: Escpos, name: str, width: int = PAPER_WIDTH) -> None:
        self.name = name
        self.device = device
        self.width = _fit_profile(device, width)
        self._lock = threading.Lock()  # the heartbeat may ask for status while a job prints

    def status(self) -> PrinterState:
        with self._lock:
            return self._check()[0]

    def print_receipt(self, receipt: Receipt) -> None:
        image = render_receipt(receipt, self.width)
        with self._lock:
            state, reason = self._check()
            if state in CANNOT_PRINT:
                raise refusal(self.name, state, reason)
            try:
                self.device.image(image)
                self.device.cut()
            except DEVICE_ERRORS as e:
                self._disconnect()
                detail = f"printer {self.name} failed while printing: {_describe(e)}"
                raise PrinterError(detail) from e

    def _check(self) -> tuple[PrinterState, str]:
        """The printer's state and, for logs, why."""
        try:
            # ``device`` opens on first access; after a failed open it stays None: retry.
            if self.device.device is None:
                self.device.open()
            if not _answers_status(self.device):
                return PrinterState.READY, "device opened; it cannot report paper or errors"
            if not self.device.is_online():
                return PrinterState.OFFLINE, "the printer reports it is offline"
            paper = self.device.paper_status()
        except DEVICE_ERRORS as e:
            log.debug("printer %s: status check failed: %s", self.name, _describe(e))
            self._disconnect()
            return PrinterState.OFFLINE, _describe(e)
        state = _PAPER_STATES.get(paper, PrinterState.OFFLINE)
        return state, f"paper status {paper}"

    def _disconnect(self) -> None:
        """Drop a connection that failed, so the next use opens a fresh one."""
        with suppress(*DEVICE_ERRORS):
            self.device.close()

    @property
    def touched(self) -> bool:
        """Whether python-escpos has looked for the device yet: naming a printer must not,
        only its first status check or receipt does (python-escpos keeps ``False`` there
        until then)."""
        return self.device._device is not False


# -- choosing a printer --------------------------------------------------------------------

SPEC_FORMS = (
    "none",
    "memory",
    "usb:VID:PID (hex, as lsusb shows them, e.g. usb:04b8:0202)",
    "file:PATH (e.g. file:/dev/usb/lp0)",
    "network:HOST[:PORT] (port 9100 if left out)",
)


def _bad_spec(spec: str, why: str = "unknown printer") -> ValueError:
    return ValueError(f"{why} {spec!r}; use one of: {', '.join(SPEC_FORMS)}")


def open_printer(spec: str, width: int = PAPER_WIDTH) -> ReceiptPrinter | None:
    """The printer a kiosk's configuration names, or None for "none".

    No device is opened here: that happens at the first status check or receipt.
    Raises ``ValueError`` for a spec not in ``SPEC_FORMS``, and ``PrinterError`` for a USB
    printer when pyusb is not installed.
    """
    kind, _, rest = spec.partition(":")
    if spec in ("none", "memory"):
        return None if spec == "none" else MemoryPrinter()
    if kind == "usb":
        return _usb_printer(spec, rest, width)
    if kind == "file" and rest:
        from escpos.printer import File

        return EscposPrinter(File(devfile=rest), f"ESC/POS file {rest}", width)
    if kind == "network":
        return _network_printer(spec, rest, width)
    raise _bad_spec(spec)


def _usb_printer(spec: str, ids: str, width: int) -> EscposPrinter:
    match = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", ids)
    # python-escpos ignores a zero id, and would then take whatever USB device it finds first.
    if match is None or 0 in (int(match[1], 16), int(match[2], 16)):
        raise _bad_spec(spec, "malformed USB printer")
    from escpos.printer import Usb

    if not Usb.is_usable():
        raise PrinterError("printing over USB needs pyusb: install python-escpos[usb]")
    vendor, product = int(match[1], 16), int(match[2], 16)
    device = Usb(idVendor=vendor, idProduct=product, timeout=USB_TIMEOUT_MS)
    return EscposPrinter(device, f"ESC/POS USB {vendor:04x}:{product:04x}", width)


def _network_printer(spec: str, address: str, width: int) -> EscposPrinter:
    match = re.fullmatch(r"([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?", address)
    port = int(match[2] or 9100) if match else 0
    if match is None or not 0 < port < 65536:
        raise _bad_spec(spec, "malformed network printer")
    from escpos.printer import Network

    device = Network(host=match[1], port=port, timeout=NETWORK_TIMEOUT_S)
    return EscposPrinter(device, f"ESC/POS network {match[1]}:{port}", width)
