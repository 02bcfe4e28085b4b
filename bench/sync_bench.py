"""Sync benchmarks over loopback with a real `ledger serve`, each figure beside a baseline
measured in the same run.

Run with `.venv/bin/python -m bench.sync_bench [--pending N] [--casts N]`; prints a table.
bench/run.py can add `bench_sync(directory)` to its rows and `notes()` to its report.

- catch-up: a kiosk store with N pending blocks (N ballots cast into a real SQLCipher store),
  then one timed `SyncWorker.sync_once` against the ledger (which writes its tiles): head,
  uploads of up to 1,000 blocks (3 MiB) each answered once durable, the last once a
  checkpoint covers them all, then one consistency proof and every block's inclusion proof
  from the tiles, all verified; split into the uploads, the rest, and the kiosk's own CPU.
- bytes on the wire: every request and answer byte between LedgerClient and the ledger,
  counted by a pass-through proxy (testkit/fault_proxy.py, no faults), for a
  catch-up and for live syncing (the worker woken after every cast).
- cast latency: cast p50/p99 with the worker syncing every ballot as it is cast, against
  casts with no worker, before and after, in the same store.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import nacl.signing

from bench.common import Row, percentile, timed
from kiosk.core.block import SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.sync.client import LedgerClient, OutgoingBlock, UploadAnswer
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.worker import BATCH, SyncWorker, upload_batches
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition
from testkit.fault_proxy import FaultProxy
from testkit.ledger_requests import enrol, upload
from testkit.ledger_server import LedgerServer
from testkit.v2_ballots import box_cast

PENDING = 10_000
CASTS = 1_000  # per cast-latency phase: no sync, syncing, no sync again
ONE_BY_ONE = 100  # ballots each synced on its own, for the live bytes per ballot


def election_for(voters: int) -> SyntheticElection:
    groups = voters // 122 + 1  # 12 residents, 2 experts and 108 online members per group
    return build_election(
        review_definition(groups=groups, per_group=12, election_id="bench-sync"), seed="bench-sync"
    )


def new_store(
    directory: Path, name: str, election: SyntheticElection, store_key: bytes | None = None
) -> tuple[ChainStore, BallotBox, SigningKey]:
    key = SigningKey.generate()
    store = ChainStore.create(
        directory / f"{name}.db", store_key or os.urandom(32), key, election.package
    )
    box = BallotBox(store, election.package)
    box.set_mode(Mode.OFFICIAL)
    box.open_session()
    return store, box, key


class Caster:
    """Casts the election's voters in order, one ballot each, into one ballot box."""

    def __init__(self, box: BallotBox, election: SyntheticElection, first: int) -> None:
        self.box, self.election, self.package = box, election, election.package
        self.cards = iter(election.voter_keys[first:])
        self.rng = random.Random(first)

    def cast(self, count: int, after: Callable[[], None] | None = None) -> list[float]:
        samples = []
        for _ in range(count):
            voter = self.package.voter_for_card(next(self.cards).public_key)
            assert voter is not None
            ballot = random_ballot(self.package, voter, self.rng)
            samples.append(timed(partial(box_cast, self.box, self.election, voter, ballot)))
            if after is not None:
                after()
        return samples


# -- (a) catch-up ---------------------------------------------------------------------------------


def in_process_ingest(
    directory: Path, election: SyntheticElection, blocks: list[SignedBlock], key: SigningKey
) -> float:
    """Seconds for the ledger's own ingest of ``blocks`` in the batches the kiosk sends
    (``upload_batches``), called in-process on a fresh ledger database, each integrated into
    the tree before the next: the server's work without HTTP and without the kiosk's checks."""
    baseline = LedgerServer(directory / "baseline-ledger", election)  # init only, never served
    log_key = SigningKey(b64d((baseline.data / "log.key").read_text().strip(), length=32))
    engine = db.connect(f"sqlite:///{(baseline.data / 'ledger.db').resolve()}")
    try:
        ledger = Ledger(engine, log_key)
        kiosk = ledger.enrol(key.public_key, "baseline kiosk")
        batches = [
            [b.encoded for b in batch]
            for batch in upload_batches(OutgoingBlock.of(b) for b in blocks)
        ]
        start = time.perf_counter()
        for batch in batches:
            result = ledger.ingest(kiosk, batch)
            assert result.rejection is None, result.rejection
        return time.perf_counter() - start
    finally:
        engine.dispose()


def raw_verify_rate(count: int) -> float:
    key = nacl.signing.SigningKey.generate()
    signed = [key.sign(os.urandom(32)) for _ in range(count)]
    verify_key = key.verify_key
    return count / min(timed(lambda: [verify_key.verify(s) for s in signed]) for _ in range(3))


class TimedClient(LedgerClient):
    """The kiosk's client, with the wall time spent in uploads counted (the ledger's ingest
    and the network) apart from the rest of the catch-up."""

    upload_s = 0.0
    uploads = 0

    def upload(
        self, blocks: Sequence[SignedBlock | OutgoingBlock], *, wait: bool = True
    ) -> UploadAnswer:
        start = time.perf_counter()
        try:
            return super().upload(blocks, wait=wait)
        finally:
            self.upload_s += time.perf_counter() - start
            self.uploads += 1


@dataclass(frozen=True, slots=True)
class CaughtUp:
    seconds: float  # the whole sync_once
    upload_s: float  # of which in uploads (the ledger's ingest and HTTP)
    uploads: int
    kiosk_cpu: float  # the kiosk's own CPU (its thread's)


def catch_up(server: LedgerServer, store: ChainStore, key: SigningKey) -> CaughtUp:
    """One timed ``SyncWorker.sync_once`` of ``store`` (its kiosk enrolled) against
    ``server``, proofs from its tiles."""
    client = TimedClient(server.url, key, log_key=server.log_key)
    worker = SyncWorker(store, client, server.log_key, tiles=[TileProofs(f"{server.url}/tiles")])
    cpu = time.thread_time()
    seconds = timed(worker.sync_once)
    kiosk_cpu = time.thread_time() - cpu
    client.close()
    return CaughtUp(seconds, client.upload_s, client.uploads, kiosk_cpu)


def bench_catch_up(
    directory: Path, election: SyntheticElection, server: LedgerServer, pending: int
) -> tuple[list[Row], dict[str, float]]:
    store, box, key = new_store(directory, "catch-up", election)
    cast_s = timed(lambda: Caster(box, election, 0).cast(pending))
    enrol(server, key, "catch-up kiosk")
    blocks = list(store.blocks())
    caught = catch_up(server, store, key)
    elapsed, kiosk_cpu = caught.seconds, caught.kiosk_cpu
    assert store.acknowledged_height() == store.state.height == len(blocks) - 1
    assert store.inclusion_proof(store.state.height) is not None
    store.close()
    n = len(blocks)
    ingest_s = in_process_ingest(directory, election, blocks, key)
    verify = raw_verify_rate(n)
    rate = n / elapsed
    name = f"catch-up: sync_once of {n:,} pending blocks over loopback"
    rows = [
        Row(
            name,
            f"{rate:,.0f} blocks/s ({elapsed:.1f} s)",
            f"in-process ledger ingest, same blocks: {n / ingest_s:,.0f} blocks/s",
            f"{rate / (n / ingest_s):.2f}x",
        ),
        Row(
            name,
            f"{rate:,.0f} blocks/s",
            f"raw PyNaCl verify: {verify:,.0f} sig/s",
            f"{rate / verify:.3f}x",
        ),
        Row(
            f"catch-up, of which the {caught.uploads} uploads (the ledger's ingest and HTTP)",
            f"{caught.upload_s:.1f} s",
            f"in-process ledger ingest, same batches: {ingest_s:.1f} s",
            f"{caught.upload_s / ingest_s:.2f}x",
        ),
        Row(
            "catch-up, of which the rest (head, checkpoint, proofs from tiles, records)",
            f"{elapsed - caught.upload_s:.1f} s",
            f"the whole catch-up: {elapsed:.1f} s",
            f"{(elapsed - caught.upload_s) / elapsed:.2f}x",
        ),
        Row(
            "catch-up, the kiosk's own CPU (store reads, signing, verifying, recording)",
            f"{kiosk_cpu:.2f} s",
            f"the whole catch-up: {elapsed:.1f} s",
            f"{kiosk_cpu / elapsed:.2f}x",
        ),
    ]
    return rows, {"cast_s": cast_s, "sync_s": elapsed, "blocks": n}


def bench_catch_up_readers(directory: Path, pending: int) -> list[Row]:
    """The same catch-up (one store of ``pending`` ballots, copied) against two ledgers: one
    reading every upload in its worker (``--read-workers 0``), one reading large uploads on
    every core (``--read-workers`` = the cores). Each ledger first takes one large upload from
    another kiosk, so that its readers are running, as on a ledger up all day."""
    election = election_for(pending + PRIMING)
    store_key = os.urandom(32)
    store, box, key = new_store(directory, "catch-up", election, store_key)
    Caster(box, election, 0).cast(pending)
    count = store.state.height + 1
    store.close()
    results: dict[str, CaughtUp] = {}
    cores = str(os.cpu_count() or 1)
    for label, read_workers in (("in the worker", "0"), ("on every core", cores)):
        copy = directory / f"catch-up-{read_workers}.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{directory / 'catch-up.db'}{suffix}").exists():
                shutil.copyfile(f"{directory / 'catch-up.db'}{suffix}", f"{copy}{suffix}")
        args = ["--tiles-dir", str(directory / f"tiles-{read_workers}")]
        args += ["--read-workers", read_workers]
        ledger_dir = directory / f"ledger-{read_workers}"
        with LedgerServer(ledger_dir, election, serve_args=args) as server:
            _prime(server, election, pending)
            copied = ChainStore.open(copy, store_key, key, election.package)
            enrol(server, key, "catch-up kiosk")
            results[label] = catch_up(server, copied, key)
            assert copied.acknowledged_height() == copied.state.height == count - 1
            copied.close()
    worker_s, worker_up, _, worker_cpu = dataclasses.astuple(results["in the worker"])
    cores_s, cores_up, _, cores_cpu = dataclasses.astuple(results["on every core"])
    name = f"catch-up of {count:,} blocks, large uploads read on every core ({os.cpu_count()})"
    return [
        Row(
            name,
            f"{count / cores_s:,.0f} blocks/s ({cores_s:.1f} s)",
            f"read in the ledger worker: {count / worker_s:,.0f} blocks/s ({worker_s:.1f} s)",
            f"{worker_s / cores_s:.2f}x",
        ),
        Row(
            "of which the uploads, read on every core",
            f"{cores_up:.1f} s",
            f"read in the ledger worker: {worker_up:.1f} s",
            f"{worker_up / cores_up:.2f}x",
        ),
        Row(
            "the kiosk's own CPU, read on every core",
            f"{cores_cpu:.2f} s",
            f"read in the ledger worker: {worker_cpu:.2f} s",
            f"{worker_cpu / cores_cpu:.2f}x",
        ),
    ]


PRIMING = 250  # ballots another kiosk uploads first, so that the ledger's readers are running


def _prime(server: LedgerServer, election: SyntheticElection, first: int) -> None:
    """One upload of PRIMING ballots from another kiosk, cast by voters the catch-up's store
    never uses (those from ``first`` on)."""
    package = election.package
    rng = random.Random(first)
    chain = ChainWriter(package, SigningKey.generate(), datetime.now(UTC), timedelta(0))
    chain.mode(Mode.OFFICIAL)
    chain.open_session()
    for card in election.voter_keys[first : first + PRIMING]:
        voter = package.voter_for_card(card.public_key)
        assert voter is not None
        chain.cast(voter, random_ballot(package, voter, rng), card)
    enrol(server, chain.key, "priming kiosk")
    answer = upload(server, chain.key, chain.blocks)
    assert answer.status_code == 200 and answer.json()["rejected"] is None, answer.text


# -- (b) bytes on the wire and (c) cast latency -----------------------------------------------


def bench_live(
    directory: Path, election: SyntheticElection, server: LedgerServer, casts: int, first: int
) -> tuple[list[Row], dict[str, float]]:
    store, box, key = new_store(directory, "live", election)
    enrol(server, key, "live kiosk")
    caster = Caster(box, election, first)
    with FaultProxy(server.port, fault_rate=0.0) as proxy:
        # Phase A: casts with no sync at all.
        quiet = caster.cast(casts)
        ballots = [b for b in store.blocks() if b.block.kind.value == "ballot"]
        block_size = sum(len(b.encode()) for b in ballots) // len(ballots)
        # The backlog of phase A, caught up through the counting proxy.
        client = LedgerClient(proxy.url, key, log_key=server.log_key)
        tiles = [TileProofs(f"{proxy.url}/tiles")]  # through the proxy too: every request counts
        SyncWorker(store, client, server.log_key, tiles=tiles).sync_once()
        catch_up_bytes = proxy.bytes_from_clients + proxy.bytes_to_clients
        catch_up_requests = sum(proxy.requests.values())
        # Phase B: the worker syncs every ballot as it is cast.
        before = proxy.bytes_from_clients + proxy.bytes_to_clients
        before_requests = sum(proxy.requests.values())
        worker = SyncWorker(store, client, server.log_key, idle_s=0.05, backoff_max_s=0.2).start()
        busy = caster.cast(casts, after=worker.wake)
        deadline = time.monotonic() + 60
        while store.acknowledged_height() < store.state.height:
            assert time.monotonic() < deadline, "the worker did not catch up"
            worker.wake()
            time.sleep(0.02)
        worker.stop()
        busy_requests = sum(proxy.requests.values()) - before_requests
        # One sync per ballot, as at a kiosk where voters come a minute apart.
        before = proxy.bytes_from_clients + proxy.bytes_to_clients
        before_requests = sum(proxy.requests.values())
        syncer = SyncWorker(store, client, server.log_key)
        for _ in range(ONE_BY_ONE):
            caster.cast(1)
            syncer.sync_once()
        live_bytes = proxy.bytes_from_clients + proxy.bytes_to_clients - before
        live_requests = sum(proxy.requests.values()) - before_requests
        before = proxy.bytes_from_clients + proxy.bytes_to_clients
        syncer.sync_once()  # nothing pending: what an idle poll costs
        idle_bytes = proxy.bytes_from_clients + proxy.bytes_to_clients - before
        client.close()
        assert proxy.faults == 0 and not proxy.errors
    # Phase C: no sync again, so that drift in the machine shows up in the baseline.
    quiet += caster.cast(casts)
    store.close()
    rows = [
        Row(
            f"bytes on the wire per ballot, catch-up ({casts:,} ballots, up to {BATCH} per upload)",
            f"{catch_up_bytes / casts:,.0f} B",
            f"the signed ballot block itself: {block_size:,} B",
            f"{catch_up_bytes / casts / block_size:.2f}x",
        ),
        Row(
            "bytes on the wire per ballot, live (one sync per ballot)",
            f"{live_bytes / ONE_BY_ONE:,.0f} B",
            f"the signed ballot block itself: {block_size:,} B",
            f"{live_bytes / ONE_BY_ONE / block_size:.2f}x",
        ),
    ]
    for q in (50, 99):
        with_sync, without = percentile(busy, q) * 1e3, percentile(quiet, q) * 1e3
        rows.append(
            Row(
                f"cast_ballot p{q} while the worker syncs (woken after every cast)",
                f"{with_sync:.2f} ms",
                f"cast_ballot p{q} with no sync: {without:.2f} ms",
                f"{with_sync / without:.2f}x",
            )
        )
    info: dict[str, float] = {
        "catch_up_requests": catch_up_requests,
        "live_requests": live_requests,
        "busy_requests": busy_requests,
        "idle_bytes": idle_bytes,
        "block_size": block_size,
    }
    return rows, info


_last: dict[str, float] = {}


def bench_sync(
    directory: Path, *, pending: int = PENDING, casts: int = CASTS, live: bool = True
) -> list[Row]:
    election = election_for(pending + 3 * casts + ONE_BY_ONE)
    tiles = ("--tiles-dir", str(directory / "tiles"))  # the ledger writes its tiles as it goes
    with LedgerServer(directory / "ledger", election, serve_args=tiles) as server:
        rows, info = bench_catch_up(directory, election, server, pending)
        live_rows: list[Row] = []
        live_info: dict[str, float] = {}
        if live:
            live_rows, live_info = bench_live(directory, election, server, casts, pending)
    _last.clear()
    _last.update(info | live_info | {"pending": pending, "casts": casts})
    return rows + live_rows


def notes(*, pending: int = PENDING, casts: int = CASTS) -> list[str]:
    seen = _last or {"pending": pending, "casts": casts}
    extra = ""
    if "sync_s" in seen:
        extra = (
            f" In this run casting the {int(seen['blocks']) - 3:,} ballots took "
            f"{seen['cast_s']:.1f} s and the catch-up {seen['sync_s']:.1f} s."
        )
    live = ""
    if "idle_bytes" in seen:
        live = (
            f" Requests: {int(seen['catch_up_requests'])} for the catch-up, "
            f"{int(seen['live_requests'])} for the {ONE_BY_ONE} live ballots. A sync with "
            f"nothing pending (one head request) costs {int(seen['idle_bytes'])} B; at the "
            f"worker's default idle_s of 5 s that is {int(seen['idle_bytes']) * 12 / 1024:.1f} "
            "KiB a minute."
        )
    return [
        "How the sync figures were measured (bench/sync_bench.py):",
        f"- catch-up: {int(seen['pending']):,} ballots cast into a real SQLCipher store, then "
        "one `SyncWorker.sync_once` against `ledger serve` (one uvicorn worker, SQLite) on "
        "127.0.0.1 writing its tiles (`--tiles-dir`): the signed head, uploads of up to 1,000 "
        "blocks or 3 MiB each answered once durable (`wait=false`), the last once a checkpoint "
        "covers them all, then that checkpoint's consistency with the last one trusted and "
        "every block's inclusion proof computed from the tiles (each tile read once), all "
        "verified, and the acknowledgements recorded in one transaction. The kiosk sends its "
        "blocks as stored, never decoding a ballot. Baselines: the ledger's own "
        "`Ledger.ingest` of the same blocks in the same batches, each integrated before the "
        "next, in-process on a fresh database (the server's floor: verification, log append, "
        "checkpoint signing, no HTTP and no kiosk-side checks); and PyNaCl verifying as many "
        "Ed25519 signatures (one per block is the least any ledger must do)." + extra,
        "- bytes on the wire: HTTP bytes (request line, headers, bodies, both directions; not "
        "TCP/IP headers) counted by a pass-through proxy between LedgerClient and the ledger. "
        f"Catch-up: {int(seen['casts']):,} pending ballots synced at once. Live: "
        f"{ONE_BY_ONE} ballots each cast then synced on its own (head, upload, inclusion and "
        "consistency proofs), as at a kiosk where voters come a minute apart. Baseline: the "
        "mean size of the signed ballot block, the payload itself." + live,
        f"- cast latency: {int(seen['casts']):,} casts with no sync, {int(seen['casts']):,} "
        "with the worker running through the same proxy and woken after each cast (so it is "
        "never idle: it batches whatever was cast since its last pass"
        + (f", {int(seen['busy_requests'])} requests in all" if "busy_requests" in seen else "")
        + "), then "
        f"{int(seen['casts']):,} with no sync again; the baseline pools the two quiet phases. "
        "The ledger runs on the same 2-core machine, so the overhead includes competing for "
        "CPU with it as well as the store lock and the GIL.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=PENDING, help="blocks to catch up")
    parser.add_argument("--casts", type=int, default=CASTS, help="casts per latency phase")
    parser.add_argument(
        "--compare-readers",
        action="store_true",
        help="the same catch-up against a ledger reading uploads in its worker and one reading "
        "large uploads on every core (nothing else)",
    )
    parser.add_argument(
        "--catch-up-only",
        action="store_true",
        help="measure the catch-up alone (no bytes-on-the-wire or cast-latency phases)",
    )
    args = parser.parse_args()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hanpyo-sync-bench-") as tmp:
        if args.compare_readers:
            rows = bench_catch_up_readers(Path(tmp), args.pending)
        else:
            rows = bench_sync(
                Path(tmp), pending=args.pending, casts=args.casts, live=not args.catch_up_only
            )
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>24}  {r.baseline:<52} {r.ratio:>7}")
    if not args.compare_readers:
        print()
        for line in notes(pending=args.pending, casts=args.casts):
            print(line)
    print(f"(ran in {time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
