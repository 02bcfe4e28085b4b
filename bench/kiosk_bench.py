"""Kiosk benchmarks: the real QML kiosk, offscreen, over a real SQLCipher store, a private
pcscd and the card simulator; each figure beside a baseline measured in the same run.

Run with `.venv/bin/python -m bench.kiosk_bench [--visits N]`; prints a table.
bench/run.py adds `bench_kiosk(directory)` to its rows and `notes()` to its report.

- cold start: a fresh process (`python -c`, so imports, fonts and QML loading all count) from
  its start to the controller showing "waiting" with its reader ready. Baseline: a process
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

The kiosk runs in a worker process of its own, so its RSS holds no other benchmark's garbage
and PCSCLITE_CSOCK_NAME is set before its first PC/SC call, whatever ran before.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import argparse
import gc
import json
import math
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row, percentile, raw_sqlcipher_commits
from kiosk.app import KioskConfig, Timeouts, build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.election import sign_package
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection, build_election, review_definition

ROOT = Path(__file__).resolve().parents[1]
PX_PER_MM = 96 / 25.4  # as tests/ui: a 96-dpi panel
PER_GROUP = 12  # proposals per group, as at the reference event
EXPERTS_PER_GROUP = 2  # so 14 on-site voters per group
SCORE = 7
VISITS = 1000
WARMUP = 50
CARD_ROUNDS = 30
CAST_ROUNDS = 30
STARTS = 5
PIN = "123456"
WAIT_S = 15.0

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
vm, deadline = ui.controller, time.monotonic() + 60
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


def kiosk_election(voters: int) -> SyntheticElection:
    """Enough groups of 12 proposals (12 residents and 2 experts each) for ``voters`` on-site
    voters, no online members, and a yes/no question after the scores."""
    groups = max(2, math.ceil(voters / (PER_GROUP + EXPERTS_PER_GROUP)))
    definition = review_definition(groups=groups, per_group=PER_GROUP, election_id="bench-kiosk")
    definition["contests"].append(
        {
            "id": "rules",
            "kind": "yesno",
            "title": {"ko": "심사 규칙에 동의합니까?", "en": "Do you accept the review rules?"},
            "categories": ["resident", "expert"],
        }
    )
    return build_election(
        definition,
        seed="bench-kiosk",
        experts_per_group=EXPERTS_PER_GROUP,
        online_per_proposal=0,
    )


def _config(spec: dict[str, Any]) -> KioskConfig:
    return KioskConfig(
        Path(spec["data"]),
        bytes.fromhex(spec["authority"]),
        key_dir=Path(spec["keys"]),
        reader=spec["reader"],
        printer="memory",
        timeouts=Timeouts(idle_s=600, warning_s=60),
    )


def _prepare(directory: Path, election: SyntheticElection) -> Path:
    """A kiosk data folder as staff leave it: package loaded, official mode, session open."""
    data = directory / "data"
    data.mkdir(parents=True)
    signed = sign_package(election.package, election.authority)
    (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
    provision(directory / "keys")
    return data


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


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


# -- the worker: one kiosk window through many visits ---------------------------------------------

# PySide6 6.12.0 on Python 3.11 dropped a reference to None on every void Qt call and one to
# True on every Signal.emit(); the kiosk aborted ("Fatal Python error: bool_dealloc") near its
# 94th voter. pyproject.toml keeps PySide6 below 6.12; the worker still counts the references
# the singletons lose over the visits, so the report shows if such a leak comes back.


def _references() -> dict[str, int]:
    return {
        "None": sys.getrefcount(None),
        "True": sys.getrefcount(True),
        "False": sys.getrefcount(False),
    }


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    import PySide6
    from PySide6.QtCore import (
        QCoreApplication,
        QEvent,
        QEventLoop,
        QObject,
        QPoint,
        QPointF,
        Qt,
        QTimer,
    )
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    from kiosk.hardware.card.auth import identify
    from kiosk.hardware.card.openpgp import OpenPGPCard
    from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
    from kiosk.hardware.printer.memory import MemoryPrinter
    from kiosk.hardware.sim.simulator import Simulator
    from kiosk.hardware.sim.virtual_card import VirtualCard
    from kiosk.ui.main import build_ui
    from testkit.robot import Robot

    results: dict[str, Any] = {"references_at_start": _references(), "pyside": PySide6.__version__}
    app = QGuiApplication(sys.argv[:1])
    election = kiosk_election(spec["voters"])
    package = election.package
    reader = spec["reader"]

    def progress(message: str) -> None:
        print(f"[kiosk bench] {message}", file=sys.stderr, flush=True)

    class Loop:
        """The event loop run as `app.exec()` runs it (the GIL released, no polling), until
        the screen expected shows or a time passes; records when that screen first showed."""

        def __init__(self, vm: QObject) -> None:
            self._vm = vm
            self._target = ""
            self.at: float | None = None
            self._loop: QEventLoop | None = None
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._quit)
            vm.sessionChanged.connect(self._changed)  # type: ignore[attr-defined]

        def _quit(self) -> None:
            if self._loop is not None:
                self._loop.quit()

        def _changed(self) -> None:
            if self.at is None and self._target and self._vm.property("screen") == self._target:
                self.at = time.perf_counter()
                self._quit()

        def run(self, seconds: float) -> None:
            self._loop = QEventLoop()
            self._timer.start(max(1, round(seconds * 1000)))
            self._loop.exec()
            self._timer.stop()
            self._loop = None

        def expect(self, screen: str) -> None:
            self._target, self.at = screen, None

        def reached(self, timeout: float = WAIT_S) -> float:
            if self.at is None and self._vm.property("screen") == self._target:
                self.at = time.perf_counter()
            deadline = time.perf_counter() + timeout
            while self.at is None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    screen = self._vm.property("screen")
                    raise TimeoutError(f"no {self._target!r} screen in {timeout} s; on {screen!r}")
                self.run(left)
            return self.at

    def raw_identify() -> float:
        start = time.perf_counter()
        with PcscConnection(reader) as connection:
            holder = identify(OpenPGPCard(connection), package)
        elapsed = time.perf_counter() - start
        assert holder.voter is not None
        return elapsed

    with Simulator(spec["ports"]) as simulator:
        next_voter = 0

        def card(index: int | None = None) -> str:
            """A voter card in the simulator's pile; the next voter unless ``index`` is given."""
            nonlocal next_voter
            if index is None:
                index, next_voter = next_voter, next_voter + 1
            name = f"v{index}"
            if name not in simulator.cards:
                seed = election.voter_keys[index].seed
                simulator.add_card(name, VirtualCard.with_auth_key(seed, "Bench<<Voter"))
            return name

        # Insertion → identify through pcscd, with no kiosk running.
        bare_insert = []
        for i in range(spec["card_rounds"]):
            name = card(i)
            start = time.perf_counter()
            simulator.insert(name, 0)
            wait_for_card(reader, present=True, timeout_s=WAIT_S)
            with PcscConnection(reader) as connection:
                identify(OpenPGPCard(connection), package)
            bare_insert.append(time.perf_counter() - start)
            simulator.remove(0)
            wait_for_card(reader, present=False, timeout_s=WAIT_S)
        results["bare_insert"] = bare_insert

        services = build_kiosk(_config(spec))
        ui = build_ui(services, px_per_mm=PX_PER_MM)
        printer = services.printer
        assert isinstance(printer, MemoryPrinter)
        vm = ui.controller
        loop = Loop(vm)
        robot = Robot(ui.window, loop.run)
        deadline = time.monotonic() + WAIT_S
        while not vm.property("readerReady"):
            assert time.monotonic() < deadline, "the kiosk found no reader"
            loop.run(0.01)

        def take_out(name: str) -> None:
            loop.expect("waiting")
            simulator.remove(0)
            loop.reached()
            del simulator.cards[name]

        # Insertion → PIN screen, and a raw identify of the same card while it waits there.
        to_pin, identify_s = [], []
        for i in range(spec["card_rounds"]):
            name = card(i)
            loop.expect("pin")
            start = time.perf_counter()
            simulator.insert(name, 0)
            to_pin.append(loop.reached() - start)
            identify_s.append(raw_identify())
            take_out(name)
        results |= {"to_pin": to_pin, "raw_identify": identify_s}
        progress(f"card insertion: {spec['card_rounds']} rounds")

        def visit(spent: dict[str, float] | None = None) -> float:
            """One voter from card in to card out; returns the cast tap → receipt time.
            ``spent`` is emptied at the tap and frozen (copied) once the receipt shows."""
            voter = package.voter_for_card(election.voter_keys[next_voter].public_key)
            assert voter is not None
            option = next(
                o.id for o in package.options_in_group(voter.group) if o.id not in voter.excluded
            )
            name = card()
            loop.expect("pin")
            simulator.insert(name, 0)
            loop.reached()
            for digit in PIN:
                robot.tap(f"pin{digit}")
            loop.expect("ballot")
            robot.tap("pinOk")
            loop.reached()
            robot.tap(f"score-{option}-{SCORE}")
            robot.tap("next")
            robot.tap("warningGoOn")  # the group's other proposals are left unscored
            robot.tap("answer-yes")
            loop.expect("review")
            robot.tap("next")
            loop.reached()
            button = robot.reveal("castButton")
            assert button.isEnabled()
            centre = button.mapToScene(QPointF(button.width() / 2, button.height() / 2))
            loop.expect("receipt")
            if spent is not None:
                spent.clear()
            start = time.perf_counter()
            QTest.mouseClick(
                ui.window,
                Qt.MouseButton.LeftButton,
                Qt.KeyboardModifier.NoModifier,
                QPoint(int(centre.x()), int(centre.y())),
            )
            cast = loop.reached() - start
            frozen = dict(spent) if spent is not None else {}
            while not printer.printed:
                loop.run(0.005)
            printer.printed.clear()  # a paper printer keeps nothing
            take_out(name)
            if spent is not None:
                frozen["qr_calls_visit"] = spent.get("qr_calls", 0)
                spent.clear()
                spent.update(frozen)
            return cast

        # Where a cast's time goes: the ballot box's cast_ballot, and the receipt's QR code,
        # which the controller draws afresh each time QML reads vm.receiptQr. Both are
        # wrapped on the instances for these rounds only; no product code is changed.
        box = services.box
        assert box is not None
        spent: dict[str, float] = {}
        cast_ballot, make_qr = box.cast_ballot, vm.qr

        def timed_cast_ballot(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return cast_ballot(*args, **kwargs)
            finally:
                spent["cast_ballot"] = spent.get("cast_ballot", 0.0) + time.perf_counter() - start

        def timed_qr(text: str) -> str:
            start = time.perf_counter()
            try:
                return make_qr(text)
            finally:
                spent["qr"] = spent.get("qr", 0.0) + time.perf_counter() - start
                spent["qr_calls"] = spent.get("qr_calls", 0) + 1

        box.cast_ballot = timed_cast_ballot  # type: ignore[method-assign]
        vm.qr = timed_qr  # type: ignore[method-assign]
        casts, in_box, in_qr, qr_calls, qr_visit = [], [], [], [], []
        for _ in range(spec["cast_rounds"]):
            spent.clear()
            casts.append(visit(spent))
            in_box.append(spent.get("cast_ballot", 0.0))
            in_qr.append(spent.get("qr", 0.0))
            qr_calls.append(spent.get("qr_calls", 0))
            qr_visit.append(spent.get("qr_calls_visit", 0))
        del box.cast_ballot, vm.qr
        results |= {
            "cast": casts,
            "cast_box": in_box,
            "cast_qr": in_qr,
            "cast_qr_calls": qr_calls,
            "visit_qr_calls": qr_visit,
        }
        progress(f"cast: {spec['cast_rounds']} voters")

        def settled_rss() -> int:
            gc.collect()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            loop.run(0.05)
            return _rss_kib()

        for _ in range(spec["warmup"]):
            visit()
        results["rss_warm_kib"] = settled_rss()
        progress(f"warm-up: {spec['warmup']} voters, RSS {results['rss_warm_kib'] / 1024:.1f} MiB")
        before = _references()
        start = time.perf_counter()
        visit_casts: list[float] = []
        rss_curve: list[tuple[int, int]] = []
        for n in range(1, spec["visits"] + 1):
            visit_casts.append(visit())
            if n % 100 == 0 or n == spec["visits"]:
                rss_curve.append((n, settled_rss()))
                elapsed = time.perf_counter() - start
                lost = before["True"] - sys.getrefcount(True)
                progress(
                    f"{n} visits in {elapsed:.0f} s ({elapsed / n:.2f} s each), "
                    f"RSS {rss_curve[-1][1] / 1024:.1f} MiB, True lost {lost} references"
                )
        after = _references()
        results |= {
            "visits_s": time.perf_counter() - start,
            "visit_casts": visit_casts,
            "rss_curve": rss_curve,
            "rss_end_kib": rss_curve[-1][1] if rss_curve else results["rss_warm_kib"],
            "references_lost": {k: before[k] - after[k] for k in before},
        }
        assert services.box is not None
        store = services.box.store
        results["ballots"] = next_voter
        results["block_size"] = len(next(store.blocks(store.state.height)).encode())
        ui.close()
        services.close()
    raw = raw_sqlcipher_commits(Path(spec["scratch"]), spec["cast_rounds"], results["block_size"])
    results["raw_commit"] = raw
    del app
    return results


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
        services = build_kiosk(_config(spec))
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
        f" Inside that time, `BallotBox.cast_ballot` took p50 "
        f"{_ms(percentile(seen['cast_box'], 50)):.2f} ms and drawing the receipt's QR code "
        f"p50 {_ms(percentile(seen['cast_qr'], 50)):.2f} ms; the code was drawn a median "
        f"{statistics.median(seen['cast_qr_calls']):.0f} time(s) before the receipt showed and "
        f"{statistics.median(seen['visit_qr_calls']):.0f} in the whole visit (the controller "
        "draws it afresh each time QML reads `vm.receiptQr`, and every `changed` signal makes "
        "QML read it again). Both were measured by wrapping the instances' methods for these "
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
        "is shown, and the time a screen showed is taken from the controller's `changed` "
        "signal.",
        f"- cold start: {seen['starts']} fresh `python -c` processes each (after one untimed "
        "run of both), kiosk and baseline alternated, timed by the parent from spawn until "
        'the child prints that the controller\'s screen is "waiting" and `readerReady` is '
        "true: imports, fonts, translations, the package's signature check, opening (and "
        "verifying) the store, loading the QML and the reader watcher finding the reader."
        f"{frame} Baseline: a process that imports PySide6.QtQuick and creates a "
        "QGuiApplication. The second row starts the same kiosk after the visits below, when "
        f"its chain holds {seen['ballots']:,} ballots.",
        f"- card → PIN screen: {seen['card_rounds']} voter cards inserted one by one; the clock "
        "starts at insertion and stops when the controller shows the PIN screen. Baselines: "
        "a raw identify of the same card in the same round, while it waits at the PIN screen "
        "(connect, SELECT, application data, read the key, look it up on the roll, disconnect); "
        "and, before the kiosk started, the same cards inserted with no kiosk, until a "
        "`wait_for_card` + identify of them returned. The difference between those two is "
        "what pcscd's polling of vpcd costs; the ratio to the second is the kiosk's own share.",
        f"- cast: {seen['cast_rounds']} voters each signed in with their PIN, scored one "
        "proposal, went on past the warning, answered yes and reached the review screen; the "
        "clock runs from the mouse click on castButton to the controller's receipt screen "
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
        print(json.dumps(_worker(json.loads(args.worker))), flush=True)
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
