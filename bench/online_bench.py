"""Ballots per second one online platform process accepts (issue 19): real `hanpyo-online
serve` on a loopback port over its SQLCipher store, each voter signing in (challenge, signed
answer) and casting a reference-event "likes" ballot the platform checks in full (roll, card
signature, form, every proof) and commits; beside the floor, the same ballots' proofs checked
in this process alone (``verify_ballot_proofs``).

Three views of the same platform: voters who sign in and cast (what a wave of members costs);
casts alone, every voter signed in beforehand; and the platform process's CPU time per
accepted cast (utime + stime from /proc/PID/stat, proc(5)) against this process's CPU time per
proof check, which a busy shared machine disturbs far less than wall-clock rates.

Run alone with `.venv/bin/python -m bench.online_bench` (prints the table).
"""

from __future__ import annotations

import argparse
import os
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


def _cast(url: str, session: str, body: dict[str, Any]) -> float:
    """One cast on an open session; the seconds it took."""
    start = time.perf_counter()
    answer = post(url, "/api/ballots", session, body)
    took = time.perf_counter() - start
    if answer.status_code != 201:
        raise RuntimeError(f"cast refused: {answer.status_code} {answer.text}")
    return took


def _vote(url: str, election_id: str, key: SigningKey, body: dict[str, Any]) -> float:
    """One voter: sign in, cast; the seconds the cast took (the sign-in apart)."""
    return _cast(url, sign_in(url, key, election_id)["session"], body)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (proc(5): fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # fields after "(comm)" start at field 3 (state): utime is field 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _floor(
    election: SyntheticElection, ballots: list[tuple[SigningKey, CastBallot]]
) -> tuple[float, float]:
    """The proofs alone in this process: ballots per second (wall) and CPU seconds each."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _, made in ballots:
        verify_ballot_proofs(election.package, made.encrypted)
    n = len(ballots)
    return n / (time.perf_counter() - wall), (time.process_time() - cpu) / n


def _platform_rates(
    election: SyntheticElection, ballots: list[tuple[SigningKey, CastBallot]], clients: int
) -> dict[str, Any]:
    """Half the voters sign in and cast; the other half sign in first, then only cast. Rates,
    the casts' latencies and the platform's CPU seconds per cast alone."""
    half = len(ballots) // 2
    waves, casts_only = ballots[:half], ballots[half:]
    eid = election.package.id
    with (
        tempfile.TemporaryDirectory() as folder,
        OnlinePlatform(Path(folder), election, serve_args=UNLIMITED) as platform,
    ):
        platform.staff("open")
        assert platform.process is not None
        pid, url = platform.process.pid, platform.url
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(pool.map(lambda b: _vote(url, eid, b[0], b[1].body), waves))
        with_signin = len(waves) / (time.perf_counter() - start)
        with ThreadPoolExecutor(clients) as pool:
            sessions = list(pool.map(lambda b: sign_in(url, b[0], eid)["session"], casts_only))
        cpu, start = _cpu_seconds(pid), time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            pairs = zip(sessions, casts_only, strict=True)
            latencies += list(pool.map(lambda p: _cast(url, p[0], p[1][1].body), pairs))
        alone = len(casts_only) / (time.perf_counter() - start)
        cpu_each = (_cpu_seconds(pid) - cpu) / len(casts_only)
        assert platform.staff("status")["ballots"] == len(ballots)
    return {"with_signin": with_signin, "alone": alone, "cpu": cpu_each, "latencies": latencies}


def bench_online(count: int = 200, clients: int = 4) -> list[Row]:
    election = _election(online_per_proposal=max(1, -(-count // 24)))
    ballots = _ballots(election, count)
    floor, floor_cpu = _floor(election, ballots)
    got = _platform_rates(election, ballots, clients)
    casts = got["latencies"]
    return [
        Row(
            f"online platform: ballots accepted per second ({clients} clients, sign-in "
            "included, every proof checked, committed)",
            f"{got['with_signin']:.1f}/s",
            f"{floor:.1f}/s proofs alone",
            f"{got['with_signin'] / floor:.2f}",
        ),
        Row(
            f"online platform: casts accepted per second ({clients} clients, voters signed in "
            "beforehand)",
            f"{got['alone']:.1f}/s",
            f"{floor:.1f}/s proofs alone",
            f"{got['alone'] / floor:.2f}",
        ),
        Row(
            "online platform: CPU time of the platform process per accepted cast",
            f"{got['cpu'] * 1000:.1f} ms",
            f"{floor_cpu * 1000:.1f} ms CPU per ballot's proofs alone",
            f"{got['cpu'] / floor_cpu:.2f}x",
        ),
        Row(
            "online platform: cast request, p50 / p99",
            f"{percentile(casts, 50) * 1000:.1f} / {percentile(casts, 99) * 1000:.1f} ms",
            f"{1000 / floor:.1f} ms proofs alone",
            f"{percentile(casts, 50) * floor:.2f}",
        ),
    ]


def notes(count: int = 200, clients: int = 4) -> list[str]:
    return [
        f"- online platform (bench/online_bench.py): {count} online members of a reference-style "
        "election (2 groups of 12 proposals; each member likes up to 6 of the 11 not their own) "
        "vote through a real `hanpyo-online serve` (one uvicorn worker, its SQLCipher chain, no "
        f"ledger) from {clients} client threads over loopback HTTP. Half sign in (challenge, "
        "Ed25519 answer) and cast; the other half sign in first and the clock covers their casts "
        "only. Each cast is checked in full (session, roll entry and key, card signature, form, "
        "every proof, duplicates) and committed before its 201. Baseline: the same ballots' "
        "proofs checked by verify_ballot_proofs in the benchmark's process, one after another. "
        "The CPU row is the platform process's utime + stime (/proc/PID/stat) over the casts "
        "alone, per cast, against the benchmark process's CPU time per ballot's proofs: the two "
        "share one machine's load, so this ratio holds on a busy machine where the rates do not.",
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
