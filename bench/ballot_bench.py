"""Protocol v2's ballot at the reference event's size: encrypting and proving it at the kiosk,
checking it as the count and every verifier do, opening a checked (spoiled) ballot, and its
size in the record; each beside its floor of group operations measured in the same run
(bench/crypto_floor.py).

Run alone with `.venv/bin/python -m bench.ballot_bench` (prints the table).

The reference event (testkit.elections.review_definition): groups of 12 proposals; a resident
scores the 11 others of their group 1..10 (their own is not on their ballot), an expert all 12;
an online member "likes" up to 3 of their group's proposals (a choice contest).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from functools import partial

from bench.common import Row
from bench.crypto_floor import UnitClock, measure, unit_rows
from kiosk.core.ballot import validate_ballot
from kiosk.core.ballot_crypto import (
    encrypt_ballot,
    open_spoiled,
    spoiled_body,
    verify_ballot_proofs,
)
from kiosk.core.election import ElectionPackage, Voter
from kiosk.core.encrypted_ballot import EncryptedBallot, check_form
from testkit.elections import build_election, random_ballot, review_definition


def _package() -> ElectionPackage:
    definition = review_definition(groups=2, per_group=12)
    return build_election(definition, seed="bench", protocol=2, online_per_proposal=1).package


def _voter(package: ElectionPackage, category: str) -> Voter:
    for entry in package.roll:
        if entry.category == category:
            voter = package.voter_for_card(entry.keys[0])
            assert voter is not None
            return voter
    raise LookupError(category)


def bench_ballots(calls: int = 20) -> list[Row]:
    clock = UnitClock()
    package = _package()
    rng = random.Random(1)
    rows: list[Row] = []
    for category in ("resident", "expert", "online"):
        voter = _voter(package, category)
        ballot = random_ballot(package, voter, rng)
        validate_ballot(package, voter, ballot)
        encrypted, secrets = encrypt_ballot(package, ballot, voter.excluded, test=False)
        cells = sum(len(c.cells) for c in encrypted.contests)
        size = len(encrypted.canonical())
        label = f"{category} ballot ({cells} cells, {size:,} bytes canonical JSON)"
        spoiled = spoiled_body(encrypted, secrets)

        def form(voter: Voter = voter, encrypted: EncryptedBallot = encrypted) -> None:
            check_form(
                package,
                encrypted,
                voter.category,
                voter.group,
                voter.excluded,
                test=False,
            )

        rows += [
            measure(
                f"{label}: encrypt and prove at the kiosk",
                partial(encrypt_ballot, package, ballot, voter.excluded, test=False),
                calls,
                clock,
            ),
            measure(f"{label}: form check on arrival (no group operation)", form, calls, clock),
            measure(
                f"{label}: verify every proof (the count, any verifier)",
                partial(verify_ballot_proofs, package, encrypted),
                calls,
                clock,
            ),
            measure(
                f"{label}: open a checked ballot (check page)",
                partial(open_spoiled, package, spoiled),
                calls,
                clock,
            ),
        ]
    return unit_rows(clock) + rows


def print_rows(rows: Sequence[Row]) -> None:
    for row in rows:
        print(f"{row.name}\n    {row.value}   {row.baseline}   {row.ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20, help="calls per timed batch")
    args = parser.parse_args()
    print_rows(bench_ballots(args.calls))


if __name__ == "__main__":
    main()
