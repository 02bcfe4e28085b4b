"""The one owner-only secret writer: keys, trustee shares and signed files are created readable
by their owner alone and are on disk before the caller goes on.

This is the core's one piece of I/O, and on purpose: the ledger may import only ``kiosk.core``,
and a secret written two ways is a secret someday written world-readable. stdlib ``os`` only.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.core.errors import HanpyoError

OWNER_ONLY = 0o600


class SecretFileExists(HanpyoError):
    """The file is already there, and a secret is never silently replaced."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; refusing to overwrite it")
        self.path = path


def write_secret(path: Path, content: bytes, *, replace: bool = False) -> None:
    """Create ``path`` with mode 0600 holding ``content``, fsynced with its folder.

    Refuses a file that exists (``SecretFileExists``) unless ``replace``; with ``replace`` the
    new content goes to a temporary name first and is renamed over the old file, so a crash
    leaves either the old secret or the new one, never half of one.
    """
    if not replace:
        _create(path, content)
    else:
        temporary = path.with_name(f".{path.name}.new")
        temporary.unlink(missing_ok=True)  # the leftover of an earlier crash, never a secret
        _create(temporary, content)
        os.replace(temporary, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so a file just created or renamed in it survives a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path: Path, content: bytes) -> None:
    try:
        # created with its final mode, so the secret is never readable by others, even briefly
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    except FileExistsError as e:
        raise SecretFileExists(path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written secret left behind
        raise
