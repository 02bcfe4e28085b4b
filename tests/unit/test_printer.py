"""Receipt printers: the drawn receipt, the memory printer, ESC/POS devices and printer specs.

ESC/POS devices are python-escpos's own Dummy and File printers, and a Network printer
talking to a socket on loopback; no real printer is opened.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
from escpos.constants import PAPER_FULL_CUT, RT_STATUS_ONLINE, RT_STATUS_PAPER
from escpos.exceptions import ImageWidthError
from escpos.printer import Dummy
from PIL import Image

from kiosk.core.errors import HanpyoError
from kiosk.hardware.printer.escpos import EscposPrinter, open_printer
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.printer.receipt import PrinterError, PrinterState, Receipt
from kiosk.hardware.printer.render import _qr_image, render_receipt

RASTER = b"\x1dv0"  # GS v 0: print a raster bit image
URL = "http://127.0.0.1:8400/check?code=K7QF2M9XABCD"
RECEIPT = Receipt(
    title="2017 주민참여예산 심사",
    lines=("투표해 주셔서 감사합니다.", "아래 추적 코드로 내 표를 확인할 수 있습니다."),
    code="K7QF-2M9X-ABCD",
    qr=URL,
)

# Status bytes as an Epson printer answers DLE EOT n (bits 1 and 4 are always set).
ONLINE, OFFLINE_BYTE = b"\x12", b"\x1a"
PAPER_OK, PAPER_NEAR_END, PAPER_OUT = b"\x12", b"\x1e", b"\x72"


def ink_runs(image: Image.Image) -> list[tuple[int, int]]:
    """(first row, height) of each band of rows that has any black dot."""
    bands: list[tuple[int, int]] = []
    start = None
    for y in range(image.height):
        inked = image.crop((0, y, image.width, y + 1)).getextrema()[0] == 0
        if inked and start is None:
            start = y
        elif not inked and start is not None:
            bands.append((start, y - start))
            start = None
    if start is not None:
        bands.append((start, image.height - start))
    return bands


def lines_image(*lines: str) -> Image.Image:
    return render_receipt(Receipt(title="", lines=lines))


# -- drawing -------------------------------------------------------------------------------


def test_receipt_is_drawn_black_on_white_at_paper_width() -> None:
    image = render_receipt(RECEIPT)
    assert image.size[0] == 576
    assert image.mode == "1"
    assert render_receipt(RECEIPT, width=384).size[0] == 384


def test_hangul_is_drawn_with_real_glyphs() -> None:
    # A font without Hangul draws every syllable as the same empty box, so two different
    # words would look alike, and alike to the boxes themselves.
    hanpyo, reversed_, boxes = lines_image("한표"), lines_image("표한"), lines_image("□□")
    assert ink_runs(hanpyo)
    assert hanpyo.tobytes() != reversed_.tobytes()
    assert hanpyo.tobytes() != boxes.tobytes()


def test_tracking_code_is_printed_at_least_twice_as_tall_as_the_text() -> None:
    without = ink_runs(render_receipt(Receipt(title="", lines=("한표 투표",))))
    with_code = ink_runs(render_receipt(Receipt(title="", lines=("한표 투표",), code="K7QF-2M9X")))
    body_height = without[-1][1]
    assert with_code[: len(without)] == without
    (code_band,) = with_code[len(without) :]
    assert code_band[1] >= 2 * body_height


@pytest.mark.parametrize(
    "line",
    ["주민 참여 예산 심사에 참여해 주셔서 대단히 감사합니다. " * 4, "x" * 150],
    ids=["words", "one long word"],
)
def test_a_long_line_wraps_instead_of_running_off_the_paper(line: str) -> None:
    short = ink_runs(lines_image(line[:10]))
    long = ink_runs(lines_image(line))
    assert len(long) >= len(short) + 2


def test_qr_code_and_its_url_are_added_below() -> None:
    plain = render_receipt(Receipt(title="t", lines=("a",), code="K7QF"))
    with_qr = render_receipt(Receipt(title="t", lines=("a",), code="K7QF", qr=URL))
    assert with_qr.height - plain.height > 576 // 2
    assert (
        with_qr.crop((0, 0, 576, plain.height - 30)).tobytes()
        == plain.crop((0, 0, 576, plain.height - 30)).tobytes()
    )


def test_qr_symbol_has_exactly_the_modules_segno_computes() -> None:
    image = _qr_image(URL, 528)
    matrix = segno.make(URL, error="m", micro=False).matrix
    size = len(matrix)
    scale = image.height // (size + 8)  # 4 modules of quiet zone on each side
    left = (528 - (size + 8) * scale) // 2 + 4 * scale
    top = 4 * scale
    sampled = [
        [
            image.getpixel((left + c * scale + scale // 2, top + r * scale + scale // 2)) == 0
            for c in range(size)
        ]
        for r in range(size)
    ]
    assert sampled == [[bool(module) for module in row] for row in matrix]
    assert scale >= 2


# -- memory printer ------------------------------------------------------------------------


@pytest.mark.parametrize("state", [PrinterState.OFFLINE, PrinterState.NO_PAPER])
def test_memory_printer_refuses_when_offline_or_out_of_paper(state: PrinterState) -> None:
    printer = MemoryPrinter(state)
    with pytest.raises(PrinterError) as caught:
        printer.print_receipt(RECEIPT)
    assert caught.value.state == state
    assert isinstance(caught.value, HanpyoError)
    assert printer.printed == []
    assert printer.status() == state


def test_out_of_paper_tells_the_voter_so() -> None:
    with pytest.raises(PrinterError) as caught:
        MemoryPrinter(PrinterState.NO_PAPER).print_receipt(RECEIPT)
    assert "용지" in caught.value.user_message[0]
    assert "paper" in caught.value.user_message[1]
    assert PrinterError("x").user_message[1].startswith("The receipt could not be printed")


def test_memory_printer_keeps_receipts_and_saves_them_as_png(tmp_path: Path) -> None:
    printer = MemoryPrinter()
    printer.print_receipt(RECEIPT)
    printer.state = PrinterState.PAPER_LOW  # still prints
    printer.print_receipt(Receipt(title="둘째", lines=()))
    assert [r.title for r in printer.printed] == [RECEIPT.title, "둘째"]
    path = printer.save_png(0, tmp_path / "receipt.png")
    with Image.open(path) as saved:
        assert saved.format == "PNG"
        assert saved.size == render_receipt(RECEIPT).size


# -- ESC/POS devices -----------------------------------------------------------------------


class AnsweringDummy(Dummy):  # type: ignore[misc]  # python-escpos ships no type hints
    """A Dummy that answers status queries the way a printer on USB or TCP does."""

    def __init__(self, online: bytes = ONLINE, paper: bytes = PAPER_OK) -> None:
        super().__init__()
        self.answers = {RT_STATUS_ONLINE: online, RT_STATUS_PAPER: paper}
        self.last = b""

    def _raw(self, msg: bytes) -> None:
        super()._raw(msg)
        self.last = msg

    def _read(self) -> bytes:
        return self.answers[self.last]


class FailingDummy(Dummy):  # type: ignore[misc]  # python-escpos ships no type hints
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def image(self, *args: object, **kwargs: object) -> None:
        raise self.error


def test_escpos_printer_sends_a_raster_image_and_a_cut(capsys: pytest.CaptureFixture[str]) -> None:
    device = Dummy()
    printer = EscposPrinter(device, "dummy")
    assert printer.status() == PrinterState.READY  # a Dummy cannot answer, and is open
    printer.print_receipt(RECEIPT)
    out = device.output
    assert RASTER + b"\x00" + (576 // 8).to_bytes(2, "little") in out
    assert out.rstrip(b"\n").endswith(PAPER_FULL_CUT)
    assert out.startswith(RASTER)  # no status query sent to a device that cannot answer
    assert capsys.readouterr().out == ""  # python-escpos's unknown-width warning


def test_escpos_printer_draws_at_the_width_the_printer_profile_gives() -> None:
    device = Dummy(profile="TM-T88V")  # 512 dots
    printer = EscposPrinter(device, "epson", width=576)
    printer.print_receipt(RECEIPT)
    assert printer.width == 512
    assert RASTER + b"\x00" + (512 // 8).to_bytes(2, "little") in device.output


@pytest.mark.parametrize(
    ("online", "paper", "state"),
    [
        (ONLINE, PAPER_OK, PrinterState.READY),
        (ONLINE, PAPER_NEAR_END, PrinterState.PAPER_LOW),
        (ONLINE, PAPER_OUT, PrinterState.NO_PAPER),
        (OFFLINE_BYTE, PAPER_OK, PrinterState.OFFLINE),
        (b"", PAPER_OK, PrinterState.OFFLINE),  # no answer at all
    ],
)
def test_status_comes_from_the_printers_answers(
    online: bytes, paper: bytes, state: PrinterState
) -> None:
    assert EscposPrinter(AnsweringDummy(online, paper), "p").status() == state


def test_out_of_paper_printer_is_not_sent_the_receipt() -> None:
    device = AnsweringDummy(paper=PAPER_OUT)
    with pytest.raises(PrinterError) as caught:
        EscposPrinter(device, "p").print_receipt(RECEIPT)
    assert caught.value.state == PrinterState.NO_PAPER
    assert RASTER not in device.output


def test_nearly_empty_printer_still_prints() -> None:
    device = AnsweringDummy(paper=PAPER_NEAR_END)
    EscposPrinter(device, "p").print_receipt(RECEIPT)
    assert RASTER in device.output


def test_a_status_query_that_fails_means_offline() -> None:
    class Unplugged(AnsweringDummy):
        def _read(self) -> bytes:
            raise OSError(19, "No such device")

    printer = EscposPrinter(Unplugged(), "p")
    assert printer.status() == PrinterState.OFFLINE
    with pytest.raises(PrinterError, match="No such device") as caught:
        printer.print_receipt(RECEIPT)
    assert caught.value.state == PrinterState.OFFLINE


@pytest.mark.parametrize(
    "error", [ImageWidthError("600 > 576"), BrokenPipeError(32, "Broken pipe")], ids=repr
)
def test_device_errors_while_printing_become_printer_errors(error: Exception) -> None:
    device = FailingDummy(error)
    with pytest.raises(PrinterError) as caught:
        EscposPrinter(device, "p").print_receipt(RECEIPT)
    assert caught.value.__cause__ is error
    assert caught.value.state is None
    assert "failed while printing" in str(caught.value)
    assert PAPER_FULL_CUT not in device.output


def test_file_printer_opens_on_first_use_and_writes_the_job(tmp_path: Path) -> None:
    path = tmp_path / "lp0"
    printer = open_printer(f"file:{path}")
    assert isinstance(printer, EscposPrinter)
    assert printer.name == f"ESC/POS file {path}"
    assert not path.exists()  # nothing opened yet
    printer.print_receipt(RECEIPT)
    printer.device.close()
    job = path.read_bytes()
    assert RASTER in job
    assert PAPER_FULL_CUT in job


def test_file_printer_that_cannot_be_opened_is_offline_until_it_can(tmp_path: Path) -> None:
    folder = tmp_path / "usb"
    printer = open_printer(f"file:{folder / 'lp0'}")
    assert printer is not None
    assert printer.status() == PrinterState.OFFLINE
    with pytest.raises(PrinterError, match="Could not open"):
        printer.print_receipt(RECEIPT)
    folder.mkdir()  # the printer is plugged in
    assert printer.status() == PrinterState.READY
    printer.print_receipt(RECEIPT)
    assert isinstance(printer, EscposPrinter)
    printer.device.close()
    assert RASTER in (folder / "lp0").read_bytes()


class LoopbackPrinter:
    """A TCP server on loopback that answers status queries like a printer and keeps the job."""

    def __init__(self, paper: bytes) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.paper = paper
        self.received = b""
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            while chunk := connection.recv(65536):
                self.received += chunk
                # The kiosk waits for the answer after each query, so a query is always
                # the last thing received when it is asked.
                if chunk.endswith(RT_STATUS_ONLINE):
                    connection.sendall(ONLINE)
                elif chunk.endswith(RT_STATUS_PAPER):
                    connection.sendall(self.paper)

    def close(self) -> None:
        self.thread.join(timeout=10)
        self.server.close()
        assert not self.thread.is_alive()


@pytest.fixture
def loopback_printer() -> Iterator[LoopbackPrinter]:
    printer = LoopbackPrinter(PAPER_NEAR_END)
    yield printer
    printer.close()


def test_network_printer_reports_status_and_prints(loopback_printer: LoopbackPrinter) -> None:
    printer = open_printer(f"network:127.0.0.1:{loopback_printer.port}")
    assert isinstance(printer, EscposPrinter)
    assert printer.status() == PrinterState.PAPER_LOW
    printer.print_receipt(RECEIPT)
    printer.device.close()
    loopback_printer.thread.join(timeout=10)
    assert RASTER in loopback_printer.received
    assert loopback_printer.received.endswith(PAPER_FULL_CUT)


# python-escpos 3.1's Network.open drops the socket of a refused connection without closing
# it; CPython closes it at once, with a ResourceWarning.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_network_printer_nobody_listens_to_is_offline() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    printer = open_printer(f"network:127.0.0.1:{port}")
    assert printer is not None
    assert printer.status() == PrinterState.OFFLINE
    with pytest.raises(PrinterError):
        printer.print_receipt(RECEIPT)


# -- choosing a printer --------------------------------------------------------------------


def test_none_and_memory_specs() -> None:
    assert open_printer("none") is None
    printer = open_printer("memory")
    assert isinstance(printer, MemoryPrinter)
    assert printer.name == "memory"


def test_usb_spec_names_the_device_without_opening_it() -> None:
    printer = open_printer("usb:04B8:0202")
    assert isinstance(printer, EscposPrinter)
    assert printer.name == "ESC/POS USB 04b8:0202"
    assert printer.device.usb_args == {"idVendor": 0x04B8, "idProduct": 0x0202}
    assert not printer.touched  # python-escpos has not looked for it yet


def test_usb_spec_without_pyusb_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from escpos.printer import Usb

    monkeypatch.setattr(Usb, "is_usable", staticmethod(lambda: False))
    with pytest.raises(PrinterError, match=r"python-escpos\[usb\]"):
        open_printer("usb:04b8:0202")


def test_network_spec_defaults_to_port_9100_without_connecting() -> None:
    printer = open_printer("network:printer.hall-2.local")
    assert isinstance(printer, EscposPrinter)
    assert printer.name == "ESC/POS network printer.hall-2.local:9100"
    assert not printer.touched


@pytest.mark.parametrize(
    "spec",
    [
        "bogus",
        "",
        "None",
        "memory:x",
        "usb",
        "usb:4b8:202",
        "usb:04b8",
        "usb:04b8:0202:1",
        "usb:0000:0202",
        "usb:zzzz:0202",
        "file:",
        "network:",
        "network:host:",
        "network:host:99999",
        "network:host:0",
        "network:host:abc",
        "network:[::1]:9100",
    ],
)
def test_malformed_spec_lists_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match=r"none, memory, usb:VID:PID .*network:HOST\[:PORT\]"):
        open_printer(spec)


def test_a_newline_in_the_title_starts_a_new_line() -> None:
    one = render_receipt(Receipt("2017 도민 심사", (), None, None))
    two = render_receipt(Receipt("2017 도민 심사\n2017 Provincial review", (), None, None))
    assert two.height > one.height
