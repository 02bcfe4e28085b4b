"""The load generator of the national election-day simulation (bench/national_sim.py): kiosks
casting at a paced rate and syncing with the real ``SyncWorker``, kiosks back from an outage
catching up in 100-block batches, and voters checking tracking codes.

Each part runs in its own process (forked by the simulation, so the prebuilt chains are
shared without copying them through a pipe), on threads, against the ledger on loopback. Every
request is written down as a sample: what it was, when it was sent (wall clock, so that the
simulation can put it in its step), how long it took and how it ended. Nothing here stops
early on an error: a refusal or a timeout is a result, counted in the table.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

from kiosk.core.block import SignedBlock
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.encoding import b64d
from kiosk.core.merkle import leaf_hash, verify_inclusion
from kiosk.sync.client import LedgerClient, OutgoingBlock, UploadAnswer
from kiosk.sync.errors import SyncError
from kiosk.sync.worker import SyncWorker
from testkit.chain_writer import ChainWriter
from testkit.memory_store import MemoryChainStore

PREAMBLE = 3  # genesis, official mode, session open: synced before the clock starts
TIMEOUT = (2.0, 10.0)  # connect, read: a request slower than this is a failure
CHECK_THREADS = 4  # voters' checks in flight at once, at most
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Sample = tuple[str, float, float, str]  # kind, sent at (epoch s), seconds, "ok" or the error


@dataclass(frozen=True, slots=True)
class Plan:
    """When and how hard: steps of ``step_s`` seconds from ``t0`` (epoch seconds), each
    offering ``rates[i]`` ballots/s over all live kiosks."""

    url: str
    log_key: str
    t0: float
    step_s: float
    rates: tuple[int, ...]
    check_fraction: float  # tracking-code checks per ballot offered
    burst_at: float  # where in each step the outage's kiosks come back (0..1)

    @property
    def end(self) -> float:
        return self.t0 + self.step_s * len(self.rates)

    def offered(self, t: float) -> float:
        """Ballots offered over all live kiosks from t0 to ``t``."""
        total, start = 0.0, self.t0
        for rate in self.rates:
            total += rate * min(max(t - start, 0.0), self.step_s)
            start += self.step_s
        return total

    def time_of(self, ballots: float) -> float:
        """When the offered count reaches ``ballots`` (inverse of ``offered``)."""
        start = self.t0
        for rate in self.rates:
            if ballots <= rate * self.step_s:
                return start + ballots / rate
            ballots -= rate * self.step_s
            start += self.step_s
        return math.inf


class TimedClient(LedgerClient):
    """The kiosk's own client, with each upload request timed into ``samples``."""

    def __init__(self, url: str, chain: ChainWriter, log_key: str, kind: str) -> None:
        super().__init__(url, chain.key, log_key=log_key, timeout=TIMEOUT)
        self.kind, self.samples = kind, list[Sample]()

    def upload(
        self, blocks: Sequence[SignedBlock | OutgoingBlock], *, wait: bool = True
    ) -> UploadAnswer:
        sent, start = time.time(), time.perf_counter()
        try:
            answer = super().upload(blocks, wait=wait)
        except SyncError as e:
            self.samples.append((self.kind, sent, time.perf_counter() - start, _name(e)))
            raise
        outcome = "ok" if answer.rejected is None else f"refused:{answer.rejected[1]}"
        self.samples.append((self.kind, sent, time.perf_counter() - start, outcome))
        return answer


def _name(e: BaseException) -> str:
    return type(e).__name__ if not str(e) else f"{type(e).__name__}:{str(e)[:80]}"


@dataclass(slots=True)
class Kiosk:
    """One kiosk of the simulation: its chain in memory, its sync worker, its voters' times."""

    chain: ChainWriter
    store: MemoryChainStore
    worker: SyncWorker
    client: TimedClient
    cast_at: list[float] = field(default_factory=list)  # epoch s, per ballot after the preamble

    @classmethod
    def open(cls, chain: ChainWriter, url: str, log_key: str, kind: str) -> Kiosk:
        store = MemoryChainStore(chain.blocks, chain.state, cast=PREAMBLE)
        client = TimedClient(url, chain, log_key, kind)
        return cls(chain, store, SyncWorker(store, client, log_key), client)

    def oldest_pending(self) -> float | None:
        # Before its first pass the worker has not yet heard the preamble was synced.
        first = max(self.store.acknowledged_height() + 1 - PREAMBLE, 0)
        return self.cast_at[first] if first < len(self.cast_at) else None

    def sync(self, samples: list[Sample]) -> None:
        """One pass of the real worker (head, uploads, checkpoint, proofs); then the time from
        each newly acknowledged ballot's cast to now, the voter's "recorded on the ledger"."""
        before = self.store.acknowledged_height()
        try:
            self.worker.sync_once()
        except SyncError as e:
            samples.append(("sync", time.time(), 0.0, _name(e)))
        now = time.time()
        for height in range(before + 1, self.store.acknowledged_height() + 1):
            j = height - PREAMBLE
            if 0 <= j < len(self.cast_at):
                samples.append(("ack", self.cast_at[j], now - self.cast_at[j], "ok"))


def warm(chains: list[ChainWriter], url: str, log_key: str, *, cast: int | None = None) -> None:
    """Sync each chain's first ``cast`` blocks (default: the preamble) before the clock starts."""
    for chain in chains:
        kiosk = Kiosk.open(chain, url, log_key, "warm")
        kiosk.store.cast(cast or PREAMBLE)
        kiosk.worker.sync_once()
        kiosk.client.close()


# -- the processes ---------------------------------------------------------------------------


def live_kiosks(plan: Plan, groups: list[list[ChainWriter]], fleet: int, out: Path) -> None:
    """Kiosks in service: each thread owns a group of kiosks and casts the group's share of
    the offered ballots (its kiosks over the ``fleet`` of live kiosks) over them in turn, at
    their paced times; whenever a kiosk has a ballot not yet acknowledged it syncs, as a
    worker woken after each cast does (one block per upload while the ledger keeps up,
    everything pending when it falls behind)."""
    _threads(
        out,
        [partial(_live_thread, plan, group, len(group) / fleet) for group in groups],
    )


def _live_thread(
    plan: Plan, chains: list[ChainWriter], share: float, samples: list[Sample]
) -> None:
    kiosks = [Kiosk.open(c, plan.url, plan.log_key, "upload-live") for c in chains]
    # Each thread's voters arrive at their own phase: threads paced in step would send every
    # upload at the same instant, a herd no fleet of independent kiosks produces.
    phase = random.Random(chains[0].kiosk_id).random()
    issued = 0
    while (now := time.time()) < plan.end:
        due = math.floor(share * plan.offered(now) + phase)
        while issued < due:
            kiosk = kiosks[issued % len(kiosks)]
            issued += 1
            if PREAMBLE + len(kiosk.cast_at) >= kiosk.store.length:
                continue  # its chain is spent (the simulation signs each its share, and a spare)
            kiosk.cast_at.append(plan.time_of((issued - phase) / share))
            kiosk.store.cast(PREAMBLE + len(kiosk.cast_at))
        waiting = [(t, k) for k in kiosks if (t := k.oldest_pending()) is not None]
        if not waiting:
            next_cast = plan.time_of((issued + 1 - phase) / share)
            time.sleep(max(0.0005, min(next_cast, plan.end) - time.time()))
            continue
        min(waiting, key=lambda pair: pair[0])[1].sync(samples)
    for kiosk in kiosks:
        samples.extend(kiosk.client.samples)
        pending = len(kiosk.cast_at) - (kiosk.store.acknowledged_height() + 1 - PREAMBLE)
        samples.append(("backlog", plan.end, float(pending), "ok"))


def catch_up(plan: Plan, per_step: list[list[ChainWriter]], out: Path) -> None:
    """Kiosks back from an outage: in each step, at ``burst_at`` of it, that step's kiosks
    push their whole backlog at once, 100 blocks an upload, as the real worker does."""
    work: list[Callable[[list[Sample]], None]] = []
    for step, chains in enumerate(per_step):
        at = plan.t0 + plan.step_s * (step + plan.burst_at)
        work += [partial(_burst, plan, chain, at) for chain in chains]
    _threads(out, work)


def _burst(plan: Plan, chain: ChainWriter, at: float, samples: list[Sample]) -> None:
    kiosk = Kiosk.open(chain, plan.url, plan.log_key, "upload-burst")
    kiosk.store.cast(kiosk.store.length)
    time.sleep(max(0.0, at - time.time()))
    start = time.time()
    while time.time() < plan.end and kiosk.store.acknowledged_height() < kiosk.store.length - 1:
        kiosk.sync([])
    done = kiosk.store.acknowledged_height() + 1 - PREAMBLE
    samples.extend(kiosk.client.samples)
    samples.append(("burst", start, time.time() - start, f"blocks:{done}"))


def voters_checking(plan: Plan, codes: list[str], out: Path) -> None:
    """Voters looking their tracking code up (GET /v1/proofs/inclusion?tracking_code=...) at
    ``check_fraction`` of the offered ballot rate, each answer checked as the check page
    checks it: the block's hash is in the tree of the log's signed checkpoint."""
    _threads(
        out,
        [partial(_check_thread, plan, codes, i) for i in range(CHECK_THREADS)],
    )


def _check_thread(plan: Plan, codes: list[str], index: int, samples: list[Sample]) -> None:
    rng, session = random.Random(index), requests.Session()
    share = plan.check_fraction / CHECK_THREADS
    sent = 0
    phase = index / CHECK_THREADS  # the threads take turns rather than send together
    # Stop at the end on the clock too: a thread that fell behind its schedule (slow answers)
    # would otherwise go on sending the checks it owes past the hard stop.
    while (at := plan.time_of((sent + 1 - phase) / share)) < plan.end and time.time() < plan.end:
        time.sleep(max(0.0, at - time.time()))
        sent += 1
        # Put in the step when it was sent: a thread behind its schedule is the step's result.
        sent_at, start = time.time(), time.perf_counter()
        outcome = _check_one(session, plan, rng.choice(codes))
        samples.append(("check", sent_at, time.perf_counter() - start, outcome))


def _check_one(session: requests.Session, plan: Plan, code: str) -> str:
    try:
        answer = session.get(
            f"{plan.url}/v1/proofs/inclusion", params={"tracking_code": code}, timeout=TIMEOUT
        )
        if answer.status_code != 200:
            return f"status:{answer.status_code}"
        doc = answer.json()
        checkpoint = verify_checkpoint(doc["checkpoint"], plan.log_key)
        proof = [b64d(h, length=32) for h in doc["proof"]]
        verify_inclusion(
            leaf_hash(b64d(doc["block"])), doc["leaf_index"], doc["size"], proof, checkpoint.root
        )
    except (requests.RequestException, ValueError, KeyError, TypeError) as e:
        return _name(e)
    except Exception as e:  # a failed check is a result to count, not a crash
        return _name(e)
    return "ok"


def _threads(out: Path, work: Sequence[Callable[[list[Sample]], None]]) -> None:
    """Run each piece of work on its own thread; write every sample to ``out`` as JSON."""
    collected: list[list[Sample]] = [[] for _ in work]
    threads = [
        threading.Thread(target=_guarded, args=(w, s)) for w, s in zip(work, collected, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.write_text(json.dumps([s for part in collected for s in part]))


def _guarded(work: Callable[[list[Sample]], None], samples: list[Sample]) -> None:
    try:
        work(samples)
    except Exception as e:  # a thread that died is reported, not lost
        samples.append(("crash", time.time(), 0.0, _name(e)))


# -- CPU time from /proc ----------------------------------------------------------------------


def group_cpu(groups: set[int]) -> float:
    """CPU seconds (user + system) of every live process whose process group is in ``groups``:
    ``ledger serve`` and its workers (and a private PostgreSQL) each lead their own group."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone between the listing and the read
        if int(fields[2]) in groups:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def pids_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (every core, every session)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class CpuMark:
    at: float
    ledger: float
    load: float
    machine: float
