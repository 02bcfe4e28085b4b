"""A trustee checks the v2 package made from their own ceremony: `ledger trustee check-package`
accepts it and shows the ledger's log key the package names, which the close statement must
later be signed with; the whole path from trustee processes to `election create --protocol 2`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey, sha256
from testkit.elections import mixed_definition
from testkit.ledger_server import ledger_cli
from testkit.trustee_ceremony import in_parallel, ok, start, trustee

ELECTION = "review-2026"
LOG = NoteVerifier("ledger.test/log", SigningKey(sha256(b"check-package log")).public_key)


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three trustees, any two decrypt, each a process of its own with its own medium."""
    tmp = tmp_path_factory.mktemp("check-package")
    media, setup_file, _ = start(tmp, n=3, k=2, election=ELECTION)
    where = ["--exchange", str(tmp / "exchange")]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    for step in ("round2", "check", "reveal", "finish"):
        in_parallel([[step, "--medium", m, *where] for m in media])
    result = tmp / "ceremony-result.json"
    ok("collect", "--setup", setup_file, *where, "--out", result)
    definition = tmp / "definition.json"
    definition.write_text(json.dumps(mixed_definition() | {"id": ELECTION}), "utf-8")
    return {"media": media, "result": result, "definition": definition}


def _create(ceremony: dict[str, Any], out: Path, *extra: str) -> None:
    done = ledger_cli(
        "election", "create", "--protocol", "2", "--definition", str(ceremony["definition"]),
        "--ceremony", str(ceremony["result"]), "--out", str(out), *extra, data=None,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_trustee_sees_the_log_key_their_package_names(
    ceremony: dict[str, Any], tmp_path: Path
) -> None:
    package = tmp_path / "package.json"
    _create(ceremony, package, f"--log-key={LOG.vkey}")
    checked = trustee("check-package", "--medium", ceremony["media"][1], "--package", package)
    assert checked.returncode == 0, checked.stderr
    assert "names the key your ceremony made" in checked.stdout
    assert f"ledger log key {LOG.vkey}" in checked.stdout
    assert "compare it with the key the ledger publishes" in checked.stdout


def test_a_package_naming_no_log_key_is_said_to(ceremony: dict[str, Any], tmp_path: Path) -> None:
    package = tmp_path / "package.json"
    _create(ceremony, package)
    checked = trustee("check-package", "--medium", ceremony["media"][0], "--package", package)
    assert checked.returncode == 0, checked.stderr
    assert "the package names no log key" in checked.stdout
