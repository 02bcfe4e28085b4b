"""Kiosk chains to tamper with, for tests: recorded through a real store, and the helpers that
forge, splice and check where verify_chain catches the change."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from kiosk.core.block import (
    Block,
    BlockKind,
    SignedBlock,
    decode_signed_block,
)
from kiosk.core.chain import Mode, verify_chain
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionId, ElectionPackage, Voter
from kiosk.core.encoding import b64d
from kiosk.core.errors import BlockError, ChainError
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import (
    SyntheticElection,
    random_ballot,
    test_voter,
    voter_of,
)
from testkit.v2_ballots import box_cast

REASONS = frozenset(
    {
        "height_gap",
        "bad_body",
        "prev_mismatch",
        "hash_mismatch",
        "wrong_election",
        "wrong_kiosk",
        "time_backwards",
        "not_genesis",
        "bad_signature",
        "not_allowed",
        "repeat_nullifier",
        "empty",
    }
)


LENGTH = 16  # blocks in each recorded chain; hypothesis draws positions before fixtures exist


LAST = LENGTH - 1


PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- the chains under attack ----------------------------------------------------------------------
@dataclass(frozen=True)
class Recorded:
    blocks: tuple[SignedBlock, ...]
    key: SigningKey
    package: ElectionPackage


class Chains:
    """The chains under attack.

    Not a dataclass: hypothesis prints a failing example's fixtures field by field, here some
    76 kB, and its "overly large repr" warning (an error in this project) would replace the
    failure with a confusing FlakyStrategyDefinition.
    """

    def __init__(self, own: Recorded, other_kiosk: Recorded, other_election: Recorded) -> None:
        self.own = own
        self.other_kiosk = other_kiosk  # same election, another kiosk key
        self.other_election = other_election  # same kiosk key as ``own``, another election

    def __repr__(self) -> str:
        return f"<Chains: {len(self.own.blocks)} blocks each, kiosk {self.own.key!r}>"

    def foreign(self, which: str) -> tuple[SignedBlock, ...]:
        return {"other_kiosk": self.other_kiosk, "other_election": self.other_election}[
            which
        ].blocks


def record(path: Path, key: SigningKey, election: SyntheticElection, seed: int) -> Recorded:
    """A real store's chain holding every block kind: a test session, then an official session
    with a pause and a resume, closed with a checkpoint."""
    rng = random.Random(seed)
    package = election.package
    store = ChainStore.create(path, rng.randbytes(32), key, package)
    try:
        box = BallotBox(store, package)

        def cast(voter: Voter) -> None:
            box_cast(box, election, voter, random_ballot(package, voter, rng))

        box.set_mode(Mode.TEST)
        box.open_session()
        cast(test_voter(election, 0))
        cast(test_voter(election, 1))
        box.close_session()
        box.set_mode(Mode.OFFICIAL)
        box.open_session()
        for n in range(3):
            cast(voter_of(election, "resident", n))
        box.pause_session()
        box.resume_session()
        cast(voter_of(election, "expert", 0))
        cast(voter_of(election, "online", 0))
        store.record_sync({}, "ledger checkpoint 7 / head 9f2c", 7, "2026-11-22T10:00:00+00:00")
        box.close_session()  # carries that checkpoint
        return Recorded(tuple(store.blocks()), key, package)
    finally:
        store.close()


# -- helpers --------------------------------------------------------------------------------------
def rejection(blocks: Sequence[SignedBlock], **expect: Any) -> ChainError:
    """verify_chain's error for ``blocks``, which it must refuse for a known reason."""
    with pytest.raises(ChainError) as caught:
        verify_chain(blocks, **expect)
    error = caught.value
    assert error.reason in REASONS, error
    return error


def assert_caught_at(blocks: Sequence[SignedBlock], position: int, **expect: Any) -> ChainError:
    """verify_chain must refuse ``blocks`` at ``position``, the first block that is not genuine."""
    error = rejection(blocks, **expect)
    # Named by position, not by the height the block claims: everything before the named height
    # is taken as verified (see test_a_gap_is_named_by_its_position).
    assert error.height == position, error
    if error.reason == "height_gap":
        assert error.expected == str(position), error
        assert error.found == str(blocks[position].block.height), error
    return error


def spliced(blocks: Sequence[SignedBlock], i: int, *new: SignedBlock) -> list[SignedBlock]:
    """``blocks`` with block ``i`` replaced by ``new`` (none: dropped)."""
    return [*blocks[:i], *new, *blocks[i + 1 :]]


def forge(doc: dict[str, Any]) -> SignedBlock:
    """A block as an attacker could hand it to verify_chain in memory, without any schema check
    and with its hash recomputed, so only the links and the signature can give it away."""
    block = Block(
        ElectionId(doc["election"]),
        doc["kiosk"],
        doc["height"],
        b64d(doc["prev"]),
        doc["time"],
        BlockKind(doc["kind"]),
        doc["body"],
    )
    return SignedBlock(block, block.hash(), b64d(doc["sig"]))


def check_flipped(blocks: Sequence[SignedBlock], i: int, raw: bytes) -> None:
    """Block ``i`` re-read from the damaged encoding ``raw`` is refused or caught at ``i``."""
    try:
        decoded = decode_signed_block(raw)
    except BlockError:
        return  # refused while reading: the damaged block never reaches the chain
    if decoded.encode() == blocks[i].encode():
        # The parser accepts non-canonical JSON; if that ever gave back the same block, nothing
        # was changed and the chain must still verify.
        assert decoded == blocks[i]
        verify_chain(spliced(blocks, i, decoded))
        return
    assert_caught_at(spliced(blocks, i, decoded), i)
