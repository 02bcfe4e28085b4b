"""The log as C2SP tlog-tiles: `ledger tiles publish` writes them from a real ledger's database,
`ledger serve` serves them with their cache headers, and proofs computed from the tiles alone
agree with the ledger's own and check a tracking code with `ledger verify-proof --tiles`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from kiosk.core.block import decode_signed_block
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.encoding import b64d
from kiosk.core.merkle import leaf_hash
from kiosk.core.tiles import (
    ENTRIES,
    TILE_WIDTH,
    decode_bundle,
    entry_from_tiles,
    tile_hashes,
    tile_path,
    tree_from_tiles,
)
from kiosk.sync.errors import LedgerUnreachable
from kiosk.sync.tile_proofs import TileProofs
from ledger.verify.tiles_proof import tiles_fetcher
from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer, ledger_cli
from testkit.log_growth import grow, new_kiosk


def publish(server: LedgerServer, tiles: Path) -> None:
    done = server.cli("tiles", "publish", "--dir", str(tiles))
    assert done.returncode == 0, done.stderr


def log_size(server: LedgerServer) -> int:
    note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
    return verify_checkpoint(note, server.log_key).size


def test_tiles_are_published_served_and_prove_what_the_ledger_proves(
    tmp_path: Path, election: SyntheticElection
) -> None:
    data = tmp_path / "ledger"
    tiles = data / "tiles"  # where `ledger serve` looks for them by default
    with LedgerServer(data, election) as server:
        writer = new_kiosk(server, election, "hall A")
        grow(server, writer, 100)  # 202 leaves: one partial level-0 tile
        publish(server, tiles)
        first_size = log_size(server)
        assert first_size == 202
        partial = tiles / tile_path(0, 0, first_size)
        assert partial.stat().st_size == first_size * 32

        grow(server, writer, 200)  # past 256: a full tile, immutable from now on
        publish(server, tiles)
        size = log_size(server)
        assert size == 602
        full = tiles / tile_path(0, 0)
        before = full.stat()
        assert not partial.exists()  # replaced by its full tile, as the spec allows

        # Served under /tiles with the spec's cache headers.
        base = f"{server.url}/tiles"
        got = requests.get(f"{base}/{tile_path(0, 0)}", timeout=10)
        assert got.status_code == 200 and len(got.content) == TILE_WIDTH * 32
        assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert got.headers["Content-Type"] == "application/octet-stream"
        right = requests.get(f"{base}/{tile_path(0, 2, size - 512)}", timeout=10)
        assert right.status_code == 200 and "immutable" not in right.headers["Cache-Control"]
        head = requests.get(f"{base}/checkpoint", timeout=10)
        assert head.headers["Cache-Control"] == "no-cache"
        assert head.text == requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
        for bad in ("tile/0/../../ledger.db", "tile/0/x000/000", "tile/0/000.p/256"):
            assert requests.get(f"{base}/{bad}", timeout=10).status_code == 404

        # Proofs from the tiles alone (over HTTP) are the ledger's own proofs.
        fetch = tiles_fetcher(base)
        tree = tree_from_tiles(fetch, size)
        assert tree.root() == verify_checkpoint(head.text, server.log_key).root
        for leaf in (0, 255, 256, 511, 601):
            ledger = requests.get(
                f"{server.url}/v1/proofs/inclusion",
                params={"leaf_index": leaf, "size": size},
                timeout=10,
            ).json()
            assert tree.inclusion_proof(leaf) == [b64d(h) for h in ledger["proof"]]
            assert entry_from_tiles(fetch, leaf, size) == b64d(ledger["block"])
        consistency = requests.get(
            f"{server.url}/v1/proofs/consistency",
            params={"old": first_size, "new": size},
            timeout=10,
        ).json()
        assert tree.consistency_proof(first_size) == [b64d(h) for h in consistency["proof"]]
        # ... and the old checkpoint's tree is still readable (its partial tile is gone).
        assert tree_from_tiles(fetch, first_size).inclusion_proof(7) == tree.inclusion_proof(
            7, first_size
        )

        # The kiosk's sync gets the same answers from the tiles as from the ledger.
        kiosk_side = TileProofs(base)
        batch = requests.get(
            f"{server.url}/v1/proofs/inclusion-range",
            params={"first": 250, "count": 20, "size": size},
            timeout=10,
        ).json()
        assert kiosk_side.inclusion_range(250, 20, size) == [
            [b64d(h) for h in proof] for proof in batch["proofs"]
        ]
        assert kiosk_side.consistency(first_size, size) == tree.consistency_proof(first_size)
        with pytest.raises(LedgerUnreachable, match="missing"):
            kiosk_side.inclusion_range(0, 1, size + 1)  # no checkpoint, so no such tiles

        # Each bundle's entries hash to the leaves of its level-0 tile.
        bundle = decode_bundle((tiles / tile_path(ENTRIES, 1)).read_bytes(), TILE_WIDTH)
        assert [leaf_hash(e) for e in bundle] == tile_hashes(
            full.with_name("001").read_bytes(), 256
        )

        # Publishing again with nothing new rewrites no full tile.
        publish(server, tiles)
        after = full.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

        # verify-proof from the tiles alone: over HTTP and from a copied directory.
        code = decode_signed_block(writer.blocks[300].encode()).tracking_code
        for source in (base, str(tiles)):
            done = ledger_cli(
                "verify-proof", "--tiles", source, "--tracking-code", code,
                "--log-key", server.log_key, data=None,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "at position 300 of the log" in done.stdout


def test_verify_proof_refuses_tiles_that_were_tampered_with(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        writer = new_kiosk(server, election, "hall A")
        grow(server, writer, 150)
        publish(server, tmp_path / "ledger" / "tiles")
        code = decode_signed_block(writer.blocks[40].encode()).tracking_code
        forged = tmp_path / "forged"
        shutil.copytree(tmp_path / "ledger" / "tiles", forged)
        # A neighbour's leaf hash changed in the level-0 tile: the proof no longer leads to
        # the signed root, whatever the bundle says.
        level0 = forged / tile_path(0, 0)  # full: the log has 302 leaves
        raw = bytearray(level0.read_bytes())
        raw[41 * 32] ^= 1
        level0.write_bytes(bytes(raw))
        done = ledger_cli(
            "verify-proof", "--tiles", str(forged), "--tracking-code", code,
            "--leaf-index", "40", "--log-key", server.log_key, data=None,
        )  # fmt: skip
        assert done.returncode == 2
        assert "does not lead to the root" in done.stderr
