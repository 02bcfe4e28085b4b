"""Protocol v2's count and `ledger verify-bundle` at scale (issue 17), each stage beside its floor
of group operations measured in the same run.

The log: bench/count_record.py (the reference event's shape, every roll voter casting one
ballot). The stages are the product's own functions, called as `ledger count prepare`, the
trustees' `ledger trustee shuffle|decrypt --count` and `ledger count finish` call them:

- selection: ``select`` over the closed log with every ballot's proofs checked (1 process, N
  processes as the count's ``proofs_in_pool``, or a Dask cluster through the verifier's
  ``check_ballots``); tally input: ``tally_input`` and reading it back as the trustees do;
- each of 3 trustees in turn: the checks of ``open_count`` (count input, selection, every
  shuffle before theirs), then ``make_shuffle`` (which also verifies its own proof);
- each of 3 trustees decrypts: the same checks over all 3 shuffles, then ``make_decryption``;
- combine and results: ``combine_count`` (every share's proof checked), ``count_results`` and
  the NIST export;
- verify-bundle: the real CLI (`python -m ledger.cli verify-bundle`) in its own process on the
  zipped record, timed from outside, with the peak RSS of its largest process.

The floor of a stage: the stage's own calls into libsodium, counted (bench/crypto_floor.py) on
records of 1, 2 and 3 groups, where every count is affine in the number of groups (checked),
extrapolated to the measured size, times each call's raw cost sampled between the stages of the
timed run. One-process stages are compared in CPU time (``time.process_time``), the others in
wall-clock time (their ratio below 1 is the speed-up over one core's floor).

Run: `.venv/bin/python -m bench.count_bench --ballots 10000 --workers 1` (``--workers 2``,
``--dask`` for a LocalCluster of two worker processes on loopback; ``--only`` to pick stages).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.count_record import TOP_FILES, build_log, groups_for, read_secrets
from bench.crypto_floor import UnitClock, Units, counting, fastest
from kiosk.core.block import decode_signed_block
from kiosk.core.election import ElectionPackage, verify_package
from kiosk.core.encoding import b64d
from ledger.publish.nist_results import nist_results
from ledger.rules.count_decryption import combine_count, decryption_name, make_decryption
from ledger.rules.count_files import (
    check_selection,
    read_closure,
    read_count_input,
    shuffle_name,
    verify_shuffles,
)
from ledger.rules.count_input import tally_input
from ledger.rules.selection import LoggedBlock, ProofChecker, Selection, select, selection_bytes
from ledger.rules.v2_results import count_results
from ledger.service.count import proofs_in_pool
from ledger.verify.ballot_proofs import check_ballots
from ledger.verify.parallel import Where

ORDER = "FVADH"
SHUFFLERS = (1, 2, 3)
DECRYPTERS = (1, 2, 3)
VERIFY = "verify-bundle, the whole check"
ALL_STAGES = {"selection", "shuffles", "verify"}


@dataclass
class Timing:
    wall: float
    cpu: float  # this process's CPU time: the whole work only when it ran in this process
    units: Units
    cpu_all: float = 0.0  # with the local worker processes that ended in the stage


def all_cpu() -> float:
    """CPU time of this process and of its local worker processes that have ended: the pools
    start them from the fork server, which reaps them (so their time is in its cutime and
    cstime, /proc/PID/stat fields 16 and 17, proc(5)); a Dask cluster's is not counted."""
    from multiprocessing import forkserver

    own = time.process_time()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own + usage.ru_utime + usage.ru_stime
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    if pid:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return total
        # fields after "(comm)" start at field 3 (state): cutime is field 16, cstime 17
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class Run:
    """Per stage: its time (timed runs) or its calls into libsodium (counting runs)."""

    clock: UnitClock | None
    timings: dict[str, Timing] = field(default_factory=dict)
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.clock is None:
            with counting() as counts:
                yield
            self.counts[name] = counts
            return
        before = self.clock.sample()
        wall, cpu, every = time.perf_counter(), time.process_time(), all_cpu()
        yield
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        every = all_cpu() - every
        after = self.clock.sample()
        self.timings[name] = Timing(wall, cpu, fastest([before, after]), every)
        print(
            f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU ({every:.1f} s with local workers)",
            flush=True,
        )


# -- the count, stage by stage --------------------------------------------------------------------


@dataclass
class Log:
    directory: Path
    package: ElectionPackage
    logged: list[LoggedBlock]
    checkpoint: str
    ballots: int


def read_log(directory: Path, decode: bool = True) -> Log:
    authority = b64d((directory / "authority.txt").read_text().strip(), length=32)
    package = verify_package(json.loads((directory / "package.json").read_bytes()), authority)
    channels = {
        s["kiosk"]: s["channel"] for s in json.loads((directory / "sources.json").read_bytes())
    }
    logged: list[LoggedBlock] = []
    # verify-bundle alone (no selection here) reads the record itself: nothing to decode
    with (directory / "log.jsonl").open("rb") if decode else io.BytesIO() as f:
        for position, line in enumerate(f):
            block = decode_signed_block(line[:-1]).block
            logged.append(
                LoggedBlock(position, block.kiosk, block.height, block, channels[block.kiosk])
            )
    closure = read_closure((directory / "close.json").read_bytes())
    made = json.loads((directory / "made.json").read_text())
    return Log(directory, package, logged, closure.checkpoint, made["ballots"])


def checker(package: ElectionPackage, workers: int, scheduler: str | None) -> ProofChecker | None:
    if scheduler:
        return lambda ballots: check_ballots(package, ballots, Where(scheduler=scheduler))
    if workers == 1:
        return None  # select's default: in this process
    return proofs_in_pool(package, workers)


def count(
    log: Log, run: Run, workers: int, scheduler: str | None, stages: set[str]
) -> dict[str, bytes]:
    """The count's stages, in order; the count directory's files."""
    package, secrets = log.package, read_secrets(log.directory)
    closure = read_closure((log.directory / "close.json").read_bytes())
    if "selection" not in stages:
        return {}
    with run.stage("selection with ballot proofs"):
        selection = select(
            package, log.logged, log.checkpoint, checker(package, workers, scheduler)
        )
    if len(selection.counted) != log.ballots:
        raise RuntimeError(
            f"{len(selection.counted)} counted of {log.ballots}: {selection.reasons()}"
        )
    if "shuffles" not in stages:
        return {}
    with run.stage("tally input (sums and columns), read back"):
        tally = tally_input(package, selection)
        raw_input = tally.canonical()
        count_input = read_count_input(raw_input, package)
    files = {
        "count/selection.json": selection_bytes(selection),
        "count/tally-input.json": raw_input,
    }
    shuffles: list[bytes] = []
    shufflers = SHUFFLERS[:1] if "shuffle1" in stages else SHUFFLERS
    for number, trustee in enumerate(shufflers, start=1):
        with run.stage(f"trustee {trustee} checks before shuffling ({number - 1} shuffles)"):
            count_input = read_count_input(raw_input, package)
            check_selection(count_input, files["count/selection.json"], closure, package)
            chain = verify_shuffles(package, count_input, shuffles, workers=workers)
        with run.stage(f"trustee {trustee} shuffles every column (and checks its proof)"):
            raw = package_shuffle(package, chain, trustee, secrets.trustee_keys[trustee], workers)
        shuffles.append(raw)
        files["count/" + shuffle_name(number)] = raw
    if len(shuffles) < len(SHUFFLERS):
        return files  # a partial count: the rest is extrapolated from the smaller log
    with run.stage("a trustee checks before decrypting (3 shuffles)"):
        check_selection(count_input, files["count/selection.json"], closure, package)
        chain = verify_shuffles(package, count_input, shuffles, workers=workers)
    decryptions = []
    for trustee in DECRYPTERS:
        with run.stage(f"trustee {trustee} decryption shares"):
            raw = make_decryption(
                package,
                count_input,
                chain,
                secrets.shares[trustee],
                secrets.trustee_keys[trustee],
                workers=workers,
            )
        decryptions.append((decryption_name(trustee), raw))
        files["count/" + decryption_name(trustee)] = raw
    with run.stage("combine (every share checked), results, NIST export"):
        decrypted = combine_count(package, count_input, chain, decryptions, workers=workers)
        results = results_of(log, package, selection, tally, decrypted, chain, closure)
        nist = nist_results(package, results, [])
    files["count/nist-1500-100-results.json"] = _pretty(nist)
    files["count/results.json"] = _pretty(results)
    return files


def package_shuffle(
    package: ElectionPackage, chain: Any, trustee: int, key: Any, workers: int
) -> bytes:
    from ledger.rules.count_files import make_shuffle

    return make_shuffle(package, chain.columns, chain.last_hash, trustee, key, workers=workers)


def results_of(
    log: Log,
    package: ElectionPackage,
    selection: Selection,
    tally: Any,
    decrypted: Any,
    chain: Any,
    closure: Any,
) -> dict[str, Any]:
    """results.json as `ledger count finish` writes it (testkit/v2_record.py's count_files)."""
    results = count_results(
        package,
        dict(Counter(c.category for c in selection.counted)),
        [(a.key, v) for a, v in zip(tally.aggregates, decrypted.sums, strict=True)],
        [(c.key, v) for c, v in zip(tally.columns, decrypted.columns, strict=True)],
    )
    sources = json.loads((log.directory / "sources.json").read_bytes())
    per_source = Counter(c.source for c in selection.counted)
    return results | {
        "title": package.title.to_json(),
        "closed": {
            "checkpoint": closure.checkpoint,
            "size": closure.size,
            "closed_at": closure.closed_at,
        },
        "tallied_at": "2026-12-08T18:30:00+00:00",
        "selection": {"counted": len(selection.counted), "left_out": selection.reasons()},
        "sources": [
            {k: s[k] for k in ("kiosk", "name", "channel")}
            | {"ballots_counted": per_source[s["kiosk"]]}
            for s in sources
        ],
        "trustees": {
            "shuffled": list(chain.trustees),
            "decrypted": list(decrypted.used),
            "bad": {str(j): why for j, why in sorted(decrypted.bad_trustees.items())},
            "not_signed": dict(sorted(decrypted.unsigned_files.items())),
        },
    }


def _pretty(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def write_bundle(log: Log, files: dict[str, bytes], name: str = "bundle.zip") -> Path:
    path = log.directory / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in TOP_FILES:
            z.write(log.directory / name, name)
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    return path


# -- verify-bundle, in its own process -------------------------------------------------------------

_RSS_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(done.stdout, file=sys.stderr)\n"
    "print(done.stderr, file=sys.stderr)\n"
    "print(done.returncode, wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)\n"
)


@dataclass(frozen=True)
class Verified:
    ok: bool
    wall: float
    peak_kib: int  # the largest process: the verifier, or one of its workers
    cpu: float  # the verifier and the workers it waited for (not a Dask cluster's)
    output: str


def verify_bundle(bundle: Path, log: Log, workers: int, scheduler: str | None) -> Verified:
    """`ledger verify-bundle` with the pinned keys, through a wrapper process that waits for it
    (so the peak RSS is of the verifier's processes, none of this benchmark's)."""
    where = ["--scheduler", scheduler] if scheduler else ["--workers", str(workers)]
    vkey = (log.directory / "log-key.txt").read_text().strip()
    authority = (log.directory / "authority.txt").read_text().strip()
    command = [
        sys.executable, "-c", _RSS_WRAPPER,
        sys.executable, "-m", "ledger.cli", "verify-bundle", str(bundle),
        f"--authority={authority}", f"--log-key={vkey}", *where,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    code, wall, peak, cpu = done.stdout.split()
    return Verified(code == "0", float(wall), int(peak), float(cpu), done.stderr)


def verify_in_process(bundle: Path, log: Log) -> list[Any]:
    from ledger.verify.bundle import verify_bundle as verify

    vkey = (log.directory / "log-key.txt").read_text().strip()
    authority = (log.directory / "authority.txt").read_text().strip()
    return verify(bundle, authority, vkey, Where(1), nist_results)


# -- floors ---------------------------------------------------------------------------------------


def _count_small(directory: Path, stages: set[str]) -> dict[int, dict[str, Counter[str]]]:
    measured: dict[int, dict[str, Counter[str]]] = {}
    # 1 twice: the first run fills what a process keeps (the shuffle's generators, the BSGS
    # table), as it then is for the timed run in the same process
    for groups in (1, 1, 2, 3):
        small = directory / f"floor-{groups}"
        if not (small / "made.json").exists():
            build_log(small, groups * 122, processes=1)
        run, log = Run(None), read_log(small)
        files = count(log, run, 1, None, stages)
        if "verify" in stages and files:
            bundle = write_bundle(log, files)
            with run.stage(VERIFY):
                checks = verify_in_process(bundle, log)
            if any(c.status == "FAILED" for c in checks):
                raise RuntimeError(f"verify-bundle failed on the floor's record: {checks}")
        measured[groups] = run.counts
    return measured


def floor_counts(directory: Path, stages: set[str]) -> Callable[[int], dict[str, Counter[str]]]:
    """Each stage's calls into libsodium at G groups: counted on records of 1, 2 and 3 groups
    (one process), checked to be affine in G."""
    cache = directory / f"floor-counts-{'-'.join(sorted(stages))}.json"
    if cache.exists():  # counted by an earlier run over the same records
        kept = json.loads(cache.read_text())
        measured = {int(g): {s: Counter(c) for s, c in v.items()} for g, v in kept.items()}
        count(read_log(directory / "floor-1"), Run(None), 1, None, stages)  # the warm-up
    else:
        measured = _count_small(directory, stages)
        cache.write_text(json.dumps(measured))
    slope = {s: {k: measured[2][s][k] - measured[1][s][k] for k in ORDER} for s in measured[1]}
    for s in measured[1]:
        for k in ORDER:
            expected = measured[1][s][k] + 2 * slope[s][k]
            if abs(measured[3][s][k] - expected) > 0.01 * max(1, expected):
                raise RuntimeError(f"{s}: {k} calls are not affine in the groups: {measured}")

    def at(groups: int) -> dict[str, Counter[str]]:
        return {
            s: Counter({k: measured[1][s][k] + slope[s][k] * (groups - 1) for k in ORDER})
            for s in measured[1]
        }

    return at


def formula(counts: Counter[str]) -> str:
    return " + ".join(f"{counts[k]:,}{k}" for k in ORDER if counts[k]) or "no group operation"


def duration(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds >= 1 else f"{seconds * 1e3:,.0f} ms"


# -- main ----------------------------------------------------------------------------------------


@contextmanager
def dask_cluster() -> Iterator[str]:
    import distributed

    local_cluster: Any = distributed.LocalCluster  # an untyped library
    with local_cluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local:
        yield str(local.scheduler_address)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ballots", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dask", action="store_true", help="a LocalCluster of 2 processes")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "hanpyo-count-bench"
    )
    parser.add_argument(
        "--only",
        default="selection,shuffles,verify",
        help="selection, shuffles (the rest of the count), shuffle1 (with shuffles: stop "
        "after the first trustee's shuffle), verify",
    )
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    stages = set(args.only.split(","))
    directory = args.dir / str(args.ballots)
    if not (directory / "made.json").exists():
        start = time.perf_counter()
        build_log(directory, args.ballots, processes=os.cpu_count() or 1)
        print(f"built the log in {time.perf_counter() - start:.0f} s", flush=True)
    groups = groups_for(args.ballots)
    floors = floor_counts(args.dir, ALL_STAGES)(groups)
    clock = UnitClock()
    run = Run(clock)
    start = time.perf_counter()
    log = read_log(directory, decode="selection" in stages)
    print(f"read {len(log.logged)} blocks in {time.perf_counter() - start:.1f} s", flush=True)
    where = "dask" if args.dask else f"{args.workers} worker(s)"
    load = os.getloadavg()[0]
    with dask_cluster() if args.dask else _nothing() as scheduler:
        files = count(log, run, args.workers, scheduler, stages)
        verified = None
        if "verify" in stages:
            # the bundle this run counted, or the one an earlier run over this log wrote
            bundle = write_bundle(log, files) if files else log.directory / "bundle.zip"
            if not bundle.exists():  # the record before its count: the log, no count files
                bundle = write_bundle(log, {}, "record-without-count.zip")
            with run.stage(VERIFY):
                verified = verify_bundle(bundle, log, args.workers, scheduler)
            # its CPU: the verifier's and its local workers' (rusage of the waited children)
            run.timings[VERIFY].cpu = verified.cpu
            print(verified.output, flush=True)
    rows = []
    for name, t in run.timings.items():
        floor = t.units.floor(floors[name])
        mults = t.units.floor(floors[name], "FV")
        rows.append(
            {
                "stage": name,
                "where": where,
                "wall": t.wall,
                "cpu": t.cpu,
                "cpu_all": t.cpu_all,
                "formula": formula(floors[name]),
                "floor": floor,
                "mults": mults,
                "units": t.units.seconds,
            }
        )
    out = {
        "ballots": log.ballots,
        "groups": groups,
        "blocks": len(log.logged),
        "where": where,
        "load_start": load,
        "load_end": os.getloadavg()[0],
        "rows": rows,
        "bundle": _sizes(log, files) if files else None,
        "verify": None
        if verified is None
        else verified.__dict__ | {"output": verified.output[-3000:]},
        "self_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    one_core = args.workers == 1 and not args.dask
    for row in rows:
        spent = float(row["cpu"] if one_core else row["wall"])  # type: ignore[arg-type]
        ratio = spent / float(row["floor"]) if row["floor"] else 0.0  # type: ignore[arg-type]
        print(
            f"{row['stage']} [{row['formula']}]: wall {row['wall']:.1f} s, "
            f"CPU {row['cpu']:.1f} s ({row['cpu_all']:.1f} s with workers), "
            f"floor {row['floor']:.1f} s -> {ratio:.2f}x"
        )
    if verified:
        peak = verified.peak_kib / 1024
        print(f"verify-bundle ({where}): ok={verified.ok} {verified.wall:.1f} s, {peak:.0f} MiB")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _sizes(log: Log, files: dict[str, bytes]) -> dict[str, int]:
    sizes = {name: (log.directory / name).stat().st_size for name in TOP_FILES}
    sizes |= {name: len(data) for name, data in files.items()}
    sizes["bundle.zip"] = (log.directory / "bundle.zip").stat().st_size
    return sizes


if __name__ == "__main__":
    main()
