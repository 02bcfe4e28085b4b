"""The ledger's offline verifier and its rules load without SQLAlchemy or the web stack, so
`ledger verify-bundle` runs on a machine that has neither (the import contracts say the same
of the source; this checks the modules as Python really loads them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LOAD = """
import importlib, json, pkgutil, sys
import ledger.rules, ledger.verify
for package in (ledger.rules, ledger.verify):
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
import ledger.cli  # the command line, before it runs a command
heavy = ("sqlalchemy", "psycopg", "fastapi", "uvicorn", "matplotlib", "weasyprint", "PySide6")
print(json.dumps({
    "loaded": sorted(m for m in sys.modules if m.startswith(("ledger.rules.", "ledger.verify."))),
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
    "store": sorted(m for m in sys.modules if m.startswith(("ledger.store", "ledger.service"))),
}))
"""


def test_verify_and_rules_import_no_sqlalchemy_in_a_fresh_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert "ledger.verify.bundle" in seen["loaded"]
    assert "ledger.rules.close_statement" in seen["loaded"]
    assert seen["heavy"] == []
    assert seen["store"] == []
