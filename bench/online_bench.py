"""Ballots per second one online platform process accepts (issue 19): real `hanpyo-online
serve` on a loopback port over its SQLCipher store, each voter signing in (challenge, signed
answer) and casting a reference-event "likes" ballot the platform checks in full (roll, card
signature, form, every proof) and commits; beside the floor, the same ballots' proofs checked
in this process alone (``verify_ballot_proofs``).

Run alone with `.venv/bin/python -m bench.online_bench` (prints the table).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import Row, percentile
from kiosk.core.ballot_crypto import verify_ballot_proofs
from kiosk.core.crypto import SigningKey
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.online_platform import OnlinePlatform, post, sign_in
from testkit.v2_ballots import CastBallot, cast_ballot

# one address sends every sign-in here: the per-address limits are lifted
UNLIMITED = ("--signins-per-minute", "1000000", "--challenges-per-minute", "1000000")


def _election(online_per_proposal: int) -> SyntheticElection:
    definition = review_definition(groups=2, per_group=12, election_id="online-bench")
    return build_election(definition, seed="bench", online_per_proposal=online_per_proposal)


def _ballots(election: SyntheticElection, count: int) -> list[tuple[SigningKey, CastBallot]]:
    indexes = [i for i, e in enumerate(election.package.roll) if e.category == "online"]
    rng = random.Random(19)
    return [(election.voter_keys[i], cast_ballot(election, i, rng)) for i in indexes[:count]]


def _vote(url: str, election_id: str, key: SigningKey, body: dict[str, Any]) -> float:
    """One voter: sign in, cast; the seconds the cast took (the sign-in apart)."""
    session = sign_in(url, key, election_id)["session"]
    start = time.perf_counter()
    answer = post(url, "/api/ballots", session, body)
    took = time.perf_counter() - start
    if answer.status_code != 201:
        raise RuntimeError(f"cast refused: {answer.status_code} {answer.text}")
    return took


def bench_online(count: int = 200, clients: int = 4) -> list[Row]:
    election = _election(online_per_proposal=max(1, -(-count // 24)))
    ballots = _ballots(election, count)
    start = time.perf_counter()
    for _, made in ballots:
        verify_ballot_proofs(election.package, made.encrypted)
    floor = len(ballots) / (time.perf_counter() - start)
    with (
        tempfile.TemporaryDirectory() as folder,
        OnlinePlatform(Path(folder), election, serve_args=UNLIMITED) as platform,
    ):
        platform.staff("open")
        eid = election.package.id
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            casts = list(pool.map(lambda b: _vote(platform.url, eid, b[0], b[1].body), ballots))
        rate = len(ballots) / (time.perf_counter() - start)
        assert platform.staff("status")["ballots"] == len(ballots)
    return [
        Row(
            f"online platform: ballots accepted per second ({clients} clients, sign-in "
            "included, every proof checked, committed)",
            f"{rate:.1f}/s",
            f"{floor:.1f}/s proofs alone",
            f"{rate / floor:.2f}",
        ),
        Row(
            "online platform: cast request, p50 / p99",
            f"{percentile(casts, 50) * 1000:.1f} / {percentile(casts, 99) * 1000:.1f} ms",
            f"{1000 / floor:.1f} ms proofs alone",
            f"{percentile(casts, 50) * floor:.2f}",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    for row in bench_online(args.ballots, args.clients):
        print(f"| {row.name} | {row.value} | {row.baseline} | {row.ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
