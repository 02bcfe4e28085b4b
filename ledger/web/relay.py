"""The ceremony relay: stores and forwards the trustees' signed messages, nothing more. It
checks each message's signature against the setup the organiser gave it (so it never stores
junk), keeps one message of each kind per trustee (a second, different one is equivocation:
409), and decides nothing: every trustee checks everything again when reading."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time.

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from kiosk.core.encoding import canonical_json
from kiosk.core.errors import EncodingError, HanpyoError
from kiosk.core.verifiable.ceremony import CeremonySetup
from ledger.rules.admin_access import Scope
from ledger.rules.errors import LedgerError
from ledger.service.admin_tokens import authorise
from ledger.service.ceremony_mailbox import ENVELOPE, open_envelope
from ledger.service.ledger import Ledger
from ledger.store import relay_messages as store

MAX_MESSAGE = 512 * 1024  # a shares message of 255 trustees is about 70 KB
PAGE = 200


def _refused(status: int, reason: str, detail: str) -> JSONResponse:
    return JSONResponse({"reason": reason, "detail": detail}, status_code=status)


def relay_routes(ledger: Ledger) -> APIRouter:
    router = APIRouter()
    engine = ledger.engine
    store.ensure_tables(engine)

    def setup_of(election: str) -> CeremonySetup | None:
        text = store.stored_setup(ledger.reader, election)
        return None if text is None else CeremonySetup.from_json(json.loads(text))

    @router.put("/v1/ceremony/{election}/setup")
    async def put_setup(
        election: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Any:
        if authorization is None or not authorization.startswith("Bearer "):
            raise LedgerError("no_credentials", "giving a ceremony's setup needs an admin token")
        token = authorization.removeprefix("Bearer ").strip()
        await run_in_threadpool(authorise, ledger, token, Scope.ENROL)
        raw = await request.body()
        try:
            setup = CeremonySetup.from_json(json.loads(raw))
        except (ValueError, EncodingError) as e:
            return _refused(422, "bad_setup", f"not a ceremony setup: {e}")
        if setup.election_id != election:
            return _refused(422, "bad_setup", f"the setup is for {setup.election_id!r}")
        text = canonical_json(setup.to_json()).decode()
        stored = await run_in_threadpool(
            store.store_setup, engine, election, text, setup.base_hash()
        )
        if not stored and store.stored_setup(ledger.reader, election) != text:
            return _refused(409, "setup_exists", "this ceremony already has another setup")
        return {"election": election, "setup": setup.base_hash().hex()}

    @router.get("/v1/ceremony/{election}/setup")
    def get_setup(election: str) -> Any:
        setup = setup_of(election)
        if setup is None:
            return _refused(404, "not_found", f"no ceremony of {election} here")
        return setup.to_json()

    @router.post("/v1/ceremony/{election}/messages")
    async def post_message(election: str, request: Request) -> Any:
        raw = await request.body()
        if len(raw) > MAX_MESSAGE:
            return _refused(413, "too_large", f"a ceremony message is at most {MAX_MESSAGE} bytes")
        setup = await run_in_threadpool(setup_of, election)
        if setup is None:
            return _refused(404, "not_found", f"no ceremony of {election} here")
        try:
            value = json.loads(raw)
            if not isinstance(value, dict) or value.get("hanpyo") != ENVELOPE:
                raise EncodingError("not a ceremony message envelope")
            message = open_envelope(value, setup, "the message")
        except (ValueError, HanpyoError) as e:
            detail = e.detail if isinstance(e, HanpyoError) else str(e)
            return _refused(422, "bad_message", detail)
        envelope = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        stored = await run_in_threadpool(
            store.store_message,
            engine,
            election,
            message.kind,
            message.sender,
            message.content(),
            envelope,
        )
        if stored.content != message.content():
            return _refused(
                409,
                "equivocation",
                f"trustee {message.sender} already sent a different {message.kind} message",
            )
        return {"seq": stored.seq}

    @router.get("/v1/ceremony/{election}/messages")
    def get_messages(election: str, after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Any:
        found = store.messages_after(ledger.reader, election, after, PAGE)
        return {
            "election": election,
            "messages": [{"seq": m.seq, "envelope": json.loads(m.envelope)} for m in found],
        }

    return router
