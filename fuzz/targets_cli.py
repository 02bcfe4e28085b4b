"""The enrolment office's CSV file (`kiosk cards enrol-batch`): rows it accepts make a roll
that the election package then reads; anything else is refused with the line at fault."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import shutil
from pathlib import Path
from typing import Any

from fuzz import world
from fuzz.contract import ContractBroken, accepted
from kiosk.cli import cards
from kiosk.core.election import read_package
from kiosk.core.errors import HanpyoError
from kiosk.hardware.card.errors import CardError
from ledger.cli.election_v2 import with_voter_ids


def _no_card(reader: str, *, present: bool, timeout_s: float) -> None:
    """The reader as the fuzzer leaves it: no card ever comes, as after wait_for_card's time."""
    raise CardError(f"no card in {reader} after {timeout_s} s")


@functools.cache
def _folder() -> Path:
    folder = world.scratch("csv-")
    (folder / "definition.json").write_text(json.dumps(world.definition()), "utf-8")
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    return folder


def enrol_csv(data: bytes) -> None:
    """enrol-batch refuses a bad file or row with HanpyoError only; the roll it writes (every
    row, when it accepts the file) merges into a package that read_package accepts."""
    folder = _folder()
    roll = folder / "roll.json"
    roll.unlink(missing_ok=True)
    (folder / "cards.csv").write_bytes(data)
    args = argparse.Namespace(
        csv=folder / "cards.csv",
        roll=roll,
        definition=folder / "definition.json",
        pin_fd=None,
        letters=folder / "letters",
        ask_admin_pin=False,
        timeout=0.0,
    )
    real_wait = vars(cards)["wait_for_card"]
    vars(cards)["wait_for_card"] = _no_card  # the reader never gets a card
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            done = accepted(lambda: cards._enrol_batch(args, "fuzz reader"), (HanpyoError,))
    finally:  # put the real one back: the test suite goes on in this process
        vars(cards)["wait_for_card"] = real_wait
    if not roll.exists():
        return
    written = json.loads(roll.read_text("utf-8"))
    try:
        read_package(_package_with(written))
    except HanpyoError as e:
        kind = "accepted" if done is not None else "saved before the bad row"
        raise ContractBroken(f"enrol-batch {kind} a roll the package refuses: {e}") from e


def _package_with(roll: dict[str, Any]) -> dict[str, Any]:
    """The world's package with this roll file in it, as `ledger election create` puts it."""
    package: dict[str, Any] = world.signed_package()["package"]
    return package | {
        "roll": with_voter_ids(roll, "roll"),
        "test_roll": with_voter_ids(roll, "test_roll"),
        "staff": roll["staff"],
    }


def csv_seed(rows: list[dict[str, str]]) -> bytes:
    header = ["name", "category", "group", "excluded", "role", "card_key"]
    lines = [",".join(header)] + [",".join(row.get(h, "") for h in header) for row in rows]
    return ("\n".join(lines) + "\n").encode()
