"""The heartbeat: what a kiosk reports about itself on a fixed interval, and the ledger's
fleet dashboard shows. One vocabulary, written by the kiosk and parsed by the ledger."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kiosk.core.chain import Mode, Session
from kiosk.core.errors import EncodingError

MAX_COUNT = 2**53  # the largest count a heartbeat may carry (JSON's safe integers)
MAX_VERSION_LEN = 40
E = TypeVar("E", bound=enum.StrEnum)


class ReaderState(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    ERROR = "error"
    NONE = "none"  # this source has no card reader (the online platform: voters sign in online)


class PrinterReport(enum.StrEnum):
    OK = "ok"
    NO_PAPER = "no_paper"
    OFFLINE = "offline"
    NONE = "none"  # this kiosk has no printer


class HeartbeatError(EncodingError):
    """A heartbeat that is not one: names the field at fault."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One report. Field order is the order of the JSON keys the ledger stores."""

    mode: Mode
    session: Session
    height: int  # -1: no block yet
    pending_blocks: int  # blocks the ledger has not acknowledged
    ballots_session: int
    reader: ReaderState
    printer: PrinterReport
    version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "session": self.session.value,
            "height": self.height,
            "pending_blocks": self.pending_blocks,
            "ballots_session": self.ballots_session,
            "reader": self.reader.value,
            "printer": self.printer.value,
            "version": self.version,
        }

    def encode(self) -> str:
        """The compact JSON the ledger keeps as the kiosk's last report."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, document: Any) -> Heartbeat:
        """Parse a report from a kiosk; ``HeartbeatError`` names the first field at fault.
        Keys it does not know are ignored, so a newer kiosk can report more."""
        if not isinstance(document, dict):
            raise HeartbeatError("heartbeat: must be a JSON object")
        return cls(
            mode=_choice(document, "mode", Mode),
            session=_choice(document, "session", Session),
            height=_count(document, "height", lo=-1),
            pending_blocks=_count(document, "pending_blocks", lo=0),
            ballots_session=_count(document, "ballots_session", lo=0),
            reader=_choice(document, "reader", ReaderState),
            printer=_choice(document, "printer", PrinterReport),
            version=_version(document),
        )


def _field(document: dict[str, Any], key: str) -> Any:
    if key not in document:
        raise HeartbeatError(f"heartbeat.{key}: is missing")
    return document[key]


def _choice(document: dict[str, Any], key: str, allowed: Callable[[str], E]) -> E:
    value = _field(document, key)
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return allowed(value)
    except ValueError:
        raise HeartbeatError(f"heartbeat.{key}: is not one of the allowed values") from None


def _count(document: dict[str, Any], key: str, *, lo: int) -> int:
    value = _field(document, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise HeartbeatError(f"heartbeat.{key}: must be a whole number")
    if not lo <= value <= MAX_COUNT:
        raise HeartbeatError(f"heartbeat.{key}: must be between {lo} and {MAX_COUNT}")
    return value


def _version(document: dict[str, Any]) -> str:
    value = _field(document, "version")
    if not isinstance(value, str) or len(value) > MAX_VERSION_LEN:
        raise HeartbeatError(f"heartbeat.version: must be text of at most {MAX_VERSION_LEN}")
    # The ledger stores the report as UTF-8: a lone surrogate ("\ud800" in the JSON) has none.
    if not _utf8(value):
        raise HeartbeatError("heartbeat.version: must be UTF-8 text (no lone surrogates)")
    return value


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
