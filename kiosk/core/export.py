"""The USB export file: a kiosk-signed manifest line, then one signed block per line.

Both the kiosk (which writes it) and the ledger (which imports it) use this module.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.core.block import MAX_SAFE_INTEGER, SignedBlock
from kiosk.core.crypto import Domain, SigningKey, kiosk_id_for, verify_signature
from kiosk.core.encoding import b64e, canonical_json, parse_json
from kiosk.core.errors import EncodingError, HanpyoError, VerificationError
from kiosk.core.jsonreader import Reader

EXPORT_KIND = "hanpyo-export"
_KIOSK_ID = re.compile("[0-9a-f]{32}")


class ExportError(HanpyoError):
    user_message = (
        "USB 내보내기 파일이 손상되었습니다. 선거 관리자에게 알려 주세요.",
        "The USB export file is damaged. Please tell the election manager.",
    )


@dataclass(frozen=True, slots=True)
class Manifest:
    kiosk: str
    election: str
    first: int
    last: int
    blocks_sha256: bytes
    created: str

    def body(self) -> dict[str, Any]:
        return {
            "v": 1,
            "kind": EXPORT_KIND,
            "kiosk": self.kiosk,
            "election": self.election,
            "first": self.first,
            "last": self.last,
            "blocks_sha256": b64e(self.blocks_sha256),
            "created": self.created,
        }


def export_bytes(blocks: Iterable[SignedBlock], key: SigningKey) -> bytes:
    """The export file for ``blocks`` (consecutive, of this kiosk), signed with its key."""
    lines = [b.encode() for b in blocks]
    if not lines:
        raise ExportError("there are no blocks to export")
    first = parse_json(lines[0])
    manifest = Manifest(
        kiosk_id_for(key.public_key),
        str(first["election"]),
        int(first["height"]),
        int(first["height"]) + len(lines) - 1,
        blocks_digest(lines),
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    signature = key.sign(Domain.EXPORT, canonical_json(manifest.body()))
    head = canonical_json(manifest.body() | {"sig": b64e(signature)})
    return b"\n".join([head, *lines]) + b"\n"


def blocks_digest(lines: list[bytes]) -> bytes:
    """The manifest's ``blocks_sha256``: SHA-256 over the block lines, each with its newline."""
    return hashlib.sha256(b"".join(line + b"\n" for line in lines)).digest()


def is_export(first_line: bytes) -> bool:
    return first_line.startswith(b"{") and b'"kind":"hanpyo-export"' in first_line


@dataclass(frozen=True, slots=True)
class ChainFile:
    """A chain file as read: the export's manifest line (None for a bare chain), the block
    lines, and whether the last line was cut off before its end of line."""

    manifest_line: bytes | None
    block_lines: list[bytes]
    ends_cleanly: bool


def split_chain_file(data: bytes) -> ChainFile:
    """Split a USB export (manifest line, then blocks) or a bare chain file into its lines.

    Every line ``export_bytes`` writes ends with a newline, so a file whose last line has none
    was cut while it was written or copied.
    """
    lines = [line for line in data.splitlines() if line.strip()]
    ends_cleanly = not data.strip() or data.endswith(b"\n")
    if lines and is_export(lines[0]):
        return ChainFile(lines[0], lines[1:], ends_cleanly)
    return ChainFile(None, lines, ends_cleanly)


def read_manifest(line: bytes) -> tuple[Manifest, bytes]:
    """Parse the manifest line; return it with its signature (checked by ``verify_export``).

    Only a manifest as ``export_bytes`` writes it reads: the signature covers the manifest as
    re-encoded, so a field added, dropped or retyped would pass for the kiosk's own.
    """
    try:
        document = parse_json(line)
    except EncodingError as e:
        raise ExportError(f"the export's manifest is unreadable: {e}") from e
    r = Reader(document, "manifest", ExportError)
    if r.integer("v") != 1:
        r.fail("is not a version this ledger reads", "v")
    if r.text("kind", max_len=40) != EXPORT_KIND:
        r.fail(f"is not {EXPORT_KIND!r}", "kind")
    kiosk = r.text("kiosk", max_len=32)
    if not _KIOSK_ID.fullmatch(kiosk):
        r.fail("must be 32 lower-case hex digits", "kiosk")
    manifest = Manifest(
        kiosk,
        r.ident("election"),
        r.integer("first", lo=0, hi=MAX_SAFE_INTEGER),
        r.integer("last", lo=0, hi=MAX_SAFE_INTEGER),
        r.binary("blocks_sha256", length=32),
        r.text("created", max_len=40),
    )
    signature = r.binary("sig", length=64)
    r.done()
    if manifest.last < manifest.first:
        r.fail(f"lists heights {manifest.first}..{manifest.last}, which end before they start")
    return manifest, signature


def verify_export(
    manifest: Manifest, signature: bytes, kiosk_key: bytes, block_lines: list[bytes]
) -> None:
    """Check the kiosk's signature on the manifest and that the blocks are the ones it lists.

    Raises ``ExportError`` naming what is wrong: a truncated or altered file fails here even
    when each surviving block is itself validly signed.
    """
    try:
        verify_signature(Domain.EXPORT, kiosk_key, canonical_json(manifest.body()), signature)
    except VerificationError as e:
        raise ExportError(f"the manifest is not signed by kiosk {manifest.kiosk}") from e
    check_listed_blocks(manifest, block_lines)


def check_listed_blocks(manifest: Manifest, block_lines: list[bytes]) -> None:
    """``ExportError`` unless ``block_lines`` are exactly the blocks ``manifest`` lists: fewer
    (the file was cut), more (added after the kiosk signed it) or others (altered)."""
    listed = manifest.last - manifest.first + 1
    if len(block_lines) < listed:
        raise ExportError(
            f"the file holds {len(block_lines)} of the {listed} blocks its manifest lists "
            f"(heights {manifest.first}..{manifest.last}): it was cut (truncated)"
        )
    if len(block_lines) > listed:
        raise ExportError(
            f"the file holds {len(block_lines)} blocks, its manifest lists {listed}: "
            "blocks were added after the kiosk signed it"
        )
    if blocks_digest(block_lines) != manifest.blocks_sha256:
        raise ExportError(
            "the blocks differ from the ones the manifest lists: the file was altered"
        )
