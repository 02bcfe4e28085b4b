"""`ledger verify-chain` reads a `kiosk export` file with its manifest, and says when a file
may have been cut (issue 21): before, every complete export failed ("block.time: is missing",
the manifest read as a block) while a bare chain cut at a line boundary passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main as kiosk_main
from kiosk.core.election import ElectionPackage
from kiosk.core.export import export_bytes
from kiosk.store.keys import provision
from ledger.cli import main as ledger_main
from ledger.verify.chain_file import ChainFileError, verify_chain_file
from testkit.stores import Kiosk, official_store


def _export(kiosk: Kiosk) -> bytes:
    return export_bytes(kiosk.store.blocks(), kiosk.kiosk_key)


def test_a_whole_export_verifies_with_its_manifest(kiosk: Kiosk) -> None:
    report = verify_chain_file(_export(kiosk))
    assert report.state.height == 2 and report.state.kiosk == kiosk.store.kiosk_id
    assert report.manifest is not None and (report.manifest.first, report.manifest.last) == (0, 2)
    assert report.warnings == []


def test_an_export_cut_anywhere_is_refused_and_said_to_be_cut(kiosk: Kiosk) -> None:
    data = _export(kiosk)
    line_ends = {i + 1 for i, byte in enumerate(data) if byte == ord("\n")}
    for cut in range(1, len(data)):
        with pytest.raises(ChainFileError) as refused:
            verify_chain_file(data[:cut])
        message = str(refused.value)
        if cut in line_ends:  # cut between two lines: the manifest lists more blocks
            assert "it was cut" in message, (cut, message)
        else:
            assert "cut" in message, (cut, message)


def test_an_altered_export_is_refused(kiosk: Kiosk) -> None:
    data = _export(kiosk)
    head, *lines = data.split(b"\n")
    lines[0], lines[1] = lines[1], lines[0]
    with pytest.raises(ChainFileError, match="differ from the ones the manifest lists"):
        verify_chain_file(b"\n".join([head, *lines]))
    extended = data + data.split(b"\n")[2] + b"\n"
    with pytest.raises(ChainFileError, match="blocks were added after the kiosk signed it"):
        verify_chain_file(extended)


def test_a_bare_chain_verifies_but_is_said_to_be_possibly_cut(kiosk: Kiosk) -> None:
    lines = [b.encode() for b in kiosk.store.blocks()]
    whole = verify_chain_file(b"\n".join(lines) + b"\n")
    assert whole.manifest is None and whole.state.height == 2
    assert "may be missing" in whole.warnings[0]
    shorter = verify_chain_file(b"\n".join(lines[:2]) + b"\n")  # cut at a line boundary
    assert shorter.state.height == 1 and "nothing shows whether it was cut" in shorter.warnings[0]
    with pytest.raises(ChainFileError, match="no end of line: the file was probably cut"):
        verify_chain_file(b"\n".join(lines)[:-20])


def test_an_export_of_only_the_unacknowledged_blocks_says_what_to_do(
    kiosk: Kiosk,
) -> None:
    data = export_bytes(list(kiosk.store.blocks())[1:], kiosk.kiosk_key)
    with pytest.raises(ChainFileError, match=r"holds blocks 1\.\.2 only.*kiosk export --all"):
        verify_chain_file(data)


def test_the_command_verifies_what_kiosk_export_wrote(
    tmp_path: Path, package: ElectionPackage, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = provision(tmp_path / "keys")
    official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, package).close()
    out = tmp_path / "usb.jsonl"
    argv = ["export", str(tmp_path / "kiosk.db"), "--keys", str(tmp_path / "keys"), "--all"]
    assert kiosk_main([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    assert ledger_main(["verify-chain", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"chain verified: kiosk {keys.kiosk_id}" in said and "3 blocks" in said
    assert "lists exactly these blocks (0..2" in said and "the file is whole" in said
    out.write_bytes(out.read_bytes()[:-1])
    assert ledger_main(["verify-chain", str(out)]) == 1
    err = capsys.readouterr().err
    assert "has no end: the file was cut" in err and "Traceback" not in err
