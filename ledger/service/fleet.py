"""The fleet at a glance: every kiosk's last report, its sync state and what needs attention."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.core.heartbeat import Heartbeat, HeartbeatError
from ledger.rules.errors import LedgerError
from ledger.store.registry import save_heartbeat
from ledger.store.schema import Engine
from ledger.store.snapshots import fleet_snapshot

STALE_AFTER_S = 90  # three missed heartbeats at the kiosk's 30-second interval


class Alarm(enum.StrEnum):
    """Listed most urgent first: the dashboard sorts kiosks by their worst alarm."""

    QUARANTINED = "quarantined"
    READER_MISSING = "reader_missing"
    TEST_MODE_MISMATCH = "test_mode_mismatch"
    PRINTER = "printer"
    SILENT = "silent"
    BEHIND = "behind"


@dataclass(frozen=True, slots=True)
class KioskStatus:
    kiosk: str
    name: str
    location: str
    channel: str
    ledger_height: int
    report: dict[str, Any] | None
    seconds_since_report: int | None
    alarms: tuple[Alarm, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kiosk": self.kiosk,
            "name": self.name,
            "location": self.location,
            "channel": self.channel,
            "ledger_height": self.ledger_height,
            "report": self.report,
            "seconds_since_report": self.seconds_since_report,
            "alarms": [a.value for a in self.alarms],
        }


def read_heartbeat(document: Any) -> Heartbeat:
    """A kiosk's report as sent, parsed; refused with the field at fault."""
    try:
        return Heartbeat.from_json(document)
    except HeartbeatError as e:
        raise LedgerError("bad_request", str(e)) from e


def record_heartbeat(engine: Engine, kiosk_id: str, beat: Heartbeat) -> None:
    save_heartbeat(engine, kiosk_id, beat.encode())


def fleet(engine: Engine, now: datetime | None = None) -> list[KioskStatus]:
    """Every enrolled source with its alarms, the ones needing attention first."""
    now = now or datetime.now(UTC)
    snapshot = fleet_snapshot(engine)
    heights, received, reports = snapshot.heights, snapshot.received, snapshot.reports
    official_somewhere = any(
        r["mode"] == "official" and r["session"] != "closed" for r in reports.values()
    )
    out = []
    for s in snapshot.sources:
        report = reports.get(s.kiosk_id)
        age = None
        if s.kiosk_id in received:
            age = int((now - datetime.fromisoformat(received[s.kiosk_id])).total_seconds())
        height = int(heights.get(s.kiosk_id, -1))
        out.append(
            KioskStatus(
                s.kiosk_id,
                s.name,
                s.location,
                s.channel,
                height,
                report,
                age,
                _alarms(bool(s.quarantined), report, age, height, official_somewhere),
            )
        )
    order = list(Alarm)
    return sorted(
        out, key=lambda k: (min((order.index(a) for a in k.alarms), default=len(order)), k.name)
    )


def _alarms(
    quarantined: bool,
    report: dict[str, Any] | None,
    age: int | None,
    ledger_height: int,
    official_somewhere: bool,
) -> tuple[Alarm, ...]:
    alarms = [Alarm.QUARANTINED] if quarantined else []
    if report is None or age is None:
        return (*alarms, Alarm.SILENT)
    if report["reader"] not in ("ok", "none"):  # "none": a source without a reader
        alarms.append(Alarm.READER_MISSING)
    if report["mode"] == "test" and official_somewhere:
        alarms.append(Alarm.TEST_MODE_MISMATCH)
    if report["printer"] in ("no_paper", "offline"):
        alarms.append(Alarm.PRINTER)
    if age > STALE_AFTER_S:
        alarms.append(Alarm.SILENT)
    if report["height"] > ledger_height:
        alarms.append(Alarm.BEHIND)
    return tuple(alarms)
