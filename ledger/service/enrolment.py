"""Enrolling a source as the API and the CLI do it: frozen at the opening, unless the admin
states a reason, which the reconciliation then publishes."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.core.election import Channel
from ledger.rules.admin_access import check_enrolment_time
from ledger.service.ledger import Ledger


def enrol_source(
    ledger: Ledger,
    public_key: bytes,
    name: str,
    location: str,
    channel: Channel,
    late_reason: str | None,
    now: datetime | None = None,
) -> str:
    """Enrol the source, or refuse with ``enrolment_frozen``; return its kiosk id."""
    reason = check_enrolment_time(ledger.package.opens, now or datetime.now(UTC), late_reason)
    return ledger.enrol(public_key, name, location, channel, late_reason=reason)
