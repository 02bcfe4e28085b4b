"""The guard in front of the API: a kiosk's write is checked for its header and its source
before a byte of its body is read, and every body is counted as it arrives, so that no request
(chunked or not, signed or not) makes the ledger hold more than ``max_body`` bytes of it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.rules.errors import LedgerError

# The routes a kiosk signs; its id is in the path, so the source is known before the body.
# Any id, however long: the route takes any, so the guard must too (an unknown id is refused
# by the source check before the body, like any other).
KIOSK_WRITE = re.compile(r"/v1/kiosks/(?P<kiosk>[^/]+)/(?:blocks|nullifiers/check|heartbeat)")
_DIGITS = re.compile(r"[0-9]{1,15}")

# Checks a kiosk write's header and source; raises LedgerError. It may read the database, so
# it runs in a worker thread.
SourceCheck = Callable[[str, str | None], None]
Render = Callable[[LedgerError], Response]


class _BodyTooLarge(Exception):
    """Raised into the app from ``receive`` once the body passed the limit."""


class RequestGuard:
    """Pure ASGI middleware: ``check_source(kiosk_id, authorization)`` before a kiosk write's
    body, and a byte count on every body with a 413 the moment it passes ``max_body``."""

    def __init__(
        self, app: ASGIApp, *, max_body: int, check_source: SourceCheck, render: Render
    ) -> None:
        self.app, self.max_body = app, max_body
        self.check_source, self.render = check_source, render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:  # at the edge, before routing: nothing later decodes a query that is not UTF-8
            scope.get("query_string", b"").decode("utf-8")
        except UnicodeDecodeError:
            await self.render(LedgerError("bad_request", "the query string is not UTF-8"))(
                scope, receive, send
            )
            return
        refusal = await self._refusal_before_body(scope)
        if refusal is not None:
            # Answered without reading the body; the server closes a connection whose request
            # it did not finish reading, so the rest is never taken in.
            await self.render(refusal)(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _refusal_before_body(self, scope: Scope) -> LedgerError | None:
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not _DIGITS.fullmatch(length) or int(length) > self.max_body):
            return self._too_large()
        match = KIOSK_WRITE.fullmatch(scope["path"])
        if scope["method"] != "POST" or match is None:
            return None
        try:
            await run_in_threadpool(self.check_source, match["kiosk"], headers.get("authorization"))
        except LedgerError as e:
            return e
        return None

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        answered = False  # a response has started, from the app or from here

        async def counting_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    if not answered:
                        answered = True
                        await self.render(self._too_large())(scope, receive, send)
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if received > self.max_body:
                return  # the 413 went out; whatever the app makes of the error is dropped
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):  # answered 413 in counting_receive
            await self.app(scope, counting_receive, guarded_send)

    def _too_large(self) -> LedgerError:
        return LedgerError("too_large", f"requests are at most {self.max_body} bytes")
