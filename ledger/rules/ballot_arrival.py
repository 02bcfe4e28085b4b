"""What the ledger checks of a protocol v2 ballot when it arrives, before it takes the block:
the voter on the roll, the card key theirs, the card's signature over this very ballot, the
election, and the ballot's form for the roll entry (verifiable-election.md, "The count", step
2, done early). All cheap: one Ed25519 verification and no group operation. Ballot proofs are
left to the count, which checks them in parallel (ledger/rules/selection.py).

The reasons are the count's (``ledger.rules.selection``), so a kiosk, an observer and the
count name a ballot's fault alike; a test ballot is held to the test roll the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.core.block import (
    BlockKind,
    CastBallot,
    SignedBlock,
    read_cast_ballot,
    read_spoiled_ballot,
)
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.election import ElectionPackage, RollEntry
from kiosk.core.encoding import b64e
from kiosk.core.encrypted_ballot import (
    BallotFormError,
    BallotShape,
    card_message,
    check_form,
)
from kiosk.core.errors import BallotError, BlockError, VerificationError
from ledger.rules.errors import LedgerError

# Stable reasons, in the order the checks run; the first a ballot fails is its reason.
VOTER_NOT_ON_ROLL = "voter_not_on_roll"
KEY_NOT_ON_ROLL = "key_not_on_roll"
KEY_OF_ANOTHER_VOTER = "key_of_another_voter"
BAD_CARD_SIGNATURE = "bad_card_signature"
OTHER_ELECTION = "other_election"
CATEGORY_OR_GROUP = "category_or_group"
BAD_FORM = "bad_form"
ARRIVAL_REASONS = (
    VOTER_NOT_ON_ROLL,
    KEY_NOT_ON_ROLL,
    KEY_OF_ANOTHER_VOTER,
    BAD_CARD_SIGNATURE,
    OTHER_ELECTION,
    CATEGORY_OR_GROUP,
    BAD_FORM,
)


class BallotRefused(LedgerError):
    """A ballot block the ledger does not take; ``reason`` is one of ``ARRIVAL_REASONS``."""


def check_ballot_arrival(
    package: ElectionPackage,
    signed: SignedBlock,
    read: CastBallot | BallotShape | None = None,
) -> None:
    """Raise ``BallotRefused`` unless ``signed`` (a block of any kind, its chain already
    verified) may enter the log of a ``package`` election. Only v2 ballot and spoiled blocks
    are looked at. ``read``: the ballot its body holds, as the decoder read it
    (``DecodedBlock.ballot``), so that it is not read again."""
    block = signed.block
    match block.kind:
        case BlockKind.BALLOT | BlockKind.TEST_BALLOT:
            cast = read if isinstance(read, CastBallot) else None
            check_cast_ballot(package, block.kind is BlockKind.TEST_BALLOT, block.body, cast)
        case BlockKind.SPOILED:
            spoiled = read if isinstance(read, BallotShape) else None
            check_spoiled_ballot(package, block.body, spoiled)


def check_cast_ballot(
    package: ElectionPackage, test: bool, body: Mapping[str, Any], cast: CastBallot | None = None
) -> None:
    """A v2 ballot body (a test ballot's when ``test``; ``cast``: the body already read)
    against the package's roll (the test roll for a test ballot)."""
    kind = BlockKind.TEST_BALLOT if test else BlockKind.BALLOT
    if cast is None:
        try:
            cast = read_cast_ballot(kind, body)
        except BlockError as e:
            raise BallotRefused(BAD_FORM, str(e)) from e
    entry = _roll_entry(package, cast.voter_id, test=test)
    _check_key(package, entry, cast.card_key, test=test)
    _check_card_signature(cast, cast.voter_id, cast.card_key, cast.card_sig)
    _check_election(package, cast.ballot)
    _check_form(package, cast.ballot, entry, test=test)


def check_spoiled_ballot(
    package: ElectionPackage, body: Mapping[str, Any], ballot: BallotShape | None = None
) -> None:
    """A spoiled ballot names no voter; it must parse and be for this election."""
    if ballot is None:
        try:
            ballot = read_spoiled_ballot(body)
        except BlockError as e:
            raise BallotRefused(BAD_FORM, str(e)) from e
    _check_election(package, ballot)


def _roll_entry(package: ElectionPackage, voter_id: bytes, *, test: bool) -> RollEntry:
    entry = (package.test_entry_by_voter if test else package.roll_entry_by_voter)(voter_id)
    if entry is not None:
        return entry
    other = (package.roll_entry_by_voter if test else package.test_entry_by_voter)(voter_id)
    if other is None:
        where = "the test roll" if test else "the roll"
        detail = f"voter {voter_id.hex()} is not on {where}"
    elif test:
        detail = (
            f"voter {voter_id.hex()} is on the official roll: a voter's card never casts a "
            "test ballot, only test cards do"
        )
    else:
        detail = (
            f"voter {voter_id.hex()} is a test card's: test cards cast test ballots only, in "
            "test mode"
        )
    raise BallotRefused(VOTER_NOT_ON_ROLL, detail)


def _check_key(package: ElectionPackage, entry: RollEntry, key: bytes, *, test: bool) -> None:
    if key in entry.keys:
        return
    owner = package.roll_entry(key)
    holder = package.test_voter_for_card(key) if owner is None else None
    voter = owner.voter_id if owner is not None else holder.voter_id if holder else None
    if voter is not None:
        raise BallotRefused(
            KEY_OF_ANOTHER_VOTER,
            f"card key {b64e(key)} is voter {voter.hex()}'s, not this voter's",
        )
    raise BallotRefused(KEY_NOT_ON_ROLL, f"card key {b64e(key)} is not enrolled for anyone")


def _check_card_signature(cast: CastBallot, voter: bytes, key: bytes, sig: bytes) -> None:
    # RFC 8032 §5.1.7 verification (PyNaCl) over Domain.BALLOT || card_message: what the card
    # signed with INTERNAL AUTHENTICATE (kiosk/core/encrypted_ballot.py, card_challenge). The
    # ballot's hash is the one taken from the bytes read (CastBallot.ballot_hash).
    try:
        message = card_message(cast.ballot.election, voter, cast.ballot_hash)
        verify_signature(Domain.BALLOT, key, message, sig)
    except BallotError as e:
        raise BallotRefused(BAD_FORM, str(e)) from e
    except VerificationError as e:
        raise BallotRefused(
            BAD_CARD_SIGNATURE,
            "the card signature does not verify for this voter and this ballot",
        ) from e


def _check_election(package: ElectionPackage, ballot: BallotShape) -> None:
    if ballot.election != package.id:
        raise BallotRefused(
            OTHER_ELECTION, f"the ballot is for election {ballot.election!r}, not {package.id!r}"
        )


def _check_form(
    package: ElectionPackage, ballot: BallotShape, entry: RollEntry, *, test: bool
) -> None:
    try:
        check_form(package, ballot, entry.category, entry.group, entry.excluded, test=test)
    except BallotFormError as e:
        if (ballot.category, ballot.group) != (entry.category, entry.group):
            raise BallotRefused(CATEGORY_OR_GROUP, str(e)) from e
        raise BallotRefused(BAD_FORM, str(e)) from e
