"""Entry bundles served gzip-compressed to clients that accept it (c2sp.org/tlog-tiles, "Log
entries": "Entry bundles SHOULD be compressed at the HTTP layer"), by a real `ledger serve
--tiles-dir` on loopback; identity to clients that do not, and hash tiles as they are."""

from __future__ import annotations

import gzip
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.tiles import decode_bundle, entry_from_tiles, tile_path
from ledger.verify.tiles_proof import tiles_fetcher
from ledger.web.tiles_routes import accepts_gzip
from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer
from testkit.log_growth import grow, new_kiosk


@dataclass(frozen=True)
class Wire:
    status_code: int
    headers: Mapping[str, str]
    content: bytes  # exactly as sent, not decoded by requests


def raw_get(url: str, accept: str) -> Wire:
    answer = requests.get(url, headers={"Accept-Encoding": accept}, stream=True, timeout=10)
    return Wire(answer.status_code, answer.headers, answer.raw.read(decode_content=False))


def test_entry_bundles_go_out_gzipped_to_clients_that_accept_gzip(
    tmp_path: Path, election: SyntheticElection
) -> None:
    tiles = tmp_path / "tiles"
    server = LedgerServer(tmp_path / "ledger", election, serve_args=["--tiles-dir", str(tiles)])
    with server:
        writer = new_kiosk(server, election, "hall A")
        grow(server, writer, 200)  # 402 entries: one full bundle and a partial one of 146
        deadline = time.monotonic() + 60
        while not (tiles / "checkpoint").exists() or (
            verify_checkpoint((tiles / "checkpoint").read_text(), server.log_key).size != 402
        ):
            assert time.monotonic() < deadline, "the tiles never reached 402 entries"
            time.sleep(0.1)
        base = f"{server.url}/tiles"
        for path, width in ((tile_path("entries", 0), 256), (tile_path("entries", 1, 146), 146)):
            on_disk = (tiles / path).read_bytes()
            packed = raw_get(f"{base}/{path}", "gzip, identity")
            assert packed.status_code == 200
            assert packed.headers["Content-Encoding"] == "gzip"
            assert packed.headers["Vary"] == "Accept-Encoding"
            assert gzip.decompress(packed.content) == on_disk
            assert len(packed.content) < len(on_disk) / 2  # signed JSON blocks compress well
            assert len(decode_bundle(gzip.decompress(packed.content), width)) == width
            for accept in ("identity", "gzip;q=0, identity", ""):
                plain = raw_get(f"{base}/{path}", accept)
                assert "Content-Encoding" not in plain.headers, accept
                assert plain.content == on_disk
        # The full bundle's compressed copy was written once, beside it, when it was
        # published (the name static servers use); a partial one has none.
        full = tiles / tile_path("entries", 0)
        packed_once = full.with_name(full.name + ".gz").read_bytes()
        assert raw_get(f"{base}/{tile_path('entries', 0)}", "gzip").content == packed_once
        partial = tiles / tile_path("entries", 1, 146)
        assert not partial.with_name(partial.name + ".gz").exists()
        hashes = raw_get(f"{base}/{tile_path(0, 0)}", "gzip")
        assert "Content-Encoding" not in hashes.headers  # SHA-256 output does not compress
        assert hashes.content == (tiles / tile_path(0, 0)).read_bytes()
        # A client reading the tiles over HTTP (requests asks for gzip) sees the same entries.
        fetch = tiles_fetcher(base)
        assert entry_from_tiles(fetch, 300, 402) == writer.blocks[300].encode()


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("identity;q=1, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("identity", False),
        ("br", False),
        (None, False),
        ("gzip;q=zero", False),
    ],
)
def test_which_accept_encoding_headers_take_gzip(header: str | None, takes: bool) -> None:
    assert accepts_gzip(header) is takes
