"""Real signed kiosk chains of many ballots, built in memory as a kiosk's store signs them:
for the ledger's tests and benches, which need thousands of real blocks quickly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, random_ballot


def ballot_chain(election: SyntheticElection, ballots: int, rng: random.Random) -> ChainWriter:
    """Genesis, official mode, an open session and ``ballots`` real encrypted ballots, each
    signed by its voter's card, as the ledger's arrival checks want them. The voters are
    ``ballots`` distinct voters of the election's roll, drawn by ``rng`` (one ballot each: a
    kiosk takes one ballot a voter)."""
    package = election.package
    if ballots > len(election.voter_keys):
        raise ValueError(f"{ballots} ballots need as many voters; the roll has fewer")
    chain = ChainWriter(package, SigningKey.generate(), datetime.now(UTC), timedelta(0))
    chain.mode(Mode.OFFICIAL)
    chain.open_session()
    for card in rng.sample(election.voter_keys, ballots):
        voter = package.voter_for_card(card.public_key)
        assert voter is not None
        chain.cast(voter, random_ballot(package, voter, rng), card)
    return chain
