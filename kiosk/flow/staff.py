"""The staff screen's actions: sessions, reports, mode, USB export, loading a package,
diagnostics, the test tally and leaving kiosk mode. Pure steps, as in ``voter``."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, assert_never

from kiosk.core.chain import Mode, Session
from kiosk.core.election import ElectionPackage, Text
from kiosk.core.errors import HanpyoError
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow.events import StaffAction as A
from kiosk.flow.staff_report import ReportKind
from kiosk.flow.state import (
    Explained,
    Kiosk,
    LedgerLine,
    NotePart,
    PrinterLine,
    ReadersLine,
    Said,
    Screen,
    StaffLine,
    TallyContest,
    TallyInvalid,
    TallyNothing,
    TallyScores,
    TallyTotal,
    TallyVotes,
    TallyYesNo,
)
from kiosk.flow.voter import Step, activity
from kiosk.hardware.printer.receipt import PrinterState

log = logging.getLogger("hanpyo.kiosk.flow")

# What the staff screen says when an action worked (keys of kiosk.ui.texts.STAFF).
DONE = {
    A.OPEN: "session_opened",
    A.PAUSE: "session_paused",
    A.RESUME: "session_resumed",
    A.CLOSE: "session_closed",
    A.SET_MODE: "mode_changed",
    A.EXPORT: "exported",
    A.CONFIRM_LOAD: "loaded",
}


def explain(error: BaseException, language: str) -> Explained:
    """For staff: the error's own plain message in the screen's language, then the detail."""
    if isinstance(error, HanpyoError):
        plain = error.user_message[0 if language == "ko" else 1]
        return Explained(f"{plain} ({error.detail})")
    return Explained(str(error))


def asked(state: Kiosk, action: A, mode: str) -> Step:
    """A staff button was pressed."""
    staff, manager, visit = state.screen is Screen.STAFF, state.is_manager, state.visit
    if visit is None:
        return state, []
    has_box = state.box is not None
    match action:
        case A.OPEN | A.PAUSE | A.RESUME | A.CLOSE:
            return state, [fx.RunStaffAction(visit, action)] if has_box and staff else []
        case A.REPORT:
            if not staff:
                return state, []
            return replace(state, staff_note=()), print_report(state, ReportKind.SESSION)
        case A.SET_MODE:
            if has_box and staff and manager:
                return state, [fx.RunStaffAction(visit, action, Mode(mode))]
            return state, []
        case A.EXPORT:
            return state, [
                fx.RunStaffAction(visit, action)
            ] if has_box and staff and manager else []
        case A.LOAD_USB:
            return state, [fx.ReadUsbPackage(visit)] if staff and manager else []
        case A.LOAD_LEDGER:
            return state, [fx.FetchPackage(visit)] if staff and manager else []
        case A.CONFIRM_LOAD:
            raw = state.pending_package
            state = replace(state, pending_package=None)
            if raw is None or not manager:
                return state, []
            return state, [fx.RunStaffAction(visit, action, raw=raw)]
        case A.CANCEL_LOAD:
            return replace(state, pending_package=None), []
        case A.DIAGNOSE:
            if not (staff and manager):
                return state, []
            return replace(state, diagnostics=(Said("checking"),)), [fx.Diagnose(visit)]
        case A.TEST_TALLY:
            if state.box is None or state.package is None or not (staff and manager):
                return state, []
            return replace(state, test_tally=(Said("counting"),)), [fx.CountTestTally(visit)]
        case A.LEAVE:
            if staff and manager:
                log.info("kiosk mode left by an election manager")
                return state, [fx.LeaveKiosk()]
            return state, []
        case _:
            assert_never(action)


def print_report(state: Kiosk, kind: ReportKind) -> list[fx.Effect]:
    if not state.setup.has_printer or state.box is None or state.package is None:
        return []
    assert state.visit is not None  # noqa: S101
    return [fx.PrintReport(state.visit, kind)]


def done(state: Kiosk, event: ev.StaffDone) -> Step:
    """A staff action finished; the chain's new state is already in ``state.box``."""
    if event.no_drive:
        return replace(state, staff_note=(Said("no_usb"),)), []
    effects = activity(state)
    if event.error is not None:
        note: NotePart = explain(event.error, state.settings.language)
    else:
        note = Said(DONE[event.action])
    state = replace(state, staff_note=(note,))
    session = state.box.session if state.box is not None else None
    if event.action is A.OPEN and session is Session.OPEN:
        effects += print_report(state, ReportKind.OPENING)
    elif event.action is A.CLOSE and session is Session.CLOSED:
        effects += [*print_report(state, ReportKind.CLOSING), fx.SyncNow()]
    return state, effects


def report_printed(state: Kiosk, error: BaseException | None) -> Step:
    # Keep what the staff member just did ("The session is open.") and add the report's
    # outcome after it, rather than replacing it.
    outcome: NotePart = (
        Said("report_printed") if error is None else explain(error, state.settings.language)
    )
    before = state.staff_note
    note = (*before, outcome) if before and before != (outcome,) else (outcome,)
    assert state.visit is not None  # noqa: S101
    return replace(state, staff_note=note), [fx.CheckPrinter(state.visit)]


def printer_checked(state: Kiosk, printer: PrinterState | None) -> Step:
    return replace(state, printer_state=printer, printer_known=True), []


def package_offered(state: Kiosk, event: ev.PackageOffered) -> Step:
    return replace(
        state, pending_package=event.raw, pending_hash=event.short_hash, staff_note=()
    ), []


def package_refused(state: Kiosk, event: ev.PackageRefused) -> Step:
    if event.error is None:
        return replace(state, staff_note=(Said("no_election_file"),)), []
    note = (explain(event.error, state.settings.language),)
    if event.checked:
        return replace(state, staff_note=note, pending_package=None), []
    return replace(state, staff_note=note), []


def diagnosed(state: Kiosk, event: ev.Diagnosed) -> Step:
    if event.error is not None:
        lines: tuple[StaffLine, ...] = (explain(event.error, state.settings.language),)
    else:
        lines = (
            ReadersLine(state.readers),
            PrinterLine(event.printer),
            LedgerLine(event.ledger_height, event.ledger_error),
        )
    return replace(state, diagnostics=lines), []


def tally_counted(state: Kiosk, event: ev.TallyCounted) -> Step:
    package = state.package
    if event.results is None or package is None:
        error = event.error or HanpyoError("no election is loaded")
        return replace(state, test_tally=(explain(error, state.settings.language),)), []
    return replace(state, test_tally=tally_lines(package, event.results)), []


def tally_lines(package: ElectionPackage, results: dict[str, Any]) -> tuple[StaffLine, ...]:
    """The test tally in plain lines: per contest, only what received votes or scores."""
    counted, invalid = results["ballots"]["counted"], results["ballots"]["invalid"]
    lines: list[StaffLine] = [TallyTotal(counted)]
    if invalid:
        lines.append(TallyInvalid(invalid))
    titles = {o.id: o.title for o in package.options}
    for contest in results["contests"]:
        lines.append(TallyContest(Text(**contest["title"])))
        if contest["kind"] == "yesno":
            lines.append(TallyYesNo(contest["yes"], contest["no"], contest["blank"]))
            continue
        shown = 0
        for option in contest["options"]:
            title = titles.get(option["id"], Text(option["id"], option["id"]))
            if contest["kind"] == "choice" and option["votes"]:
                lines.append(TallyVotes(title, option["votes"]))
                shown += 1
            elif contest["kind"] == "score" and option["count"]:
                scores = option["count"]
                mean = sum(c["sum"] for c in option["by_category"].values()) / scores
                lines.append(TallyScores(title, scores, mean))
                shown += 1
        if not shown:
            lines.append(TallyNothing())
    return tuple(lines)
