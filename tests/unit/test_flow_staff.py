"""The kiosk's flow without Qt and without pcscd, for the staff: every staff action, the
roles, the printer running out of paper and the USB export."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.core.chain import Mode, Session
from kiosk.core.election import sign_package
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow import state as st
from kiosk.flow.events import StaffAction as A
from kiosk.flow.state import Screen
from kiosk.flow.step import step
from kiosk.flow.views import views
from kiosk.hardware.printer.receipt import PrinterState
from testkit.elections import SyntheticElection
from testkit.flows import Flow, staff_card, voter


# -- staff ---------------------------------------------------------------------------------------
def said(*keys: str) -> tuple[st.NotePart, ...]:
    return tuple(st.Said(k) for k in keys)


def test_every_staff_action(
    make_flow: Callable[..., Flow], election: SyntheticElection, tmp_path: Path
) -> None:
    flow = make_flow(mode=None)
    flow.sign_in(staff_card(election, "election_manager"))
    assert flow.screen() is Screen.STAFF and flow.state.is_manager
    assert flow.state.printer_known and flow.state.printer_state is PrinterState.READY

    flow.staff(A.SET_MODE, "test")
    assert flow.note() == said("mode_changed") and flow.chain().mode is Mode.TEST
    flow.staff(A.OPEN)
    assert flow.note() == said("session_opened", "report_printed")  # the opening report
    assert flow.chain().session is Session.OPEN
    assert "개시" in flow.printer.printed[-1].title
    flow.staff(A.PAUSE)
    assert flow.note() == said("session_paused") and flow.chain().session is Session.PAUSED
    flow.staff(A.RESUME)
    assert flow.note() == said("session_resumed") and flow.chain().session is Session.OPEN
    flow.staff(A.REPORT)
    assert flow.note() == said("report_printed")
    flow.staff(A.OPEN)  # already open: the error, then the report it still prints
    assert isinstance(flow.note()[0], st.Explained) and flow.note()[1:] == said("report_printed")

    flow.staff(A.DIAGNOSE)
    lines = flow.state.diagnostics
    assert lines[0] == st.ReadersLine((flow.reader.name,))
    assert lines[1] == st.PrinterLine(PrinterState.READY)
    assert isinstance(lines[2], st.LedgerLine) and lines[2].height is None  # no ledger
    flow.staff(A.TEST_TALLY)
    assert flow.state.test_tally[0] == st.TallyTotal(0)

    flow.staff(A.EXPORT)
    assert flow.note() == said("exported")
    assert [p.name[:7] for p in (tmp_path / "usb").iterdir()] == ["hanpyo-"]
    flow.stick.pull()
    flow.staff(A.EXPORT)
    assert flow.note() == said("no_usb")

    flow.staff(A.LOAD_USB)
    assert flow.note() == said("no_election_file")
    flow.stick.plug()
    signed = sign_package(election.package, election.authority)
    (tmp_path / "usb" / "election.json").write_text(json.dumps(signed.to_json()))
    flow.staff(A.LOAD_USB)
    assert flow.state.pending_hash == election.package.short_hash
    assert views(flow.state).staff.pending_hash == election.package.short_hash
    flow.staff(A.CANCEL_LOAD)
    assert views(flow.state).staff.pending_hash == ""
    flow.staff(A.LOAD_USB)
    flow.staff(A.CONFIRM_LOAD)  # refused while a session is open
    assert isinstance(flow.note()[0], st.Explained)
    flow.staff(A.LOAD_LEDGER)
    assert isinstance(flow.note()[0], st.Explained)  # no ledger is configured

    flow.staff(A.CLOSE)
    assert flow.note() == said("session_closed", "report_printed")
    assert flow.chain().session is Session.CLOSED
    flow.staff(A.LOAD_USB)
    flow.staff(A.CONFIRM_LOAD)
    assert flow.note() == said("loaded") and flow.state.package is not None

    assert not flow.left
    flow.staff(A.LEAVE)
    assert flow.left


def test_a_poll_worker_cannot_do_a_managers_actions(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.sign_in(staff_card(election, "poll_worker"))
    assert flow.screen() is Screen.STAFF and not flow.state.is_manager
    for action in (A.EXPORT, A.LOAD_USB, A.LOAD_LEDGER, A.DIAGNOSE, A.TEST_TALLY, A.LEAVE):
        flow.staff(action)
    flow.staff(A.SET_MODE, "test")
    assert flow.note() == () and flow.state.diagnostics == () and not flow.left
    assert flow.chain().mode is Mode.OFFICIAL
    flow.staff(A.PAUSE)
    assert flow.note() == said("session_paused")


def test_the_printer_runs_out_of_paper(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.printer.state = PrinterState.NO_PAPER
    flow.sign_in(staff_card(election, "poll_worker"))
    assert flow.state.printer_state is PrinterState.NO_PAPER
    flow.staff(A.REPORT)
    assert isinstance(flow.note()[0], st.Explained)


def test_the_pin_never_shows_in_a_printed_state_or_effect(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    """States and effects are values a log line or a failing assertion may print: the PIN
    typed on the pad must not be in what they print."""
    flow = make_flow()
    flow.insert(voter(election, "resident"))
    typed = "97531864"
    flow.post(*(ev.PinDigit(int(d)) for d in typed))
    assert flow.state.pin == typed
    assert typed not in repr(flow.state)
    _, effects = step(flow.state, ev.PinSubmitted())
    proving = [e for e in effects if isinstance(e, fx.ProveCard)]
    assert proving and proving[0].pin == typed
    assert typed not in repr(effects)


def test_the_staff_screens_export_is_the_file_kiosk_export_writes(
    make_flow: Callable[..., Flow],
    election: SyntheticElection,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A manager's "export to USB" and `kiosk export --all` on the same store: both files
    pass the check `ledger import` makes, and hold the same signed blocks."""
    import random

    from kiosk.cli import main
    from kiosk.core.export import read_manifest, verify_export
    from testkit.elections import random_ballot, voter_of
    from testkit.v2_ballots import box_cast

    flow = make_flow()
    box = flow.services.box
    assert box is not None
    for n in range(2):
        someone = voter_of(election, "resident", n)
        box_cast(box, election, someone, random_ballot(election.package, someone, random.Random(n)))
    flow.sign_in(staff_card(election, "election_manager"))
    flow.staff(A.EXPORT)
    assert flow.note() == said("exported")
    (staff_file,) = (tmp_path / "usb").iterdir()

    cli_file = tmp_path / "cli.jsonl"
    store = box.store
    argv = ["export", str(store.path), "--keys", str(tmp_path / "keys"), "--out", str(cli_file)]
    assert main([*argv, "--all"]) == 0
    assert "exported blocks 0..4 (5)" in capsys.readouterr().out

    def verified_blocks(path: Path) -> list[bytes]:
        head, *lines = path.read_bytes().splitlines()
        manifest, signature = read_manifest(head)
        verify_export(manifest, signature, flow.services.keys.kiosk_key.public_key, lines)
        return lines

    blocks = verified_blocks(staff_file)
    assert blocks == verified_blocks(cli_file) == [b.encode() for b in store.blocks()]
    assert len(blocks) == 5  # genesis, mode, session open and the two ballots
