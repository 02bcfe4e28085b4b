"""Checking a tracking code from the log's tiles alone (C2SP tlog-tiles): the checkpoint, the
block and its inclusion proof all come from a tiles directory or URL (the ledger's /tiles, a
CDN, a mirror), and nothing is trusted but the log's key and the witnesses' keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import requests

from kiosk.core.block import decode_signed_block, normalise_tracking_code
from kiosk.core.cosignature import CosignerKey, verify_cosigned
from kiosk.core.errors import HanpyoError, VerificationError
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.core.tiles import (
    ENTRIES,
    TileFetcher,
    TileNotFound,
    decode_bundle,
    entry_from_tiles,
    tile_path,
    tile_width,
    tree_from_tiles,
)
from ledger.verify.inclusion_proof import FoundBlock, witness_signers

TIMEOUT = 10
MAX_TILE_BYTES = 64 * 1024 * 1024  # a bundle of 256 entries of at most 64 KiB each, and more


def tiles_fetcher(source: str, session: requests.Session | None = None) -> TileFetcher:
    """Fetch tile paths (and ``checkpoint``) under an http(s) URL prefix or a directory."""
    if source.startswith(("http://", "https://")):
        return _http_fetcher(source.rstrip("/"), session or requests.Session())
    root = Path(source)

    def read(path: str) -> bytes:
        try:
            return (root / path).read_bytes()
        except FileNotFoundError:
            raise TileNotFound(f"no {path} under {root}") from None

    return read


def _http_fetcher(prefix: str, session: requests.Session) -> TileFetcher:
    def get(path: str) -> bytes:
        try:
            with session.get(f"{prefix}/{path}", timeout=TIMEOUT, stream=True) as answer:
                if answer.status_code == 404:
                    raise TileNotFound(f"{prefix}/{path} is not there")
                if answer.status_code != 200:
                    raise HanpyoError(f"{prefix}/{path} answered {answer.status_code}")
                # At most the limit, decoded: entry bundles come gzip-compressed (tlog-tiles
                # "Log entries"), and a small gzip bomb must not fill memory.
                content = _read_limited(answer, MAX_TILE_BYTES)
        except requests.RequestException as e:
            raise HanpyoError(f"cannot fetch {prefix}/{path}: {e}") from e
        if content is None:
            raise VerificationError(f"{prefix}/{path} is larger than any tile")
        return content

    return get


def check_tracking_code_in_tiles(
    fetch: TileFetcher,
    tracking_code: str,
    log_key: str,
    *,
    leaf_index: int | None = None,
    witness_keys: Sequence[str | CosignerKey] = (),
    witness_threshold: int = 0,
) -> FoundBlock:
    """Find ``tracking_code`` in the tree of the tiles' checkpoint (at ``leaf_index`` if the
    caller knows it, else by reading every entry bundle) and prove it against that checkpoint,
    which must carry the log's signature and ``witness_threshold`` of ``witness_keys``."""
    wanted = normalise_tracking_code(tracking_code)
    note = fetch("checkpoint").decode("utf-8", "replace")
    checkpoint = verify_cosigned(note, log_key, witness_keys, witness_threshold)
    size = checkpoint.size
    index = leaf_index if leaf_index is not None else _find(fetch, wanted, size)
    if not 0 <= index < size:
        raise VerificationError(
            "the tracking code is not in the witnessed tree",
            expected=f"a leaf below {size}",
            found=str(index),
        )
    entry = entry_from_tiles(fetch, index, size)
    proof = tree_from_tiles(fetch, size).inclusion_proof(index)
    verify_inclusion(leaf_hash(entry), index, size, proof, checkpoint.root)
    block = decode_signed_block(entry)
    if block.tracking_code != wanted:
        raise VerificationError(
            "the leaf holds another block", expected=wanted, found=block.tracking_code
        )
    signers = witness_signers(note, witness_keys)
    return FoundBlock(
        block.block.kiosk, block.block.height, index, size, block.tracking_code, signers
    )


def _find(fetch: TileFetcher, wanted: str, size: int) -> int:
    """The leaf whose block has ``wanted`` as its tracking code, read bundle by bundle."""
    for bundle in range((size + 255) // 256):
        width = tile_width(0, bundle, size)
        try:
            entries = decode_bundle(fetch(tile_path(ENTRIES, bundle, width)), width)
        except TileNotFound:
            entries = decode_bundle(fetch(tile_path(ENTRIES, bundle)), 256)[:width]
        for offset, entry in enumerate(entries):
            if decode_signed_block(entry).tracking_code == wanted:
                return bundle * 256 + offset
    raise VerificationError(f"no block in the log's {size} entries has tracking code {wanted}")


def _read_limited(answer: requests.Response, limit: int) -> bytes | None:
    """The decoded body, or None once it passes ``limit`` bytes (read a chunk at a time, so
    that a small gzip bomb is stopped at the limit, never held whole)."""
    content = bytearray()
    for chunk in answer.iter_content(64 * 1024):
        content += chunk
        if len(content) > limit:
            return None
    return bytes(content)
