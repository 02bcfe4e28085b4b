"""The kiosk's flow without Qt and without pcscd, for the voter: a whole visit, refusals and
the idle warning, through the effect runner, a real ballot box and fake devices."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.flow import events as ev
from kiosk.flow import state as st
from kiosk.flow.state import Screen
from kiosk.flow.views import views
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.flows import IDLE, WARNING, Flow, card, staff_card, voter


# -- the voter -----------------------------------------------------------------------------------
def test_a_whole_visit_from_card_to_receipt(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    assert flow.screen() is Screen.WAITING and flow.state.reader == flow.reader.name
    flow.post(ev.LanguageChosen("en"), ev.TextSizeChosen(9), ev.HighContrastChosen(True))
    assert flow.state.settings == st.Settings("en", False, 3, True)  # the size is clamped

    flow.insert(voter(election, "resident"))
    assert flow.screen() is Screen.PIN
    assert flow.state.settings.language == "en"  # chosen before the card: kept for it
    flow.post(*(ev.PinDigit(d) for d in range(10)), ev.PinDigit(1), ev.PinDigit(2))
    assert len(flow.state.pin) == st.PIN_MAX  # the 13th digit is not taken
    flow.post(*(ev.PinBack() for _ in range(st.PIN_MAX)))
    flow.post(*(ev.PinDigit(0) for _ in range(5)), ev.PinSubmitted())
    assert flow.screen() is Screen.PIN and not views(flow.state).pin.ready  # 5 digits: too few
    flow.post(ev.PinDigit(0), ev.PinSubmitted())  # a wrong PIN
    pin = views(flow.state).pin
    assert flow.screen() is Screen.PIN and pin.wrong and pin.tries_left == 2 and pin.length == 0

    flow.type_pin()
    assert flow.screen() is Screen.BALLOT
    form = flow.state.form
    assert form is not None
    ballot = views(flow.state).ballot
    assert ballot.page_index == 0 and ballot.page_count == len(form.contests) >= 2
    assert ballot.contest_kind == "score" and ballot.options

    flow.post(ev.NextPage())  # nothing scored: a warning that may be passed
    warning = flow.state.warning
    assert warning is not None and warning.key == "empty" and not warning.blocks
    flow.post(ev.WarningClosed())
    first = ballot.options[0].option_id
    flow.post(ev.ScoreGiven(first, "", ballot.contest_max))
    assert views(flow.state).ballot.options[0].score == ballot.contest_max
    flow.post(ev.DetailShown(first))
    assert views(flow.state).overlay.detail is not None
    flow.post(ev.DetailClosed(), ev.NextPage())
    warning = flow.state.warning
    assert warning is not None and warning.key == "unscored"
    assert warning.n == len(ballot.options) - 1
    flow.post(ev.GoOnAnyway())
    assert flow.state.page == 1 and flow.state.warning is None
    flow.post(ev.PreviousPage())
    assert flow.state.page == 0
    flow.post(ev.NextPage(), ev.GoOnAnyway())
    while flow.screen() is Screen.BALLOT:
        page = views(flow.state).ballot
        if page.contest_kind == "yesno":
            flow.post(ev.AnswerGiven("yes"))
        flow.post(ev.NextPage())
        if flow.state.warning is not None:
            flow.post(ev.GoOnAnyway())
    assert flow.screen() is Screen.REVIEW
    review = views(flow.state).review.rows
    assert len(review) == len(form.contests) and review[0].problem == ("unscored", warning.n)
    flow.post(ev.ChangeContest(0))
    assert flow.screen() is Screen.BALLOT and flow.state.page == 0
    flow.post(ev.NextPage(), ev.GoOnAnyway())
    while flow.screen() is Screen.BALLOT:
        flow.post(ev.NextPage(), ev.GoOnAnyway())

    flow.post(ev.CastAsked())
    assert flow.screen() is Screen.RECEIPT
    receipt = views(flow.state).receipt
    assert receipt.code and receipt.code in receipt.url and receipt.print_key == "printed"
    assert flow.printer.printed[-1].code == receipt.code
    assert flow.state.box is not None and flow.chain().session_ballots == 1
    assert flow.services.reader_state == "ok"

    flow.pull()
    assert flow.screen() is Screen.WAITING
    assert flow.state.form is None and flow.state.pin == "" and flow.state.receipt_code == ""
    assert flow.state.settings == st.Settings()  # the next voter starts from the defaults

    flow.sign_in(voter(election, "resident"))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "voted_here"
    assert flow.state.next_key == "ask_staff"


@pytest.fixture(scope="module")
def one_like() -> SyntheticElection:
    """Online members may like one proposal only."""
    d = review_definition(1, 3, election_id="one-like")
    for contest in d["contests"]:
        if contest["id"] == "likes":
            contest["max"] = 1
    return build_election(d, seed="one-like", online_per_proposal=1)


def test_a_choice_over_the_limit_is_refused_with_a_blocking_warning(
    make_flow: Callable[..., Flow], one_like: SyntheticElection
) -> None:
    flow = make_flow(of=one_like)
    flow.sign_in(voter(one_like, "online"))
    assert flow.screen() is Screen.BALLOT
    ballot = views(flow.state).ballot
    assert ballot.contest_kind == "choice" and ballot.contest_max == 1
    first, second = ballot.options[0].option_id, ballot.options[1].option_id
    flow.post(ev.ChoiceToggled(first), ev.ChoiceToggled(second))
    assert views(flow.state).ballot.chosen_count == 1
    assert flow.state.warning == st.Warning("full", 1, True)
    flow.post(ev.GoOnAnyway())
    assert flow.state.warning is not None  # a blocking warning cannot be passed
    flow.post(ev.WarningClosed(), ev.ChoiceToggled(first), ev.ChoiceToggled(second))
    assert views(flow.state).ballot.options[1].chosen and flow.state.warning is None


def test_refusals(make_flow: Callable[..., Flow], election: SyntheticElection) -> None:
    flow = make_flow(open_session=False)
    flow.sign_in(voter(election, "resident"))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "voting_closed"
    flow.pull()
    stranger = card(b"\x07" * 32)
    flow.insert(stranger)
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "not_enrolled"


def test_an_answer_for_a_pulled_card_is_dropped(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.insert(voter(election, "resident"))
    visit = flow.state.visit
    assert visit is not None and flow.screen() is Screen.PIN
    holder = flow.state.card.holder  # type: ignore[union-attr]
    flow.pull()
    before = flow.state
    flow.post(ev.CardProved(visit, holder))
    assert flow.state == before and flow.screen() is Screen.WAITING


# -- the idle warning ----------------------------------------------------------------------------
def test_nobody_answers_the_warning(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.sign_in(voter(election, "resident"))
    assert flow.timers.idle == IDLE
    flow.post(ev.IdleTimedOut())
    assert flow.state.seconds_left == WARNING and flow.timers.countdown
    flow.post(ev.Touched())
    assert flow.state.seconds_left == WARNING  # only "I need more time" counts now
    flow.post(*(ev.CountdownTick() for _ in range(int(WARNING))))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "timed_out"
    assert flow.state.form is None and flow.timers.idle is None


def test_more_time_doubles_both_waits(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.post(ev.MoreTimeChosen(True))
    assert flow.timers.idle == 2 * IDLE
    flow.sign_in(voter(election, "resident"))
    flow.post(ev.IdleTimedOut())
    assert flow.state.seconds_left == 2 * WARNING
    flow.post(ev.CountdownTick(), ev.MoreTimeAsked())
    assert flow.state.seconds_left == 0 and flow.timers.idle == 2 * IDLE
    assert flow.screen() is Screen.BALLOT


def test_settings_chosen_with_no_card_are_reset_after_a_while(
    make_flow: Callable[..., Flow],
) -> None:
    flow = make_flow()
    flow.post(ev.LanguageChosen("en"), ev.IdleTimedOut())
    assert flow.state.settings == st.Settings() and flow.state.seconds_left == 0


def test_the_staff_screen_closes_itself(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.sign_in(staff_card(election, "poll_worker"))
    assert flow.screen() is Screen.STAFF
    flow.post(ev.IdleTimedOut(), *(ev.CountdownTick() for _ in range(int(WARNING))))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "staff_idle"
