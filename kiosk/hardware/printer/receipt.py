"""What a receipt says and what a printer reports: the values the flow and the screens use.

No drawing and no device here, so the Qt-free flow imports these without Pillow or python-escpos.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from kiosk.core.errors import HanpyoError


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


def refusal(name: str, state: PrinterState, reason: str) -> PrinterError:
    return PrinterError(f"printer {name} is {state}: {reason}", state=state)
