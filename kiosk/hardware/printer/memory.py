"""The memory printer: keeps its receipts, for tests, the demo and a desk without a printer."""

from __future__ import annotations

from pathlib import Path

from kiosk.hardware.printer.receipt import CANNOT_PRINT, PrinterState, Receipt, refusal
from kiosk.hardware.printer.render import PAPER_WIDTH, render_receipt


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
            raise refusal(self.name, self.state, "state set by hand")
        self.printed.append(receipt)

    def save_png(self, index: int, path: Path, width: int = PAPER_WIDTH) -> Path:
        """Write the ``index``-th printed receipt as the PNG the paper would show."""
        render_receipt(self.printed[index], width).save(path, format="PNG")
        return path
