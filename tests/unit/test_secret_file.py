"""The owner-only secret writer: 0600 from the first byte, never over an existing file unless
asked, and a replace that leaves the old secret or the new one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kiosk.core.secret_file import SecretFileExists, write_secret


def test_a_secret_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_secret(path, b"seed\n")
    assert path.read_bytes() == b"seed\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"old")
    with pytest.raises(SecretFileExists, match=r"key already exists; refusing to overwrite it"):
        write_secret(path, b"new")
    assert path.read_bytes() == b"old"


def test_replace_swaps_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"old")
    (tmp_path / ".key.new").write_bytes(b"half")  # what a crash mid-replace leaves
    write_secret(path, b"new", replace=True)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_secret(tmp_path / "key", b"seed")
    assert not (tmp_path / "key").exists()
