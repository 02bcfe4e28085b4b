"""Receipt printers: what a receipt says, how it is drawn, and the devices that print it.

A kiosk's configuration names its printer with a short spec (``open_printer``); the
screens only see the ``ReceiptPrinter`` protocol, so the memory printer of the tests and
the demo and a real ESC/POS printer are used the same way.
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import segno
from escpos.exceptions import Error as EscposError  # light: loads no printer profiles
from PIL import Image, ImageDraw, ImageFont

from hanpyo_assets import asset_path
from kiosk.core.errors import HanpyoError

if TYPE_CHECKING:
    from escpos.escpos import Escpos

log = logging.getLogger(__name__)

PAPER_WIDTH = 576  # dots across the printable 72 mm of 80 mm paper, at 203 dpi
NETWORK_TIMEOUT_S = 5.0  # connect and status answers; the heartbeat asks for status often
USB_TIMEOUT_MS = 10_000  # one write; a receipt is well under 100 kB

# python-escpos raises its own errors for what it detects and lets the OS's errors
# (a closed socket, an unplugged USB device) through.
DEVICE_ERRORS: tuple[type[Exception], ...] = (EscposError, OSError)


class PrinterState(enum.StrEnum):
    READY = "ready"
    PAPER_LOW = "paper_low"  # still prints; staff should change the roll soon
    NO_PAPER = "no_paper"
    OFFLINE = "offline"


CANNOT_PRINT = frozenset({PrinterState.NO_PAPER, PrinterState.OFFLINE})


class PrinterError(HanpyoError):
    """The receipt could not be printed: the printer is offline, out of paper, or failed.

    ``state`` is what the printer reported when it refused, or None when it failed midway.
    """

    user_message = (
        "영수증을 인쇄하지 못했습니다. 진행 요원에게 알려 주세요.",
        "The receipt could not be printed. Please tell a staff member.",
    )

    def __init__(self, detail: str, *, state: PrinterState | None = None) -> None:
        no_paper = (
            "영수증 용지가 없습니다. 진행 요원에게 알려 주세요.",
            "The receipt printer is out of paper. Please tell a staff member.",
        )
        super().__init__(detail, user_message=no_paper if state == PrinterState.NO_PAPER else None)
        self.state = state


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one slip of paper says.

    ``code`` (a tracking code) is printed in large type; ``qr`` is a URL printed as a QR
    code with the URL itself underneath, for a voter with no phone at hand.
    """

    title: str
    lines: tuple[str, ...]
    code: str | None = None
    qr: str | None = None


class ReceiptPrinter(Protocol):
    """What the screens print through; ``open_printer`` picks the device."""

    name: str  # for people: "memory", "ESC/POS USB 04b8:0202"

    def status(self) -> PrinterState: ...

    def print_receipt(self, receipt: Receipt) -> None:
        """Print one receipt, or raise ``PrinterError`` (offline, no paper, device error)."""
        ...


# -- drawing -------------------------------------------------------------------------------
# ESC/POS printers have no Korean code page in their standard character tables (nor does
# python-escpos's printer database; models sold in Korea add a double-byte mode, each its
# own way), so the whole receipt is drawn as a bitmap with the font we ship and printed as
# an image. Hangul then prints the same
# on every printer, and the memory printer's PNG is exactly what the paper would show.


@functools.lru_cache(maxsize=32)
def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "NanumGothicBold.ttf" if bold else "NanumGothic.ttf"
    return ImageFont.truetype(str(asset_path("fonts", name)), size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width``: at spaces, or between any two
    characters of a word too long for one line (a URL, a long name). A newline in ``text``
    starts a new line (the font's layout engine refuses control characters)."""
    if "\n" in text:
        return [line for part in text.split("\n") for line in _wrap(part, font, max_width)]
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        joined = f"{current} {word}" if current else word
        if font.getlength(joined) <= max_width:
            current = joined
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if current and font.getlength(current + char) > max_width:
                lines.append(current)
                current = ""
            current += char
    lines.append(current)
    return lines


def _text(text: str, font: ImageFont.FreeTypeFont, width: int, *, center: bool) -> Image.Image:
    ascent, descent = font.getmetrics()
    line_height = ascent + descent + round(font.size) // 5
    lines = _wrap(text, font, width)
    image = Image.new("1", (width, line_height * len(lines)), 1)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2 if center else 0
        draw.text((x, i * line_height), line, font=font, fill=0)
    return image


def _code_font(code: str, width: int) -> ImageFont.FreeTypeFont:
    """The largest bold type, up to a seventh of the paper width, that fits the code on
    one line, so the voter can copy it without a magnifier."""
    size = max(width // 7, 24)
    while size > 24 and _font(size, bold=True).getlength(code) > width:
        size -= 2
    return _font(size, bold=True)


def _qr_image(url: str, width: int) -> Image.Image:
    """The QR code for ``url`` with its quiet zone, in whole dots per module, centred."""
    qr = segno.make(url, error="m", micro=False)
    modules = int(qr.symbol_size(scale=1, border=4)[0])
    scale = (width * 2 // 3) // modules
    if scale < 2:
        raise ValueError(f"a {len(url)}-character URL makes a QR code too dense for {width} dots")
    rows = qr.matrix_iter(scale=1, border=4)
    pixels = bytes(0 if dark else 255 for row in rows for dark in row)
    symbol = Image.frombytes("L", (modules, modules), pixels).convert("1")
    symbol = symbol.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    image = Image.new("1", (width, symbol.height), 1)
    image.paste(symbol, ((width - symbol.width) // 2, 0))
    return image


def _rule(width: int, thickness: int) -> Image.Image:
    image = Image.new("1", (width, thickness * 5), 1)
    ImageDraw.Draw(image).rectangle((0, thickness * 2, width - 1, thickness * 3 - 1), fill=0)
    return image


def _stack(blocks: Iterable[Image.Image], width: int, margin: int) -> Image.Image:
    parts = list(blocks)
    height = 2 * margin + sum(part.height for part in parts)
    image = Image.new("1", (width, height), 1)
    y = margin
    for part in parts:
        image.paste(part, (margin, y))
        y += part.height
    return image


def render_receipt(receipt: Receipt, width: int = PAPER_WIDTH) -> Image.Image:
    """Draw ``receipt`` in black on white (mode ``"1"``), ``width`` dots wide.

    Type sizes follow the width, so a 58 mm printer (384 dots) gets the same layout.
    """
    if width < 200:
        raise ValueError(f"a receipt needs at least 200 dots across, not {width}")
    margin = width // 24
    inner = width - 2 * margin
    body = _font(max(width // 22, 20))
    blocks = [_text(receipt.title, _font(max(width // 16, 26), bold=True), inner, center=True)]
    blocks.append(_rule(inner, max(width // 200, 1)))
    blocks.extend(_text(line, body, inner, center=False) for line in receipt.lines)
    if receipt.code is not None:
        blocks.append(_text("", body, inner, center=False))
        blocks.append(_text(receipt.code, _code_font(receipt.code, inner), inner, center=True))
    if receipt.qr is not None:
        blocks.append(_text("", body, inner, center=False))
        blocks.append(_qr_image(receipt.qr, inner))
        blocks.append(_text(receipt.qr, _font(max(width // 32, 16)), inner, center=True))
    return _stack(blocks, width, margin)


# -- printers ------------------------------------------------------------------------------


def _describe(error: Exception) -> str:
    """One log line for a device error (python-escpos's errors have an empty repr and
    messages over several lines)."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def _refusal(name: str, state: PrinterState, reason: str) -> PrinterError:
    return PrinterError(f"printer {name} is {state}: {reason}", state=state)


class MemoryPrinter:
    """A printer that keeps its receipts in ``printed``: for tests, the demo, and a desk.

    Set ``state`` to play a printer that runs out of paper or is switched off.
    """

    name = "memory"

    def __init__(self, state: PrinterState = PrinterState.READY) -> None:
        self.state = state
        self.printed: list[Receipt] = []

    def status(self) -> PrinterState:
        return self.state

    def print_receipt(self, receipt: Receipt) -> None:
        if self.state in CANNOT_PRINT:
            raise _refusal(self.name, self.state, "state set by hand")
        self.printed.append(receipt)

    def save_png(self, index: int, path: Path, width: int = PAPER_WIDTH) -> Path:
        """Write the ``index``-th printed receipt as the PNG the paper would show."""
        render_receipt(self.printed[index], width).save(path, format="PNG")
        return path


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
                raise _refusal(self.name, state, reason)
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
