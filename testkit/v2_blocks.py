"""Protocol v2 ballot block bodies for tests: an encrypted ballot signed by a card key, built as
the contract (notes/v2_contract.md, "Blocks in v2") says, and bodies that break one rule each."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import BallotSecrets, encrypt_ballot, spoiled_body
from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.election import ElectionPackage, Voter
from kiosk.core.encoding import b64e
from kiosk.core.encrypted_ballot import EncryptedBallot, card_message
from testkit.elections import SyntheticElection, random_ballot


@dataclass(frozen=True, slots=True)
class Card:
    """A synthetic card: its key and the voter the package enrols it as."""

    key: SigningKey
    voter: Voter


def voter_card(election: SyntheticElection, category: str, n: int = 0) -> Card:
    """The ``n``-th enrolled voter of ``category`` with their card's key."""
    for key in election.voter_keys:
        voter = election.package.voter_for_card(key.public_key)
        if voter is not None and voter.category == category:
            if n == 0:
                return Card(key, voter)
            n -= 1
    raise LookupError(f"no voter {n} of category {category!r}")


def test_card(election: SyntheticElection, n: int = 0) -> Card:
    """Test card ``n`` of the package's test roll."""
    key = election.test_card_keys[n]
    voter = election.package.test_voter_for_card(key.public_key)
    if voter is None:
        raise LookupError(f"test card {n} is not on the test roll")
    return Card(key, voter)


test_card.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


@dataclass(frozen=True, slots=True)
class Encrypted:
    plain: Ballot
    ballot: EncryptedBallot
    secrets: BallotSecrets


def encrypt_for(
    package: ElectionPackage, voter: Voter, *, seed: int = 0, test: bool | None = None
) -> Encrypted:
    """A random valid ballot for ``voter``, encrypted (to the test key for a test voter)."""
    plain = random_ballot(package, voter, random.Random(seed))
    mode = voter.test if test is None else test
    ballot, secrets = encrypt_ballot(package, plain, voter.excluded, test=mode)
    return Encrypted(plain, ballot, secrets)


def card_signature(card: SigningKey, election: str, voter_id: bytes, ballot_hash: bytes) -> bytes:
    """What INTERNAL AUTHENTICATE returns: Ed25519 over Domain.BALLOT || card_message."""
    return card.sign(Domain.BALLOT, card_message(election, voter_id, ballot_hash))


def cast_body(
    ballot: EncryptedBallot,
    voter_id: bytes,
    signer: SigningKey,
    *,
    signed_for: bytes | None = None,
) -> dict[str, Any]:
    """A v2 ballot body for ``voter_id``, signed by ``signer`` (over ``signed_for``'s card
    message when given, to make a signature that belongs to another voter)."""
    sig = card_signature(signer, ballot.election, signed_for or voter_id, ballot.hash)
    return {
        "voter": voter_id.hex(),
        "ballot": ballot.to_json(),
        "card_key": b64e(signer.public_key),
        "card_sig": b64e(sig),
    }


def cast_by(package: ElectionPackage, card: Card, *, seed: int = 0) -> dict[str, Any]:
    """The honest case: ``card``'s voter's ballot, signed by that card."""
    assert card.voter.voter_id is not None
    encrypted = encrypt_for(package, card.voter, seed=seed)
    return cast_body(encrypted.ballot, card.voter.voter_id, card.key)


def spoiled_by(package: ElectionPackage, voter: Voter, *, seed: int = 0) -> dict[str, Any]:
    """A ``spoiled`` body for a ballot ``voter`` made and checked."""
    encrypted = encrypt_for(package, voter, seed=seed)
    return spoiled_body(encrypted.ballot, encrypted.secrets)
