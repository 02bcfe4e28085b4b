"""`ledger verify-chain`: check one kiosk's chain file offline, as `kiosk export` wrote it or as
a bare chain (one signed block per line), and say whether the file may have been cut.

An export file starts with a manifest the kiosk signed, naming its blocks' heights and their
digest: a file cut at any point, even between two lines, fails here. A bare chain has no such
line, so a copy cut at a line boundary still verifies as a shorter chain; the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.core.block import BlockKind, SignedBlock, body_bytes, decode_signed_block
from kiosk.core.chain import ChainState, verify_chain
from kiosk.core.errors import BlockError, HanpyoError
from kiosk.core.export import (
    ExportError,
    Manifest,
    check_listed_blocks,
    read_manifest,
    split_chain_file,
    verify_export,
)


class ChainFileError(HanpyoError):
    """The file is not a whole, valid chain; the message says what is wrong and where."""


@dataclass(frozen=True, slots=True)
class ChainFileReport:
    state: ChainState
    manifest: Manifest | None
    warnings: list[str] = field(default_factory=list)


def verify_chain_file(data: bytes) -> ChainFileReport:
    """Verify the chain in ``data`` from its genesis block; raise ``ChainFileError`` naming the
    first problem (a cut file, a manifest that does not match, a block that fails)."""
    chain_file = split_chain_file(data)
    if chain_file.manifest_line is not None and not chain_file.block_lines:
        raise ChainFileError("the file holds its export manifest and no block: it was cut")
    if not chain_file.block_lines:
        raise ChainFileError("the file holds no block")
    first_line = 1 + (chain_file.manifest_line is not None)  # of the first block
    last_line = first_line + len(chain_file.block_lines) - 1
    if not chain_file.ends_cleanly and chain_file.manifest_line is not None:
        raise ChainFileError(
            f"the last line (line {last_line}) has no end: the file was cut while it was "
            "written or copied"
        )
    blocks = []
    for number, line in enumerate(chain_file.block_lines, start=first_line):
        try:
            blocks.append(decode_signed_block(line))
        except BlockError as e:
            cut = number == last_line and not chain_file.ends_cleanly
            hint = "; it has no end of line: the file was probably cut" if cut else ""
            raise ChainFileError(f"line {number} is not a signed block: {e}{hint}") from e
    if chain_file.manifest_line is None:
        state = _verify(blocks)
        return ChainFileReport(
            state,
            None,
            [
                "this file has no export manifest, so nothing shows whether it was cut at a "
                "line boundary: the blocks it holds verify as a chain, but later blocks may be "
                "missing. A file written by `kiosk export` or the staff screen carries a signed "
                "manifest that would show it."
            ],
        )
    manifest = _check_manifest(chain_file.manifest_line, chain_file.block_lines, blocks)
    state = _verify(blocks, manifest)
    return ChainFileReport(state, manifest)


def _check_manifest(line: bytes, block_lines: list[bytes], blocks: list[SignedBlock]) -> Manifest:
    """The manifest must list exactly these blocks and be signed by the chain's own kiosk key,
    which only a chain starting at its genesis block carries."""
    try:
        manifest, signature = read_manifest(line)
        check_listed_blocks(manifest, block_lines)  # before the key: a cut file says so
    except ExportError as e:
        raise ChainFileError(str(e)) from e
    if manifest.first != 0:
        raise ChainFileError(
            f"this export holds blocks {manifest.first}..{manifest.last} only (the ones the "
            "ledger had not acknowledged); a chain verifies from its genesis block: export the "
            "whole chain (`kiosk export --all`, or the staff screen's USB export)"
        )
    genesis = blocks[0].block
    if genesis.kind is not BlockKind.GENESIS:
        raise ChainFileError(f"block 0 is a {genesis.kind.value} block, not the genesis block")
    try:
        verify_export(manifest, signature, body_bytes(genesis.body, "kiosk_key"), block_lines)
    except HanpyoError as e:
        raise ChainFileError(str(e)) from e
    return manifest


def _verify(blocks: list[SignedBlock], manifest: Manifest | None = None) -> ChainState:
    try:
        return verify_chain(
            blocks,
            kiosk=manifest.kiosk if manifest else None,
            election=manifest.election if manifest else None,
        )
    except HanpyoError as e:
        raise ChainFileError(str(e)) from e
