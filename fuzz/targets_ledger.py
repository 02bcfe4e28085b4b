"""Targets for what the ledger takes from outside: chain files (verify-chain and USB import)
and every route of its HTTP API, called in-process on a real SQLite database."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from fastapi.routing import APIRoute

from fuzz import world
from fuzz.asgi import App, AsgiCaller
from fuzz.contract import ContractBroken, accepted, require
from fuzz.draw import Draw
from kiosk.core.block import decode_signed_block
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e, parse_json
from kiosk.core.merkle import leaf_hash
from kiosk.core.request import NONCE_BYTES, request_target, sign_request
from ledger.rules.admin_access import Scope
from ledger.service.ledger import Ledger
from ledger.service.usb_import import import_chain_file
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey
from ledger.verify.chain_file import verify_chain_file
from ledger.verify.inclusion_proof import verify_inclusion_answer
from ledger.web.api import create_app

RESET_EVERY = 300  # inputs between fresh databases: state builds up, but not without end


# -- verify-chain -------------------------------------------------------------------------------


def chain_file(data: bytes) -> None:
    """`ledger verify-chain` refuses with ChainFileError; a file it accepts holds the kiosk's
    own chain from its genesis block, and a manifest only if the kiosk signed it."""
    report = accepted(lambda: verify_chain_file(data))
    if report is None:
        return
    lines = [line for line in data.splitlines() if line.strip()]
    if report.manifest is not None:
        lines = lines[1:]
        require(
            data.splitlines()[0] == world.export_file().splitlines()[0],
            "verify-chain accepted a manifest the kiosk did not sign",
        )
    got = [decode_signed_block(line).encode() for line in lines]
    require(
        got == [b.encode() for b in world.chain()[: len(got)]],
        "verify-chain accepted blocks that are not the kiosk's chain",
    )


# -- `ledger verify-proof`: a hostile ledger's inclusion answer ----------------------------------


def proof_answer(data: bytes) -> None:
    """verify_inclusion_answer refuses with HanpyoError only; an answer it accepts proves a
    block the log really holds, under a checkpoint the log really signed."""
    answer = accepted(lambda: parse_json(data))
    # check_tracking_code passes whatever JSON the ledger sent, dict or not: so does this.
    document = cast(dict[str, Any], answer)
    found = accepted(lambda: verify_inclusion_answer(document, world.log_verifier().vkey))
    if found is None:
        return
    log, leaves = world.merkle_log()
    require(found.size <= log.size, "a proof under a tree the log never had")
    block = world.chain()[found.height]
    require(
        leaves[found.leaf_index] == leaf_hash(block.encode())
        and found.tracking_code == block.tracking_code,
        "verify-proof accepted a block the log does not hold at that index",
    )


def proof_answer_seed(index: int, size: int) -> bytes:
    """A real answer of /v1/proofs/inclusion for leaf ``index`` of the log's first ``size``."""
    log, _ = world.merkle_log()
    answer = {
        "leaf_index": index,
        "size": size,
        "proof": [b64e(h) for h in log.inclusion_proof(index, size)],
        "block": b64e(world.chain()[index].encode()),
        "checkpoint": world.checkpoint_note(size),
    }
    return json.dumps(answer).encode()


# -- a real ledger on a real database -----------------------------------------------------------


@dataclass
class _Ledger:
    """A ledger over an SQLite file in a temporary folder, started anew every RESET_EVERY."""

    folder: Path = field(default_factory=lambda: world.scratch("ledger-"))
    uses: int = 0
    ledger: Ledger | None = None
    engine: Any = None
    token: str = ""

    def get(self) -> Ledger:
        if self.ledger is None or self.uses >= RESET_EVERY:
            self._fresh()
        self.uses += 1
        if self.ledger is None:
            raise RuntimeError("the fuzz ledger did not start")
        return self.ledger

    def _fresh(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        for path in self.folder.glob("ledger.db*"):
            path.unlink()
        self.engine = db.connect(f"sqlite:///{self.folder / 'ledger.db'}")
        key = LogKey(world.LOG_ORIGIN, world.log_key())
        e = world.election()
        Ledger.initialise(self.engine, key, world.signed_package(), e.authority.public_key)
        self.ledger = Ledger(self.engine, world.log_key())
        self.ledger.enrol(world.kiosk_key().public_key, "fuzz kiosk", "hall")
        self.token = self.ledger.create_admin_token(
            "fuzz", frozenset(Scope), datetime.now(UTC) + timedelta(days=365)
        )
        self.uses = 0

    def cleanup(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)


_LEDGERS: dict[str, _Ledger] = {}


def _ledger(name: str) -> _Ledger:
    if name not in _LEDGERS:
        _LEDGERS[name] = _Ledger()
        atexit.register(_LEDGERS[name].cleanup)
    return _LEDGERS[name]


def _check_log(ledger: Ledger) -> None:
    """Whatever came in, the log holds only the kiosk's real blocks, in order."""
    height, digest = ledger.head(world.kiosk_id())
    real = world.chain()
    require(height < len(real), "the ledger holds more blocks than the kiosk signed")
    if height >= 0:
        require(digest == real[height].hash, "the ledger's head is not one of the kiosk's blocks")
    require(ledger.log_size() <= len(real), "the log grew past the kiosk's chain")


# -- USB import ---------------------------------------------------------------------------------


def usb_import(data: bytes) -> None:
    """`ledger import` refuses with HanpyoError only, and whatever the file holds, only blocks
    the kiosk signed reach the log."""
    holder = _ledger("usb_import")
    ledger = holder.get()
    path = holder.folder / "import.jsonl"
    path.write_bytes(data)
    accepted(lambda: import_chain_file(ledger, path))
    _check_log(ledger)


# -- the HTTP API -------------------------------------------------------------------------------


_APPS: dict[int, tuple[AsgiCaller, list[tuple[str, str]]]] = {}
_OTHER = SigningKey(bytes(range(32)))  # a kiosk key that is never enrolled
_TEXT_ROUTES = ("/v1/checkpoint", "/v1/log/key")


def _app(ledger: Ledger) -> tuple[AsgiCaller, list[tuple[str, str]]]:
    if id(ledger) not in _APPS:
        for caller, _ in _APPS.values():
            caller.close()
        _APPS.clear()
        published = _ledger("api").folder / "published"  # empty: nothing is published yet
        published.mkdir(exist_ok=True)
        app = create_app(ledger, published)
        _APPS[id(ledger)] = (AsgiCaller(cast(App, app)), sorted(set(_routes(app.routes))))
    return _APPS[id(ledger)]


def kiosk_authorization(key: SigningKey, method: str, path: str, query: str, body: bytes) -> str:
    """The header the kiosk's client sends with a write, signed now with a fresh nonce."""
    target = request_target(path, query)
    return sign_request(
        key, world.LOG_ORIGIN, method, target, body, now=time.time(), nonce=os.urandom(NONCE_BYTES)
    )


def _routes(routes: list[Any]) -> Iterator[tuple[str, str]]:
    """Every (method, path) of the app, in the routers it includes too (the admin pages are
    left out of the OpenAPI document, so it cannot be the list)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield from ((method, route.path) for method in route.methods or ())
        elif hasattr(route, "original_router"):  # FastAPI's included router
            yield from _routes(route.original_router.routes)


def _path(template: str, d: Draw) -> str:
    kiosk = [world.kiosk_id(), world.kiosk_id(), "0" * 32, d.chunk(40).decode("latin-1")]
    path = template.replace("{kiosk_id}", kiosk[d.below(len(kiosk))])
    if "{name}" in path:  # a published file: real names, a way out of the folder, anything
        names = ["results.json", "bundle.zip", "../ledger.db", d.chunk(60).decode("latin-1")]
        path = path.replace("{name}", names[d.below(len(names))])
    return path


def api(data: bytes) -> None:
    """Any request to any route (the API, the admin routes, the public pages): no answer is a
    server error, every /v1 answer but the two text ones is JSON, no file is downloaded when
    none is published, and only the kiosk's real blocks ever reach the log."""
    holder = _ledger("api")
    ledger = holder.get()
    caller, routes = _app(ledger)
    d = Draw(data)
    method, template = routes[d.below(len(routes))]
    path = _path(template, d)
    query = d.chunk(120)
    credentials = d.below(5)
    header = d.chunk(200)
    body = d.rest()
    headers = [(b"content-type", b"application/json")]
    if credentials in (0, 1):
        key = world.kiosk_key() if credentials == 0 else _OTHER
        signed = kiosk_authorization(key, method, path, query.decode("utf-8", "replace"), body)
        headers.append((b"authorization", signed.encode("latin-1")))
    elif credentials == 2:
        headers.append((b"authorization", f"Bearer {holder.token}".encode()))
    elif credentials == 3:
        headers.append((b"authorization", header))
    answer = caller.request(method, path, query=query, headers=headers, body=body)
    require(answer.status < 500, f"{method} {path}: server error {answer.status}")
    if path.startswith("/downloads/"):
        require(answer.status != 200, f"{path}: a file was served, and none is published")
    if path.startswith("/v1/") and path not in _TEXT_ROUTES:
        try:
            json.loads(answer.body)
        except ValueError as e:
            raise ContractBroken(f"{method} {path}: answer is not JSON: {answer.body!r}") from e
    _check_log(ledger)


def api_input(
    method: str, template: str, body: bytes, *, credentials: int = 0, query: bytes = b""
) -> bytes:
    """The fuzz input that sends ``body`` to ``template`` (for seeds): the kiosk's own id in
    the path, signed by the kiosk (``credentials`` 0), by another key (1), with the admin
    token (2), or with no credentials (4)."""
    _, routes = _app(_ledger("api").get())
    index = routes.index((method, template))
    width = max(1, (len(routes).bit_length() + 7) // 8)
    return (
        index.to_bytes(width, "big")
        + bytes([0, 0, len(query)])
        + query
        + bytes([credentials, 0])
        + body
    )


def upload_body(blocks: list[bytes]) -> bytes:
    """A POST /v1/kiosks/{id}/blocks body carrying ``blocks`` (for seeds)."""
    return json.dumps({"blocks": [json.loads(b) for b in blocks]}).encode()
