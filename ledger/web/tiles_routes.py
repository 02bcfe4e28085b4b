"""The tiles directory served by the ledger itself under ``/tiles/`` (C2SP tlog-tiles paths),
with the cache headers the spec asks for: full tiles and bundles never change, partial ones
may be deleted once full, and the checkpoint changes every round. A CDN or any static web
server can serve the same directory instead, with the same rules.

Entry bundles go out gzip-compressed to a client whose Accept-Encoding takes gzip, as
tlog-tiles "Log entries" asks ("Entry bundles SHOULD be compressed at the HTTP layer. Logs MAY
use Content-Encoding: gzip with no negotiation, or any compression algorithm requested by the
client with Accept-Encoding"): negotiated here, so a client that asks for identity still gets
the bundle. Hash tiles are SHA-256 output, which does not compress, so they go out as they are.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiosk.core.merkle import MerkleLogError
from kiosk.core.tiles import ENTRIES, TILE_WIDTH, parse_tile_path
from ledger.publish.tiles import gzipped_path

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
    def tile(path: str, request: Request) -> Response:
        try:
            level, _, width = parse_tile_path(f"tile/{path}")  # the one canonical spelling only
        except MerkleLogError:
            return _missing()
        full = width == TILE_WIDTH
        cache = IMMUTABLE if full else PARTIAL
        file = directory / "tile" / path
        if level != ENTRIES:
            return _file(file, "application/octet-stream", cache)
        return _bundle(file, cache, full, accepts_gzip(request.headers.get("accept-encoding")))

    return router


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 section 12.5.3): named, or
    covered by ``*``, with a q-value above 0."""
    if not header:
        return False
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[coding.strip().lower()] = q
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _bundle(path: Path, cache: str, full: bool, gzipped: bool) -> Response:
    try:
        if gzipped and full:
            # A full bundle never changes: its compressed copy was written beside it when it
            # was published (ledger/publish/tiles.py); one written before that is compressed
            # once and kept (bounded). A partial one is compressed each time it is asked for.
            content = _gzipped_full_bundle(str(path))
        else:
            content = path.read_bytes()
            content = _gzip(content) if gzipped else content
    except (FileNotFoundError, NotADirectoryError):
        return _missing()
    # Caches must keep the two encodings apart.
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(content, media_type="application/octet-stream", headers=headers)


def _gzip(content: bytes) -> bytes:
    # mtime=0: the same bundle always compresses to the same bytes (cacheable, comparable).
    return gzip.compress(content, compresslevel=6, mtime=0)


@lru_cache(maxsize=64)
def _compressed_once(path: str) -> bytes:
    return _gzip(Path(path).read_bytes())


def _gzipped_full_bundle(path: str) -> bytes:
    try:
        return gzipped_path(Path(path)).read_bytes()
    except FileNotFoundError:
        return _compressed_once(path)


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
