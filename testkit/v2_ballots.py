"""Protocol v2 ballot blocks for tests: a synthetic voter's ballot encrypted with its proofs and
signed by the voter's card key, as the kiosk commits it (docs/spec/ballot-v2.md), and the
blocks of a log as selection reads them. Test-only: the product never imports this."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from unittest import mock

from kiosk.core import ballot_crypto
from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import BallotSecrets, encrypt_ballot, spoiled_body
from kiosk.core.block import Block, BlockKind
from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.election import ElectionId, ElectionPackage, OptionId, RollEntry, Voter
from kiosk.core.encoding import b64e
from kiosk.core.encrypted_ballot import EncryptedBallot, card_message
from kiosk.store.ballot_box import BallotBox, CastReceipt
from testkit.elections import SyntheticElection, card_of, random_ballot


@dataclass(frozen=True, slots=True)
class CastBallot:
    """A ballot as cast: the block body, the encrypted ballot, and the plaintext the test keeps
    (never published) to recount."""

    body: dict[str, Any]
    encrypted: EncryptedBallot
    plaintext: Ballot
    secrets: BallotSecrets


def roll_index(election: SyntheticElection, category: str, n: int = 0) -> int:
    """The roll position of the ``n``-th voter of ``category`` (their key is voter_keys[i])."""
    found = [i for i, e in enumerate(election.package.roll) if e.category == category]
    return found[n]


def entry(election: SyntheticElection, index: int) -> RollEntry:
    return election.package.roll[index]


def signed_body(
    voter_id: bytes, encrypted: EncryptedBallot, key: SigningKey, *, election: str | None = None
) -> dict[str, Any]:
    """The v2 ballot body: the card ``key`` signs the ballot for ``voter_id`` (in ``election``,
    by default the ballot's own)."""
    message = card_message(election or encrypted.election, voter_id, encrypted.hash)
    return {
        "voter": voter_id.hex(),
        "ballot": encrypted.to_json(),
        "card_key": b64e(key.public_key),
        "card_sig": b64e(key.sign(Domain.BALLOT, message)),
    }


def cast_ballot(
    election: SyntheticElection,
    index: int,
    rng: random.Random,
    plaintext: Ballot | None = None,
    *,
    test: bool = False,
) -> CastBallot:
    """Roll voter ``index`` (the test roll's with ``test``) casts ``plaintext`` (or a random
    valid ballot), encrypted and signed by their card."""
    package = election.package
    roll = package.test_roll if test else package.roll
    keys = election.test_card_keys if test else election.voter_keys
    e = roll[index]
    voter = (package.test_voter_for_card if test else package.voter_for_card)(e.keys[0])
    assert voter is not None and e.voter_id is not None
    ballot = plaintext or random_ballot(package, voter, rng)
    encrypted, secrets = encrypt_ballot(package, ballot, e.excluded, test=test)
    return CastBallot(signed_body(e.voter_id, encrypted, keys[index]), encrypted, ballot, secrets)


def spoiled(cast_ballot: CastBallot) -> dict[str, Any]:
    """The body of the ``spoiled`` block a Check makes of this ballot."""
    return spoiled_body(cast_ballot.encrypted, cast_ballot.secrets)


def block_kind(value: str) -> BlockKind:
    return BlockKind(value)


def log_block(
    election: str,
    source: str,
    height: int,
    kind: str,
    body: Mapping[str, Any],
    time: str = "2026-12-07T10:00Z",
) -> Block:
    """An (unsigned) block as selection reads it from the closed log."""
    return Block(
        ElectionId(election), source, height, bytes(32), time, block_kind(kind), dict(body)
    )


def box_cast(
    box: BallotBox, election: SyntheticElection, voter: Voter, ballot: Ballot
) -> CastReceipt:
    """What the kiosk does at Cast: encrypt ``ballot`` for the box's mode, have the voter's
    synthetic card sign it, and record it (``BallotBox.cast_encrypted``)."""
    encrypted, _ = encrypt_ballot(election.package, ballot, voter.excluded, test=voter.test)
    card = card_of(election, voter)
    signature = card.sign(
        Domain.BALLOT, card_message(encrypted.election, voter.voter_id, encrypted.hash)
    )
    return box.cast_encrypted(voter, encrypted, card.public_key, signature)


def encrypt_unchecked(
    package: ElectionPackage, ballot: Ballot, excluded: frozenset[OptionId], *, test: bool
) -> tuple[EncryptedBallot, BallotSecrets]:
    """What a modified kiosk's encryptor makes: ``ballot`` encrypted with every proof but
    without the contest rules' check ``encrypt_ballot`` makes first (another group's options,
    another category's contests, the voter's own proposal), for the attacks the count and the
    verifier must catch on their own."""
    with mock.patch.object(ballot_crypto, "check_contests", lambda *_args: None):
        return encrypt_ballot(package, ballot, excluded, test=test)
