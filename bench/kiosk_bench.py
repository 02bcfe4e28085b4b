"""Kiosk benchmarks: the real QML kiosk, offscreen, over a real SQLCipher store, a private
pcscd and the card simulator; each figure beside a baseline measured in the same run.

Run with `.venv/bin/python -m bench.kiosk_bench [--visits N]`; prints a table.
bench/run.py adds `bench_kiosk(directory)` to its rows and `notes()` to its report.

- cold start: a fresh process (`python -c`, so imports, fonts and QML loading all count) from
  its start to the bridge showing "waiting" with its reader ready. Baseline: a process
  that imports PySide6.QtQuick and creates a QGuiApplication. Measured on an empty chain and
  again once the visits below have filled it.
- card → PIN screen: a voter card inserted into the kiosk's reader until the PIN screen.
  Baselines: a raw identify (connect, SELECT, read the key, find it on the roll) on the same
  card while it waits at the PIN screen; and, before the kiosk starts, insertion → identify
  through pcscd with no kiosk at all.
- cast: the tap on "castButton" to the receipt screen (the cast is synchronous). Baseline:
  one-row SQLCipher commits of the same size, as bench/run.py measures them.
- memory: VmRSS after a warm-up of voters, and after many full visits (card, PIN, one score,
  next, go on anyway, yes, next, cast, card out).

The kiosk runs in a worker process of its own (bench/kiosk_visits.py), so its RSS holds no
other benchmark's garbage and PCSCLITE_CSOCK_NAME is set before its first PC/SC call, whatever
ran before.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row, percentile
from bench.kiosk_visits import (
    EXPERTS_PER_GROUP,
    PER_GROUP,
    PX_PER_MM,
    kiosk_config,
    kiosk_election,
    run_visits,
)
from kiosk.app import build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.election import sign_package
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection

ROOT = Path(__file__).resolve().parents[1]
VISITS = 1000
WARMUP = 50
CARD_ROUNDS = 30
CAST_ROUNDS = 30
STARTS = 5

# A kiosk started as `kiosk.ui.main.run` starts it, timed by the parent from spawn to "ready".
COLD_START = r"""
import json, sys, time
from pathlib import Path
from PySide6.QtGui import QGuiApplication
from kiosk.app import KioskConfig, Timeouts, build_kiosk
from kiosk.ui.main import build_ui
spec = json.loads(sys.argv[1])
app = QGuiApplication(sys.argv[:1])
services = build_kiosk(KioskConfig(
    Path(spec["data"]), bytes.fromhex(spec["authority"]), key_dir=Path(spec["keys"]),
    reader=spec["reader"], printer="memory", timeouts=Timeouts(idle_s=600, warning_s=60)))
ui = build_ui(services, px_per_mm=spec["px_per_mm"])
frames = []
ui.window.frameSwapped.connect(lambda: frames.append(time.perf_counter()))
vm, deadline = ui.bridge, time.monotonic() + 60
while not (vm.property("screen") == "waiting" and vm.property("readerReady")):
    if time.monotonic() > deadline:
        sys.exit(f"no waiting screen with a ready reader: {vm.property('screen')}")
    app.processEvents()
    time.sleep(0.0002)
ready = time.perf_counter()
print("ready", flush=True)
while not frames and time.perf_counter() < ready + 5:
    app.processEvents()
    time.sleep(0.0002)
rss = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"frame_after_s": frames[0] - ready if frames else None, "rss_kib": int(rss)}),
      flush=True)
ui.close()
services.close()
"""

BARE_START = r"""
import json, sys
import PySide6.QtQuick
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
print("ready", flush=True)
rss = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"frame_after_s": None, "rss_kib": int(rss)}), flush=True)
"""

_last: dict[str, Any] = {}


def _prepare(directory: Path, election: SyntheticElection) -> Path:
    """A kiosk data folder as staff leave it: package loaded, official mode, session open."""
    data = directory / "data"
    data.mkdir(parents=True)
    signed = sign_package(election.package, election.authority)
    (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
    provision(directory / "keys")
    return data


# -- cold start ---------------------------------------------------------------------------------


def _start_once(script: str, argument: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", script, argument],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    detail = json.loads(process.stdout.readline() or "{}")
    process.stdout.read()
    if process.wait(60) != 0 or line.strip() != "ready":
        raise RuntimeError(f"a cold start failed (exit {process.returncode}, said {line!r})")
    return elapsed, detail


def cold_starts(spec: dict[str, Any], env: dict[str, str], count: int) -> dict[str, Any]:
    """``count`` kiosk starts and bare Qt starts, alternated, after one untimed run of each."""
    argument = json.dumps(spec)
    kiosk: list[float] = []
    bare: list[float] = []
    frames: list[float] = []
    rss: dict[str, int] = {}
    for i in range(count + 1):
        bare_s, bare_detail = _start_once(BARE_START, "", env)
        kiosk_s, kiosk_detail = _start_once(COLD_START, argument, env)
        if i == 0:
            continue  # warms the page cache and the bytecode caches
        bare.append(bare_s)
        kiosk.append(kiosk_s)
        if kiosk_detail.get("frame_after_s") is not None:
            frames.append(kiosk_s + kiosk_detail["frame_after_s"])  # from spawn
        rss = {"kiosk": kiosk_detail["rss_kib"], "bare": bare_detail["rss_kib"]}
    return {"kiosk": kiosk, "bare": bare, "frames": frames, "rss": rss}


# -- the section ----------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return seconds * 1e3


def bench_kiosk(
    directory: Path,
    *,
    visits: int = VISITS,
    warmup: int = WARMUP,
    card_rounds: int = CARD_ROUNDS,
    cast_rounds: int = CAST_ROUNDS,
    starts: int = STARTS,
) -> list[Row]:
    voters = max(card_rounds, cast_rounds + warmup + visits)
    election = kiosk_election(voters)
    data = _prepare(directory, election)
    began = time.perf_counter()
    with private_pcscd(readers=1, socket_dir=directory / "kiosk-pcscd") as pcscd:
        spec: dict[str, Any] = {
            "data": str(data),
            "keys": str(directory / "keys"),
            "authority": election.authority.public_key.hex(),
            "reader": pcscd.reader_names[0],
            "px_per_mm": PX_PER_MM,
        }
        services = build_kiosk(kiosk_config(spec))
        assert services.box is not None
        services.box.set_mode(Mode.OFFICIAL)
        services.box.open_session()
        services.close()
        env = {**pcscd.env, "QT_QPA_PLATFORM": "offscreen"}
        empty = cold_starts(spec, env, starts)
        scratch = directory / "kiosk-raw"
        scratch.mkdir()
        worker_spec = spec | {
            "ports": pcscd.ports,
            "voters": voters,
            "visits": visits,
            "warmup": warmup,
            "card_rounds": card_rounds,
            "cast_rounds": cast_rounds,
            "scratch": str(scratch),
        }
        run = subprocess.run(
            [sys.executable, "-m", "bench.kiosk_bench", "--worker", json.dumps(worker_spec)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        seen = json.loads(run.stdout.strip().splitlines()[-1])
        full = cold_starts(spec, env, starts)
    seen |= {
        "empty": empty,
        "full": full,
        "visits": visits,
        "warmup": warmup,
        "card_rounds": card_rounds,
        "cast_rounds": cast_rounds,
        "starts": starts,
        "groups": len(election.package.groups),
        "voters": len(election.package.roll),
        "total_s": time.perf_counter() - began,
    }
    _last.clear()
    _last.update(seen)
    return _rows(seen)


def _rows(seen: dict[str, Any]) -> list[Row]:
    rows = []
    bare = statistics.median(seen["empty"]["bare"])
    for key, label in (("empty", "empty chain"), ("full", f"chain of {seen['ballots']:,} ballots")):
        kiosk = statistics.median(seen[key]["kiosk"])
        rows.append(
            Row(
                f"kiosk cold start → Waiting, reader ready ({label}), median of {seen['starts']}",
                f"{_ms(kiosk):,.0f} ms",
                f"bare PySide6 QtQuick + QGuiApplication start: {_ms(bare):,.0f} ms",
                f"{kiosk / bare:.1f}x",
            )
        )
    compared = (
        (
            "kiosk: card inserted → PIN screen",
            "to_pin",
            "raw identify through pcscd",
            "raw_identify",
        ),
        (
            "kiosk: card inserted → PIN screen",
            "to_pin",
            "insertion → identify, no kiosk",
            "bare_insert",
        ),
        (
            "kiosk: tap on 'Cast my vote' → receipt screen",
            "cast",
            "raw SQLCipher commit",
            "raw_commit",
        ),
    )
    for label, key, base_label, base_key in compared:
        for q in (50, 99):
            value = _ms(percentile(seen[key], q))
            raw = _ms(percentile(seen[base_key], q))
            rows.append(
                Row(
                    f"{label} p{q}",
                    f"{value:.2f} ms",
                    f"{base_label} p{q}: {raw:.2f} ms",
                    f"{value / raw:.2f}x",
                )
            )
    warm, end = seen["rss_warm_kib"] / 1024, seen["rss_end_kib"] / 1024
    fresh = seen["empty"]["rss"]["kiosk"] / 1024
    bare_rss = seen["empty"]["rss"]["bare"] / 1024
    per_100 = (end - warm) / (seen["visits"] / 100) if seen["visits"] else 0.0
    rows += [
        Row(
            "kiosk RSS at start (fresh process, Waiting screen)",
            f"{fresh:.1f} MiB",
            f"bare PySide6 QtQuick + QGuiApplication: {bare_rss:.1f} MiB",
            f"{fresh / bare_rss:.2f}x",
        ),
        Row(
            f"kiosk RSS after {seen['warmup']} voters (warm-up)",
            f"{warm:.1f} MiB",
            f"kiosk RSS at start: {fresh:.1f} MiB",
            f"{warm / fresh:.2f}x",
        ),
        Row(
            f"kiosk RSS after {seen['warmup']} + {seen['visits']:,} voters",
            f"{end:.1f} MiB",
            f"RSS after the warm-up: {warm:.1f} MiB",
            f"{end / warm:.3f}x",
        ),
        Row(
            f"kiosk RSS growth per 100 voters (over {seen['visits']:,} visits)",
            f"{per_100 * 1024:+,.0f} KiB",
            f"RSS after the warm-up: {warm:.1f} MiB",
            f"{per_100 / warm * 100:+.2f}%",
        ),
    ]
    return rows


def notes() -> list[str]:
    seen = _last
    if not seen:
        return []
    visits = seen["visits"]
    per_visit = seen["visits_s"] / visits if visits else 0.0
    casts = seen["visit_casts"]
    drift = ""
    if len(casts) >= 200:
        first, last = casts[:100], casts[-100:]
        drift = (
            f" Over the {visits:,} visits the cast tap → receipt took p50 "
            f"{_ms(percentile(casts, 50)):.2f} ms, p99 {_ms(percentile(casts, 99)):.2f} ms; "
            f"p50 {_ms(percentile(first, 50)):.2f} ms for the first 100 and "
            f"{_ms(percentile(last, 50)):.2f} ms for the last 100."
        )
    curve = ", ".join(f"{n}: {kib / 1024:.1f}" for n, kib in seen["rss_curve"])
    frames = seen["empty"]["frames"]
    frame = (
        " The first frame of the Waiting screen was swapped a median "
        f"{_ms(statistics.median(frames)):,.0f} ms after spawn."
        if frames
        else " No frame was swapped within 5 s of that (offscreen)."
    )
    breakdown = (
        f" Inside that time, `BallotBox.cast_encrypted` took p50 "
        f"{_ms(percentile(seen['cast_box'], 50)):.2f} ms and drawing the receipt's QR code "
        f"p50 {_ms(percentile(seen['cast_qr'], 50)):.2f} ms; the code was drawn a median "
        f"{statistics.median(seen['cast_qr_calls']):.0f} time(s) before the receipt showed and "
        f"{statistics.median(seen['visit_qr_calls']):.0f} in the whole visit (the bridge "
        "draws it once per receipt, on the turn of the event loop after the receipt screen "
        "shows). Both were measured by wrapping the instances' methods for these "
        "rounds."
    )
    lost = seen["references_lost"]
    true_per_visit = lost["True"] / visits if visits else 0.0
    none_per_visit = lost["None"] / visits if visits else 0.0
    start_true = seen["references_at_start"]["True"]
    reserve = (
        f"- References (Python {platform.python_version()}, PySide6 {seen['pyside']}): over "
        f"the {visits:,} visits True lost {true_per_visit:.1f} a voter and None "
        f"{none_per_visit:.1f} (True started with {start_true:,}). PySide6 6.12.0 on Python "
        "3.11 lost one True per Signal.emit() and aborted the kiosk near its 94th voter; "
        "pyproject.toml keeps PySide6 below 6.12, and a count above zero here means such a "
        "leak is back."
    )
    return [
        "How the kiosk was measured (bench/kiosk_bench.py):",
        "- kiosk: the real QML window (`kiosk.ui.main.build_ui`, QT_QPA_PLATFORM=offscreen, "
        "1280 x 800) over a real SQLCipher store, in official mode with a session open, a "
        "private pcscd with one vpcd reader, and the card simulator; a memory printer stands "
        "in for the receipt printer. The election has "
        f"{seen['groups']} groups of {PER_GROUP} proposals and {seen['voters']:,} on-site "
        f"voters ({PER_GROUP} residents and {EXPERTS_PER_GROUP} experts a group, no online "
        "members) and a yes/no question after the scores. Controls are tapped with mouse "
        "events at their centre, found by objectName (`testkit.robot.Robot`); between taps "
        "the worker runs a QEventLoop, as `app.exec()` would, until the screen it waits for "
        "is shown, and the time a screen showed is taken from the bridge's `sessionChanged` "
        "signal.",
        f"- cold start: {seen['starts']} fresh `python -c` processes each (after one untimed "
        "run of both), kiosk and baseline alternated, timed by the parent from spawn until "
        'the child prints that the bridge\'s screen is "waiting" and `readerReady` is '
        "true: imports, fonts, translations, the package's signature check, opening (and "
        "verifying) the store, loading the QML and the reader watcher finding the reader."
        f"{frame} Baseline: a process that imports PySide6.QtQuick and creates a "
        "QGuiApplication. The second row starts the same kiosk after the visits below, when "
        f"its chain holds {seen['ballots']:,} ballots.",
        f"- card → PIN screen: {seen['card_rounds']} voter cards inserted one by one; the clock "
        "starts at insertion and stops when the bridge shows the PIN screen. Baselines: "
        "a raw identify of the same card in the same round, while it waits at the PIN screen "
        "(connect, SELECT, application data, read the key, look it up on the roll, disconnect); "
        "and, before the kiosk started, the same cards inserted with no kiosk, until a "
        "`wait_for_card` + identify of them returned. The difference between those two is "
        "what pcscd's polling of vpcd costs; the ratio to the second is the kiosk's own share.",
        f"- cast: {seen['cast_rounds']} voters each signed in with their PIN, scored one "
        "proposal, went on past the warning, answered yes and reached the review screen; the "
        "clock runs from the mouse click on castButton to the bridge's receipt screen "
        "(validate, seal, sign, commit, screen change). Baseline: as many one-row SQLCipher "
        f"commits of the ballot block's size ({seen['block_size']} bytes), as in the cast rows "
        f"above, run by the same process.{breakdown}",
        f"- memory: VmRSS of the kiosk process (after gc.collect and deferred deletes) after "
        f"{seen['warmup']} warm-up voters and after {visits:,} more full visits (card in, "
        "PIN, one score, next, go on anyway, yes, next, cast, card out). It includes the "
        "in-process card simulator, holding one card at a time. RSS in MiB after n visits: "
        f"{curve}. The visits took {seen['visits_s']:.0f} s, {per_visit:.2f} s each (most of "
        f"it pcscd noticing the card go in and out).{drift}",
        reserve,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=VISITS, help="full visits after warm-up")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="warm-up visits")
    parser.add_argument("--card-rounds", type=int, default=CARD_ROUNDS, help="card insertions")
    parser.add_argument("--cast-rounds", type=int, default=CAST_ROUNDS, help="timed casts")
    parser.add_argument("--starts", type=int, default=STARTS, help="cold starts of each kind")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_visits(json.loads(args.worker))), flush=True)
        return
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hanpyo-kiosk-bench-") as tmp:
        rows = bench_kiosk(
            Path(tmp),
            visits=args.visits,
            warmup=args.warmup,
            card_rounds=args.card_rounds,
            cast_rounds=args.cast_rounds,
            starts=args.starts,
        )
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>16}  {r.baseline:<52} {r.ratio:>7}")
    print("\n".join(["", *notes()]))
    print(f"\n(ran in {time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
