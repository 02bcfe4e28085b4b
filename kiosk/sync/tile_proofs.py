"""Proofs for the kiosk's sync from the log's tiles (C2SP tlog-tiles) instead of the ledger's
proof endpoints: the same two questions the worker asks (the inclusion proofs of an uploaded
batch, the consistency of a new checkpoint with the last one trusted), answered from static
tiles that a CDN or a mirror can serve while the ledger is busy or down.

The tiles are not trusted: the worker checks the checkpoint they carry (the log's signature
and, in a witnessed election, the witnesses' cosignatures) and every proof against it, exactly
as it checks the ledger's; a tile source that fails a check is set aside for the ledger's own
endpoints, never taken as evidence against the ledger (kiosk/sync/worker.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import requests

from kiosk.core.errors import VerificationError
from kiosk.core.merkle import MerkleLog, MerkleLogError, node_hash
from kiosk.core.tiles import TILE_HEIGHT, TileNodes, TileNotFound, tree_from_tiles
from kiosk.sync.errors import LedgerUnreachable, UntrustedLedger

TIMEOUT = 10
MAX_TILE_BYTES = 64 * 1024 * 1024


class TileProofs:
    """Inclusion and consistency proofs computed from the tiles under ``tiles_url`` (the
    ledger's ``<url>/tiles``, or any copy of it)."""

    def __init__(self, tiles_url: str, session: requests.Session | None = None) -> None:
        self._prefix = tiles_url.rstrip("/")
        self._session = session or requests.Session()

    def fetch(self, path: str) -> bytes:
        try:
            with self._session.get(
                f"{self._prefix}/{path}", timeout=TIMEOUT, stream=True
            ) as answer:
                if answer.status_code == 404:
                    raise TileNotFound(f"{self._prefix}/{path} is not there")
                if answer.status_code != 200:
                    raise LedgerUnreachable(f"{path} answered {answer.status_code}")
                # Bundles come gzip-compressed (tlog-tiles "Log entries"): read at most the
                # limit, decoded, so that a tile source's small gzip bomb cannot fill memory.
                content = _read_limited(answer, MAX_TILE_BYTES)
        except requests.RequestException as e:
            raise LedgerUnreachable(f"cannot fetch {path}: {e}") from e
        if content is None:
            raise LedgerUnreachable(f"{path} is larger than any tile ({MAX_TILE_BYTES} bytes)")
        return content

    def checkpoint(self) -> str:
        """The checkpoint the tiles are published with (tlog-tiles "Checkpoints": the
        ``checkpoint`` file beside ``tile/``); ``LedgerUnreachable`` if there is none."""
        try:
            text = self.fetch("checkpoint").decode("utf-8")
        except TileNotFound as e:
            raise LedgerUnreachable(f"no checkpoint is published beside the tiles: {e}") from e
        except UnicodeDecodeError as e:
            raise LedgerUnreachable(f"the tiles' checkpoint is not text: {e}") from e
        if "\n\n" not in text or not text.endswith("\n"):
            raise LedgerUnreachable(f"the tiles' checkpoint arrived incomplete ({len(text)} bytes)")
        return text

    @property
    def url(self) -> str:
        return self._prefix

    def inclusion_range(self, first: int, count: int, size: int) -> list[list[bytes]]:
        """The inclusion proofs of leaves ``first .. first + count - 1`` in the tree of
        ``size`` (a size a signed checkpoint names)."""
        return self.inclusion_proofs(range(first, first + count), size)

    def inclusion_proofs(self, leaves: Iterable[int], size: int) -> list[list[bytes]]:
        """The inclusion proofs of ``leaves`` in the tree of ``size``, from one read of the
        tiles: each tile is fetched once and each node hashed once, however many proofs
        share it (a catch-up proves thousands of neighbouring leaves at once)."""
        tree = MerkleLog(_HashedOnce(TileNodes(self.fetch, size)), size)
        return [_proved(partial(tree.inclusion_proof, i, None)) for i in leaves]

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of ``old`` leaves to the tree of ``new``."""
        return _proved(partial(tree_from_tiles(self.fetch, new).consistency_proof, old))


class _HashedOnce:
    """A read-only ``merkle.NodeStore`` over tiles that keeps every node it computes: a node
    inside a tile is hashed from its two children (RFC 9162 section 2.1.1), which are kept
    too, instead of from the whole run of tile hashes it covers each time it is asked for."""

    def __init__(self, tiles: TileNodes) -> None:
        self._tiles = tiles
        self._known: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        key = (level, index)
        found = self._known.get(key)
        if found is None:
            if level % TILE_HEIGHT == 0:  # stored in a tile as it is
                found = self._tiles.get(level, index)
            else:
                found = node_hash(
                    self.get(level - 1, 2 * index), self.get(level - 1, 2 * index + 1)
                )
            self._known[key] = found
        return found

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None:
        raise MerkleLogError("a tree read from tiles is read-only")


def _proved(make: Callable[[], list[bytes]]) -> list[bytes]:
    try:
        return make()
    except TileNotFound as e:
        raise LedgerUnreachable(f"a tile the proof needs is missing: {e}") from e
    except (VerificationError, MerkleLogError) as e:
        raise UntrustedLedger(f"the log's tiles are malformed: {e}") from e


def _read_limited(answer: requests.Response, limit: int) -> bytes | None:
    """The decoded body, or None once it passes ``limit`` bytes (read a chunk at a time, so
    that a small gzip bomb is stopped at the limit, never held whole)."""
    content = bytearray()
    for chunk in answer.iter_content(64 * 1024):
        content += chunk
        if len(content) > limit:
            return None
    return bytes(content)
