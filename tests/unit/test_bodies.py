"""Block bodies: each builder gives the body its kind's schema requires, as the kiosk wrote it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.core.block import BlockKind, Mode, check_body, read_cast_ballot
from kiosk.core.bodies import (
    ballot_kind,
    encrypted_ballot_body,
    genesis_body,
    mode_body,
    session_close_body,
    session_open_body,
    session_pause_body,
    session_resume_body,
)
from kiosk.core.chain import ChainState
from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import b64e
from kiosk.core.encrypted_ballot import BallotShape
from kiosk.core.errors import BlockError
from testkit.elections import SyntheticElection
from testkit.v2_blocks import card_signature, encrypt_for, voter_card

STATE = replace(
    ChainState(), session_number=2, session_ballots=5, session_test_ballots=1, mode=Mode.TEST
)


def test_each_body_is_the_one_its_kind_requires(package: ElectionPackage) -> None:
    key = bytes(range(32))
    bodies = {
        BlockKind.GENESIS: genesis_body(key, package),
        BlockKind.MODE: mode_body(Mode.OFFICIAL),
        BlockKind.SESSION_OPEN: session_open_body(STATE),
        BlockKind.SESSION_PAUSE: session_pause_body(STATE),
        BlockKind.SESSION_RESUME: session_resume_body(STATE),
        BlockKind.SESSION_CLOSE: session_close_body(STATE, "note"),
    }
    for kind, body in bodies.items():
        check_body(kind, body)
    assert bodies == {
        BlockKind.GENESIS: {"kiosk_key": b64e(key), "package": b64e(package.package_hash)},
        BlockKind.MODE: {"mode": "official"},
        BlockKind.SESSION_OPEN: {"session": 3},
        BlockKind.SESSION_PAUSE: {"session": 2},
        BlockKind.SESSION_RESUME: {"session": 2},
        BlockKind.SESSION_CLOSE: {
            "session": 2,
            "ballots": 5,
            "test_ballots": 1,
            "checkpoint": "note",
        },
    }


def test_a_mode_block_never_unsets_the_mode() -> None:
    with pytest.raises(BlockError, match="mode: 'unset' is not one of the allowed values"):
        check_body(BlockKind.MODE, mode_body(Mode.UNSET))


def test_a_ballot_body_is_the_encrypted_ballot_signed_by_the_card(
    election: SyntheticElection,
) -> None:
    assert ballot_kind(Mode.TEST) is BlockKind.TEST_BALLOT
    assert ballot_kind(Mode.OFFICIAL) is BlockKind.BALLOT
    card = voter_card(election, "resident")
    encrypted = encrypt_for(election.package, card.voter)
    sig = card_signature(card.key, election.package.id, card.voter.voter_id, encrypted.ballot.hash)
    body = encrypted_ballot_body(card.voter, encrypted.ballot, card.key.public_key, sig)
    check_body(BlockKind.BALLOT, body)
    cast = read_cast_ballot(BlockKind.BALLOT, body)
    assert cast.voter_id == card.voter.voter_id and cast.ballot == BallotShape.of(encrypted.ballot)
    assert (cast.card_key, cast.card_sig) == (card.key.public_key, sig)


def test_a_protocol_1_sealed_ballot_body_is_refused() -> None:
    v1 = {"nullifier": b64e(bytes(32)), "sealed": b64e(bytes(100))}
    for kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
        with pytest.raises(BlockError, match="voter"):
            check_body(kind, v1)
