"""`kiosk export` killed at every step of writing to the stick (issue 21): the export's name
never holds a cut-off file, the next try finds no export or a whole one, and a second export
to the same name says what is there instead of crashing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testkit.step_killer import EXPORT_NAME

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kills(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("export")
    run = subprocess.run(
        [sys.executable, "-m", "testkit.step_killer", "export", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_the_export_was_cut_at_every_step(kills: list[dict[str, Any]]) -> None:
    cuts = [k["cut"] for k in kills if k["killed"]]
    partial = f".{EXPORT_NAME}.partial"
    # just after the file appeared (under its hidden name), its fsync, the link that gives it
    # its name, and the removal of the hidden name: each was cut, before and after
    for step in (f"open {partial}", "fsync", f"link {partial} {EXPORT_NAME}", f"unlink {partial}"):
        assert sum(cut == step for cut in cuts) >= 2, f"never cut at {step}: {cuts}"
    last = kills[-1]
    assert not last["killed"] and last["write_exit"] == 0, last


def test_the_export_name_never_holds_a_cut_file(kills: list[dict[str, Any]]) -> None:
    for k in kills:
        report = k["next"]
        assert k["next_exit"] == 0, k
        if EXPORT_NAME in k["left_after_kill"]:
            # what staff would carry to the ledger: whole, every block, signed manifest
            assert report["found_blocks"] == 3 and "found_error" not in report, k
        assert report["blocks"] == 3, k


def test_the_next_try_exports_or_says_what_is_there(kills: list[dict[str, Any]]) -> None:
    for k in kills:
        report = k["next"]
        if EXPORT_NAME in k["left_after_kill"]:
            assert report["again"].startswith("exists: "), k
            assert "already exists (an export of blocks 0..2 of kiosk" in report["again"], k
        else:
            assert report["again"] == "exported 3", k
        # no hidden partial file is left on the stick once an export has run again
        assert report["files"] == [EXPORT_NAME], k
