"""The fuzz targets in the suite: each target's corpus replays with no finding, and a short
atheris run of each (500 inputs, mutated from that corpus) finds nothing. The long campaigns
are in fuzz/REPORT.md; they are not run here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.run import HERE, NAMES, corpus_files, replay
from fuzz.targets import TARGETS

SHORT_RUN = 500


def test_every_target_is_run_by_the_runner() -> None:
    assert sorted(NAMES) == sorted(TARGETS)


@pytest.mark.parametrize("name", NAMES)
def test_the_corpus_replays_with_no_finding(name: str) -> None:
    assert corpus_files(name), f"fuzz/corpus/{name}/ is empty: run python -m fuzz.seeds"
    assert replay(name, [], strict=False) == []


@pytest.mark.parametrize("name", NAMES)
def test_a_short_atheris_run_finds_nothing(name: str, tmp_path: Path) -> None:
    env = os.environ | {
        "HANPYO_FUZZ_WORK": str(tmp_path / "work"),
        "HANPYO_FUZZ_FINDINGS": str(tmp_path / "findings"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "--target", name, "--runs", str(SHORT_RUN)],
        env=env,
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert f"Done {SHORT_RUN} runs" in done.stderr or f"#{SHORT_RUN}" in done.stderr, done.stderr
    assert not list((tmp_path / "findings").glob(f"{name}/*"))
