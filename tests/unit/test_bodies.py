"""Block bodies: each builder gives the body its kind's schema requires, as the kiosk wrote it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.core.ballot import Ballot
from kiosk.core.block import BlockKind, Mode, check_body
from kiosk.core.bodies import (
    ballot_body,
    ballot_kind,
    genesis_body,
    mode_body,
    session_close_body,
    session_open_body,
    session_pause_body,
    session_resume_body,
)
from kiosk.core.chain import ChainState
from kiosk.core.crypto import SealingKey
from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import BlockError

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


def test_a_test_ballot_is_sealed_to_the_test_key(package: ElectionPackage) -> None:
    assert ballot_kind(Mode.TEST) is BlockKind.TEST_BALLOT
    assert ballot_kind(Mode.OFFICIAL) is BlockKind.BALLOT
    voter = package.voter_for_card(package.roll[0].card_key)
    assert voter is not None
    ballot = Ballot(package.id, voter.category, voter.group, {})
    body = ballot_body(package, BlockKind.TEST_BALLOT, voter, ballot)
    check_body(BlockKind.TEST_BALLOT, body)
    assert b64d(body["nullifier"]) == voter.nullifier
    opened = SealingKey(package.v1_keys().test_ballot_secret).open(b64d(body["sealed"]))
    assert opened == ballot.plaintext()
