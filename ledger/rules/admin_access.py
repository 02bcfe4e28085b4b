"""Who may do which admin work: the scopes of admin tokens, when a token stops working, and the
rule that freezes enrolment at the opening. Pure: the store keeps tokens, the web checks them."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.rules.errors import LedgerError


class Scope(enum.StrEnum):
    """One kind of admin work. A token holds only the scopes it was made with."""

    READ = "read"  # the dashboard, the fleet, the sources, duplicates, the reconciliation
    ENROL = "enrol"  # enrol a kiosk or an online platform (POST /v1/admin/kiosks)
    # The close and the tally run on the ledger's host (`ledger election close`, `ledger
    # tally`), with the database's own credentials; no HTTP route takes them today. Tokens
    # carry these scopes so that a route added later has a scope to demand, and a read token
    # made for the dashboard can never be used for it.
    CLOSE = "close"
    TALLY = "tally"


# What every admin route needs: a test walks the app's routes and checks each is listed here.
ROUTE_SCOPES: dict[str, Scope] = {
    "POST /v1/admin/kiosks": Scope.ENROL,
    "GET /v1/admin/kiosks": Scope.READ,
    "GET /v1/admin/fleet": Scope.READ,
    "GET /v1/admin/duplicates": Scope.READ,
    "GET /v1/admin/reconciliation": Scope.READ,
    "GET /v1/admin/log": Scope.READ,
}

TOKEN_PREFIX_LENGTH = 8  # shown by `ledger admin-token list`; the rest stays secret
_DURATION = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MAX_LATE_REASON = 500


@dataclass(frozen=True, slots=True)
class AdminGrant:
    """An admin token as the ledger stores it (never the token itself)."""

    label: str
    prefix: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def authorise(self, scope: Scope, now: datetime) -> None:
        """Pass, or raise the refusal a person can act on."""
        if self.revoked_at is not None:
            raise LedgerError("token_revoked", f"the admin token {self.label!r} was revoked")
        if now >= self.expires_at:
            raise LedgerError(
                "token_expired",
                f"the admin token {self.label!r} expired at {self.expires_at.isoformat()}",
            )
        if scope not in self.scopes:
            held = ", ".join(sorted(self.scopes)) or "none"
            raise LedgerError(
                "insufficient_scope",
                f"this needs an admin token with the {scope.value!r} scope; "
                f"{self.label!r} has {held}",
            )


def read_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """The scopes named, refusing an unknown name or none at all."""
    scopes = set()
    for name in names:
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise LedgerError("bad_scope", f"no scope {name!r}; the scopes are {known}") from None
    if not scopes:
        raise LedgerError("bad_scope", "give at least one --scope (read, enrol, close, tally)")
    return frozenset(scopes)


def read_expiry(text: str, now: datetime) -> datetime:
    """``30m``, ``12h`` or ``7d`` from ``now``, or an ISO 8601 date and time with its offset."""
    text = text.strip()
    duration = _DURATION.fullmatch(text)
    if duration is not None:
        amount, unit = duration.groups()
        return now + timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LedgerError(
            "bad_expiry",
            f"{text!r} is neither a duration (30m, 12h, 7d) nor a date and time "
            "(2026-11-25T18:00+09:00)",
        ) from None
    if moment.tzinfo is None:
        raise LedgerError("bad_expiry", f"{text!r} needs a time zone offset, e.g. +09:00")
    if moment <= now:
        raise LedgerError("bad_expiry", f"{text!r} is already past")
    return moment.astimezone(UTC)


def check_enrolment_time(opens: str, now: datetime, late_reason: str | None) -> str | None:
    """The reason to record for an enrolment at ``now``: none before the opening; after it,
    the admin's stated reason, which is then published. Enrolling late with no reason is
    refused, so a source cannot slip in unseen while votes are being cast."""
    reason = (late_reason or "").strip()
    if now < datetime.fromisoformat(opens):
        return None  # on time: nothing to explain
    if not reason:
        raise LedgerError(
            "enrolment_frozen",
            f"enrolment closed when the election opened ({opens}); to enrol a source now, "
            "state why (--late-reason on the command line, late_reason in the API): the "
            "reason is published in the reconciliation",
        )
    if len(reason) > MAX_LATE_REASON:
        raise LedgerError("bad_request", f"a late reason is at most {MAX_LATE_REASON} characters")
    return reason
