"""A hostile ledger, seen from the kiosk: every answer the sync client parses (head, upload,
proofs, checkpoint, the voter check) comes from the fuzzer, status code and body."""

from __future__ import annotations

import json
from collections.abc import Callable

import requests
from requests.structures import CaseInsensitiveDict

from fuzz import world
from fuzz.contract import accepted, require
from fuzz.draw import Draw
from kiosk.core.encoding import b64e
from kiosk.core.heartbeat import Heartbeat
from kiosk.sync.client import LedgerClient

STATUSES = [200, 200, 200, 200, 409, 422, 404, 401, 500, 503]
# Answers the ledger signs with its log key over the request's fresh nonce: a fuzzer without
# that key must never get one accepted.
SIGNED = {"head", "upload", "has_voted"}


class ScriptedLedger(requests.adapters.BaseAdapter):
    """A transport that answers every request with the next status code and body drawn."""

    def __init__(self, draw: Draw) -> None:
        super().__init__()
        self.draw = draw

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = STATUSES[self.draw.below(len(STATUSES))]
        response._content = self.draw.chunk(8000)
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url, response.request, response.encoding = request.url or "", request, "utf-8"
        return response

    def close(self) -> None:
        pass


def _calls() -> dict[str, Callable[[LedgerClient], object]]:
    chain = list(world.chain())
    return {
        "head": lambda c: c.head(),
        "upload": lambda c: c.upload(chain[:3]),
        "checkpoint": lambda c: c.checkpoint(),
        "consistency": lambda c: c.consistency(3, 8),
        "inclusion": lambda c: c.inclusion(2, 8),
        "inclusion_range": lambda c: c.inclusion_range(0, 2, 8),
        "has_voted": lambda c: c.has_voted(bytes(16)),
        "heartbeat": lambda c: c.heartbeat(Heartbeat.from_json(world.heartbeat())),
        "election": lambda c: c.election(),
    }


CALLS = list(_calls())


def sync_answers(data: bytes) -> None:
    """The sync client refuses any answer with a SyncError (a HanpyoError), so the worker
    backs off and retries instead of dying; an answer that needs the log key's signature
    over a fresh nonce is never accepted from the fuzzer."""
    d = Draw(data)
    name = CALLS[d.below(len(CALLS))]
    client = LedgerClient(
        "http://ledger.test", world.kiosk_key(), log_key=world.log_verifier().vkey
    )
    client._session.mount("http://", ScriptedLedger(d))
    try:
        result = accepted(lambda: _calls()[name](client))
    finally:
        client.close()
    if name in SIGNED:
        require(result is None, f"{name}: an answer without the log key's signature passed")


def sync_seed(name: str, status: int, body: object) -> bytes:
    """The input that answers call ``name`` with ``status`` and ``body`` (for seeds)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return bytes([CALLS.index(name), STATUSES.index(status)]) + len(raw).to_bytes(2, "big") + raw


def sync_seeds() -> list[bytes]:
    head = {"kiosk": world.kiosk_id(), "height": 3, "hash": b64e(bytes(32)), "signature": "AA"}
    upload = {
        "kiosk": world.kiosk_id(),
        "accepted": 3,
        "already_had": 0,
        "head_height": 2,
        "log_size": 3,
        "checkpoint": world.checkpoint_note(3),
        "leaves": {"0": 0, "1": 1, "2": 2},
        "rejected": None,
        "signature": b64e(bytes(64)),
    }
    log, _ = world.merkle_log()
    return [
        sync_seed("head", 200, head),
        sync_seed("upload", 200, upload),
        sync_seed("upload", 409, upload | {"rejected": {"height": 2, "reason": "x", "detail": ""}}),
        sync_seed("checkpoint", 200, world.checkpoint_note().encode()),
        sync_seed("consistency", 200, {"proof": [b64e(h) for h in log.consistency_proof(3, 8)]}),
        sync_seed("inclusion", 200, json.loads(_inclusion())),
        sync_seed("inclusion_range", 200, {"proofs": [[b64e(bytes(32))], [b64e(bytes(32))]]}),
        sync_seed("has_voted", 200, {"voted": True, "channels": ["kiosk"], "signature": "AA"}),
        sync_seed("heartbeat", 200, {"ok": True}),
        sync_seed("election", 200, world.signed_package()),
        sync_seed("head", 422, {"reason": "bad_query", "detail": "no"}),
    ]


def _inclusion() -> bytes:
    from fuzz.targets_ledger import proof_answer_seed

    return proof_answer_seed(2, 8)
