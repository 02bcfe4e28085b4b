"""The voter's visit: the card, the PIN, the ballot's pages and warnings, casting, the
receipt, and the idle warning. Pure steps: ``(state, event) -> (state, effects)``."""

from __future__ import annotations

import logging
from dataclasses import replace

from kiosk.core.chain import Mode, Session
from kiosk.core.errors import HanpyoError
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow.ballot_form import BallotForm
from kiosk.flow.state import PIN_MAX, PIN_MIN, TEXT_SIZES, Kiosk, Screen, Settings, Warning, forget
from kiosk.hardware.card import session as cs
from kiosk.hardware.card.auth import CardHolder
from kiosk.hardware.card.errors import CardError, ReaderError
from kiosk.sync.eligibility import Elsewhere

log = logging.getLogger("hanpyo.kiosk.flow")

Step = tuple[Kiosk, list[fx.Effect]]

# What a refusal tells the voter to do next (the keys of kiosk.ui.texts.MESSAGES).
NEXT_STEP = {
    "not_enrolled": "ask_staff",
    "blocked": "ask_staff",
    "not_openpgp": "take_card",
    "unsupported": "ask_staff",
    "auth_failed": "ask_staff",
    "reader_error": "ask_staff",
    "unreadable": "retry_card",
    "voting_closed": "ask_staff",
    "voted_here": "ask_staff",
    "first_counts": "ask_staff",
    "voted_in_person": "ask_staff",
    "no_contests": "ask_staff",
    "cast_failed": "ask_staff",
    "timed_out": "take_card",
    "pulled_at_cast": "insert_again",
    "real_card_in_test": "ask_staff",
    "test_card_in_official": "ask_staff",
    "check_failed": "ask_staff",
    "receipt_done": "take_card",
    "staff_idle": "take_card",
}


# -- screens and timers ------------------------------------------------------------------------
def set_screen(state: Kiosk, screen: Screen) -> Step:
    state = replace(state, screen=screen, seconds_left=0)
    effects: list[fx.Effect] = [fx.StopTimers()]
    if screen not in (Screen.WAITING, Screen.READING):
        effects.append(fx.StartIdleTimer(state.timeouts()[0]))  # someone is expected to act
    return state, effects


def show_message(state: Kiosk, key: str, next_key: str | None = None) -> Step:
    state = replace(
        state,
        message_key=key,
        next_key=next_key if next_key is not None else NEXT_STEP.get(key, "ask_staff"),
        form=None,
        encrypted=None,
        secrets=None,
        recording=False,
    )
    return set_screen(state, Screen.MESSAGE)


def activity(state: Kiosk) -> list[fx.Effect]:
    """Someone touched the screen: start the idle time again."""
    if state.seconds_left:
        return []  # while the warning shows, only "I need more time" counts
    if state.screen is not Screen.READING:
        # On the waiting screen too: a setting changed with no card is reset after a while.
        return [fx.StartIdleTimer(state.timeouts()[0])]
    return []


def idle_timed_out(state: Kiosk) -> Step:
    if state.screen is Screen.MESSAGE and isinstance(state.card, cs.Waiting | cs.NoReader):
        # A message shown after the card left (pulled while the vote was being recorded):
        # read by now; the next voter sees the waiting screen.
        return set_screen(replace(state, settings=Settings()), Screen.WAITING)
    if state.screen is Screen.WAITING or (state.screen is Screen.MESSAGE and not state.form):
        # Nothing to discard: settings go back to default (a message stays until the card
        # is taken, in Korean).
        return replace(state, settings=Settings()), []
    seconds = max(1, int(state.timeouts()[1]))
    return replace(state, seconds_left=seconds), [fx.StartCountdown()]


def countdown_tick(state: Kiosk) -> Step:
    if state.seconds_left <= 0:
        return state, []  # a tick after the countdown was answered
    state = replace(state, seconds_left=state.seconds_left - 1)
    if state.seconds_left > 0:
        return state, []
    state, effects = time_out(state)
    return state, [fx.StopTimers(), *effects]


def time_out(state: Kiosk) -> Step:
    """Nobody answered the warning: discard the ballot and everything typed."""
    key = {Screen.RECEIPT: "receipt_done", Screen.STAFF: "staff_idle"}.get(
        state.screen, "timed_out"
    )
    state = forget(state)
    if isinstance(state.card, cs.Waiting | cs.NoReader):
        return set_screen(state, Screen.WAITING)
    state, effects = show_message(state, key)
    return state, [*effects, fx.StopTimers()]


def more_time(state: Kiosk) -> Step:
    state = replace(state, seconds_left=0)
    return state, [fx.StopTimers(), fx.StartIdleTimer(state.timeouts()[0])]


# -- settings ----------------------------------------------------------------------------------
def settings(state: Kiosk, event: ev.Event) -> Step:
    s = state.settings
    match event:
        case ev.LanguageChosen(language=language):
            if language in ("ko", "en"):
                s = replace(s, language=language)
        case ev.TextSizeChosen(index=index):
            s = replace(s, text_size=max(0, min(TEXT_SIZES - 1, index)))
        case ev.HighContrastChosen(on=on):
            s = replace(s, high_contrast=on)
        case ev.MoreTimeChosen(on=on):
            s = replace(s, more_time=on)
        case _:
            pass
    state = replace(state, settings=s)
    return state, activity(state)


# -- readers and cards -------------------------------------------------------------------------
def reader_event(state: Kiosk, event: ev.Event) -> Step:
    effects: list[fx.Effect] = []
    match event:
        case ev.ReaderAdded(reader=reader):
            state = replace(state, readers=(*state.readers, reader))
            wanted = state.setup.reader
            if state.reader is None and (wanted is None or wanted == reader):
                state = replace(state, reader=reader)
                state, effects = card_event(state, cs.ReaderReady())
        case ev.ReaderRemoved(reader=reader, detail=detail):
            state = replace(state, readers=tuple(r for r in state.readers if r != reader))
            if reader == state.reader:
                state = replace(state, reader=None)
                lost = cs.ReaderLost(ReaderError(detail or "reader removed"))
                state, effects = card_event(state, lost)
        case ev.ReaderServiceLost(detail=detail):
            lost = cs.ReaderLost(ReaderError(detail or "PC/SC service lost"))
            state, effects = card_event(state, lost)
        case ev.CardInserted(reader=reader) if reader == state.reader:
            state, effects = card_event(state, cs.CardInserted())
        case ev.CardPulled(reader=reader) if reader == state.reader:
            state, effects = card_event(state, cs.CardRemoved())
        case _:
            pass
    return state, [*effects, fx.ReportReader(state.reader is not None)]


def card_event(state: Kiosk, event: cs.CardEvent) -> Step:
    before = state.card
    state = replace(state, card=cs.next_state(before, event))
    effects: list[fx.Effect] = []
    match state.card:
        case cs.NoReader() | cs.Waiting():
            pulled_at_cast = state.recording  # the card left before the vote was recorded
            if not isinstance(before, cs.NoReader | cs.Waiting):
                state, effects = end_visit(state)
            if pulled_at_cast:
                state, more = show_message(state, "pulled_at_cast")
            else:
                state, more = set_screen(state, Screen.WAITING)
            effects += more
        case cs.Reading() if not isinstance(before, cs.Reading):
            state, effects = begin_visit(state)
        case cs.AwaitingPin():
            state, effects = set_screen(replace(state, pin=""), Screen.PIN)
        case cs.CheckingPin():
            state, effects = set_screen(state, Screen.READING)
        case cs.Refused(reason=reason):
            state, effects = show_message(state, reason.value)
        case _:
            pass
    return state, effects


def begin_visit(state: Kiosk) -> Step:
    state, effects = end_visit(state, keep_settings=True)  # chosen on the waiting screen
    number = state.visits + 1
    state = replace(state, visits=number, visit=number)
    state, more = set_screen(state, Screen.READING)
    effects += more
    if state.reader is not None and state.package is not None:
        effects.append(fx.ReadCard(number, state.reader))
    return state, effects


def end_visit(state: Kiosk, keep_settings: bool = False) -> Step:
    """Forget everything about the card that was in the reader: PIN, ballot, settings."""
    effects: list[fx.Effect] = [] if state.visit is None else [fx.CloseCard(state.visit)]
    return forget(replace(state, visit=None), keep_settings), effects


def card_failed(state: Kiosk, error: BaseException) -> Step:
    if not isinstance(error, CardError):
        log.error("unexpected error while reading a card", exc_info=error)
        error = CardError(str(error))
    return card_event(state, cs.Failed(error))


def pin_submitted(state: Kiosk) -> Step:
    card = state.card
    if state.screen is not Screen.PIN or not isinstance(card, cs.AwaitingPin):
        return state, []
    if len(state.pin) < PIN_MIN:
        return state, []
    pin = state.pin
    state, effects = card_event(replace(state, pin=""), cs.PinSubmitted())
    if state.visit is not None and state.package is not None:
        effects.append(fx.ProveCard(state.visit, card.holder, pin))
    return state, effects


def pin_digit(state: Kiosk, digit: int) -> Step:
    if state.screen is Screen.PIN and 0 <= digit <= 9 and len(state.pin) < PIN_MAX:
        state = replace(state, pin=state.pin + str(digit))
    return state, activity(state)


# -- who is it ---------------------------------------------------------------------------------
def proved(state: Kiosk, holder: CardHolder) -> Step:
    state, effects = card_event(state, cs.Proved(holder))
    if not isinstance(state.card, cs.Authenticated):
        return state, effects
    state = replace(state, holder=holder)
    visit = state.visit
    assert visit is not None  # noqa: S101 - an answer for this visit came in
    if holder.staff is not None:
        state, more = set_screen(state, Screen.STAFF)
        return state, [*effects, *more, fx.CheckPrinter(visit)]
    voter, box = holder.voter, state.box
    if voter is None or box is None:
        refusal = "not_enrolled"
    elif box.session is not Session.OPEN:
        refusal = "voting_closed"
    else:
        return state, [*effects, fx.CheckVotedHere(visit, voter)]
    state, more = show_message(state, refusal)
    return state, [*effects, *more]


def voted_here(state: Kiosk, voted: bool) -> Step:
    holder, package = state.holder, state.package
    voter = holder.voter if holder else None
    if voted:
        return show_message(state, "voted_here")
    if voter is None or package is None or not package.contests_for(voter.category):
        return show_message(state, "no_contests")
    if not state.setup.check_elsewhere:
        return start_ballot(state)
    state, effects = set_screen(state, Screen.READING)
    assert state.visit is not None  # noqa: S101
    return state, [*effects, fx.AskElsewhere(state.visit, voter, package.duplicate_policy)]


def elsewhere(state: Kiosk, answer: Elsewhere | None) -> Step:
    if answer is None:
        return start_ballot(state)  # the ledger applies the same policy on arrival
    if not answer.allowed:
        return show_message(state, answer.reason or "first_counts")
    if answer.reason:
        return start_ballot(replace(state, notice_key=answer.reason), notice=True)
    return start_ballot(state)


def start_ballot(state: Kiosk, notice: bool = False) -> Step:
    holder, package = state.holder, state.package
    assert holder is not None and holder.voter is not None and package is not None  # noqa: S101
    state = replace(state, form=BallotForm.start(package, holder.voter), page=0)
    return set_screen(state, Screen.NOTICE if notice else Screen.BALLOT)


# -- the ballot --------------------------------------------------------------------------------
def ballot_event(state: Kiosk, event: ev.Event) -> Step:
    form = state.form
    if form is None or state.screen is not Screen.BALLOT:
        return state, []
    contest = form.contest(state.page)
    match event:
        case ev.ScoreGiven(option=option, criterion=criterion, score=score):
            state = replace(state, form=form.set_score(contest.id, option, score, criterion))
        case ev.ScoreCleared(option=option):
            state = replace(state, form=form.clear_score(contest.id, option))
        case ev.ChoiceToggled(option=option):
            toggled = form.toggle_choice(contest.id, option)
            if toggled is None:
                state = replace(state, warning=Warning("full", contest.max, True))
            else:
                state = replace(state, form=toggled)
        case ev.AnswerGiven(answer=answer):
            state = replace(state, form=form.set_answer(contest.id, answer))
        case _:
            pass
    return state, activity(state)


def next_page(state: Kiosk) -> Step:
    """Next page, or review after the last one; first warn about what is unfinished."""
    form = state.form
    if form is None or state.screen is not Screen.BALLOT:
        return state, []
    effects = activity(state)
    findings = form.findings(form.contest(state.page).id)
    if findings and state.warning is None:
        finding = findings[0]
        warning = Warning(finding.problem.value, finding.count, finding.problem.blocks_casting)
        return replace(state, warning=warning), effects
    state, more = go_forward(replace(state, warning=None))
    return state, [*effects, *more]


def go_forward(state: Kiosk) -> Step:
    form = state.form
    assert form is not None  # noqa: S101
    if state.page + 1 < len(form.contests):
        return replace(state, page=state.page + 1), []
    return show_review(state)


def show_review(state: Kiosk) -> Step:
    """The review screen; the ballot is encrypted at once, off the GUI thread,
    so that Cast does not wait for it. Each showing has its own number: an encryption for an
    earlier one is dropped (``kiosk.flow.cast_or_check.encrypted``)."""
    state = replace(state, review=state.review + 1, encrypted=None, secrets=None)
    state, effects = set_screen(state, Screen.REVIEW)
    form, holder, package, box = state.form, state.holder, state.package, state.box
    if package is None or box is None or state.visit is None:
        return state, effects
    if form is None or holder is None or holder.voter is None or not form.can_cast():
        return state, effects  # nothing to encrypt until the ballot can be cast
    try:
        ballot = form.ballot()
    except HanpyoError as e:
        log.warning("ballot not encrypted: %s", e)  # Cast then says it could not be recorded
        return state, effects
    test = box.mode is Mode.TEST
    encrypt = fx.EncryptBallot(state.visit, state.review, ballot, holder.voter.excluded, test)
    return state, [*effects, encrypt]


def go_on_anyway(state: Kiosk) -> Step:
    effects: list[fx.Effect] = []
    if state.warning is not None and not state.warning.blocks and state.form is not None:
        state, effects = go_forward(replace(state, warning=None))
    return state, [*effects, *activity(state)]


def back(state: Kiosk) -> Step:
    effects = activity(state)
    state = replace(state, warning=None)
    if state.recording:
        return state, effects  # the card is signing: the ballot stays as it is
    if state.screen is Screen.REVIEW and state.form is not None:
        last = len(state.form.contests) - 1
        # The encryption is dropped: the review screen encrypts afresh when it shows again.
        state = replace(state, page=last, encrypted=None, secrets=None)
        state, more = set_screen(state, Screen.BALLOT)
        return state, [*effects, *more]
    if state.screen is Screen.BALLOT and state.page > 0:
        return replace(state, page=state.page - 1), effects
    return state, effects


def change(state: Kiosk, index: int) -> Step:
    """From the review: go back to one contest."""
    form = state.form
    if state.recording:
        return state, []
    if state.screen is Screen.REVIEW and form and 0 <= index < len(form.contests):
        state = replace(state, page=index, encrypted=None, secrets=None)
        return set_screen(state, Screen.BALLOT)
    return state, []


def was_cast(state: Kiosk, event: ev.Cast) -> Step:
    fingerprint = state.encrypted.fingerprint if state.encrypted is not None else ""
    state = replace(
        state,
        form=None,
        receipt_code=event.tracking_code,
        receipt_url=event.check_url,
        receipt_fingerprint=fingerprint,
        print_key="",
        encrypted=None,
        secrets=None,
        recording=False,
    )
    state, effects = set_screen(state, Screen.RECEIPT)
    effects.append(fx.SyncNow())
    if state.setup.has_printer and state.package is not None:
        effects.append(
            fx.PrintReceipt(
                event.visit, event.tracking_code, event.check_url, event.test, fingerprint
            )
        )
    return state, effects


def printed(state: Kiosk, error: BaseException | None) -> Step:
    if error is not None:
        log.warning("receipt not printed: %s", error)
    key = "printed" if error is None else "print_failed"
    if state.screen is Screen.CHECKED:
        key = "check_" + key  # the slip of a checked ballot, which is published, not counted
    return replace(state, print_key=key), []
