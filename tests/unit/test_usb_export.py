"""The one USB export: the staff screen's and `kiosk export --all` write the same verifiable
blocks, an existing file is never replaced, and an export cut short leaves no final file."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage
from kiosk.core.export import read_manifest, verify_export
from kiosk.core.secret_file import write_secret
from kiosk.store import usb_export
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import provision
from kiosk.store.usb_export import (
    ExportFailed,
    ExportTargetExists,
    NothingToExport,
    export_chain,
    export_to_folder,
    usb_file_name,
)
from testkit.stores import Kiosk, official_store


def _verified_blocks(path: Path, kiosk_key: SigningKey) -> list[bytes]:
    """The block lines of an export, after the check `ledger import` makes of it."""
    head, *lines = path.read_bytes().splitlines()
    manifest, signature = read_manifest(head)
    verify_export(manifest, signature, kiosk_key.public_key, lines)
    return lines


def test_the_staff_export_and_kiosk_export_all_write_the_same_blocks(
    tmp_path: Path, package: ElectionPackage, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = provision(tmp_path / "keys")
    official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, package).close()
    cli_file = tmp_path / "cli.jsonl"
    assert (
        main(
            [
                "export",
                str(tmp_path / "kiosk.db"),
                "--keys",
                str(tmp_path / "keys"),
                "--out",
                str(cli_file),
                "--all",
            ]
        )
        == 0
    )
    assert f"exported blocks 0..2 (3) to {cli_file}" in capsys.readouterr().out
    usb = tmp_path / "usb"
    usb.mkdir()
    with ChainStore.open(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key) as store:
        done = export_to_folder(store, keys.kiosk_key, usb)
        last = list(store.blocks())[-1]
    assert done.path == usb / f"hanpyo-{keys.kiosk_id[:12]}-2.jsonl"
    assert done.path.name == usb_file_name(keys.kiosk_id, last)
    assert (done.first, done.last, done.count) == (0, 2, 3)
    staff = _verified_blocks(done.path, keys.kiosk_key)
    assert staff == _verified_blocks(cli_file, keys.kiosk_key)
    assert len(staff) == 3
    assert sorted(p.name for p in usb.iterdir()) == [done.path.name]  # no partial file left
    assert stat.S_IMODE(done.path.stat().st_mode) == 0o600


def test_only_the_blocks_the_ledger_lacks_unless_the_whole_chain(
    kiosk: Kiosk, tmp_path: Path
) -> None:
    kiosk.store.record_sync({0: 0, 1: 1}, None, None, "2026-11-22T10:00:00+00:00")
    part = export_chain(kiosk.store, kiosk.kiosk_key, tmp_path / "part", whole_chain=False)
    assert (part.first, part.last) == (2, 2)
    assert len(_verified_blocks(part.path, kiosk.kiosk_key)) == 1
    kiosk.store.record_sync({2: 2}, None, None, "2026-11-22T10:00:00+00:00")
    with pytest.raises(NothingToExport, match="the ledger already holds every block"):
        export_chain(kiosk.store, kiosk.kiosk_key, tmp_path / "none", whole_chain=False)
    assert not (tmp_path / "none").exists()
    whole = export_chain(kiosk.store, kiosk.kiosk_key, tmp_path / "whole", whole_chain=True)
    assert (whole.first, whole.last) == (0, 2)


def test_a_name_that_exists_is_refused_and_kept(kiosk: Kiosk, tmp_path: Path) -> None:
    export_to_folder(kiosk.store, kiosk.kiosk_key, tmp_path)
    (name,) = [p for p in tmp_path.iterdir() if p.suffix == ".jsonl"]
    before = name.read_bytes()
    with pytest.raises(ExportTargetExists, match=re.escape(f"{name} already exists")) as refused:
        export_to_folder(kiosk.store, kiosk.kiosk_key, tmp_path)
    assert refused.value.path == name
    assert name.read_bytes() == before


def test_kiosk_export_names_an_existing_file_without_a_traceback(
    tmp_path: Path, package: ElectionPackage, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = provision(tmp_path / "keys")
    official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, package).close()
    out = tmp_path / "taken.jsonl"
    out.write_bytes(b"someone else's file")
    argv = ["export", str(tmp_path / "kiosk.db"), "--keys", str(tmp_path / "keys")]
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"kiosk: {out} already exists (19 bytes, not a Hanpyo export)" in err
    assert "nothing was written; choose another --out, or add --replace" in err
    assert "Traceback" not in err
    assert out.read_bytes() == b"someone else's file"


def test_a_second_kiosk_export_says_what_is_there_and_replaces_only_when_asked(
    tmp_path: Path, package: ElectionPackage, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = provision(tmp_path / "keys")
    store = official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, package)
    store.close()
    out = tmp_path / "usb.jsonl"
    argv = ["export", str(tmp_path / "kiosk.db"), "--keys", str(tmp_path / "keys"), "--all"]
    assert main([*argv, "--out", str(out)]) == 0
    first = out.read_bytes()
    capsys.readouterr()
    # the kiosk goes on (a session is paused), and staff export again to the same name
    with ChainStore.open(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key) as store:
        BallotBox(store, package).pause_session()
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out} already exists (an export of blocks 0..2 of kiosk {keys.kiosk_id[:12]}" in err
    assert "add --replace" in err
    assert out.read_bytes() == first
    assert main([*argv, "--out", str(out), "--replace"]) == 0
    assert f"exported blocks 0..3 (4) to {out}" in capsys.readouterr().out
    assert len(_verified_blocks(out, keys.kiosk_key)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "kiosk.db", "usb.jsonl"]


def test_a_failure_before_the_rename_leaves_no_final_file(
    kiosk: Kiosk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stick_pulled(src: object, dst: object) -> None:
        assert Path(str(src)).read_bytes()  # the whole file was written under its hidden name
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "link", stick_pulled)
    usb = tmp_path / "usb"
    usb.mkdir()
    with pytest.raises(ExportFailed, match=r"cannot write the export .*Input/output error"):
        export_to_folder(kiosk.store, kiosk.kiosk_key, usb)
    assert list(usb.iterdir()) == []
    monkeypatch.undo()
    done = export_to_folder(kiosk.store, kiosk.kiosk_key, usb)  # and the next try succeeds
    assert list(usb.iterdir()) == [done.path]


def test_a_missing_folder_is_a_clear_error(kiosk: Kiosk, tmp_path: Path) -> None:
    with pytest.raises(ExportFailed, match="cannot write the export"):
        export_to_folder(kiosk.store, kiosk.kiosk_key, tmp_path / "not-mounted")


def test_a_file_that_appears_during_the_export_is_kept(
    kiosk: Kiosk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer creates the final name after the first check: the export still refuses
    it (the hard link fails atomically), and the other file is left as it was."""
    usb = tmp_path / "usb"
    usb.mkdir()
    name = usb_file_name(kiosk.store.kiosk_id, list(kiosk.store.blocks())[-1])

    def racing_write(path: Path, content: bytes, *, replace: bool = False) -> None:
        (usb / name).write_bytes(b"someone else's file")
        write_secret(path, content, replace=replace)

    monkeypatch.setattr(usb_export, "write_secret", racing_write)
    with pytest.raises(ExportTargetExists):
        export_to_folder(kiosk.store, kiosk.kiosk_key, usb)
    assert [p.name for p in usb.iterdir()] == [name]
    assert (usb / name).read_bytes() == b"someone else's file"


def test_a_stick_without_hard_links_still_gets_its_file(
    kiosk: Kiosk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAT sticks refuse hard links (EPERM): the export falls back to a rename."""

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    usb = tmp_path / "usb"
    usb.mkdir()
    done = export_to_folder(kiosk.store, kiosk.kiosk_key, usb)
    assert list(usb.iterdir()) == [done.path]
    assert len(_verified_blocks(done.path, kiosk.kiosk_key)) == done.count
