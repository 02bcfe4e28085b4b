"""The mirror's copy, served read-only under the ledger's own URLs: ``/tiles/...`` with the
cache headers of c2sp.org/tlog-tiles, the checkpoint with its cosignatures, the log key, the
election package, and the proof routes of the ledger's API answering in the ledger's format,
so ``ledger verify-proof --url MIRROR`` and the kiosk's proof checks work unchanged against an
observer's copy while the ledger is down. Nothing here writes; every proof is computed from
the mirror's own tiles, which it verified before keeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kiosk.core.block import normalise_tracking_code
from kiosk.core.encoding import b64e, crockford32_decode
from kiosk.core.errors import EncodingError, HanpyoError
from kiosk.core.merkle import MerkleLogError
from kiosk.core.tiles import TILE_WIDTH, TileNotFound, entry_from_tiles, parse_tile_path
from kiosk.core.tiles import tree_from_tiles as _tree  # one name for both uses
from ledger.mirror.follower import CODE_BYTES, directory_fetcher
from ledger.mirror.store import TILES, MirrorDb, load_config
from ledger.publish.tiles import CHECKPOINT, checkpoint_of

IMMUTABLE = "public, max-age=31536000, immutable"  # tlog-tiles: full tiles never change
PARTIAL = "public, max-age=10"  # may be replaced by the full tile and deleted
NO_CACHE = "no-cache"  # the checkpoint: "SHOULD prevent caching beyond a few seconds"
MAX_INDEX = 2**63 - 1
MAX_RANGE = 1000  # as the ledger's /v1/proofs/inclusion-range


class Unanswerable(HanpyoError):
    """A question the copy cannot answer; ``reason`` and ``status`` as the ledger's API."""

    def __init__(self, reason: str, detail: str, status: int) -> None:
        super().__init__(detail)
        self.reason, self.status = reason, status


def create_app(directory: Path) -> Starlette:
    config = load_config(directory)
    tiles = directory / TILES
    fetch = directory_fetcher(tiles)

    def latest() -> tuple[int, str]:
        try:
            note = (tiles / CHECKPOINT).read_text("utf-8")
        except FileNotFoundError:
            raise Unanswerable("not_found", "the mirror holds no checkpoint yet", 404) from None
        return checkpoint_of(note).size, note

    def note_of(size: int | None) -> tuple[int, str]:
        held, note = latest()
        if size is None or size == held:
            return held, note
        db = MirrorDb(directory, read_only=True)
        try:
            older = db.checkpoint_note(size) if size < held else None
        finally:
            db.close()
        if older is None:
            raise Unanswerable("not_found", f"the mirror holds no checkpoint of size {size}", 404)
        return size, older

    def inclusion(params: dict[str, str]) -> dict[str, Any]:
        index, code = params.get("leaf_index"), params.get("tracking_code")
        if (index is None) == (code is None):
            raise Unanswerable("bad_query", "give exactly one of leaf_index and tracking_code", 422)
        size, note = note_of(_maybe_int(params, "size", 1))
        leaf = _leaf_of_code(directory, code) if code is not None else _int(params, "leaf_index")
        if leaf >= size:
            raise Unanswerable("out_of_range", f"leaf {leaf} is not in the tree of {size}", 404)
        return {
            "leaf_index": leaf,
            "size": size,
            "proof": [b64e(h) for h in _tree(fetch, size).inclusion_proof(leaf)],
            "block": b64e(entry_from_tiles(fetch, leaf, size)),
            "checkpoint": note,
        }

    def inclusion_range(params: dict[str, str]) -> dict[str, Any]:
        first, count, size = (_int(params, k) for k in ("first", "count", "size"))
        note_of(size)
        if not 1 <= count <= MAX_RANGE or first + count > size:
            raise Unanswerable("out_of_range", f"no leaves {first}+{count} in {size}", 404)
        tree = _tree(fetch, size)
        proofs = [[b64e(h) for h in tree.inclusion_proof(i)] for i in range(first, first + count)]
        return {"first": first, "size": size, "proofs": proofs}

    def consistency(params: dict[str, str]) -> dict[str, Any]:
        old, new = _int(params, "old"), _int(params, "new")
        note_of(new)
        if old > new:
            raise Unanswerable("out_of_range", f"no consistency proof from {old} to {new}", 404)
        return {
            "old": old,
            "new": new,
            "proof": [b64e(h) for h in _tree(fetch, new).consistency_proof(old)],
        }

    def status(_params: dict[str, str]) -> dict[str, Any]:
        db = MirrorDb(directory, read_only=True)
        try:
            refused = db.refused()
            followed_at = db.meta("verified_at")
        finally:
            db.close()
        size, _ = latest()
        return {
            "origin": config.origin,
            "size": size,
            "verified_at": followed_at,
            "refused": len(refused),
            "forks": sum(1 for r in refused if r.kind == "fork"),
        }

    async def checkpoint(_request: Request) -> Response:
        try:
            _, note = await run_in_threadpool(latest)
        except Unanswerable as e:
            return _refusal(e)
        return Response(note, media_type="text/plain; charset=utf-8", headers=_cache(NO_CACHE))

    async def tile(request: Request) -> Response:
        path = f"tile/{request.path_params['path']}"
        try:
            _, _, width = parse_tile_path(path)  # the one canonical spelling only
            content = await run_in_threadpool(fetch, path)
        except (MerkleLogError, TileNotFound):
            return PlainTextResponse("not found\n", 404, headers=_cache(NO_CACHE))
        cache = IMMUTABLE if width == TILE_WIDTH else PARTIAL
        return Response(content, media_type="application/octet-stream", headers=_cache(cache))

    async def log_key(_request: Request) -> Response:
        return PlainTextResponse(config.log_key + "\n")

    async def election(_request: Request) -> Response:
        return JSONResponse(config.signed_package)

    return Starlette(
        routes=[
            Route("/tiles/checkpoint", checkpoint, methods=["GET"]),
            Route("/tiles/tile/{path:path}", tile, methods=["GET"]),
            Route("/v1/checkpoint", checkpoint, methods=["GET"]),
            Route("/v1/log/key", log_key, methods=["GET"]),
            Route("/v1/election", election, methods=["GET"]),
            Route("/v1/proofs/inclusion", _json(inclusion), methods=["GET"]),
            Route("/v1/proofs/inclusion-range", _json(inclusion_range), methods=["GET"]),
            Route("/v1/proofs/consistency", _json(consistency), methods=["GET"]),
            Route("/v1/mirror/status", _json(status), methods=["GET"]),
        ]
    )


def _json(answer: Callable[[dict[str, str]], dict[str, Any]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await run_in_threadpool(answer, dict(request.query_params))
        except Unanswerable as e:
            return _refusal(e)
        except MerkleLogError as e:
            return _refusal(Unanswerable("out_of_range", str(e), 404))
        return Response(json.dumps(body), media_type="application/json", headers=_cache(NO_CACHE))

    return endpoint


def _refusal(e: Unanswerable) -> Response:
    """The ledger's refusal shape: a machine-readable reason and a sentence for people."""
    return JSONResponse({"reason": e.reason, "detail": e.detail}, e.status, _cache(NO_CACHE))


def _cache(value: str) -> dict[str, str]:
    return {"Cache-Control": value}


def _maybe_int(params: dict[str, str], name: str, low: int = 0) -> int | None:
    return None if params.get(name) is None else _int(params, name, low)


def _int(params: dict[str, str], name: str, low: int = 0) -> int:
    text = params.get(name)
    if text is None:
        raise Unanswerable("bad_query", f"give {name}", 422)
    if (
        not text.isascii()
        or not text.isdigit()
        or len(text) > 19
        or not low <= int(text) <= MAX_INDEX
    ):
        raise Unanswerable("bad_query", f"{name} is a whole number from {low}", 422)
    return int(text)


def _leaf_of_code(directory: Path, code: str) -> int:
    try:
        normalised = normalise_tracking_code(code[:40])
    except EncodingError as e:
        raise Unanswerable("bad_tracking_code", str(e), 422) from e
    db = MirrorDb(directory, read_only=True)
    try:
        leaf = db.leaf_of_code(crockford32_decode(normalised)[:CODE_BYTES])
    finally:
        db.close()
    if leaf is None:
        raise Unanswerable("not_found", f"no block has tracking code {normalised}", 404)
    return leaf
