"""Writing the log as C2SP tlog-tiles into a directory that any web server, CDN or object
store can serve: hash tiles, entry bundles and the checkpoint (c2sp.org/tlog-tiles).

Incremental: each call writes only the tiles the tree grew into since the checkpoint already in
the directory (the new full tiles and the rightmost partial ones). Every file is written under a
temporary name and renamed into place; full tiles are immutable and never rewritten; the
checkpoint goes last, after the tiles it needs, and only once the tiles hash to its root.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.checkpoint import Checkpoint, parse_checkpoint
from kiosk.core.errors import HanpyoError, VerificationError
from kiosk.core.merkle import HASH_SIZE, leaf_hash
from kiosk.core.tiles import (
    ENTRIES,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileNotFound,
    decode_bundle,
    encode_bundle,
    subtree_root,
    tile_hashes,
    tile_path,
    tree_from_tiles,
)

CHECKPOINT = "checkpoint"
CHUNK = 256 * TILE_WIDTH  # leaves per step: whole level-0 tiles, 2 MiB of hashes

# [start, end) of the log, in leaf order
LeafHashReader = Callable[[int, int], Sequence[bytes]]
EntryReader = Callable[[int, int], Sequence[bytes]]


class TileWriteError(HanpyoError):
    """The tiles directory cannot take this checkpoint: the log shrank, or a full tile
    already there differs from the tree (it would mean two different trees)."""


@dataclass(frozen=True, slots=True)
class TilesWritten:
    previous_size: int
    size: int
    files: int  # tiles and bundles written this time (the checkpoint not counted)


def published_size(directory: Path) -> int:
    """The size of the checkpoint already in ``directory`` (0 when there is none)."""
    path = directory / CHECKPOINT
    if not path.exists():
        return 0
    return checkpoint_of(path.read_text("utf-8")).size


def checkpoint_of(note: str) -> Checkpoint:
    """The checkpoint text of a signed note, unverified: the writer only reads its own."""
    text, blank, _ = note.partition("\n\n")
    if not blank:
        raise VerificationError("a signed checkpoint has a blank line before its signatures")
    return parse_checkpoint(text + "\n")


def write_tiles(
    directory: Path,
    read_leaf_hashes: LeafHashReader,
    read_entries: EntryReader,
    size: int,
    checkpoint: str,
) -> TilesWritten:
    """Bring ``directory`` to the tree of ``size`` leaves and publish ``checkpoint`` (the
    signed note for that tree, with any cosignatures) as its ``checkpoint`` file.

    ``read_leaf_hashes(start, end)`` and ``read_entries(start, end)`` give the log's leaf
    hashes and entries (the bytes each leaf hashes) over ``[start, end)``; only the leaves
    past the directory's last checkpoint are read.
    """
    head = checkpoint_of(checkpoint)
    if head.size != size:
        raise TileWriteError(f"the checkpoint is for size {head.size}, not {size}")
    old = published_size(directory)
    if size < old:
        raise TileWriteError(f"the tiles directory holds size {old}; a log never shrinks to {size}")
    files = 0
    # In steps of at most CHUNK leaves, so a first publication of a large log never holds
    # it all in memory; a step's own partial tiles are the next step's starting point.
    for start in range(old, size, CHUNK):
        files += _extend(directory, read_leaf_hashes, read_entries, start, min(size, start + CHUNK))
    root = tree_from_tiles(_directory_fetcher(directory), size).root()
    if root != head.root:
        raise TileWriteError(
            f"the tiles give root {root.hex()} for size {size}; the checkpoint says "
            f"{head.root.hex()}: not published"
        )
    _write_atomically(directory / CHECKPOINT, checkpoint.encode())
    return TilesWritten(old, size, files)


def _extend(
    directory: Path,
    read_leaf_hashes: LeafHashReader,
    read_entries: EntryReader,
    old: int,
    size: int,
) -> int:
    """Write the tiles and bundles for leaves ``old .. size - 1``, level by level."""
    hashes = _new_leaf_hashes(read_leaf_hashes, old, size)
    entries = list(read_entries(old, size))
    if len(entries) != size - old:
        raise TileWriteError(f"the log gave {len(entries)} entries for {size - old} leaves")
    check_entries(hashes, entries, old)
    files = _write_bundles(directory, entries, old)
    level, count, old_count = 0, size, old
    while count:
        files += _write_level(directory, level, old_count, count, hashes)
        hashes = _full_tile_roots(directory, level, old_count, count)
        level, count, old_count = level + 1, count >> TILE_HEIGHT, old_count >> TILE_HEIGHT
    return files


def _new_leaf_hashes(read_leaf_hashes: LeafHashReader, old: int, size: int) -> list[bytes]:
    hashes = list(read_leaf_hashes(old, size))
    if len(hashes) != size - old or any(len(h) != HASH_SIZE for h in hashes):
        raise TileWriteError(f"the log gave {len(hashes)} leaf hashes for {size - old} leaves")
    return hashes


def _write_level(directory: Path, level: int, old_count: int, count: int, new: list[bytes]) -> int:
    """Write level ``level``'s tiles from the one holding hash ``old_count`` up to ``count``;
    ``new`` are the hashes ``old_count .. count - 1``."""
    first_tile = old_count // TILE_WIDTH
    prefix = _read_partial(directory, level, first_tile, old_count % TILE_WIDTH)
    items = [*prefix, *new]
    return _write_run(directory, level, first_tile, items, lambda chunk: b"".join(chunk))


def _full_tile_roots(directory: Path, level: int, old_count: int, count: int) -> list[bytes]:
    """The hashes level ``level + 1`` gains: the roots of the full tiles at ``level`` that this
    round completed (tiles from ``old_count // 256`` on, read back from the directory)."""
    first, end = old_count >> TILE_HEIGHT, count >> TILE_HEIGHT
    fetch = _directory_fetcher(directory)
    return [
        subtree_root(tile_hashes(fetch(tile_path(level, n)), TILE_WIDTH)) for n in range(first, end)
    ]


def _write_bundles(directory: Path, new: list[bytes], old: int) -> int:
    first_tile = old // TILE_WIDTH
    prefix = _read_partial(directory, ENTRIES, first_tile, old % TILE_WIDTH)
    return _write_run(directory, ENTRIES, first_tile, [*prefix, *new], encode_bundle)


def _write_run(
    directory: Path,
    level: int | str,
    first_tile: int,
    items: list[bytes],
    encode: Callable[[list[bytes]], bytes],
) -> int:
    """Write ``items`` as the tiles (or bundles) from ``first_tile`` on; the last may be
    partial. A full tile already there must be byte for byte the same: it is never rewritten."""
    written = 0
    for start in range(0, len(items), TILE_WIDTH):
        chunk = items[start : start + TILE_WIDTH]
        index = first_tile + start // TILE_WIDTH
        path = directory / tile_path(level, index, len(chunk))
        data = encode(chunk)
        if len(chunk) == TILE_WIDTH and path.exists():
            if path.read_bytes() != data:
                raise TileWriteError(f"{path} already holds a different full tile: two trees")
            _write_gzipped(path, data, level)
            continue
        _write_atomically(path, data)
        if len(chunk) == TILE_WIDTH:
            _write_gzipped(path, data, level)
        written += 1
        if len(chunk) == TILE_WIDTH:
            # The partial tiles this full one replaces may go ("Partial Tiles"); readers
            # fall back to the full tile. Keeps at most 255 partial files per level.
            shutil.rmtree(path.with_name(path.name + ".p"), ignore_errors=True)
    return written


def gzipped_path(path: Path) -> Path:
    """Where a full entry bundle's gzip-compressed copy lives: ``<bundle>.gz`` beside it, the
    name static servers serve precompressed files under (nginx ``gzip_static``, Caddy's
    ``precompressed``)."""
    return path.with_name(path.name + ".gz")


def _write_gzipped(path: Path, data: bytes, level: int | str) -> None:
    """A full entry bundle's compressed copy, made once: tlog-tiles "Log entries" says entry
    bundles SHOULD be compressed at the HTTP layer, and a full bundle never changes. Partial
    bundles are short-lived and compressed when served (ledger/web/tiles_routes.py). Level 1:
    a bundle of 256 v2 ballot blocks (hex points and scalars) compresses to 54% of its size at
    level 1 and 52% at level 6, and level 1 takes a third of the time (68 against 192 ms a
    thousand blocks, which the ledger host pays beside its ingest)."""
    target = gzipped_path(path)
    if level == ENTRIES and not target.exists():
        _write_atomically(target, gzip.compress(data, compresslevel=1, mtime=0))


def _read_partial(directory: Path, level: int | str, index: int, width: int) -> list[bytes]:
    """The ``width`` items the rightmost tile of the previous checkpoint already held."""
    if width == 0:
        return []
    path = directory / tile_path(level, index, width)
    full = directory / tile_path(level, index)
    if path.exists():
        data, count = path.read_bytes(), width
    elif full.exists():  # a round that wrote the full tile died before its checkpoint
        data, count = full.read_bytes(), TILE_WIDTH
    else:
        raise TileWriteError(
            f"{path} is missing: the tiles directory does not match its own checkpoint"
        )
    items = decode_bundle(data, count) if level == ENTRIES else tile_hashes(data, count)
    return items[:width]


def _directory_fetcher(directory: Path) -> Callable[[str], bytes]:
    def fetch(path: str) -> bytes:
        try:
            return (directory / path).read_bytes()
        except FileNotFoundError:
            raise TileNotFound(f"no {path} in {directory}") from None

    return fetch


def check_entries(hashes: Sequence[bytes], entries: Sequence[bytes], first: int) -> None:
    """Each entry must hash to its leaf: the bundles and the level-0 tiles tell one story."""
    for i, (h, entry) in enumerate(zip(hashes, entries, strict=True)):
        if leaf_hash(entry) != h:
            raise TileWriteError(f"entry {first + i} does not hash to its leaf in the log")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, then rename over ``path``: a
    reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # served to everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
