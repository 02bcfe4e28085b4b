"""The ledger's versioned JSON API on FastAPI. Writes need a kiosk signature or an admin token."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time,
# and they name dependencies defined inside create_app.

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hanpyo_assets import ASSETS
from kiosk.core.block import voter_id_from_hex
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import EncodingError
from kiosk.core.ledger_answer import (
    head_statement,
    sign_answer,
    upload_statement,
    voted_statement,
)
from kiosk.core.request import (
    CLOCK_SKEW_S,
    NONCE_BYTES,
    CheckedHeader,
    RequestFault,
    RequestRefused,
    check_header,
    request_target,
    verify_request,
)
from kiosk.core.request import request_message as request_message  # tests and bench sign with it
from ledger.rules.errors import LedgerError
from ledger.service.fleet import read_heartbeat, record_heartbeat
from ledger.service.ingest import MAX_BATCH, UploadedBlocks
from ledger.service.ledger import Ledger
from ledger.store import request_nonces
from ledger.store import schema as db
from ledger.store.request_nonces import RequestNonce
from ledger.store.source_leaves import MAX_HEIGHTS, held_blocks
from ledger.web.admin import admin_routes
from ledger.web.body_guard import RequestGuard

MAX_BODY = 4 * 1024 * 1024
FONTS = ASSETS / "fonts"  # the Korean font we ship
STATUS = {
    "unknown_kiosk": 403,
    "bad_request_signature": 401,
    "stale_request": 401,
    "wrong_ledger": 401,
    "replayed_request": 401,
    "no_credentials": 401,
    "not_admin": 403,
    "quarantined": 403,
    "not_found": 404,
    "out_of_range": 404,
    "already_enrolled": 409,
    "too_large": 413,
    "equivocation": 409,
    "election_closed": 409,
    "enrolment_frozen": 409,
    "token_expired": 401,
    "token_revoked": 401,
    "insufficient_scope": 403,
}


class ApiRefusal(BaseModel):
    """Every refusal: a machine-readable reason and a sentence for people."""

    reason: str
    detail: str


class BlockBatch(BaseModel):
    blocks: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


class VoterQuery(BaseModel):
    """Has this voter voted: by voter id (32 lowercase hex digits, nothing else about the
    voter). Protocol 1's ``nullifier`` is refused by name."""

    nullifier: str | None = Field(default=None, max_length=64)
    voter: str | None = Field(default=None, max_length=32)


def _voter_identity(query: VoterQuery) -> bytes:
    """The identity the ledger's voter index keys on (kiosk.core.block.ballot_identity): the
    voter id."""
    if query.nullifier is not None or query.voter is None:
        raise LedgerError("bad_query", "a protocol 2 election is asked by voter, not nullifier")
    try:
        return voter_id_from_hex(query.voter)
    except EncodingError as e:
        raise LedgerError("bad_query", str(e)) from e


def create_app(
    ledger: Ledger, published: Path | None = None, *, dev: bool = False, tiles: Path | None = None
) -> FastAPI:
    """The API; with ``published`` (the tally's records), also the public pages. Only ``dev``
    serves /docs, /redoc and /openapi.json (`ledger openapi` prints the document)."""
    app = FastAPI(
        docs_url="/docs" if dev else None,
        redoc_url="/redoc" if dev else None,
        openapi_url="/openapi.json" if dev else None,
        responses={
            status: {"model": ApiRefusal, "description": "refused, with the reason"}
            for status in (401, 403, 404, 409, 413, 422)
        },
        title="Hanpyo ledger",
        version="1",
        description="Verified ingest of kiosk chains into one Merkle log.",
    )

    @app.exception_handler(LedgerError)
    async def ledger_error(_request: Request, e: LedgerError) -> JSONResponse:
        return _error(e)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, e: RequestValidationError) -> JSONResponse:
        # Name the fields, never echo the input back: it may be anything at all.
        where = sorted({".".join(str(p) for p in err.get("loc", ())) for err in e.errors()})
        return _error(LedgerError("bad_request", f"invalid fields: {', '.join(where)}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        if e.status_code == 400:
            # FastAPI's own answer to a body it cannot decode (not UTF-8, say): refused in the
            # ledger's shape, {"reason", "detail"}, like every other refusal.
            return _error(LedgerError("bad_request", "the request body is not UTF-8 JSON"))
        return await http_exception_handler(request, e)

    def enrolled_key(kiosk_id: str) -> bytes:
        source = ledger.source(kiosk_id)
        if source is None:
            raise LedgerError("unknown_kiosk", f"kiosk {kiosk_id} is not enrolled")
        if source.quarantined:
            raise LedgerError(
                "quarantined", f"kiosk {kiosk_id} is quarantined: {source.quarantine_reason}"
            )
        return source.public_key

    def check_source(kiosk_id: str, authorization: str | None) -> None:
        """Before a kiosk write's body is read: its header's form, and an enrolled source
        that is not quarantined. The signature over the body is checked once it is read."""
        try:
            check_header(authorization, kiosk_id, ledger.key.origin, time.time())
        except RequestRefused as e:
            raise LedgerError(e.fault.value, e.detail) from e
        enrolled_key(kiosk_id)

    request_nonces.ensure_table(ledger.engine)  # a ledger made before requests had nonces
    app.add_middleware(RequestGuard, max_body=MAX_BODY, check_source=check_source, render=_error)

    async def kiosk_auth(
        request: Request, kiosk_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> CheckedHeader:
        checked, now = await verified_request(request, kiosk_id, authorization)
        # Only a request whose signature verified is remembered: strangers cannot fill the
        # table. Kept past the time window, after which the request is stale anyway.
        fresh = await run_in_threadpool(
            request_nonces.remember_nonce,
            ledger.engine,
            kiosk_id,
            checked.nonce,
            checked.signed_at,
            forget_before=_forget_before(now),
        )
        if not fresh:
            raise LedgerError(
                RequestFault.REPLAYED.value,
                "this signed request was already taken; a kiosk signs every request afresh",
            )
        return checked

    async def upload_auth(
        request: Request, kiosk_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> RequestNonce:
        """An upload's signature checked as any kiosk request's; its nonce is recorded in the
        transaction that sequences the batch (one commit fewer per upload), and a replay is
        refused there (ledger/service/ingest.py)."""
        checked, now = await verified_request(request, kiosk_id, authorization)
        return RequestNonce(checked.kiosk, checked.nonce, checked.signed_at, _forget_before(now))

    async def verified_request(
        request: Request, kiosk_id: str, authorization: str | None
    ) -> tuple[CheckedHeader, float]:
        body = await request.body()
        now = time.time()
        # The path and the raw query as sent (the request guard refused a query that is not
        # UTF-8 before routing: fuzz findings F2 and F10).
        query = request.scope.get("query_string", b"").decode("utf-8")
        try:
            checked = verify_request(
                authorization,
                request.method,
                request_target(request.scope["path"], query),
                body,
                kiosk_id=kiosk_id,
                origin=ledger.key.origin,
                key_of=enrolled_key,
                now=now,
            )
        except RequestRefused as e:
            raise LedgerError(e.fault.value, e.detail) from e
        return checked, now

    @app.get("/v1/election")
    def election() -> Any:
        return json.loads(ledger.signed_package)

    @app.get("/v1/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> str:
        return ledger.checkpoint()

    @app.get("/v1/log/key", response_class=PlainTextResponse)
    def log_key() -> str:
        return ledger.key.verifier.vkey + "\n"

    @app.post("/v1/kiosks/{kiosk_id}/blocks")
    def upload(
        batch: BlockBatch,
        signed: Annotated[RequestNonce, Depends(upload_auth)],
        wait: Annotated[bool, Query()] = True,
    ) -> JSONResponse:
        """``wait=false`` (in the signed request target): answer once the batch is sequenced
        and durable, without waiting for a checkpoint that covers it (a kiosk catching up
        sends its next batch at once and proves them all against one checkpoint)."""
        kiosk_id = signed.kiosk_id
        # Each block read from the parsed body as it is, encoded once (ingest.UploadedBlocks).
        result = ledger.ingest(kiosk_id, UploadedBlocks(batch.blocks), wait=wait, nonce=signed)
        if result.rejection is not None and result.rejection.reason == RequestFault.REPLAYED:
            raise LedgerError(result.rejection.reason, result.rejection.detail)
        body = {
            "kiosk": result.kiosk,
            "accepted": result.accepted,
            "already_had": result.already_had,
            "head_height": result.head_height,
            "log_size": result.log_size,
            "checkpoint": result.checkpoint,
            "leaves": {str(h): i for h, i in result.leaves.items()},
            "rejected": None
            if result.rejection is None
            else {
                "height": result.rejection.height,
                "reason": result.rejection.reason,
                "detail": result.rejection.detail,
            },
        }
        # Signed for the request's nonce: the kiosk takes "already had" only from the ledger.
        statement = upload_statement(kiosk_id, result.head_height, result.leaves, signed.nonce)
        body["signature"] = sign_answer(ledger.key.key, statement)
        status = 200
        if result.rejection is not None:
            status = STATUS.get(result.rejection.reason, 422)
            # Also the shape of every refusal, with what was accepted before it.
            body |= {"reason": result.rejection.reason, "detail": result.rejection.detail}
        return JSONResponse(body, status_code=status)

    @app.get("/v1/kiosks/{kiosk_id}/head")
    def head(
        kiosk_id: str, nonce: Annotated[str | None, Query(max_length=64)] = None
    ) -> dict[str, Any]:
        if ledger.source(kiosk_id) is None:
            raise LedgerError("not_found", f"kiosk {kiosk_id} is not enrolled")
        height, digest = ledger.head(kiosk_id)
        answer: dict[str, Any] = {
            "kiosk": kiosk_id,
            "height": height,
            "hash": None if digest is None else b64e(digest),
        }
        if nonce is not None:  # the kiosk's own question: signed for its nonce
            fresh = _nonce(nonce)
            statement = head_statement(kiosk_id, height, digest, fresh)
            answer |= {"nonce": nonce, "signature": sign_answer(ledger.key.key, statement)}
        return answer

    @app.get("/v1/kiosks/{kiosk_id}/leaves")
    def leaves(
        kiosk_id: str,
        first: Annotated[int, Query(ge=0, le=2**63 - 1)],
        count: Annotated[int, Query(ge=1, le=MAX_HEIGHTS)],
    ) -> Any:
        """Where the log holds this kiosk's blocks ``first`` .. ``first + count - 1``: one
        answer for a restarted kiosk, which proves each leaf against a checkpoint it verified
        (so the answer needs no signature: a wrong leaf fails its inclusion proof)."""
        if ledger.source(kiosk_id) is None:
            raise LedgerError("not_found", f"kiosk {kiosk_id} is not enrolled")
        held = held_blocks(ledger.reader, kiosk_id, first, count)
        return {
            "kiosk": kiosk_id,
            "blocks": [[b.height, b.leaf_index, b64e(b.hash)] for b in held],
        }

    @app.get("/v1/proofs/inclusion")
    def inclusion(
        leaf_index: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
        tracking_code: Annotated[str | None, Query(max_length=40)] = None,
        size: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    ) -> Any:
        if (leaf_index is None) == (tracking_code is None):
            raise LedgerError("bad_query", "give exactly one of leaf_index and tracking_code")
        index = ledger.find_tracking_code(tracking_code) if tracking_code is not None else None
        index = leaf_index if index is None else index
        if index is None:
            raise LedgerError("bad_query", "give exactly one of leaf_index and tracking_code")
        proof = ledger.inclusion(index, size)
        return {
            "leaf_index": proof.leaf_index,
            "size": proof.size,
            "proof": [b64e(h) for h in proof.proof],
            "block": b64e(proof.block),
            "checkpoint": proof.checkpoint,
        }

    @app.get("/v1/proofs/inclusion-range")
    def inclusion_range(
        first: Annotated[int, Query(ge=0, le=2**63 - 1)],
        count: Annotated[int, Query(ge=1, le=1000)],
        size: Annotated[int, Query(ge=1, le=2**63 - 1)],
    ) -> Any:
        proofs = ledger.inclusion_range(first, count, size)
        return {
            "first": first,
            "size": size,
            "proofs": [[b64e(h) for h in proof] for proof in proofs],
        }

    @app.get("/v1/proofs/consistency")
    def consistency(
        old: Annotated[int, Query(ge=0, le=2**63 - 1)],
        new: Annotated[int, Query(ge=0, le=2**63 - 1)],
    ) -> Any:
        return {"old": old, "new": new, "proof": [b64e(h) for h in ledger.consistency(old, new)]}

    # The path keeps protocol 1's name: kiosks in the field ask it.
    @app.post("/v1/kiosks/{kiosk_id}/nullifiers/check")
    def voter_check(
        query: VoterQuery, signed: Annotated[CheckedHeader, Depends(kiosk_auth)]
    ) -> Any:
        identity = _voter_identity(query)
        channels = ledger.has_voted(identity)
        statement = voted_statement(signed.kiosk, identity, channels, signed.nonce)
        return {
            "voted": bool(channels),
            "channels": channels,
            "signature": sign_answer(ledger.key.key, statement),
        }

    @app.post("/v1/kiosks/{kiosk_id}/heartbeat")
    def heartbeat(
        beat: Annotated[dict[str, Any], Body()],
        signed: Annotated[CheckedHeader, Depends(kiosk_auth)],
    ) -> Any:
        record_heartbeat(ledger.engine, signed.kiosk, read_heartbeat(beat))
        return {"ok": True}

    if FONTS.is_dir():
        app.mount("/assets/fonts", StaticFiles(directory=FONTS), name="fonts")

    app.include_router(admin_routes(ledger))

    from ledger.web.relay import relay_routes  # the trustees' ceremony relay

    app.include_router(relay_routes(ledger))

    if tiles is not None:  # the log as C2SP tlog-tiles, written by `ledger tiles publish`
        from ledger.web.tiles_routes import tiles_routes

        app.include_router(tiles_routes(tiles))

    if published is not None:
        from ledger.web.public_pages import (
            public_pages,  # matplotlib and Jinja only where pages are served
        )

        app.include_router(public_pages(ledger, published))

    return app


def _forget_before(now: float) -> int:
    """Nonces of requests signed before this are dropped: such a request is stale anyway."""
    return int(now) - CLOCK_SKEW_S - request_nonces.MARGIN_S


def _nonce(text: str) -> bytes:
    try:
        return b64d(text, length=NONCE_BYTES, name="nonce")
    except EncodingError as e:
        raise LedgerError("bad_query", str(e)) from e


def _error(e: LedgerError) -> JSONResponse:
    return JSONResponse(
        {"reason": e.reason, "detail": e.explanation}, status_code=STATUS.get(e.reason, 422)
    )


def app_from_environment() -> FastAPI:
    """The app for `uvicorn --factory`, configured by `ledger serve` through the environment
    so that every worker process builds the same one."""
    engine = db.connect(os.environ["HANPYO_LEDGER_DB"])
    seed = b64d(
        Path(os.environ["HANPYO_LOG_KEY_FILE"]).read_text().strip(), length=32, name="log key"
    )
    published = os.environ.get("HANPYO_PUBLISHED")
    # The tiles directory: $HANPYO_TILES_DIR, else "tiles" beside the published records
    # (<data>/tiles, where `ledger tiles publish --dir` writes it).
    tiles = os.environ.get("HANPYO_TILES_DIR") or (
        str(Path(published).parent / "tiles") if published else None
    )
    ledger = Ledger(engine, SigningKey(seed))
    # After each checkpoint, the witnesses' cosignatures ($HANPYO_WITNESSES) and the tiles
    # ($HANPYO_TILES_DIR), in a thread of their own; only the elected integrator wakes it.
    from ledger.publish.log_publisher import publisher_from_environment

    writes = os.environ.get("HANPYO_TILES_DIR")
    publisher = publisher_from_environment(engine, Path(writes) if writes else None)
    hooks = [] if publisher is None else [publisher.start().on_checkpoint]
    # Every worker runs one; they elect the one that extends the tree (issue 18).
    ledger.start_integrator(hooks)
    # Large uploads (a kiosk catching up) read on several cores (ledger/service/block_readers.py).
    ledger.read_uploads_with(int(os.environ.get("HANPYO_READ_WORKERS", "0")))
    return create_app(
        ledger,
        Path(published) if published else None,
        dev=os.environ.get("HANPYO_LEDGER_DEV") == "1",
        tiles=Path(tiles) if tiles else None,
    )
