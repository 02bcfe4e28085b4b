"""A protocol v2 election in the reference event's shape, for the end-to-end test: the roll file
`ledger election create --protocol 2` reads (voter cards, online members' credential keys, test
cards), a hall kiosk that votes through real pcscd with simulated cards (identify, PIN, Check or
Cast with the card's INTERNAL AUTHENTICATE signature, as kiosk/flow/runner.py does it), what
the test keeps of every cast ballot (never published), and an independent recount of those
plaintexts under the duplicate policy, written here without the product's selection code.

TESTS ONLY: the product never imports this."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ContestKind, ElectionPackage, Voter
from kiosk.core.encoding import b64e
from kiosk.core.tally import count_plaintexts
from kiosk.hardware.card.auth import identify, prove, sign_ballot
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import (
    SyntheticElection,
    build_election,
    derived_key,
    random_ballot,
    roll_file_entries,
)

PIN = "123456"

#: How a voter makes their choices: a ballot for the voter, from the random source.
Chooser = Callable[[ElectionPackage, Voter, random.Random], Ballot]


# -- the roll ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRoll:
    """The roll file's document and the keys of every card and credential it enrols, in roll
    order (voter_keys[i] is roll entry i's only key; test_card_keys[i] test roll entry i's)."""

    document: dict[str, Any]
    authority: SigningKey
    voter_keys: tuple[SigningKey, ...]
    staff_keys: tuple[SigningKey, ...]
    test_card_keys: tuple[SigningKey, ...]


def event_roll(
    definition: Mapping[str, Any],
    seed: str,
    *,
    experts_per_group: int,
    online_per_proposal: int,
    test_categories: Sequence[str] = ("resident", "expert", "online"),
) -> EventRoll:
    """The enrolment office's roll file: a card per resident (recused from their own proposal)
    and expert, a credential key per online member (recused too), a test card per category of
    ``test_categories`` (the first voter of that category's group and recusals), staff cards."""
    synthetic = build_election(
        definition,
        seed=seed,
        experts_per_group=experts_per_group,
        online_per_proposal=online_per_proposal,
    )
    document = synthetic.package.to_json()
    roll = roll_file_entries(synthetic.package)
    test_keys = tuple(derived_key(seed, "test-card", i) for i in range(len(test_categories)))
    test_roll = []
    for key, category in zip(test_keys, test_categories, strict=True):
        like = next(e for e in roll if e["category"] == category)
        test_roll.append(like | {"card_key": b64e(key.public_key)})
    return EventRoll(
        {"roll": roll, "test_roll": test_roll, "staff": document["staff"]},
        synthetic.authority,
        synthetic.voter_keys,
        synthetic.staff_keys,
        test_keys,
    )


def election_of(package: ElectionPackage, roll: EventRoll) -> SyntheticElection:
    """The package `ledger election create` made from ``roll``, with the keys the test holds.
    The command keeps the roll file's order; this checks it."""
    for entry, key in zip(package.roll, roll.voter_keys, strict=True):
        assert entry.keys == (key.public_key,)
    for entry, key in zip(package.test_roll, roll.test_card_keys, strict=True):
        assert key.public_key in entry.keys
    return SyntheticElection(
        package,
        roll.authority,
        roll.voter_keys,
        roll.staff_keys,
        roll.test_card_keys,
    )


def roll_of(package: ElectionPackage, category: str) -> list[int]:
    """Roll positions of ``category``'s voters."""
    return [i for i, e in enumerate(package.roll) if e.category == category]


def tying(tied: tuple[str, str], score: int) -> Chooser:
    """Random choices, except that the two ``tied`` proposals get ``score`` from every voter who
    scores them and no like: whatever the others do, they end exactly level, and the results
    must mark the tie and apply the published tie-break."""

    def choose(package: ElectionPackage, voter: Voter, rng: random.Random) -> Ballot:
        ballot = random_ballot(package, voter, rng)
        selections = dict(ballot.selections)
        for contest in package.contests_for(voter.category):
            chosen = selections.get(contest.id)
            if contest.kind is ContestKind.SCORE and isinstance(chosen, Mapping):
                selections[contest.id] = {o: score if o in tied else v for o, v in chosen.items()}
            elif contest.kind is ContestKind.CHOICE and isinstance(chosen, tuple):
                selections[contest.id] = tuple(o for o in chosen if o not in tied)
        return dataclasses.replace(ballot, selections=selections)

    return choose


# -- what the test keeps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """One official ballot as cast, kept by the test (never published): who, where, when (the
    block's source, channel, time and height) and its plaintext."""

    voter: bytes
    source: str
    channel: str
    time: str
    height: int
    plaintext: Ballot


def counted_by_policy(kept: Sequence[Kept], policy: str) -> list[Kept]:
    """Of each voter's ballots, the one the package's duplicate policy counts, decided here
    from the policy's published words: ballots in the order they were cast (block time, then
    source, then height); ``in_person_wins``: the first cast at a kiosk, else the last cast
    online;
    ``first`` / ``last``: the first or last cast."""
    by_voter: dict[bytes, list[Kept]] = {}
    for k in kept:
        by_voter.setdefault(k.voter, []).append(k)
    out = []
    for ballots in by_voter.values():
        ballots.sort(key=lambda k: (k.time, k.source, k.height))
        if policy == "in_person_wins":
            out.append(next((k for k in ballots if k.channel == "kiosk"), ballots[-1]))
        elif policy == "first":
            out.append(ballots[0])
        elif policy == "last":
            out.append(ballots[-1])
        else:
            raise ValueError(f"no such duplicate policy: {policy}")
    return out


def recount(package: ElectionPackage, kept: Sequence[Kept]) -> dict[str, Any]:
    """The results of the plaintexts the policy counts, by the package's tally rules."""
    counted = counted_by_policy(kept, package.duplicate_policy.value)
    return count_plaintexts(package, [k.plaintext.plaintext() for k in counted])


# -- a hall kiosk with a card reader ---------------------------------------------------------------


@dataclass(frozen=True)
class CardVote:
    """What a voter's visit left: the tracking codes of their checked ballots and of the cast
    one, and the cast ballot as the test keeps it."""

    checked: tuple[str, ...]
    code: str
    kept: Kept


class HallKiosk:
    """A kiosk's real SQLCipher store and ballot box, with the card reader on ``reader`` of a
    private pcscd: each voter's card (a simulated OpenPGP card holding their key) goes in,
    is identified against the roll, proves its PIN, and signs the ballot the kiosk encrypted."""

    def __init__(
        self,
        path: Path,
        key: SigningKey,
        election: SyntheticElection,
        pcscd: PrivatePcscd,
        simulator: Simulator,
        reader: int,
    ) -> None:
        self.key, self.election = key, election
        self.store = ChainStore.create(path, random.randbytes(32), key, election.package)
        self.box = BallotBox(self.store, election.package)
        self.pcscd, self.simulator, self.reader = pcscd, simulator, reader

    @property
    def kiosk_id(self) -> str:
        return kiosk_id_for(self.key.public_key)

    @contextmanager
    def card(self, key: SigningKey) -> Iterator[OpenPGPCard]:
        name = f"card-{key.public_key.hex()[:12]}"
        self.simulator.add_card(name, VirtualCard.with_auth_key(key.seed, "Voter"))
        self.simulator.insert(name, self.reader)
        reader = self.pcscd.reader_names[self.reader]
        try:
            wait_for_card(reader, present=True, timeout_s=10)
            with PcscConnection(reader) as connection:
                yield OpenPGPCard(connection)
        finally:
            self.simulator.remove(self.reader)
            wait_for_card(reader, present=False, timeout_s=10)

    def vote(
        self,
        key: SigningKey,
        rng: random.Random,
        *,
        checks: int = 0,
        channel: str = "kiosk",
        choose: Chooser = random_ballot,
    ) -> CardVote:
        """The voter signs in with their card and PIN, makes a ballot, checks it ``checks``
        times (each a new encryption, published opened) and casts the next, which their card
        signs."""
        package = self.election.package
        with self.card(key) as card:
            holder = prove(card, identify(card, package), PIN, package.id, self.kiosk_id)
            voter = holder.voter
            assert voter is not None and voter.voter_id is not None
            plain = choose(package, voter, rng)
            checked = []
            for _ in range(checks):
                ballot, secrets = encrypt_ballot(package, plain, voter.excluded, test=voter.test)
                checked.append(self.box.spoil(ballot, secrets).tracking_code)
            ballot, _ = encrypt_ballot(package, plain, voter.excluded, test=voter.test)
            signature = sign_ballot(card, holder, ballot)
            receipt = self.box.cast_encrypted(voter, ballot, holder.card_key, signature)
        block = next(self.store.blocks(receipt.height)).block
        assert block.kind is (BlockKind.TEST_BALLOT if voter.test else BlockKind.BALLOT)
        kept = Kept(voter.voter_id, self.kiosk_id, channel, block.time, block.height, plain)
        return CardVote(tuple(checked), receipt.tracking_code, kept)

    def start(self, mode: Mode) -> None:
        self.box.set_mode(mode)
        self.box.open_session()
