"""The tiles directory served by the ledger itself under ``/tiles/`` (C2SP tlog-tiles paths),
with the cache headers the spec asks for: full tiles and bundles never change, partial ones
may be deleted once full, and the checkpoint changes every round. A CDN or any static web
server can serve the same directory instead, with the same rules."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from kiosk.core.merkle import MerkleLogError
from kiosk.core.tiles import TILE_WIDTH, parse_tile_path

PREFIX = "/tiles"
IMMUTABLE = (
    "public, max-age=31536000, immutable"  # tlog-tiles: "caching headers SHOULD be long-lived"
)
PARTIAL = "public, max-age=10"  # may be replaced by the full tile and deleted
CHECKPOINT = "no-cache"  # "its headers SHOULD prevent caching beyond a few seconds"


def tiles_routes(directory: Path) -> APIRouter:
    router = APIRouter(prefix=PREFIX)

    @router.get("/checkpoint")
    def checkpoint() -> Response:
        return _file(directory / "checkpoint", "text/plain; charset=utf-8", CHECKPOINT)

    @router.get("/tile/{path:path}")
    def tile(path: str) -> Response:
        try:
            _, _, width = parse_tile_path(f"tile/{path}")  # the one canonical spelling only
        except MerkleLogError:
            return _missing()
        cache = IMMUTABLE if width == TILE_WIDTH else PARTIAL
        return _file(directory / "tile" / path, "application/octet-stream", cache)

    return router


def _file(path: Path, media_type: str, cache: str) -> Response:
    try:
        content = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return _missing()
    return Response(content, media_type=media_type, headers={"Cache-Control": cache})


def _missing() -> Response:
    return Response(
        b"not found\n",
        status_code=404,
        media_type="text/plain",
        headers={"Cache-Control": "no-cache"},
    )
