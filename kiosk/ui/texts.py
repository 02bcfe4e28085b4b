"""Every sentence the Python side of the screens shows, marked for Qt's translation tools.

The source language is English; ``assets/i18n/hanpyo_ko.ts`` holds the Korean, which is
the kiosk's first language. ``lupdate`` finds these strings through QT_TRANSLATE_NOOP;
``say`` looks them up in the language the voter chose.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

CONTEXT = "Kiosk"

MESSAGES: dict[str, Any] = {  # QT_TRANSLATE_NOOP returns its text, typed as object
    # Why a card cannot be used (kiosk.hardware.card.session.Refusal), then what to do.
    "not_enrolled": QT_TRANSLATE_NOOP("Kiosk", "This card is not registered for this vote."),
    "blocked": QT_TRANSLATE_NOOP(
        "Kiosk", "This card is locked because the PIN was entered wrongly too many times."
    ),
    "not_openpgp": QT_TRANSLATE_NOOP(
        "Kiosk", "This is not a voting card. Please insert the card you were given for this vote."
    ),
    "unsupported": QT_TRANSLATE_NOOP("Kiosk", "This card cannot be used at this kiosk."),
    "auth_failed": QT_TRANSLATE_NOOP("Kiosk", "This card could not prove that it is genuine."),
    "reader_error": QT_TRANSLATE_NOOP("Kiosk", "The card reader is not working."),
    "unreadable": QT_TRANSLATE_NOOP(
        "Kiosk", "The card could not be read. Please take it out and insert it again."
    ),
    # Why a voter cannot vote now.
    "voting_closed": QT_TRANSLATE_NOOP("Kiosk", "Voting is not open at this kiosk right now."),
    "voted_here": QT_TRANSLATE_NOOP("Kiosk", "You have already voted at this kiosk."),
    "first_counts": QT_TRANSLATE_NOOP(
        "Kiosk",
        "You have already voted elsewhere. In this vote only your first ballot counts, "
        "so you cannot vote again.",
    ),
    "voted_in_person": QT_TRANSLATE_NOOP(
        "Kiosk", "You have already voted in person, so you cannot vote again."
    ),
    "replaces": QT_TRANSLATE_NOOP(
        "Kiosk",
        "You have already voted elsewhere. If you vote now, this ballot replaces your earlier one.",
    ),
    "replaces_online": QT_TRANSLATE_NOOP(
        "Kiosk",
        "You have already voted online. If you vote here, this ballot counts instead of "
        "your online one.",
    ),
    "no_contests": QT_TRANSLATE_NOOP("Kiosk", "There is nothing on the ballot for this card."),
    "cast_failed": QT_TRANSLATE_NOOP(
        "Kiosk", "Your vote could not be recorded. Nothing was saved."
    ),
    "pulled_at_cast": QT_TRANSLATE_NOOP(
        "Kiosk", "Your card was taken out before your vote was recorded. Nothing was saved."
    ),
    "check_failed": QT_TRANSLATE_NOOP(
        "Kiosk", "Your ballot could not be checked. Nothing was saved."
    ),
    # Which cards a mode takes (protocol v2).
    "real_card_in_test": QT_TRANSLATE_NOOP(
        "Kiosk", "This is a real voter card. In test mode only test cards can be used."
    ),
    "test_card_in_official": QT_TRANSLATE_NOOP(
        "Kiosk", "This is a test card. It cannot be used to vote."
    ),
    "timed_out": QT_TRANSLATE_NOOP(
        "Kiosk", "Your ballot was cleared because there was no activity. Nothing was saved."
    ),
    "receipt_done": QT_TRANSLATE_NOOP("Kiosk", "Thank you for voting."),
    "staff_idle": QT_TRANSLATE_NOOP(
        "Kiosk", "The staff screen was closed because there was no activity."
    ),
    # What to do next.
    "ask_staff": QT_TRANSLATE_NOOP("Kiosk", "Please take your card and ask a staff member."),
    "take_card": QT_TRANSLATE_NOOP("Kiosk", "Please take your card."),
    "retry_card": QT_TRANSLATE_NOOP("Kiosk", "Please take your card out and insert it again."),
    "insert_again": QT_TRANSLATE_NOOP("Kiosk", "To vote, please insert your card again."),
    # Ballot warnings.
    "unscored": QT_TRANSLATE_NOOP("Kiosk", "Proposals on this page without a score: %n."),
    "empty": QT_TRANSLATE_NOOP("Kiosk", "You have not chosen anything on this page."),
    "partial": QT_TRANSLATE_NOOP(
        "Kiosk",
        "Proposals with some items not scored: %n. Please score every item, or clear them.",
    ),
    "too_few": QT_TRANSLATE_NOOP("Kiosk", "Please choose at least %n."),
    # Printer
    "print_failed": QT_TRANSLATE_NOOP(
        "Kiosk", "The receipt could not be printed. Your vote is recorded."
    ),
    "printed": QT_TRANSLATE_NOOP("Kiosk", "Your receipt is printed."),
    "check_printed": QT_TRANSLATE_NOOP("Kiosk", "The slip for your checked ballot is printed."),
    "check_print_failed": QT_TRANSLATE_NOOP(
        "Kiosk", "The slip could not be printed. Your checked ballot is published."
    ),
}

# What a refusal tells the voter to do next: kiosk.flow.voter.NEXT_STEP.


def say(key: str, n: int = -1) -> str:
    """The message ``key`` in the current language (with %n filled in when ``n`` is given)."""
    if not key:
        return ""
    return QCoreApplication.translate(CONTEXT, MESSAGES[key], None, n)


# What the staff screen says (kiosk.flow.state.Said keys).
STAFF: dict[str, Any] = {
    "session_opened": QT_TRANSLATE_NOOP("Kiosk", "The session is open."),
    "session_paused": QT_TRANSLATE_NOOP("Kiosk", "The session is paused."),
    "session_resumed": QT_TRANSLATE_NOOP("Kiosk", "The session is open again."),
    "session_closed": QT_TRANSLATE_NOOP("Kiosk", "The session is closed."),
    "mode_changed": QT_TRANSLATE_NOOP("Kiosk", "The mode is changed."),
    "exported": QT_TRANSLATE_NOOP("Kiosk", "The chain is exported to the USB drive."),
    "loaded": QT_TRANSLATE_NOOP("Kiosk", "The election is loaded."),
    "report_printed": QT_TRANSLATE_NOOP("Kiosk", "The report is printed."),
    "no_usb": QT_TRANSLATE_NOOP("Kiosk", "No USB drive is mounted."),
    "no_election_file": QT_TRANSLATE_NOOP("Kiosk", "There is no election.json on the USB drive."),
    "checking": QT_TRANSLATE_NOOP("Kiosk", "Checking…"),
    "counting": QT_TRANSLATE_NOOP("Kiosk", "Counting…"),
}


def say_staff(key: str) -> str:
    return QCoreApplication.translate(CONTEXT, STAFF[key])
