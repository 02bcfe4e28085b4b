"""The card session state machine: every path a card can take through the kiosk."""

from __future__ import annotations

import pytest

from kiosk.hardware.card.auth import CardHolder
from kiosk.hardware.card.errors import (
    CardBlockedError,
    CardRemovedError,
    MalformedResponseError,
    NotEnrolledError,
    ReaderError,
    WrongPinError,
)
from kiosk.hardware.card.errors import CardError as AnyCardError
from kiosk.hardware.card.session import (
    Authenticated,
    AwaitingPin,
    CardInserted,
    CardRemoved,
    CheckingPin,
    Failed,
    Identified,
    NoReader,
    PinSubmitted,
    Proved,
    ReaderLost,
    ReaderReady,
    Reading,
    Refusal,
    Refused,
    Waiting,
    next_state,
)
from kiosk.hardware.card.session import CardEvent as Event
from kiosk.hardware.card.session import CardState as State

HOLDER = CardHolder(card_key=bytes(32), serial="12345678", pin_tries=3)
ALL_STATES = [
    NoReader(),
    Waiting(),
    Reading(),
    AwaitingPin(HOLDER, 3),
    CheckingPin(HOLDER),
    Authenticated(HOLDER),
    Refused(Refusal.BLOCKED, CardBlockedError("x")),
]


def run(*events: Event) -> State:
    state: State = NoReader()
    for event in events:
        state = next_state(state, event)
    return state


def test_the_happy_path_ends_authenticated() -> None:
    state = run(ReaderReady(), CardInserted(), Identified(HOLDER), PinSubmitted(), Proved(HOLDER))
    assert state == Authenticated(HOLDER)


def test_a_wrong_pin_returns_to_the_pin_pad_with_the_tries_left() -> None:
    state = run(
        ReaderReady(), CardInserted(), Identified(HOLDER), PinSubmitted(), Failed(WrongPinError(2))
    )
    assert state == AwaitingPin(HOLDER, 2, wrong_pin=True)


def test_a_blocked_card_is_refused_until_removed() -> None:
    state = run(
        ReaderReady(),
        CardInserted(),
        Identified(HOLDER),
        PinSubmitted(),
        Failed(CardBlockedError("blocked")),
    )
    assert isinstance(state, Refused) and state.reason is Refusal.BLOCKED
    assert next_state(state, PinSubmitted()) == state
    assert next_state(state, CardRemoved()) == Waiting()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (NotEnrolledError("x"), Refusal.NOT_ENROLLED),
        (MalformedResponseError("x"), Refusal.UNREADABLE),
    ],
)
def test_a_card_that_cannot_be_identified_is_refused_with_its_reason(
    error: AnyCardError, reason: Refusal
) -> None:
    state = run(ReaderReady(), CardInserted(), Failed(error))
    assert isinstance(state, Refused) and state.reason is reason


@pytest.mark.parametrize("state", ALL_STATES)
def test_pulling_the_card_anywhere_ends_the_session(state: State) -> None:
    expected = NoReader() if isinstance(state, NoReader) else Waiting()
    assert next_state(state, CardRemoved()) == expected
    assert next_state(state, Failed(CardRemovedError("pulled"))) == Waiting()


@pytest.mark.parametrize("state", ALL_STATES)
def test_losing_the_reader_anywhere_ends_the_session(state: State) -> None:
    assert next_state(state, ReaderLost(ReaderError("gone"))) == NoReader()
    assert next_state(state, Failed(ReaderError("gone"))) == NoReader()


def test_a_reader_that_comes_back_with_a_card_in_it_reads_the_card() -> None:
    assert run(ReaderReady(card_present=True)) == Reading()


def test_events_out_of_turn_change_nothing() -> None:
    assert next_state(Waiting(), Proved(HOLDER)) == Waiting()
    assert next_state(Waiting(), PinSubmitted()) == Waiting()
    assert next_state(Authenticated(HOLDER), CardInserted()) == Authenticated(HOLDER)
    assert next_state(Reading(), Proved(HOLDER)) == Reading()
