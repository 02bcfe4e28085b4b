"""Real signed kiosk chains of many ballots, built in memory as a kiosk's store signs them:
for the ledger's tests and benches, which need thousands of real blocks quickly."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, random_ballot


def ballot_chain(election: SyntheticElection, ballots: int, rng: random.Random) -> ChainWriter:
    """Genesis, official mode, an open session and ``ballots`` real sealed ballots. Voters are
    drawn from the election's roll; each ballot gets a fresh nullifier, since the ledger checks
    no roll and a roll of thousands takes long to build."""
    package = election.package
    chain = ChainWriter(package, SigningKey.generate(), datetime.now(UTC), timedelta(0))
    chain.mode(Mode.OFFICIAL)
    chain.open_session()
    voters = [package.voter_for_card(k.public_key) for k in election.voter_keys[:50]]
    for _ in range(ballots):
        voter = rng.choice(voters)
        assert voter is not None
        fresh = dataclasses.replace(voter, nullifier=rng.randbytes(32))
        chain.cast(fresh, random_ballot(package, fresh, rng))
    return chain
