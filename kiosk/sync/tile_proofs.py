"""Proofs for the kiosk's sync from the log's tiles (C2SP tlog-tiles) instead of the ledger's
proof endpoints: the same two questions the worker asks (the inclusion proofs of an uploaded
batch, the consistency of a new checkpoint with the last one trusted), answered from static
tiles that a CDN or a mirror can serve while the ledger is busy or down.

The tiles are not trusted: the worker checks every proof against a signed checkpoint, exactly
as it checks the ledger's. Not wired into the worker yet: it takes ``TileProofs`` wherever it
takes the client's ``inclusion_range`` and ``consistency``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import requests

from kiosk.core.errors import VerificationError
from kiosk.core.merkle import MerkleLogError
from kiosk.core.tiles import TileNotFound, tree_from_tiles
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
            answer = self._session.get(f"{self._prefix}/{path}", timeout=TIMEOUT)
        except requests.RequestException as e:
            raise LedgerUnreachable(f"cannot fetch {path}: {e}") from e
        if answer.status_code == 404:
            raise TileNotFound(f"{self._prefix}/{path} is not there")
        if answer.status_code != 200 or len(answer.content) > MAX_TILE_BYTES:
            raise LedgerUnreachable(f"{path} answered {answer.status_code}")
        return answer.content

    def inclusion_range(self, first: int, count: int, size: int) -> list[list[bytes]]:
        """The inclusion proofs of leaves ``first .. first + count - 1`` in the tree of
        ``size`` (a size a signed checkpoint names)."""
        tree = tree_from_tiles(self.fetch, size)
        return [_proved(partial(tree.inclusion_proof, i)) for i in range(first, first + count)]

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of ``old`` leaves to the tree of ``new``."""
        return _proved(partial(tree_from_tiles(self.fetch, new).consistency_proof, old))


def _proved(make: Callable[[], list[bytes]]) -> list[bytes]:
    try:
        return make()
    except TileNotFound as e:
        raise LedgerUnreachable(f"a tile the proof needs is missing: {e}") from e
    except (VerificationError, MerkleLogError) as e:
        raise UntrustedLedger(f"the log's tiles are malformed: {e}") from e
