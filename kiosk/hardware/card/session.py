"""The life of one card in the reader as a pure state machine: next_state(state, event)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never

from kiosk.hardware.card.auth import CardHolder
from kiosk.hardware.card.errors import (
    AuthenticationFailedError,
    CardBlockedError,
    CardError,
    CardRemovedError,
    NotEnrolledError,
    NotOpenPGPCardError,
    ReaderError,
    UnsupportedCardError,
    WrongPinError,
)


class Refusal(enum.StrEnum):
    """Why a card cannot go on: one clear reason for the screen."""

    NOT_ENROLLED = "not_enrolled"
    BLOCKED = "blocked"
    NOT_OPENPGP = "not_openpgp"
    UNSUPPORTED = "unsupported"
    AUTH_FAILED = "auth_failed"
    READER_ERROR = "reader_error"
    UNREADABLE = "unreadable"


def refusal_for(error: CardError) -> Refusal:
    match error:
        case NotEnrolledError():
            return Refusal.NOT_ENROLLED
        case CardBlockedError():
            return Refusal.BLOCKED
        case NotOpenPGPCardError():
            return Refusal.NOT_OPENPGP
        case UnsupportedCardError():
            return Refusal.UNSUPPORTED
        case AuthenticationFailedError():
            return Refusal.AUTH_FAILED
        case ReaderError():
            return Refusal.READER_ERROR
        case _:
            return Refusal.UNREADABLE


# -- states ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoReader:
    """No reader is connected, or the PC/SC service is down: staff must be told."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A reader is ready and empty."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A card was inserted; its key is being read and looked up."""


@dataclass(frozen=True, slots=True)
class AwaitingPin:
    holder: CardHolder
    tries_left: int
    wrong_pin: bool = False  # the last PIN was wrong: say so, with the tries left


@dataclass(frozen=True, slots=True)
class CheckingPin:
    holder: CardHolder


@dataclass(frozen=True, slots=True)
class Authenticated:
    holder: CardHolder


@dataclass(frozen=True, slots=True)
class Refused:
    """The card cannot be used; the session waits for it to be taken out."""

    reason: Refusal
    error: CardError


CardState = NoReader | Waiting | Reading | AwaitingPin | CheckingPin | Authenticated | Refused


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReaderReady:
    card_present: bool = False


@dataclass(frozen=True, slots=True)
class ReaderLost:
    error: ReaderError


@dataclass(frozen=True, slots=True)
class CardInserted:
    pass


@dataclass(frozen=True, slots=True)
class CardRemoved:
    pass


@dataclass(frozen=True, slots=True)
class Identified:
    holder: CardHolder


@dataclass(frozen=True, slots=True)
class PinSubmitted:
    pass


@dataclass(frozen=True, slots=True)
class Proved:
    holder: CardHolder


@dataclass(frozen=True, slots=True)
class Failed:
    """Reading or proving the card failed with ``error``."""

    error: CardError


CardEvent = (
    ReaderReady
    | ReaderLost
    | CardInserted
    | CardRemoved
    | Identified
    | PinSubmitted
    | Proved
    | Failed
)


def next_state(state: CardState, event: CardEvent) -> CardState:
    """Where the card session goes on ``event``. Events that make no sense now change nothing.

    A removed card or a lost reader ends the session from any state, so an unfinished
    ballot is always discarded by whoever watches for ``Waiting``/``NoReader``.
    """
    match event:
        case ReaderLost():
            return NoReader()
        case ReaderReady(card_present=present):
            return Reading() if present else Waiting()
        case CardRemoved():
            return Waiting() if not isinstance(state, NoReader) else state
        case CardInserted():
            return Reading() if isinstance(state, Waiting | NoReader) else state
        case Identified(holder=holder):
            if isinstance(state, Reading):
                return AwaitingPin(holder, holder.pin_tries)
            return state
        case PinSubmitted():
            return CheckingPin(state.holder) if isinstance(state, AwaitingPin) else state
        case Proved(holder=holder):
            return Authenticated(holder) if isinstance(state, CheckingPin) else state
        case Failed(error=error):
            return _failed(state, error)
        case _:
            assert_never(event)


def _failed(state: CardState, error: CardError) -> CardState:
    if isinstance(error, CardRemovedError):
        return Waiting()
    if isinstance(error, ReaderError):
        return NoReader()
    if isinstance(error, WrongPinError) and isinstance(state, CheckingPin):
        return AwaitingPin(state.holder, error.tries_left, wrong_pin=True)
    if isinstance(state, Reading | AwaitingPin | CheckingPin | Authenticated):
        return Refused(refusal_for(error), error)
    return state
