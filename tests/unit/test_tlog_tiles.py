"""C2SP tlog-tiles as the spec words it: tile paths, the tiles a tree of a given size has, and
the writer's promises (incremental, full tiles never rewritten, the checkpoint only over tiles
that hash to its root)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.core.checkpoint import sign_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.errors import VerificationError
from kiosk.core.merkle import MemoryNodeStore, MerkleLog, MerkleLogError, leaf_hash
from kiosk.core.tiles import (
    TileNotFound,
    decode_bundle,
    encode_bundle,
    entry_from_tiles,
    parse_tile_path,
    tile_path,
    tree_from_tiles,
)
from ledger.publish.tiles import TileWriteError, write_tiles

KEY = SigningKey(bytes(range(32)))
ENTRIES = [f"entry {i} ".encode() * (1 + i % 5) for i in range(70_000)]
HASHES = [leaf_hash(e) for e in ENTRIES]


def publish(directory: Path, size: int, log: MerkleLog | None = None) -> None:
    log = log or MerkleLog(MemoryNodeStore())
    log.append(HASHES[log.size : size])
    note = sign_checkpoint("test.example/log", size, log.root(), "test.example/log", KEY)
    write_tiles(directory, lambda a, b: HASHES[a:b], lambda a, b: ENTRIES[a:b], size, note)


def fetcher(directory: Path) -> Callable[[str], bytes]:
    def fetch(path: str) -> bytes:
        try:
            return (directory / path).read_bytes()
        except FileNotFoundError:
            raise TileNotFound(path) from None

    return fetch


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_tile_paths_are_the_specs() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 0, 17) == "tile/1/000.p/17"
    assert tile_path("entries", 273, 112) == "tile/entries/273.p/112"
    assert parse_tile_path("tile/2/x001/000.p/1") == (2, 1000, 1)
    for bad in ("tile/0/x000/001", "tile/0/001.p/256", "tile/64/000", "tile/0/1", "tile/00/000"):
        with pytest.raises(MerkleLogError):
            parse_tile_path(bad)


def test_a_tree_of_70000_has_the_tiles_the_spec_lists(tmp_path: Path) -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    # tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    # partial level 2 tile of width 1"
    publish(tmp_path, 70_000)
    level = {n: files_under(tmp_path / "tile" / n) for n in ("0", "1", "2")}
    assert len(level["0"]) == 274 and "273.p/112" in level["0"]
    assert level["1"] == ["000", "001.p/17"]
    assert level["2"] == ["000.p/1"]
    assert not (tmp_path / "tile" / "3").exists()


def test_growing_in_steps_gives_the_trees_proofs_and_entries(tmp_path: Path) -> None:
    log, rng = MerkleLog(MemoryNodeStore()), random.Random(7)
    sizes = [0, 1, 255, 256, 257, 511, 513, 65_536, 65_537]
    sizes += sorted(rng.sample(range(65_538, 70_000), 3))
    for size in sizes:
        publish(tmp_path, size, log)
        tree = tree_from_tiles(fetcher(tmp_path), size)
        assert tree.root() == log.root()
        for leaf in {0, size // 3, size - 1} if size else set():
            assert tree.inclusion_proof(leaf) == log.inclusion_proof(leaf)
            assert entry_from_tiles(fetcher(tmp_path), leaf, size) == ENTRIES[leaf]
        for old in {1, size // 2, size - 1} if size > 1 else set():
            assert tree.consistency_proof(old) == log.consistency_proof(old, size)


def test_a_full_tile_is_never_rewritten_and_a_different_one_is_refused(tmp_path: Path) -> None:
    publish(tmp_path, 300)
    full = tmp_path / tile_path(0, 0)
    before = full.stat()
    publish(tmp_path, 600)
    assert (full.stat().st_ino, full.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Another tree with the same first 600 leaves but one: its full tile 1 differs.
    other = [*HASHES[:300], leaf_hash(b"another entry"), *HASHES[301:]]
    entries = [*ENTRIES[:300], b"another entry", *ENTRIES[301:]]
    log = MerkleLog(MemoryNodeStore())
    log.append(other[:800])
    note = sign_checkpoint("test.example/log", 800, log.root(), "test.example/log", KEY)
    (tmp_path / "checkpoint").write_text(  # pretend the directory was at 256
        sign_checkpoint("test.example/log", 256, log.root(256), "test.example/log", KEY)
    )
    with pytest.raises(TileWriteError, match="different full tile"):
        write_tiles(tmp_path, lambda a, b: other[a:b], lambda a, b: entries[a:b], 800, note)


def test_the_log_cannot_shrink_and_a_wrong_root_is_not_published(tmp_path: Path) -> None:
    publish(tmp_path, 500)
    published = (tmp_path / "checkpoint").read_text()
    log = MerkleLog(MemoryNodeStore())
    log.append(HASHES[:400])
    smaller = sign_checkpoint("test.example/log", 400, log.root(), "test.example/log", KEY)
    with pytest.raises(TileWriteError, match="never shrinks"):
        write_tiles(tmp_path, lambda a, b: HASHES[a:b], lambda a, b: ENTRIES[a:b], 400, smaller)
    wrong = sign_checkpoint("test.example/log", 600, log.root(), "test.example/log", KEY)
    with pytest.raises(TileWriteError, match="not published"):
        write_tiles(tmp_path, lambda a, b: HASHES[a:b], lambda a, b: ENTRIES[a:b], 600, wrong)
    assert (tmp_path / "checkpoint").read_text() == published


def test_an_entry_that_does_not_hash_to_its_leaf_is_refused(tmp_path: Path) -> None:
    log = MerkleLog(MemoryNodeStore())
    log.append(HASHES[:10])
    note = sign_checkpoint("test.example/log", 10, log.root(), "test.example/log", KEY)
    lying = [*ENTRIES[:5], b"not entry 5", *ENTRIES[6:10]]
    with pytest.raises(TileWriteError, match="entry 5 does not hash"):
        write_tiles(tmp_path, lambda a, b: HASHES[a:b], lambda a, b: lying[a:b], 10, note)
    assert not (tmp_path / "checkpoint").exists()


def test_bundles_are_length_prefixed_and_checked() -> None:
    bundle = encode_bundle([b"a", b"", b"xyz"])
    assert bundle == b"\x00\x01a\x00\x00\x00\x03xyz"
    assert decode_bundle(bundle, 3) == [b"a", b"", b"xyz"]
    for bad, width in ((bundle, 2), (bundle[:-1], 3), (bundle + b"\x00", 4)):
        with pytest.raises(VerificationError):
            decode_bundle(bad, width)
    with pytest.raises(MerkleLogError, match="does not fit"):
        encode_bundle([b"x" * 65_536])
