"""Election day for a national vote, scaled to this machine: a real ``ledger serve`` on
loopback (SQLite with 2 workers, or PostgreSQL with ``--postgres``) with thousands of enrolled
kiosks, under load that rises in steps, from separate processes: kiosks casting at a paced
rate and syncing each ballot with the real sync worker, kiosks back from an outage catching up
in 100-block batches, and voters checking tracking codes. Bounded in time (``--seconds`` of
load, then a hard stop) and on 127.0.0.1 only.

Run: ``.venv/bin/python -m bench.national_sim --seconds 60 [--rates 250,500,1000,2000]
[--postgres]``. Prints a table per step: what the ledger accepted, the latencies kiosks and
voters saw, the integration delay, the errors, and the CPU of the ledger's processes (read
from /proc by process group) beside the load generator's and the whole machine's. The load
generator shares the ledger's cores: that is said in the table, not hidden.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import multiprocessing
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bench.common import percentile
from bench.ledger_baselines import enrol_sources
from bench.ledger_bench import Client
from bench.national_load import (
    PREAMBLE,
    CpuMark,
    Plan,
    Sample,
    catch_up,
    group_cpu,
    live_kiosks,
    machine_busy,
    pids_cpu,
    voters_checking,
    warm,
)
from ledger.store import schema as db
from testkit.ballot_chains import ballot_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.ledger_server import LedgerServer
from testkit.postgres import PrivatePostgres

RATES = (250, 500, 1_000, 2_000)  # ballots/s offered, one step each
ENROLLED = 2_000  # kiosks enrolled by direct rows (random keys), beside the active ones
LIVE_KIOSKS = 240  # kiosks in service, each with its own key, chain and sync worker
LIVE_PROCESSES, LIVE_THREADS = 2, 12  # per process
BURST_KIOSKS, BURST_BLOCKS = 4, 500  # per step: kiosks back from an outage, blocks each
SEED_BALLOTS = 2_000  # synced before the clock: the codes voters look up
CHECK_FRACTION = 0.1  # tracking-code checks per ballot offered
WORKERS = 2
GRACE_S = 20  # after the load: requests in flight finish, or their processes are stopped


# -- set-up -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fleet:
    live: list[ChainWriter]
    bursts: list[list[ChainWriter]]  # per step
    seed: ChainWriter


def build_fleet(
    election: SyntheticElection, rates: tuple[int, ...], step_s: float, live: int, bursts: int
) -> Fleet:
    """Every chain signed beforehand (encrypted, card-signed ballots, Ed25519 per block), so
    that no clock runs while they are made. Each live kiosk gets its share of all offered
    ballots."""
    rng = random.Random(18)
    per_kiosk = math.ceil(sum(rates) * step_s / live) + 2
    return Fleet(
        [ballot_chain(election, per_kiosk, rng) for _ in range(live)],
        [[ballot_chain(election, BURST_BLOCKS, rng) for _ in range(bursts)] for _ in rates],
        ballot_chain(election, SEED_BALLOTS, rng),
    )


def all_chains(fleet: Fleet) -> list[ChainWriter]:
    return [*fleet.live, *(c for step in fleet.bursts for c in step), fleet.seed]


@dataclass(frozen=True, slots=True)
class Options:
    seconds: float
    rates: tuple[int, ...]
    live: int
    postgres: bool
    check_fraction: float
    workers: int
    burst_kiosks: int = BURST_KIOSKS

    @property
    def step_s(self) -> float:
        return self.seconds / len(self.rates)


def start_ledger(
    stack: ExitStack, directory: Path, election: SyntheticElection, options: Options
) -> tuple[LedgerServer, str, set[int]]:
    """``ledger init`` and ``ledger serve``, with ENROLLED kiosks written as rows first; its
    database URL and the process groups whose CPU is the ledger's."""
    pg = stack.enter_context(PrivatePostgres()) if options.postgres else None
    given = None if pg is None else pg.create_database("national")
    server = LedgerServer(directory / "ledger", election, db=given, workers=options.workers)
    url = db.database_url(given, server.data.resolve() / "ledger.db")
    engine = db.connect(url)
    enrol_sources(engine, ENROLLED)
    engine.dispose()
    stack.enter_context(server)
    assert server.process is not None  # started just above
    groups = {server.process.pid}
    if pg is not None and pg.process is not None:
        groups.add(pg.process.pid)  # the database's CPU is the ledger's too
    return server, url, groups


def prepare(server: LedgerServer, fleet: Fleet) -> list[str]:
    """Enrol the active kiosks through the admin API, sync every chain's preamble and the
    seed kiosk's ballots (100 per upload); the seed's tracking codes, for the voters."""
    client = Client(server)
    for chain in all_chains(fleet):
        client.enrol(chain)
    client.session.close()
    warm([*fleet.live, *(c for step in fleet.bursts for c in step)], server.url, server.log_key)
    warm([fleet.seed], server.url, server.log_key, cast=len(fleet.seed.blocks))
    return [b.tracking_code for b in fleet.seed.blocks[PREAMBLE:]]


# -- the run ----------------------------------------------------------------------------------


def launch(
    plan: Plan, fleet: Fleet, codes: list[str], out: Path
) -> list[multiprocessing.process.BaseProcess]:
    """Fork the load generator: LIVE_PROCESSES processes of kiosks in service, one of kiosks
    catching up, one of voters checking."""
    fork = multiprocessing.get_context("fork")
    live = len(fleet.live)
    groups: list[list[list[ChainWriter]]] = [
        [[] for _ in range(LIVE_THREADS)] for _ in range(LIVE_PROCESSES)
    ]
    for i, chain in enumerate(fleet.live):
        groups[i % LIVE_PROCESSES][(i // LIVE_PROCESSES) % LIVE_THREADS].append(chain)
    work: list[tuple[Callable[..., None], tuple[object, ...]]] = [
        (live_kiosks, (plan, [g for g in own if g], live, out / f"live-{n}.json"))
        for n, own in enumerate(groups)
    ]
    work += [
        (catch_up, (plan, fleet.bursts, out / "burst.json")),
        (voters_checking, (plan, codes, out / "checks.json")),
    ]
    processes: list[multiprocessing.process.BaseProcess] = [
        fork.Process(target=target, args=args) for target, args in work
    ]
    for process in processes:
        process.start()
    return processes


def drive(
    plan: Plan, processes: list[multiprocessing.process.BaseProcess], groups: set[int]
) -> list[CpuMark]:
    """Mark CPU at the start and at the end of each step; then wait for the generator, and
    stop by its process id any part still running GRACE_S after the load ended."""
    pids = [p.pid for p in processes if p.pid is not None]
    marks = []
    for step in range(len(plan.rates) + 1):
        at = plan.t0 + step * plan.step_s
        time.sleep(max(0.0, at - time.time()))
        marks.append(CpuMark(time.time(), group_cpu(groups), pids_cpu(pids), machine_busy()))
    for process in processes:
        process.join(max(0.1, plan.end + GRACE_S - time.time()))
        if process.is_alive():
            process.terminate()
            process.join(5)
    return marks


@dataclass(frozen=True, slots=True)
class Accepted:
    kiosk: str
    at: float  # epoch s, when sequenced (received_at)
    delay: float | None  # s, sequenced -> first signed checkpoint covering it


def accepted_blocks(url: str, since: float) -> list[Accepted]:
    """Every block the ledger sequenced after ``since``, from its own timestamps."""
    engine = db.connect(url)
    try:
        with engine.connect() as conn:
            b, c = db.blocks.c, db.checkpoints.c
            rows = conn.execute(select(b.kiosk_id, b.leaf_index, b.received_at)).all()
            points = conn.execute(select(c.size, c.created_at).order_by(c.size)).all()
    finally:
        engine.dispose()
    sizes = [int(p.size) for p in points]
    signed = [_epoch(p.created_at) for p in points]
    found = []
    for kiosk, leaf, received in rows:
        at = _epoch(received)
        if at < since:
            continue
        first = bisect.bisect_right(sizes, int(leaf))
        found.append(Accepted(kiosk, at, signed[first] - at if first < len(sizes) else None))
    return found


def _epoch(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def database_bytes(server: LedgerServer, url: str) -> tuple[int, int] | None:
    """The SQLite file's size (WAL written back) and the blocks it holds; None on PostgreSQL."""
    if not url.startswith("sqlite"):
        return None
    path = server.data / "ledger.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (count,) = conn.execute("SELECT count(*) FROM blocks").fetchone()
    finally:
        conn.close()
    files = [path, server.data / "ledger.db-wal"]
    return sum(f.stat().st_size for f in files if f.exists()), int(count)


def load_samples(out: Path) -> list[Sample]:
    """Every part's samples; a part that wrote none (stopped at the hard stop) is named."""
    samples: list[Sample] = []
    for name in ["burst", "checks", *(f"live-{n}" for n in range(LIVE_PROCESSES))]:
        if not (out / f"{name}.json").exists():
            print(f"The {name} process wrote no samples: it was stopped at the hard stop.")
    for path in sorted(out.glob("*.json")):
        samples += [
            (str(k), float(t), float(v), str(o)) for k, t, v, o in json.loads(path.read_text())
        ]
    return samples


# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    offered: int
    live_rate: float  # live kiosks' blocks accepted per second
    burst_rate: float  # catching-up kiosks' blocks accepted per second
    upload: list[float]  # live upload requests (s)
    batch: list[float]  # catch-up upload requests of up to 100 blocks (s)
    ack: list[float]  # ballot cast -> acknowledged with a verified proof (s)
    checks: list[float]
    checks_offered: float
    integration: list[float]
    errors: dict[str, int]
    ledger_cores: float
    load_cores: float
    machine_cores: float

    @property
    def cpu_per_block(self) -> float:
        """Ledger CPU seconds per block accepted: every request a block costs (a live one's
        head, upload and proofs) and the voters' checks, over the blocks."""
        blocks = self.live_rate + self.burst_rate
        return self.ledger_cores / blocks if blocks else float("nan")

    @property
    def held(self) -> bool:
        """What a kiosk would call holding: nine in ten offered ballots accepted within the
        step, and the slowest hundredth acknowledged within 2 s of their cast."""
        return self.live_rate >= 0.9 * self.offered and bool(self.ack) and _q(self.ack, 99) < 2


def summarise(
    plan: Plan, samples: list[Sample], accepted: list[Accepted], marks: list[CpuMark],
    live: set[str],
) -> list[Step]:  # fmt: skip
    steps = []
    for i, rate in enumerate(plan.rates):
        lo, hi = plan.t0 + i * plan.step_s, plan.t0 + (i + 1) * plan.step_s

        def kind(name: str, lo: float = lo, hi: float = hi) -> list[float]:
            return [s[2] for s in samples if s[0] == name and lo <= s[1] < hi and s[3] == "ok"]

        inside = [a for a in accepted if lo <= a.at < hi]
        errors: dict[str, int] = {}
        for s in samples:
            if lo <= s[1] < hi and s[0] not in ("burst", "backlog") and s[3] != "ok":
                label = f"{s[0]} {s[3].split(':', 2)[0]}"
                errors[label] = errors.get(label, 0) + 1
        span = marks[i + 1].at - marks[i].at
        steps.append(
            Step(
                rate,
                sum(a.kiosk in live for a in inside) / plan.step_s,
                sum(a.kiosk not in live for a in inside) / plan.step_s,
                kind("upload-live"),
                kind("upload-burst"),
                kind("ack"),
                kind("check"),
                rate * plan.check_fraction,
                [a.delay for a in inside if a.delay is not None],
                errors,
                (marks[i + 1].ledger - marks[i].ledger) / span,
                (marks[i + 1].load - marks[i].load) / span,
                (marks[i + 1].machine - marks[i].machine) / span,
            )
        )
    return steps


def _q(samples: list[float], q: int) -> float:
    return percentile(samples, q) if samples else float("nan")


def _ms(samples: list[float]) -> str:
    return f"{_q(samples, 50) * 1e3:,.0f} / {_q(samples, 99) * 1e3:,.0f}" if samples else "none"


def table(steps: list[Step], step_s: float) -> list[str]:
    head = (
        "| offered ballots/s | accepted, live kiosks | accepted, catch-up | live upload p50/p99 ms "
        "| catch-up batch p50/p99 ms | cast → acknowledged p50/p99 ms | tracking checks/s "
        "(offered) | check p50/p99 ms | integration delay p50/p99 ms | errors | CPU cores: "
        "ledger / load generator / whole machine | ledger CPU ms per block | held |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in steps:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(s.errors.items())) or "0"
        lines.append(
            f"| {s.offered:,} | {s.live_rate:,.0f}/s | {s.burst_rate:,.0f}/s | {_ms(s.upload)} "
            f"| {_ms(s.batch)} | {_ms(s.ack)} | {len(s.checks) / step_s:,.0f} "
            f"({s.checks_offered:,.0f}) | {_ms(s.checks)} | {_ms(s.integration)} | {errors} "
            f"| {s.ledger_cores:.2f} / {s.load_cores:.2f} / {s.machine_cores:.2f} "
            f"| {s.cpu_per_block * 1e3:.1f} | {'yes' if s.held else 'no'} |"
        )
    return lines


def verdict(steps: list[Step], backlog: float, workers: int) -> list[str]:
    """Where it stopped holding, and which resource ran out first."""
    lines = [f"Ballots cast but not acknowledged when the load stopped: {backlog:,.0f}."]
    failed = next((s for s in steps if not s.held), None)
    if failed is None:
        return [*lines, "Every step held; the ceiling is above the last step offered."]
    lines.append(f"First step that did not hold: {failed.offered:,} ballots/s offered.")
    cores = os.cpu_count() or 1
    others = max(0.0, failed.machine_cores - failed.ledger_cores - failed.load_cores)
    ceiling = min(workers, cores)  # a Python worker runs on one core at a time
    if failed.ledger_cores >= 0.7 * ceiling:
        lines.append(
            f"The ledger's processes used {failed.ledger_cores:.2f} cores of the "
            f"{ceiling} its {workers} single-threaded workers can use "
            f"({failed.cpu_per_block * 1e3:.1f} ms of CPU per block accepted); the machine "
            f"was {failed.machine_cores:.2f} of {cores} cores busy ({failed.load_cores:.2f} "
            f"the load generator, {others:.2f} other work): the ledger's CPU."
        )
    elif failed.machine_cores >= 0.85 * cores:
        owner = "the ledger" if failed.ledger_cores >= failed.load_cores else "the load generator"
        lines.append(
            f"The machine's {cores} cores were busy ({failed.machine_cores:.2f} cores): "
            f"{failed.ledger_cores:.2f} the ledger's processes, {failed.load_cores:.2f} the "
            f"load generator's, {others:.2f} other work on the machine. CPU, most of it {owner}."
        )
    else:
        lines.append(
            f"The cores were not full ({failed.machine_cores:.2f} of {cores}): the limit is "
            "waiting (locks, the database's commits, round trips), not CPU."
        )
    return lines


def notes(options: Options) -> list[str]:
    backend = "PostgreSQL (private server, fsync off)" if options.postgres else "SQLite (WAL)"
    return [
        f"- ledger: `ledger serve --workers {options.workers}` on {backend}, 127.0.0.1; "
        f"{ENROLLED:,} kiosks enrolled by direct rows plus the active ones through the admin "
        "API. Steps of "
        f"{options.step_s:.0f} s at {', '.join(f'{r:,}' for r in options.rates)} ballots/s.",
        f"- live kiosks: {options.live} in service, on {LIVE_PROCESSES} processes x "
        f"{LIVE_THREADS} threads; each ballot is cast at its paced time and synced by the "
        "real `SyncWorker.sync_once` (signed head, upload, checkpoint and consistency proof, "
        "inclusion proofs, every answer verified), one block per upload while it keeps up, "
        "up to 100 when it falls behind. 'cast -> acknowledged' runs from the paced cast to "
        "the worker holding the ledger's signed acknowledgement and verified proof.",
        f"- catch-up: in each step, at a quarter of it, {options.burst_kiosks} kiosks back from an "
        f"outage push {BURST_BLOCKS} ballots each, 100 per upload, with the same worker.",
        f"- voters: {options.check_fraction:.0%} of the offered ballot rate in GET "
        "/v1/proofs/inclusion?tracking_code=, each answer verified (signed checkpoint, "
        f"inclusion proof), {SEED_BALLOTS:,} codes synced before the clock.",
        "- accepted and integration delay come from the ledger's own received_at and "
        "checkpoint created_at; CPU from /proc (user + system) of the ledger's process groups "
        "and of the generator's processes, and the whole machine's from /proc/stat. The load "
        "generator runs on the same 2 cores as the ledger (and other sessions may too): "
        "what it spends, the ledger cannot.",
    ]


def run(options: Options) -> None:
    election = build_election(
        # 20 groups: 2,440 voters, enough for the largest chain (SEED_BALLOTS distinct voters)
        review_definition(groups=20, per_group=12, election_id="national-sim"),
        seed="national",
    )
    began = time.perf_counter()
    fleet = build_fleet(election, options.rates, options.step_s, options.live, options.burst_kiosks)
    print(f"signed {sum(len(c.blocks) for c in all_chains(fleet)):,} blocks in "
          f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="hanpyo-national-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        server, url, groups = start_ledger(stack, directory, election, options)
        codes = prepare(server, fleet)
        out = directory / "samples"
        out.mkdir()
        plan = Plan(
            server.url, server.log_key, time.time() + 3.0, options.step_s, options.rates,
            options.check_fraction, 0.25,
        )  # fmt: skip
        processes = launch(plan, fleet, codes, out)
        marks = drive(plan, processes, groups)
        server.stop()
        accepted = accepted_blocks(url, plan.t0)
        samples = load_samples(out)
        stored = database_bytes(server, url)
    live = {c.kiosk_id for c in fleet.live}
    steps = summarise(plan, samples, accepted, marks, live)
    backlog = sum(s[2] for s in samples if s[0] == "backlog")
    crashes = [s[3] for s in samples if s[0] == "crash"]
    print(
        "\n".join(
            ["", *table(steps, options.step_s), "", *verdict(steps, backlog, options.workers)]
        )
    )
    if crashes:
        print(f"Generator threads that died: {len(crashes)}; first: {crashes[0]}")
    sizes = [len(b.encode()) for b in fleet.seed.blocks[PREAMBLE:]]
    print(f"Signed ballot block: {statistics.median(sizes):.0f} bytes (median).")
    if stored is not None:
        size, count = stored
        print(f"SQLite database: {size / count:,.0f} bytes per block stored ({size / 1e6:,.1f} "
              f"MB for {count:,} blocks, the {ENROLLED:,} idle kiosks' rows in).")  # fmt: skip
    print("\n".join(["", *notes(options)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load in all")
    parser.add_argument("--rates", type=_rates, default=RATES, help="e.g. 250,500,1000,2000")
    parser.add_argument("--live-kiosks", type=int, default=LIVE_KIOSKS)
    parser.add_argument("--check-fraction", type=float, default=CHECK_FRACTION)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument(
        "--burst-kiosks", type=int, default=BURST_KIOSKS, help="kiosks catching up, per step"
    )
    parser.add_argument("--postgres", action="store_true", help="a private PostgreSQL server")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 3_600:
        parser.error("--seconds is between 1 and 3600")
    if args.live_kiosks < LIVE_PROCESSES * LIVE_THREADS:
        parser.error(f"--live-kiosks is at least {LIVE_PROCESSES * LIVE_THREADS}")
    run(
        Options(args.seconds, args.rates, args.live_kiosks, args.postgres,
                args.check_fraction, args.workers, args.burst_kiosks)
    )  # fmt: skip


def _rates(text: str) -> tuple[int, ...]:
    try:
        rates = tuple(int(part.replace("_", "")) for part in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"rates are whole ballots/s, comma separated: {e}") from e
    if not rates or min(rates) < 1:
        raise argparse.ArgumentTypeError("each rate is at least 1 ballot/s")
    return rates


if __name__ == "__main__":
    main()
