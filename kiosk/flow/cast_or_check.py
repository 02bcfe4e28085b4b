"""The review screen's two buttons: Cast (the voter's card signs the encrypted ballot, the kiosk
records it) or Check (Benaloh's challenge: the kiosk publishes the ballot opened, it never
counts, and the voter makes their ballot again), and which cards a mode takes.

Pure steps like kiosk.flow.voter: ``(state, event) -> (state, effects)``. The encryption itself
is started by ``kiosk.flow.voter.show_review`` when the review screen shows.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from kiosk.core.chain import Mode
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow.state import MAX_CHECKS, Kiosk, Screen
from kiosk.flow.voter import Step, activity, card_event, set_screen, show_message, show_review
from kiosk.hardware.card import session as cs
from kiosk.hardware.card.auth import CardHolder

log = logging.getLogger("hanpyo.kiosk.flow")


# -- which cards a mode takes ---------------------------------------------------------------------
def card_read(state: Kiosk, holder: CardHolder) -> Step:
    """A card was read: a test-mode kiosk takes only test cards and an official
    one only voter cards, so no real voter's ballot is ever recorded as a test, and no test
    card ever votes. Refused before the PIN, with the reason in words."""
    state, effects = card_event(state, cs.Identified(holder))
    refusal = _wrong_card_for_mode(state, holder)
    if refusal is None:
        return state, effects
    state, more = show_message(state, refusal)
    return state, [*effects, *more]


def _wrong_card_for_mode(state: Kiosk, holder: CardHolder) -> str | None:
    voter, box = holder.voter, state.box
    if voter is None or box is None:
        return None
    if box.mode is Mode.TEST and not voter.test:
        return "real_card_in_test"
    if box.mode is Mode.OFFICIAL and voter.test:
        return "test_card_in_official"
    return None


# -- the encryption ------------------------------------------------------------------------------
def encrypted(state: Kiosk, event: ev.BallotEncrypted) -> Step:
    """Keep the encryption if it is for the review screen showing now; otherwise it is dropped
    here (the voter went back to change a choice, or already tapped a button)."""
    if state.screen is not Screen.REVIEW or event.review != state.review or state.recording:
        return state, []
    return replace(state, encrypted=event.ballot, secrets=event.secrets), []


def encryption_failed(state: Kiosk, event: ev.EncryptionFailed) -> Step:
    if state.screen is not Screen.REVIEW or event.review != state.review:
        return state, []
    log.error("the ballot could not be encrypted", exc_info=event.error)
    return show_message(state, "cast_failed")


# -- Cast ----------------------------------------------------------------------------------------
def cast(state: Kiosk) -> Step:
    """Cast: the card signs the encrypted ballot (on the card thread), then the kiosk records
    it. The randomness is dropped here, at the tap: a cast ballot never needs it again, and a
    failure from here on ends the visit with nothing recorded.

    Dropping is all Python allows: ``secrets=None`` removes the flow's last reference, so the
    nonces and the plaintext are freed, but Python cannot overwrite memory. Their bytes stay in
    the process's freed memory until reused; someone who can read this process's memory during
    the visit (root on the kiosk) could recover them, as they could read the screen. Nothing
    writes them to disk, a log or the record.
    """
    ballot, holder, visit = state.encrypted, state.holder, state.visit
    if state.screen is not Screen.REVIEW or state.recording or ballot is None:
        return state, []  # still encrypting (the button is not active yet) or already tapped
    if state.asking_check:
        return state, []  # the check overlay covers the Cast button
    if holder is None or holder.voter is None or visit is None:
        return state, []
    state = replace(state, secrets=None, recording=True)
    return state, [fx.SignBallot(visit, holder, ballot)]


def signed(state: Kiosk, event: ev.BallotSigned) -> Step:
    ballot, holder, visit = state.encrypted, state.holder, state.visit
    if not state.recording or ballot is None or ballot.hash != event.ballot_hash:
        return state, []
    if holder is None or holder.voter is None or visit is None:
        return state, []
    return state, [fx.CastEncrypted(visit, holder.voter, ballot, holder.card_key, event.signature)]


def signing_failed(state: Kiosk, event: ev.SigningFailed) -> Step:
    if not state.recording:
        return state, []
    log.warning("the card did not sign the ballot: %s", event.error)
    return show_message(state, "cast_failed")


# -- Check ---------------------------------------------------------------------------------------
def ask_check(state: Kiosk) -> Step:
    """Check was tapped: first say, over the review, what a check does (the ballot is shown
    opened and not counted; the voter then makes it again), so no one checks by mistake."""
    if not _may_check(state):
        return state, []
    state = replace(state, asking_check=True)
    return state, activity(state)


def check(state: Kiosk) -> Step:
    """Check, confirmed: publish this ballot opened (a ``spoiled`` block with its randomness)
    so that the voter, or anyone, can see on the check page that it holds their choices. No card
    signature: it never counts."""
    ballot, secrets, visit = state.encrypted, state.secrets, state.visit
    if not state.asking_check or not _may_check(state):
        return replace(state, asking_check=False), []
    assert ballot is not None and secrets is not None and visit is not None  # noqa: S101
    state = replace(state, recording=True, asking_check=False)
    return state, [fx.SpoilBallot(visit, ballot, secrets)]


def _may_check(state: Kiosk) -> bool:
    return (
        state.screen is Screen.REVIEW
        and not state.recording
        and state.visit is not None
        and state.encrypted is not None
        and state.secrets is not None
        and state.checks < MAX_CHECKS
    )


def spoiled(state: Kiosk, event: ev.Spoiled) -> Step:
    fingerprint = state.encrypted.fingerprint if state.encrypted is not None else ""
    state = replace(
        state,
        encrypted=None,
        secrets=None,  # published now: nothing left to keep
        recording=False,
        checks=state.checks + 1,
        receipt_code=event.tracking_code,
        receipt_url=event.check_url,
        receipt_fingerprint=fingerprint,
        print_key="",
    )
    state, effects = set_screen(state, Screen.CHECKED)
    effects.append(fx.SyncNow())
    if state.setup.has_printer:
        effects.append(
            fx.PrintReceipt(
                event.visit,
                event.tracking_code,
                event.check_url,
                event.test,
                fingerprint,
                checked=True,
            )
        )
    return state, effects


def spoil_refused(state: Kiosk) -> Step:
    return show_message(state, "check_failed")


def ballot_again(state: Kiosk) -> Step:
    """From the checked-ballot screen back to the voter's choices, kept as they were, and a new
    encryption of them (a new ballot id and new randomness: the checked one is public now)."""
    if state.screen is not Screen.CHECKED or state.form is None:
        return state, []
    state = replace(state, receipt_code="", receipt_url="", receipt_fingerprint="", print_key="")
    return show_review(state)
