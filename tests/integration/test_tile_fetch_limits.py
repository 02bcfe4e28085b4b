"""A hostile tile source (a mirror or CDN anyone can run) answering with a gzip bomb: entry
bundles come gzip-compressed (tlog-tiles "Log entries"), so clients decode them, and must stop
at the largest tile there can be instead of inflating the whole answer. A real HTTP server on
loopback plays the hostile source."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kiosk.core.errors import VerificationError
from kiosk.sync.errors import LedgerUnreachable
from kiosk.sync.tile_proofs import MAX_TILE_BYTES, TileProofs
from ledger.verify.tiles_proof import tiles_fetcher


def gzip_bomb(inflated: int) -> bytes:
    """``inflated`` zero bytes, gzip-compressed (about a thousandth of the size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    block = b"\0" * (1 << 20)
    parts = [packer.compress(block) for _ in range(inflated >> 20)]
    return b"".join([*parts, packer.flush()])


BOMB = gzip_bomb(MAX_TILE_BYTES + (8 << 20))


class Bomb(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(BOMB)))
        self.end_headers()
        self.wfile.write(BOMB)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tiles"
    finally:
        server.shutdown()
        server.server_close()


def test_a_gzip_bomb_from_a_tile_source_is_refused_at_the_largest_tile(hostile: str) -> None:
    assert len(BOMB) < MAX_TILE_BYTES // 100  # small on the wire, too large once inflated
    kiosk_side = TileProofs(hostile)
    with pytest.raises(LedgerUnreachable, match="larger than any tile"):
        kiosk_side.fetch("tile/entries/000")
    with pytest.raises(LedgerUnreachable, match="larger than any tile"):
        kiosk_side.checkpoint()
    with pytest.raises(VerificationError, match="larger than any tile"):
        tiles_fetcher(hostile)("tile/entries/000")
