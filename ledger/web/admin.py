"""The ledger's admin API: enrolment, the fleet and its dashboard, duplicates and the
reconciliation. Every route needs an admin bearer token."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time.

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from kiosk.core.election import Channel
from kiosk.core.encoding import b64d
from kiosk.core.errors import EncodingError
from ledger.rules.errors import LedgerError
from ledger.service.fleet import fleet
from ledger.service.ledger import Ledger
from ledger.service.reconciliation import duplicates, reconciliation

STATIC = Path(__file__).with_name("static")


class Enrolment(BaseModel):
    public_key: str = Field(max_length=64)
    name: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=200)
    channel: Channel = Channel.KIOSK


def admin_routes(ledger: Ledger) -> APIRouter:
    """The admin routes of ``ledger``."""
    app = APIRouter()

    def admin_auth(authorization: Annotated[str | None, Header()] = None) -> None:
        if not authorization or not authorization.startswith("Bearer "):
            raise LedgerError("no_credentials", "admin endpoints need a bearer token")
        if not ledger.check_admin_token(authorization.removeprefix("Bearer ").strip()):
            raise LedgerError("not_admin", "that token is not an admin token")

    @app.post("/v1/admin/kiosks", dependencies=[Depends(admin_auth)])
    def enrol(enrolment: Enrolment) -> Any:
        try:
            key = b64d(enrolment.public_key, length=32, name="public_key")
        except EncodingError as e:
            raise LedgerError("bad_key", str(e)) from e
        kiosk_id = ledger.enrol(key, enrolment.name, enrolment.location, enrolment.channel)
        return {"kiosk": kiosk_id}

    @app.get("/v1/admin/kiosks", dependencies=[Depends(admin_auth)])
    def kiosks() -> Any:
        return [
            {
                "kiosk": s.kiosk_id,
                "name": s.name,
                "location": s.location,
                "channel": s.channel.value,
                "height": s.height,
                "quarantined": s.quarantined,
                "quarantine_reason": s.quarantine_reason,
            }
            for s in ledger.sources()
        ]

    @app.get("/v1/admin/fleet", dependencies=[Depends(admin_auth)])
    def fleet_status() -> Any:
        return [k.to_json() for k in fleet(ledger.reader)]

    @app.get("/admin/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> str:
        # A static page; it reads the admin token from the URL fragment, which browsers
        # never send to the server, and fetches /v1/admin/fleet with it.
        return (STATIC / "dashboard.html").read_text("utf-8")

    @app.get("/v1/admin/duplicates", dependencies=[Depends(admin_auth)])
    def duplicate_ballots() -> Any:
        return duplicates(ledger.reader, ledger.duplicate_policy)

    @app.get("/v1/admin/reconciliation", dependencies=[Depends(admin_auth)])
    def reconcile() -> Any:
        return reconciliation(ledger.reader, ledger.duplicate_policy)

    return app
