"""The log as C2SP tlog-tiles (c2sp.org/tlog-tiles): tile paths, hash tiles, entry bundles,
and roots and proofs computed from tiles alone, given any function that fetches a tile path.

Pure: the ledger writes tiles with these paths, and the kiosk, ``ledger verify-proof`` or any
observer reads them over HTTP or from a directory through the fetcher they pass in. Tiles come
from anyone: a proof computed from bad tiles simply fails to verify against a signed root.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from kiosk.core.errors import HanpyoError, VerificationError
from kiosk.core.merkle import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    MerkleLog,
    MerkleLogError,
    leaf_hash,
    node_hash,
)

TILE_HEIGHT = 8  # tlog-tiles "Merkle Tree": every tile is a subtree of height 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes in a full tile (8,192 bytes)
MAX_LEVEL = 63  # "<L> ... MUST be a decimal ASCII integer between 0 and 63"
MAX_ENTRY_BYTES = 0xFFFF  # "Log entries": each entry has a big-endian uint16 length prefix
ENTRIES = "entries"

# tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]; N as x001/x234/067 ("Merkle Tree")
_TILE_PATH = re.compile(
    r"tile/(?P<level>0|[1-9][0-9]?|entries)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)

TileFetcher = Callable[[str], bytes]


class TileNotFound(HanpyoError):
    """A fetcher has no resource at this path (an HTTP 404, a missing file)."""


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` for hash tiles, ``tile/entries/<N>[.p/<W>]`` for bundles
    (c2sp.org/tlog-tiles, "Merkle Tree" and "Log entries")."""
    if level != ENTRIES and not (isinstance(level, int) and 0 <= level <= MAX_LEVEL):
        raise MerkleLogError(f"a tile level is 0 to {MAX_LEVEL} or 'entries', not {level!r}")
    if not 1 <= width <= TILE_WIDTH or index < 0:
        raise MerkleLogError(f"no tile of width {width} at index {index}")
    digits = f"{index:d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    name = "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{name}{suffix}"


def parse_tile_path(path: str) -> tuple[int | str, int, int]:
    """(level or 'entries', index, width) of a tile path in its one canonical spelling;
    ``MerkleLogError`` for anything else (it also keeps a server's file reads in the tree)."""
    match = _TILE_PATH.fullmatch(path)
    if match is None:
        raise MerkleLogError(f"not a tile path: {path[:80]!r}")
    level: int | str = match["level"] if match["level"] == ENTRIES else int(match["level"])
    index = int(match["index"].replace("x", "").replace("/", ""))
    width = int(match["width"]) if match["width"] else TILE_WIDTH
    # One spelling only: no extra leading zero groups, no ".p/256", no level past 63.
    if width > TILE_WIDTH or tile_path(level, index, width) != path:
        raise MerkleLogError(f"not the canonical tile path: {path[:80]!r}")
    return level, index, width


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile ``index`` at ``level`` has in the tree of ``size`` leaves: 256, or
    ``floor(size / 256**level) mod 256`` for the rightmost ("Partial Tiles"); 0 if none."""
    count = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - index * TILE_WIDTH))


def tile_hashes(data: bytes, width: int) -> list[bytes]:
    """The ``width`` hashes of a fetched tile, refusing a tile of any other length."""
    if len(data) != width * HASH_SIZE:
        raise VerificationError(
            "a tile has the wrong length",
            expected=f"{width * HASH_SIZE} bytes",
            found=f"{len(data)} bytes",
        )
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry behind its big-endian uint16 length ("Log entries")."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise MerkleLogError(
                f"an entry of {len(entry)} bytes does not fit a tlog-tiles bundle "
                f"(at most {MAX_ENTRY_BYTES})"
            )
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def decode_bundle(data: bytes, width: int) -> list[bytes]:
    """The ``width`` entries of a fetched bundle; ``VerificationError`` if it holds any other
    number or runs short."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise VerificationError("an entry bundle ends inside a length prefix")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise VerificationError("an entry bundle ends inside an entry")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    if len(entries) != width:
        raise VerificationError(
            "an entry bundle has the wrong number of entries",
            expected=str(width),
            found=str(len(entries)),
        )
    return entries


def subtree_root(hashes: Sequence[bytes]) -> bytes:
    """MTH over a power-of-two run of sibling hashes, e.g. a full tile's root."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class TileNodes:
    """A ``merkle.NodeStore`` over the tiles of the tree of ``size`` leaves: node (level,
    index) is hashed up from the run of hashes it covers in one tile ("Note that a tile
    represents the entire subtree of height 8"). Tiles are fetched once each.

    A partial tile missing from the server is read from the full tile that replaced it, as
    the spec allows a log to delete partial tiles ("Partial Tiles").
    """

    def __init__(self, fetch: TileFetcher, size: int) -> None:
        if not 0 <= size <= MAX_TREE_SIZE:
            raise MerkleLogError(f"a tree size is between 0 and 2^64 - 1, not {size}")
        self._fetch, self._size = fetch, size
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def get(self, level: int, index: int) -> bytes:
        tile_level, rise = divmod(level, TILE_HEIGHT)
        first = index << rise  # the node's first hash in its tile's level
        if (first + (1 << rise)) << (TILE_HEIGHT * tile_level) > self._size:
            raise MerkleLogError(f"node ({level}, {index}) is not in a tree of {self._size}")
        hashes = self.tile(tile_level, first >> TILE_HEIGHT)
        offset = first % TILE_WIDTH
        return subtree_root(hashes[offset : offset + (1 << rise)])

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None:
        raise MerkleLogError("a tree read from tiles is read-only")

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile ``index`` at ``level`` as the tree of ``size`` has it."""
        key = (level, index)
        if key not in self._tiles:
            width = tile_width(level, index, self._size)
            if width == 0:
                raise MerkleLogError(f"tile {index} at level {level} is not in the tree")
            self._tiles[key] = self._fetch_tile(level, index, width)
        return self._tiles[key]

    def _fetch_tile(self, level: int, index: int, width: int) -> list[bytes]:
        try:
            return tile_hashes(self._fetch(tile_path(level, index, width)), width)
        except TileNotFound:
            if width == TILE_WIDTH:
                raise
            full = tile_hashes(self._fetch(tile_path(level, index)), TILE_WIDTH)
            return full[:width]


def tree_from_tiles(fetch: TileFetcher, size: int) -> MerkleLog:
    """The tree of ``size`` leaves, read from tiles: its ``root()``, ``inclusion_proof`` and
    ``consistency_proof`` (up to ``size``) are RFC 9162's, computed from tiles alone."""
    return MerkleLog(TileNodes(fetch, size), size)


def entry_from_tiles(fetch: TileFetcher, index: int, size: int) -> bytes:
    """Leaf ``index``'s entry from its bundle in the tree of ``size``, checked against the
    level-0 tile of the same tree (each entry "hashes to the corresponding entry in the
    corresponding level 0 Merkle Tree tile"). Prove that hash with ``tree_from_tiles``."""
    if not 0 <= index < size:
        raise MerkleLogError(f"leaf {index} is not in a tree of {size} leaves")
    bundle, offset = divmod(index, TILE_WIDTH)
    width = tile_width(0, bundle, size)
    try:
        entries = decode_bundle(fetch(tile_path(ENTRIES, bundle, width)), width)
    except TileNotFound:
        if width == TILE_WIDTH:
            raise
        entries = decode_bundle(fetch(tile_path(ENTRIES, bundle)), TILE_WIDTH)
    entry = entries[offset]
    expected = TileNodes(fetch, size).tile(0, bundle)[offset]
    if leaf_hash(entry) != expected:
        raise VerificationError(
            "an entry does not hash to its leaf in the level-0 tile",
            expected=expected.hex(),
            found=leaf_hash(entry).hex(),
        )
    return entry
