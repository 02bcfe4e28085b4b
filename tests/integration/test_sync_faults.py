"""Sync under hostile conditions: a proxy that drops, resets, delays, refuses and cuts answers
after the ledger committed, a ledger restarted (and killed) during uploads, and a kiosk
process SIGKILLed while it syncs. Afterwards the ledger must hold the kiosk's chain exactly
once, agree with the kiosk on its head, and prove every receipt the voters were given."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select

from kiosk.core.block import SignedBlock
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.merkle import leaf_hash, root_from_leaves
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys, provision
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import SyncError, UntrustedLedger
from kiosk.sync.worker import SyncStatus, SyncWorker
from ledger.store import schema as db
from ledger.verify.inclusion_proof import check_tracking_code
from testkit.elections import (
    SyntheticElection,
    build_election,
    random_ballot,
    review_definition,
    voter_of,
)
from testkit.fault_proxy import KINDS, Fault, FaultProxy
from testkit.killed_writer import run_until_killed
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.sync_writer import sync_election
from testkit.v2_ballots import box_cast

pytestmark = pytest.mark.slow

FAULTS = 1000
FAULT_RATE = 0.5
# A delay holds the single sync thread for up to the 1 s read timeout, the other faults for
# milliseconds: delays are rarer so that a thousand faults fit in about a minute and a half.
SEED = os.environ.get("HANPYO_FAULT_SEED", "sync-faults")  # set it to explore other sequences
WEIGHTS = {"drop": 1.0, "reset": 1.0, "delay": 0.3, "503": 1.0, "cut": 2.0}
CAST_INTERVAL_S = 0.02
RESTART_AT = (200, 450, 700)  # fault counts at which the ledger restarts; the second is a kill
FAULT_PHASE_LIMIT_S = 150
CATCH_UP_S = 60
PROOF_BUDGET_S = 20
KILLS = 10


# -- checking the ledger against the kiosk ------------------------------------------------------


def ledger_engine(server: LedgerServer) -> Engine:
    return db.connect(f"sqlite:///{(server.data / 'ledger.db').resolve()}")


def assert_ledger_holds_exactly(server: LedgerServer, chain: list[SignedBlock]) -> dict[str, int]:
    """The ledger's database holds every block of ``chain`` (the only kiosk) exactly once, in
    order, byte for byte, at leaves 0..n-1 of a log of size n whose root is the root of the
    kiosk's own blocks. Returns the tracking code -> count map of the ledger."""
    kiosk = chain[0].block.kiosk
    n = len(chain)
    engine = ledger_engine(server)
    try:
        with engine.connect() as conn:
            per_height = conn.execute(
                sql_select(db.blocks.c.height, func.count())
                .where(db.blocks.c.kiosk_id == kiosk)
                .group_by(db.blocks.c.height)
                .order_by(db.blocks.c.height)
            ).all()
            rows = conn.execute(
                sql_select(
                    db.blocks.c.height,
                    db.blocks.c.hash,
                    db.blocks.c.encoded,
                    db.blocks.c.leaf_index,
                )
                .where(db.blocks.c.kiosk_id == kiosk)
                .order_by(db.blocks.c.leaf_index)
            ).all()
            tracking: dict[str, int] = dict(
                conn.execute(
                    sql_select(db.blocks.c.tracking, func.count()).group_by(db.blocks.c.tracking)
                ).all()
            )
            log = conn.execute(sql_select(db.log_state.c.size, db.log_state.c.root)).one()
            leaves = conn.execute(
                sql_select(func.count())
                .select_from(db.merkle_nodes)
                .where(db.merkle_nodes.c.level == 0, db.merkle_nodes.c.idx < log.size)
            ).scalar_one()
    finally:
        engine.dispose()
    doubled = [(h, c) for h, c in per_height if c != 1]
    assert not doubled, f"heights not held exactly once: {doubled[:10]}"
    assert [h for h, _ in per_height] == list(range(n)), "the ledger lacks or adds heights"
    assert [r.leaf_index for r in rows] == list(range(n)), "leaves are not 0..n-1"
    assert [r.height for r in rows] == list(range(n)), "leaves are not in chain order"
    assert log.size == n and leaves == n, f"log size {log.size}, leaves {leaves}, chain {n}"
    for row, block in zip(rows, chain, strict=True):
        assert bytes(row.hash) == block.hash, f"block {row.height} differs"
        assert bytes(row.encoded) == block.encode(), f"block {row.height}: other bytes"
    assert bytes(log.root) == root_from_leaves([leaf_hash(b.encode()) for b in chain])
    return {str(code): int(count) for code, count in tracking.items()}


def check_receipts(server: LedgerServer, receipts: dict[str, int], kiosk: str) -> tuple[int, float]:
    """Prove tracking codes against the signed log: all of them if that takes less than
    PROOF_BUDGET_S, else a random 100. Returns (checked, seconds)."""
    codes = list(receipts)
    random.Random(7).shuffle(codes)
    start = time.perf_counter()
    checked = 0
    for i, code in enumerate(codes):
        found = check_tracking_code(server.url, code, server.log_key)
        assert (found.kiosk, found.height) == (kiosk, receipts[code]), code
        checked += 1
        if i == 99 and (time.perf_counter() - start) / 100 * len(codes) > PROOF_BUDGET_S:
            break
    return checked, time.perf_counter() - start


# -- 1. a thousand faults and three ledger restarts ---------------------------------------------


def restart_ledger(server: LedgerServer, proxy: FaultProxy, *, kill: bool) -> bool:
    """Stop (or SIGKILL) the ledger while an upload is in flight if one comes within 5 s,
    then start it again on the same data and port. Returns whether an upload was in flight."""
    port = server.port
    during_upload = proxy.wait_for_upload(5.0)
    if kill and server.process is not None:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    server.stop()
    server.start()
    assert server.port == port and server.url.endswith(f":{port}")
    return during_upload


def test_sync_through_a_thousand_faults_and_ledger_restarts(tmp_path: Path) -> None:
    election = build_election(
        review_definition(groups=40, per_group=12, election_id="sync-faults"), seed="sync-faults"
    )
    package = election.package
    voters = [package.voter_for_card(k.public_key) for k in election.voter_keys]
    key = SigningKey.generate()
    store = official_store(tmp_path / "kiosk.db", os.urandom(32), key, package)
    box = BallotBox(store, package)
    receipts: dict[str, int] = {}
    statuses: list[SyncStatus] = []
    restarts: list[tuple[int, str, bool]] = []
    rng = random.Random(2024)
    server = LedgerServer(tmp_path / "ledger", election)
    server.start()
    started = time.monotonic()
    try:
        enrol(server, key, "fault-injected kiosk")
        with FaultProxy(server.port, fault_rate=FAULT_RATE, weights=WEIGHTS, seed=SEED) as proxy:
            client = LedgerClient(proxy.url, key, log_key=server.log_key, timeout=(1.0, 1.0))
            worker = SyncWorker(
                store,
                client,
                server.log_key,
                on_status=statuses.append,
                idle_s=0.05,
                backoff_max_s=0.2,
            ).start()
            try:
                deadline = started + FAULT_PHASE_LIMIT_S
                while proxy.faults < FAULTS or len(restarts) < len(RESTART_AT):
                    assert time.monotonic() < deadline, (
                        f"only {proxy.faults} faults in {FAULT_PHASE_LIMIT_S} s"
                    )
                    assert worker.running, f"the sync thread died: {worker.status}"
                    if len(receipts) < len(voters):
                        voter = voters[len(receipts)]
                        assert voter is not None
                        receipt = box_cast(box, election, voter, random_ballot(package, voter, rng))
                        receipts[receipt.tracking_code] = receipt.height
                    worker.wake()
                    if (
                        len(restarts) < len(RESTART_AT)
                        and proxy.faults >= RESTART_AT[len(restarts)]
                    ):
                        kill = len(restarts) == 1
                        during = restart_ledger(server, proxy, kill=kill)
                        restarts.append((proxy.faults, "SIGKILL" if kill else "stop", during))
                    time.sleep(CAST_INTERVAL_S)
                fault_phase = time.monotonic() - started
                proxy.fault_rate = 0.0
                catch_up_start = time.monotonic()
                while store.acknowledged_height() < store.state.height:
                    assert time.monotonic() < catch_up_start + CATCH_UP_S, (
                        f"no catch-up in {CATCH_UP_S} s: acknowledged "
                        f"{store.acknowledged_height()} of {store.state.height}, {worker.status}"
                    )
                    worker.wake()
                    time.sleep(0.05)
                catch_up = time.monotonic() - catch_up_start
                alive = worker.running
            finally:
                worker.stop()
                client.close()
            counts, delays = proxy.fault_counts(), list(proxy.delays)
            forwarded, down = proxy.counts["forwarded"], proxy.counts["upstream_down"]
            endpoints = dict(proxy.requests)
            assert not proxy.errors, f"the proxy itself failed: {proxy.errors[:3]}"
        leaked = [t.name for t in threading.enumerate() if t.name.startswith("fault-proxy")]
        assert not leaked, f"the proxy left threads behind: {leaked}"
        assert alive, f"the sync thread died: {worker.status}"
        assert not worker.running

        chain = list(store.blocks())
        direct = LedgerClient(server.url, key, log_key=server.log_key)
        head = direct.head()
        direct.close()
        tracking = assert_ledger_holds_exactly(server, chain)
        checked, proof_s = check_receipts(server, receipts, kiosk_id_for(key.public_key))
    finally:
        server.stop()

    untrusted = [s for s in statuses if not s.trusted]
    size, note = store.latest_checkpoint() or (0, "")
    store.close()
    print(
        f"\nsync faults (seed {SEED!r}): {sum(counts.values())} injected {counts} "
        f"(delays > 1 s read timeout: {sum(d > 1.0 for d in delays)}/{len(delays)}), "
        f"{forwarded} requests forwarded clean, {down} refused while the ledger was down; "
        f"requests: {endpoints}"
    )
    print(
        f"ledger restarts (faults so far, how, during an upload): {restarts}; "
        f"{len(receipts)} ballots cast, chain of {len(chain)} blocks; fault phase "
        f"{fault_phase:.1f} s, catch-up {catch_up:.1f} s; {checked} tracking codes proved in "
        f"{proof_s:.1f} s; {len(statuses)} statuses, {len(untrusted)} untrusted"
    )
    assert sum(counts.values()) >= FAULTS and all(counts[k] > 0 for k in KINDS), counts
    assert sum(during for *_, during in restarts) >= 2, f"restarts not during uploads: {restarts}"
    assert not untrusted, f"the worker stopped trusting the ledger: {untrusted[0].alarm}"
    assert worker.status.trusted and worker.status.online, worker.status
    assert (head.height, head.hash) == (chain[-1].block.height, chain[-1].hash)
    assert all(tracking.get(code) == 1 for code in receipts)
    assert checked >= min(100, len(receipts))
    assert verify_checkpoint(note, server.log_key).size == size == len(chain)


# -- 2. a kiosk process SIGKILLed while it syncs ------------------------------------------------


def run_writer_until_killed(
    directory: Path, server: LedgerServer, rng: random.Random
) -> tuple[dict[str, int], list[str]]:
    """Start the kiosk process, let it cast and sync for a random while, SIGKILL it.
    Returns the receipts it gave (tracking code -> height) and its SYNC lines."""
    lines = run_until_killed(
        "testkit.sync_writer",
        [str(directory), server.url, server.log_key],
        rng.uniform(0.2, 1.5),
    )
    receipts = {}
    for line in lines:
        if line.startswith(("CAST", "BLOCK")) and line.endswith("\n"):
            _, height, code = line.split()
            receipts[code] = int(height)
    return receipts, [line for line in lines if line.startswith("SYNC") and line.endswith("\n")]


def test_sigkill_during_sync_loses_and_doubles_nothing(tmp_path: Path) -> None:
    election = sync_election()
    keys = provision(tmp_path / "keys")
    official_store(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package).close()
    keys = load_keys(tmp_path / "keys")
    rng = random.Random(int.from_bytes(os.urandom(4)))
    receipts: dict[str, int] = {}
    syncs: list[str] = []
    behind: list[tuple[int, int]] = []  # (ledger head, kiosk head) right after each kill
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, keys.kiosk_key, "SIGKILLed kiosk")
        direct = LedgerClient(server.url, keys.kiosk_key, log_key=server.log_key)
        for _ in range(KILLS):
            got, synced = run_writer_until_killed(tmp_path, server, rng)
            receipts |= got
            syncs += synced
            with ChainStore.open(
                tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
            ) as store:
                behind.append((direct.head().height, store.state.height))
        # The final sync, from this process.
        with ChainStore.open(
            tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, election.package
        ) as store:
            before = direct.head().height
            status = SyncWorker(store, direct, server.log_key).sync_once()
            chain = list(store.blocks())
            assert status.trusted and store.acknowledged_height() == store.state.height
        head = direct.head()
        direct.close()
        tracking = assert_ledger_holds_exactly(server, chain)
        checked, proof_s = check_receipts(server, receipts, keys.kiosk_id)
    ballots = sum(1 for b in chain if b.block.kind.value == "ballot")
    during = sum(1 for ledger, kiosk in behind if 0 <= ledger < kiosk)
    print(
        f"\nsync SIGKILL: {KILLS} kills, {len(receipts)} receipts printed, {ballots} ballots "
        f"in a chain of {len(chain)}; ledger/kiosk heads after each kill: {behind}; "
        f"{during} kills left the ledger behind but started; the final sync pushed "
        f"{len(chain) - 1 - before} blocks; {len(syncs)} SYNC lines; "
        f"{checked} tracking codes proved in {proof_s:.1f} s"
    )
    assert all(line.split()[2] == "1" for line in syncs), "a writer stopped trusting the ledger"
    assert during >= KILLS // 2, f"most kills should land while syncing: {behind}"
    assert (head.height, head.hash) == (chain[-1].block.height, chain[-1].hash)
    missing = [code for code in receipts if tracking.get(code) != 1]
    assert not missing, f"printed tracking codes not in the ledger exactly once: {missing[:5]}"


# -- 3. an answer cut inside its headers is a network fault, not a lying ledger -----------------

STATUS_LINE = len(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("path", ["first sync after a USB import", "upload that landed late"])
def test_a_checkpoint_answer_cut_in_its_headers_is_not_distrust(
    tmp_path: Path, election: SyntheticElection, path: str
) -> None:
    key = SigningKey.generate()
    store = official_store(tmp_path / "kiosk.db", os.urandom(32), key, election.package)
    box = BallotBox(store, election.package)
    for n in range(3):
        voter = voter_of(election, "resident", n)
        box_cast(box, election, voter, random_ballot(election.package, voter, random.Random(n)))
    chain = list(store.blocks())
    uploads: list[str] = []
    heads: list[str] = []

    def plan(method: str, target: str) -> Fault | None:
        url = target.split("?", 1)[0]  # the head is asked with a nonce in its query
        if url == "/v1/checkpoint":  # the answer stops right after its status line
            return Fault("cut", keep=STATUS_LINE)
        if path == "upload that landed late" and url.endswith("/blocks") and not uploads:
            uploads.append(url)  # reaches the ledger after the client gave up on it
            return Fault("delay", rst=True, delay=2.4)
        if path == "upload that landed late" and url.endswith("/head") and len(heads) == 1:
            heads.append(url)  # the second head is read before that upload commits
            return Fault("delay", rst=False, delay=1.8)
        if url.endswith("/head"):
            heads.append(url)
        return Fault(None)

    errors: list[Exception] = []
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "kiosk")
        if path == "first sync after a USB import":
            export = tmp_path / "usb.hanpyo"
            export.write_bytes(b"\n".join(b.encode() for b in chain) + b"\n")
            assert server.cli("import", str(export)).returncode == 0
        with FaultProxy(server.port, fault_rate=0.0, plan=plan) as proxy:
            client = LedgerClient(proxy.url, key, log_key=server.log_key, timeout=(1.0, 2.0))
            worker = SyncWorker(store, client, server.log_key)
            for _ in range(3):
                try:
                    worker.sync_once()
                    break
                except SyncError as e:
                    errors.append(e)
                    if isinstance(e, UntrustedLedger):
                        break
            client.close()
            cuts = proxy.counts["cut"]
    store.close()
    assert cuts >= 1, "the checkpoint answer was never cut: the scenario did not happen"
    untrusted = [e for e in errors if isinstance(e, UntrustedLedger)]
    assert not untrusted, f"a cut connection was taken for a lying ledger: {untrusted[0]}"
