"""The platform over HTTP: the voting page and its bundle from the platform's own origin, the
voters' JSON API and the staff's. Every refusal is ``{"error", "message": {"ko", "en"}}``;
bodies are read with a size limit before they are parsed, so a huge or malformed body gets a
clear 4xx and never reaches the checks."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hanpyo_assets import ASSETS
from kiosk.core.block import MAX_PLAINTEXT_BYTES, MAX_V2_BALLOT_BYTES, Mode
from kiosk.core.encoding import b64d, b64e, parse_json
from kiosk.core.errors import EncodingError, HanpyoError
from online import errors as msg
from online.errors import ApiError
from online.limits import client_key
from online.platform import Platform

log = logging.getLogger("hanpyo.online.web")

SESSION_BODY_BYTES = 4 * 1024
BALLOT_BODY_BYTES = MAX_V2_BALLOT_BYTES + 4 * 1024  # the ballot and its voter, key, signature
# a checked ballot: the ballot, one 32-byte nonce in hex per cell, and its plaintext
SPOILED_BODY_BYTES = 2 * MAX_V2_BALLOT_BYTES + MAX_PLAINTEXT_BYTES
ADMIN_BODY_BYTES = 1024

# The page loads nothing from anywhere but this origin, cannot be framed, and sends no
# referrer: the credential code travels in the URL's fragment, which browsers never send, and
# no header may leak the page's address elsewhere either.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

PAGE_NOT_BUILT_HTML = f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>한표 · Hanpyo</title></head>
<body><h1>{msg.PAGE_NOT_BUILT[0]}</h1><p lang="en">{msg.PAGE_NOT_BUILT[1]}</p>
<p lang="en">(online/web/index.html is missing: build the page with npm ci and
npm run build in online/web.)</p></body></html>"""


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every answer, and ``no-store`` to the API's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dynamic = str(scope.get("path", "")).startswith(("/api/", "/admin/"))
        secure = scope.get("scheme") == "https"  # behind a TLS proxy that says so

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if dynamic:
                    headers["Cache-Control"] = "no-store"
                if secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_json(content_type: str) -> bool:
    """``application/json``, or with ``; charset=utf-8``, and nothing else (any case)."""
    media, *params = (part.strip().lower() for part in content_type.split(";"))
    return media == "application/json" and params in ([], ["charset=utf-8"], ['charset="utf-8"'])


class JsonPosts:
    """Refuses every POST under /api/ and /admin/ that is not declared JSON, with 415 and
    before anything reads it. A web page elsewhere can make a visitor's browser send a POST
    without asking first only with a form's content types (text/plain among them); with
    ``application/json`` the browser must ask the platform (a CORS preflight), which it never
    allows (Fetch Standard, "CORS-safelisted request-header"). So no other site can make
    voters' browsers ask for challenges or fail sign-ins from their address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and str(scope.get("path", "")).startswith(("/api/", "/admin/"))
        ):
            declared = Headers(scope=scope).get("content-type", "")
            if not is_json(declared):
                error = ApiError(415, "not_json", msg.NOT_JSON, f"content type {declared!r}")
                log.info("POST %s: 415 not_json (%s)", scope.get("path"), error)
                await JSONResponse(error.to_json(), status_code=415)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, read up to ``limit`` bytes: 413 beyond it, 400 if malformed."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, "too_large", msg.TOO_LARGE, f"body of {declared} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", msg.TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    try:
        return parse_json(b"".join(chunks).decode("utf-8"))
    except (EncodingError, UnicodeDecodeError, RecursionError) as e:
        raise ApiError(400, "bad_request", msg.BAD_REQUEST, f"the body is not JSON: {e}") from e


def field_bytes(doc: Any, name: str, length: int) -> bytes:
    if not isinstance(doc, dict) or not isinstance(doc.get(name), str):
        raise ApiError(400, "bad_request", msg.BAD_REQUEST, f"{name!r} is missing")
    try:
        return b64d(doc[name], length=length, name=name)
    except EncodingError as e:
        raise ApiError(400, "bad_request", msg.BAD_REQUEST, str(e)) from e


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def address(request: Request) -> str:
    """The key the per-address limits count the client under (an IPv6 client's /64)."""
    return client_key(request.client.host if request.client is not None else "unknown")


def create_app(
    platform: Platform, *, web_dir: Path, admin_token: str, admin_port: int | None = None
) -> FastAPI:
    """The platform's web app. With ``admin_port`` the staff routes answer only on the
    listening socket of that port (a loopback one ``serve`` binds), never on the public one."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    _handlers(app)
    _page_routes(app, web_dir)
    _voter_routes(app, platform)
    _staff_routes(app, platform, admin_token, admin_port)
    app.add_middleware(JsonPosts)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so the 415 gets it too
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> JSONResponse:
        log.info("%s %s: %s %s (%s)", request.method, request.url.path, error.status,
                 error.code, error)  # fmt: skip
        headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        return JSONResponse(error.to_json(), status_code=error.status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = "not_found" if error.status_code == 404 else "bad_request"
        text = msg.NOT_FOUND if error.status_code == 404 else msg.BAD_REQUEST
        return JSONResponse(ApiError(error.status_code, code, text).to_json(), error.status_code)

    @app.exception_handler(HanpyoError)
    async def hanpyo_error(request: Request, error: HanpyoError) -> JSONResponse:
        # a staff action refused by the chain's rules, or the store failing: nothing recorded
        log.warning("%s %s: %s", request.method, request.url.path, error)
        status = 409 if request.url.path.startswith("/admin/") else 503
        answer = ApiError(status, "refused" if status == 409 else "unavailable",
                          error.user_message, str(error))  # fmt: skip
        body = answer.to_json() | {"detail": str(error)} if status == 409 else answer.to_json()
        return JSONResponse(body, status_code=status)


def _page_routes(app: FastAPI, web_dir: Path) -> None:
    index = web_dir / "index.html"

    @app.get("/", response_model=None)
    @app.get("/index.html", response_model=None)
    async def page() -> Response:
        if not index.is_file():
            return HTMLResponse(PAGE_NOT_BUILT_HTML, status_code=503)
        return FileResponse(index, media_type="text/html; charset=utf-8")

    # The bundle helper A's build writes: served from here, gzipped on the way out.
    static = StaticFiles(directory=web_dir / "dist", check_dir=False)
    app.mount("/dist", GZipMiddleware(static, minimum_size=512), name="dist")
    # The Korean font the page falls back on when the device has none (a phone fetches it
    # only then), from this origin as the ledger's pages serve it (ledger/web/api.py).
    fonts = ASSETS / "fonts"
    if fonts.is_dir():
        app.mount("/assets/fonts", StaticFiles(directory=fonts), name="fonts")


def _voter_routes(app: FastAPI, platform: Platform) -> None:
    @app.get("/api/election")
    async def election() -> dict[str, Any]:
        return await run_in_threadpool(platform.election)

    @app.post("/api/session/challenge")
    async def challenge(request: Request) -> dict[str, Any]:
        return {"challenge": b64e(platform.challenge(address(request)))}

    @app.post("/api/session")
    async def sign_in(request: Request) -> dict[str, Any]:
        doc = await read_json(request, SESSION_BODY_BYTES)
        key = field_bytes(doc, "key", 32)
        challenge_bytes = field_bytes(doc, "challenge", 32)
        signature = field_bytes(doc, "signature", 64)
        return await run_in_threadpool(
            platform.sign_in, address(request), key, challenge_bytes, signature
        )

    @app.post("/api/ballots", status_code=201)
    async def cast(request: Request) -> dict[str, Any]:
        token = _session_token(platform, request)
        doc = await read_json(request, BALLOT_BODY_BYTES)
        return await run_in_threadpool(platform.cast, token, doc)

    @app.post("/api/spoiled", status_code=201)
    async def spoiled(request: Request) -> dict[str, Any]:
        token = _session_token(platform, request)
        doc = await read_json(request, SPOILED_BODY_BYTES)
        return await run_in_threadpool(platform.spoil, token, doc)


def _session_token(platform: Platform, request: Request) -> str:
    """The bearer token of a live session, checked before the body is read."""
    return platform.sessions.get(bearer(request)).token


def _staff_routes(
    app: FastAPI, platform: Platform, admin_token: str, admin_port: int | None
) -> None:
    def authorised(request: Request) -> None:
        server = request.scope.get("server") or (None, None)
        if admin_port is not None and server[1] != admin_port:
            # The public listener has no staff routes at all (review H1): the token is never
            # tried there, whatever a proxy in front forwards.
            raise ApiError(404, "not_found", msg.NOT_FOUND, "staff routes: the admin port only")
        given = bearer(request) or ""
        if not hmac.compare_digest(given.encode(), admin_token.encode()):
            raise ApiError(401, "unauthorised", msg.NOT_FOUND, "wrong or missing admin token")

    def staff(action: Callable[[Request], Awaitable[dict[str, Any]]]) -> Any:
        async def guarded(request: Request) -> dict[str, Any]:
            authorised(request)
            return await action(request)

        return guarded

    async def status(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(platform.report)

    async def open_session(request: Request) -> dict[str, Any]:
        doc = await read_json(request, ADMIN_BODY_BYTES)
        try:
            mode = Mode(doc["mode"]) if isinstance(doc, dict) else None
        except (KeyError, ValueError):
            mode = None
        if mode not in (Mode.TEST, Mode.OFFICIAL):
            raise ApiError(400, "bad_request", msg.BAD_REQUEST, "mode is test or official")
        return await run_in_threadpool(platform.open_session, mode)

    async def close_session(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(platform.close_session)

    async def sync_now(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(platform.sync_now)

    app.add_api_route("/admin/status", staff(status), methods=["GET"])
    app.add_api_route("/admin/open", staff(open_session), methods=["POST"])
    app.add_api_route("/admin/close", staff(close_session), methods=["POST"])
    app.add_api_route("/admin/sync", staff(sync_now), methods=["POST"])
