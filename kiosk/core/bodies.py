"""Block bodies: the one builder for each kind of block a kiosk records. The kiosk's ballot box
and the test kit's chain writer both build their blocks here, so they cannot drift apart."""

from __future__ import annotations

from typing import Any

from kiosk.core.block import BlockKind, Mode
from kiosk.core.chain import ChainState
from kiosk.core.election import ElectionPackage, Voter
from kiosk.core.encoding import b64e
from kiosk.core.encrypted_ballot import EncryptedBallot


def genesis_body(kiosk_key: bytes, package: ElectionPackage) -> dict[str, Any]:
    """The first block: the kiosk's public key and the package it runs."""
    return {"kiosk_key": b64e(kiosk_key), "package": b64e(package.package_hash)}


def mode_body(mode: Mode) -> dict[str, Any]:
    return {"mode": mode.value}


def session_open_body(state: ChainState) -> dict[str, Any]:
    """Opening the next session after the ones in ``state``."""
    return {"session": state.session_number + 1}


def session_pause_body(state: ChainState) -> dict[str, Any]:
    return {"session": state.session_number}


def session_resume_body(state: ChainState) -> dict[str, Any]:
    return {"session": state.session_number}


def session_close_body(state: ChainState, checkpoint: str | None) -> dict[str, Any]:
    """Closing the open session with its counts and the latest ledger checkpoint the kiosk
    verified (None if it never reached the ledger)."""
    return {
        "session": state.session_number,
        "ballots": state.session_ballots,
        "test_ballots": state.session_test_ballots,
        "checkpoint": checkpoint,
    }


def ballot_kind(mode: Mode) -> BlockKind:
    """The kind of ballot block a kiosk in ``mode`` records."""
    return BlockKind.TEST_BALLOT if mode is Mode.TEST else BlockKind.BALLOT


def encrypted_ballot_body(
    voter: Voter, ballot: EncryptedBallot, card_key: bytes, card_sig: bytes
) -> dict[str, Any]:
    """A cast ballot (docs/spec/ballot-v2.md): the voter id, the
    encrypted ballot, the card key that signed and its signature over
    ``card_message(election, voter id, ballot hash)`` under ``hanpyo/ballot/v2``. Anyone checks
    the signature against the public roll; nobody can open the ballot alone."""
    return {
        "voter": voter.voter_id.hex(),
        "ballot": ballot.to_json(),
        "card_key": b64e(card_key),
        "card_sig": b64e(card_sig),
    }
