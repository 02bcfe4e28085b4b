"""A kiosk process that casts ballots until it is killed: the victim of the crash test.

It prints one line per block *after* the store returned it, which is exactly the moment a
voter would be told their ballot is recorded.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from kiosk.core.chain import Session
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys
from testkit.elections import (
    SyntheticElection,
    build_election,
    random_ballot,
    review_definition,
)
from testkit.v2_ballots import box_cast


def crash_election() -> SyntheticElection:
    return build_election(
        review_definition(groups=12, per_group=12, election_id="crash-test"), seed="crash"
    )


def main(directory: Path) -> None:
    election = crash_election()
    keys = load_keys(directory / "keys")
    store = ChainStore.open(
        directory / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
    )
    box = BallotBox(store, election.package)
    if store.state.session is Session.PAUSED:  # killed between pause and resume
        box.resume_session()
    rng = random.Random()
    print("READY", flush=True)
    for card in election.voter_keys[store.state.ballots :]:
        voter = election.package.voter_for_card(card.public_key)
        assert voter is not None
        receipt = box_cast(box, election, voter, random_ballot(election.package, voter, rng))
        print(f"CAST {receipt.height} {receipt.tracking_code}", flush=True)
        if receipt.height % 7 == 0:
            pause_and_resume(box)
    while True:  # every card has voted: keep writing session blocks until killed
        pause_and_resume(box)


def pause_and_resume(box: BallotBox) -> None:
    for step in (box.pause_session, box.resume_session):
        signed = step()
        print(f"BLOCK {signed.block.height} {signed.tracking_code}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
