"""The flow's one entry: ``step(state, event) -> (state, effects)``, pure and total."""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from kiosk.flow import cast_or_check, staff, voter
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow.state import Kiosk, Screen, Setup
from kiosk.flow.voter import Step

# Answers to effects: dropped when the card they were asked for has gone.
ANSWERS = (
    ev.CardRead,
    ev.CardProved,
    ev.VotedHereAnswered,
    ev.CardFailed,
    ev.ElsewhereAnswered,
    ev.Cast,
    ev.CastRefused,
    ev.BallotEncrypted,
    ev.EncryptionFailed,
    ev.BallotSigned,
    ev.SigningFailed,
    ev.Spoiled,
    ev.SpoilRefused,
    ev.Printed,
    ev.ReportPrinted,
    ev.PrinterChecked,
    ev.StaffDone,
    ev.PackageOffered,
    ev.PackageRefused,
    ev.Diagnosed,
    ev.TallyCounted,
)


def start(setup: Setup) -> Kiosk:
    """The kiosk before anything happened: no reader yet, waiting."""
    return Kiosk(setup)


def step(state: Kiosk, event: ev.Event) -> Step:
    if isinstance(event, ANSWERS) and (state.visit is None or event.visit != state.visit):
        return state, []  # the card this was for has gone
    match event:
        case ev.ElectionChanged():
            setup = replace(
                state.setup,
                sync_configured=event.sync_configured,
                check_elsewhere=event.check_elsewhere,
            )
            return replace(state, package=event.package, box=event.box, setup=setup), []
        case ev.TimeoutsChanged(idle_s=idle_s, warning_s=warning_s):
            setup = replace(state.setup, idle_s=idle_s, warning_s=warning_s)
            return replace(state, setup=setup), []
        case ev.SyncChanged(status=status):
            return replace(state, sync=status), []
        case (
            ev.ReaderAdded()
            | ev.ReaderRemoved()
            | ev.ReaderServiceLost()
            | ev.CardInserted()
            | ev.CardPulled()
        ):
            return voter.reader_event(state, event)
        case ev.IdleTimedOut():
            return voter.idle_timed_out(state)
        case ev.CountdownTick():
            return voter.countdown_tick(state)
        case ev.Touched():
            return state, voter.activity(state)
        case ev.MoreTimeAsked():
            return voter.more_time(state)
        case (
            ev.LanguageChosen()
            | ev.TextSizeChosen()
            | ev.HighContrastChosen()
            | ev.MoreTimeChosen()
        ):
            return voter.settings(state, event)
        case ev.PinDigit(digit=digit):
            return voter.pin_digit(state, digit)
        case ev.PinBack():
            state = replace(state, pin=state.pin[:-1])
            return state, voter.activity(state)
        case ev.PinSubmitted():
            return voter.pin_submitted(state)
        case ev.StartVoting():
            if state.screen is Screen.NOTICE and state.form is not None:
                return voter.set_screen(state, Screen.BALLOT)
            return state, []
        case ev.ScoreGiven() | ev.ScoreCleared() | ev.ChoiceToggled() | ev.AnswerGiven():
            return voter.ballot_event(state, event)
        case ev.DetailShown(option=option):
            state = replace(state, detail=option if _on_page(state, option) else "")
            return state, voter.activity(state)
        case ev.DetailClosed():
            state = replace(state, detail="")
            return state, voter.activity(state)
        case ev.NextPage():
            return voter.next_page(state)
        case ev.GoOnAnyway():
            return voter.go_on_anyway(state)
        case ev.WarningClosed():
            state = replace(state, warning=None)
            return state, voter.activity(state)
        case ev.PreviousPage():
            return voter.back(state)
        case ev.ChangeContest(index=index):
            return voter.change(state, index)
        case ev.CastAsked():
            return cast_or_check.cast(state)
        case ev.CheckAsked():
            return cast_or_check.ask_check(state)
        case ev.CheckConfirmed():
            return cast_or_check.check(state)
        case ev.CheckCancelled():
            state = replace(state, asking_check=False)
            return state, voter.activity(state)
        case ev.BallotAgain():
            return cast_or_check.ballot_again(state)
        case ev.StaffAsked(action=action, mode=mode):
            return staff.asked(state, action, mode)
        case ev.CardRead(holder=holder):
            return cast_or_check.card_read(state, holder)
        case ev.CardProved(holder=holder):
            return voter.proved(state, holder)
        case ev.VotedHereAnswered(voted=voted):
            return voter.voted_here(state, voted)
        case ev.CardFailed(error=error):
            return voter.card_failed(state, error)
        case ev.ElsewhereAnswered(answer=answer):
            return voter.elsewhere(state, answer)
        case ev.Cast():
            return voter.was_cast(state, event)
        case ev.CastRefused(already_voted=already):
            return voter.show_message(state, "voted_here" if already else "cast_failed")
        case ev.BallotEncrypted():
            return cast_or_check.encrypted(state, event)
        case ev.EncryptionFailed():
            return cast_or_check.encryption_failed(state, event)
        case ev.BallotSigned():
            return cast_or_check.signed(state, event)
        case ev.SigningFailed():
            return cast_or_check.signing_failed(state, event)
        case ev.Spoiled():
            return cast_or_check.spoiled(state, event)
        case ev.SpoilRefused():
            return cast_or_check.spoil_refused(state)
        case ev.Printed(error=error):
            return voter.printed(state, error)
        case ev.ReportPrinted(error=error):
            return staff.report_printed(state, error)
        case ev.PrinterChecked(state=printer):
            return staff.printer_checked(state, printer)
        case ev.StaffDone():
            return staff.done(state, event)
        case ev.PackageOffered():
            return staff.package_offered(state, event)
        case ev.PackageRefused():
            return staff.package_refused(state, event)
        case ev.Diagnosed():
            return staff.diagnosed(state, event)
        case ev.TallyCounted():
            return staff.tally_counted(state, event)
        case _:
            assert_never(event)


def _on_page(state: Kiosk, option: str) -> bool:
    form = state.form
    if form is None:
        return False
    return any(o.id == option for o in form.options(form.contest(state.page).id))


__all__ = ["Kiosk", "Setup", "fx", "start", "step"]
