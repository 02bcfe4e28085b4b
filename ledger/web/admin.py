"""The ledger's admin API: enrolment, the fleet and its dashboard, duplicates and the
reconciliation. Each route needs an admin token with the scope ROUTE_SCOPES names: as a
bearer token, or for reads, the dashboard's login session."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time.

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from kiosk.core.election import Channel
from kiosk.core.encoding import b64d
from kiosk.core.errors import EncodingError
from ledger.rules.admin_access import MAX_LATE_REASON, ROUTE_SCOPES, AdminGrant, Scope
from ledger.rules.errors import LedgerError
from ledger.service.admin_tokens import authorise, authorise_hash
from ledger.service.enrolment import enrol_source
from ledger.service.fleet import fleet
from ledger.service.ledger import Ledger, token_hash
from ledger.service.log_health import MirrorWatch, log_health, mirrors_from_environment
from ledger.service.reconciliation import duplicates, reconciliation
from ledger.web.admin_session import COOKIE, SessionSeal
from ledger.witness.client import witnesses_from_environment

STATIC = Path(__file__).with_name("static")
MAX_TOKEN = 200
# The admin pages are never framed (no clickjacking of the login or logout) and never leak
# their address to another site ("no-referrer" would also make the browser send "Origin: null"
# with the login form, which the same-origin check must refuse).
PAGE_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Enrolment(BaseModel):
    public_key: str = Field(max_length=64)
    name: str = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=200)
    channel: Channel = Channel.KIOSK
    # Required once the election has opened; published in the reconciliation.
    late_reason: str | None = Field(default=None, max_length=MAX_LATE_REASON)


def admin_routes(ledger: Ledger) -> APIRouter:
    """The admin routes of ``ledger``."""
    app = APIRouter()
    seal = SessionSeal(ledger.key.key.seed)

    def needs(scope: Scope) -> Callable[..., AdminGrant]:
        def check(
            request: Request, authorization: Annotated[str | None, Header()] = None
        ) -> AdminGrant:
            if authorization is not None:
                if not authorization.startswith("Bearer "):
                    raise LedgerError("no_credentials", "admin endpoints need a bearer token")
                return authorise(ledger, authorization.removeprefix("Bearer ").strip(), scope)
            # Only reads take the session cookie: with SameSite=Strict on top, no other site
            # can make a browser change anything with an admin's session.
            session = seal.read(request.cookies.get(COOKIE), datetime.now(UTC))
            if scope is Scope.READ and request.method == "GET" and session is not None:
                return authorise_hash(ledger, session.token_hash, scope)
            raise LedgerError("no_credentials", "admin endpoints need a bearer token")

        return check

    def route(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """The route, guarded by the scope ROUTE_SCOPES gives it."""
        guard = [Depends(needs(ROUTE_SCOPES[f"{method} {path}"]))]
        return app.api_route(path, methods=[method], dependencies=guard)

    @route("POST", "/v1/admin/kiosks")
    def enrol(enrolment: Enrolment) -> Any:
        try:
            key = b64d(enrolment.public_key, length=32, name="public_key")
        except EncodingError as e:
            raise LedgerError("bad_key", str(e)) from e
        kiosk_id = enrol_source(
            ledger,
            key,
            enrolment.name,
            enrolment.location,
            enrolment.channel,
            enrolment.late_reason,
        )
        return {"kiosk": kiosk_id}

    @route("GET", "/v1/admin/kiosks")
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

    @route("GET", "/v1/admin/fleet")
    def fleet_status() -> Any:
        return [k.to_json() for k in fleet(ledger.reader)]

    @route("GET", "/v1/admin/duplicates")
    def duplicate_ballots() -> Any:
        return duplicates(ledger.reader, ledger.duplicate_policy)

    @route("GET", "/v1/admin/reconciliation")
    def reconcile() -> Any:
        return reconciliation(ledger.reader, ledger.duplicate_policy)

    # The witnesses the publisher asks ($HANPYO_WITNESSES) and the mirrors to watch
    # ($HANPYO_MIRRORS); the mirrors are asked in a thread, never while a page waits.
    witnesses = witnesses_from_environment()
    mirrors = MirrorWatch(mirrors_from_environment()).start()

    @route("GET", "/v1/admin/log")
    def log_status() -> Any:
        return log_health(ledger.reader, witnesses, mirrors.seen())

    app.include_router(dashboard_routes(ledger, seal))
    return app


def dashboard_routes(ledger: Ledger, seal: SessionSeal) -> APIRouter:
    """The dashboard and its login: the token goes in a POST body once, and from then on the
    browser holds only an HttpOnly session cookie. No URL ever carries the token."""
    app = APIRouter(include_in_schema=False)

    def signed_in(request: Request) -> bool:
        session = seal.read(request.cookies.get(COOKIE), datetime.now(UTC))
        if session is None:
            return False
        try:
            authorise_hash(ledger, session.token_hash, Scope.READ)
        except LedgerError:
            return False  # revoked or expired since the login
        return True

    @app.get("/admin/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request) -> Response:
        if not signed_in(request):
            return RedirectResponse("/admin/login", status_code=303, headers=PAGE_HEADERS)
        return HTMLResponse(_page("dashboard.html"), headers=PAGE_HEADERS)

    @app.get("/admin/login", response_class=HTMLResponse)
    def login_page() -> Response:
        return HTMLResponse(_login_page(""), headers=PAGE_HEADERS)

    @app.post("/admin/login")
    async def login(request: Request) -> Response:
        _same_origin(request)
        token = _form_token(await request.body())
        now = datetime.now(UTC)
        try:
            if not token:
                raise LedgerError("not_admin", "that token is not an admin token")
            grant = authorise(ledger, token, Scope.READ, now)
        except LedgerError as e:
            return HTMLResponse(_login_page(e.explanation), status_code=401, headers=PAGE_HEADERS)
        session = seal.open_session(token_hash(token), grant.expires_at, now)
        answer = RedirectResponse("/admin/dashboard", status_code=303, headers=PAGE_HEADERS)
        answer.set_cookie(
            COOKIE,
            seal.cookie_value(session),
            max_age=session.max_age(now),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return answer

    @app.post("/admin/logout")
    def logout(request: Request) -> Response:
        _same_origin(request)
        answer = RedirectResponse("/admin/login", status_code=303, headers=PAGE_HEADERS)
        answer.delete_cookie(
            COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )
        return answer

    return app


def _form_token(body: bytes) -> str:
    """The login form's token field; empty for anything else."""
    try:
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:
        return ""
    token = (form.get("token") or [""])[0].strip()
    return token if len(token) <= MAX_TOKEN else ""


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another site (a browser always says where a POST came from)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise LedgerError("not_admin", "the admin login takes forms from this site only")


def _page(name: str) -> str:
    return (STATIC / name).read_text("utf-8")


def _login_page(refusal: str) -> str:
    # The refusal is the ledger's own sentence (never the input), escaped all the same.
    return _page("login.html").replace("<!--refusal-->", escape(refusal))
