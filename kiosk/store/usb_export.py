"""The one USB export: `kiosk export` and the staff screen both write the chain file here, and
neither says it is done before the file is on the stick under its final name."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.block import SignedBlock
from kiosk.core.crypto import SigningKey
from kiosk.core.export import ExportError, export_bytes, is_export, read_manifest
from kiosk.core.secret_file import SecretFileExists, sync_folder, write_secret
from kiosk.store.chain_store import ChainStore
from kiosk.store.errors import StoreError


class ExportFailed(StoreError):
    user_message = (
        "USB로 내보내지 못했습니다. USB 저장 장치를 확인하고 다시 시도해 주세요.",
        "The export to USB failed. Check the USB drive and try again.",
    )


class ExportTargetExists(ExportFailed):
    """A file of that name is already there: an export never replaces one unasked."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists ({describe_existing(path)})")
        self.path = path


def describe_existing(path: Path) -> str:
    """What the file in the way holds, in a few words, so staff can decide to replace it."""
    try:
        with path.open("rb") as f:
            head = f.readline(4096)
        size = path.stat().st_size
    except OSError as e:
        return f"it cannot be read: {e.strerror}"
    if not is_export(head):
        return f"{size:,} bytes, not a Hanpyo export"
    try:
        m, _ = read_manifest(head.rstrip(b"\n"))
    except ExportError:
        return f"{size:,} bytes, a Hanpyo export with an unreadable manifest"
    return (
        f"an export of blocks {m.first}..{m.last} of kiosk {m.kiosk[:12]}, written {m.created}, "
        f"{size:,} bytes"
    )


class NothingToExport(ExportFailed):
    """The ledger already acknowledged every block and the whole chain was not asked for."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    first: int  # heights of the first and last block in the file
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def export_chain(
    store: ChainStore,
    kiosk_key: SigningKey,
    target: Path,
    *,
    whole_chain: bool,
    replace: bool = False,
) -> ExportResult:
    """Write the chain (``whole_chain``) or only the blocks the ledger has not acknowledged to
    the file ``target``; ``NothingToExport`` when that leaves no block. An existing ``target``
    is refused (``ExportTargetExists``) unless ``replace``: then the new file takes its place
    in one rename, once it is whole on the stick."""
    start = 0 if whole_chain else store.acknowledged_height() + 1
    blocks = list(store.blocks(start))
    if not blocks:
        raise NothingToExport("the ledger already holds every block; nothing to export")
    return _write(blocks, kiosk_key, target, replace=replace)


def export_to_folder(store: ChainStore, kiosk_key: SigningKey, folder: Path) -> ExportResult:
    """The staff screen's export: the whole chain, named by ``usb_file_name``, in ``folder``."""
    blocks = list(store.blocks())
    if not blocks:
        raise NothingToExport("the store holds no block")  # a store always has its genesis
    return _write(blocks, kiosk_key, folder / usb_file_name(store.kiosk_id, blocks[-1]))


def usb_file_name(kiosk_id: str, last: SignedBlock) -> str:
    """``hanpyo-<first 12 of the kiosk id>-<last height>.jsonl``: one name per chain length."""
    return f"hanpyo-{kiosk_id[:12]}-{last.block.height}.jsonl"


def _write(
    blocks: list[SignedBlock], kiosk_key: SigningKey, target: Path, *, replace: bool = False
) -> ExportResult:
    data = export_bytes(blocks, kiosk_key)
    # Written under a hidden name and published only once it is on the stick: a stick pulled
    # or a kiosk powered off mid-write leaves no file that looks like a whole export.
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.unlink(missing_ok=True)  # left by an earlier export that never finished
    except OSError as e:
        raise ExportFailed(f"cannot write the export {target}: {e}") from e
    if target.exists() and not replace:
        raise ExportTargetExists(target)
    try:
        write_secret(partial, data)
        try:
            if replace:
                os.replace(partial, target)  # atomic: the old file or the whole new one
            else:
                _publish(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        sync_folder(target.parent)
    except (OSError, SecretFileExists) as e:
        raise ExportFailed(f"cannot write the export {target}: {e}") from e
    return ExportResult(target, blocks[0].block.height, blocks[-1].block.height)


def _publish(partial: Path, target: Path) -> None:
    """Give the finished file its final name, never replacing a file of that name.

    A hard link fails atomically when the name exists, so a file that appeared since the
    check above is kept. FAT sticks have no hard links: there, the check above is all there
    is, and rename (which would replace) is used.
    """
    try:
        os.link(partial, target)
    except FileExistsError as e:
        raise ExportTargetExists(target) from e
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
            raise
        if target.exists():
            raise ExportTargetExists(target) from e
        os.rename(partial, target)
