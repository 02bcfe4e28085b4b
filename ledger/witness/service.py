"""The witness's HTTP service (C2SP tlog-witness, "HTTP Interface"): ``POST /add-checkpoint``
and the monitoring copy ``GET /<sha256(origin) hex>/checkpoint``, one prefix for both."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.errors import EncodingError, HanpyoError
from ledger.witness.protocol import MAX_REQUEST_BYTES, Refused, add_checkpoint
from ledger.witness.store import DATABASE, WitnessIdentity, WitnessStore

NOTE_TYPE = "text/plain; charset=utf-8"


class WitnessConfigError(HanpyoError):
    """A ``--log ORIGIN=VKEY`` the witness cannot use."""


def read_logs(specs: Sequence[str]) -> dict[str, list[NoteVerifier]]:
    """``ORIGIN=VKEY`` pairs (an origin may have more than one key) by origin."""
    logs: dict[str, list[NoteVerifier]] = {}
    for spec in specs:
        origin, equals, vkey = spec.partition("=")
        if not equals or not origin:
            raise WitnessConfigError(f"give each log as ORIGIN=VKEY, not {spec!r}")
        try:
            logs.setdefault(origin, []).append(NoteVerifier.parse(vkey))
        except EncodingError as e:
            raise WitnessConfigError(f"the key of log {origin!r}: {e}") from e
    if not logs:
        raise WitnessConfigError("name at least one log to witness (--log ORIGIN=VKEY)")
    return logs


def origin_hash(origin: str) -> str:
    """The monitoring path's name for a log: SHA-256 of its origin, lowercase hex."""
    return hashlib.sha256(origin.encode()).hexdigest()


def create_app(
    directory: Path, identity: WitnessIdentity, logs: Mapping[str, Sequence[NoteVerifier]]
) -> Starlette:
    store = WitnessStore(directory / DATABASE)
    by_hash = {origin_hash(origin): origin for origin in logs}

    async def submit(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return PlainTextResponse("the request is too long\n", status_code=400)
        try:
            line = await run_in_threadpool(add_checkpoint, store, identity, logs, body)
        except Refused as e:
            return Response(e.body, status_code=e.status, media_type=e.content_type)
        return Response(line, media_type=NOTE_TYPE)

    async def monitoring(request: Request) -> Response:
        origin = by_hash.get(request.path_params["origin_hash"])
        latest = None if origin is None else await run_in_threadpool(store.latest, origin)
        if latest is None:
            return PlainTextResponse("this witness has cosigned no checkpoint of that log\n", 404)
        return Response(latest.note, media_type=NOTE_TYPE, headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/add-checkpoint", submit, methods=["POST"]),
            Route("/{origin_hash:str}/checkpoint", monitoring, methods=["GET"]),
        ]
    )
