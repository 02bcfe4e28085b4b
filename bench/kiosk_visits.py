"""The kiosk bench's worker: one real kiosk window, offscreen, through card insertions, timed
casts and many full visits, counting its RSS and the references Qt's bindings lose.

bench.kiosk_bench runs it in a process of its own (`python -m bench.kiosk_bench --worker`) and
turns what it returns into rows; the election and the kiosk configuration are defined here.
"""

from __future__ import annotations

import gc
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import raw_sqlcipher_commits
from kiosk.app import KioskConfig, Timeouts, build_kiosk
from testkit.elections import SyntheticElection, build_election, review_definition

PX_PER_MM = 96 / 25.4  # as tests/ui: a 96-dpi panel
PER_GROUP = 12  # proposals per group, as at the reference event
EXPERTS_PER_GROUP = 2  # so 14 on-site voters per group
SCORE = 7
PIN = "123456"
WAIT_S = 15.0


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


def kiosk_config(spec: dict[str, Any]) -> KioskConfig:
    return KioskConfig(
        Path(spec["data"]),
        bytes.fromhex(spec["authority"]),
        key_dir=Path(spec["keys"]),
        reader=spec["reader"],
        printer="memory",
        timeouts=Timeouts(idle_s=600, warning_s=60),
    )


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


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


def run_visits(spec: dict[str, Any]) -> dict[str, Any]:
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

        services = build_kiosk(kiosk_config(spec))
        ui = build_ui(services, px_per_mm=PX_PER_MM)
        printer = services.printer
        assert isinstance(printer, MemoryPrinter)
        vm = ui.bridge
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
            assert voter is not None and voter.group is not None  # every bench voter has one
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

        # Where a cast's time goes: the ballot box's cast_encrypted, and the receipt's QR code,
        # which the bridge draws once per receipt, after the screen shows. Both are
        # wrapped on the instances for these rounds only; no product code is changed.
        box = services.box
        assert box is not None
        spent: dict[str, float] = {}
        cast_encrypted, make_qr = box.cast_encrypted, vm.qr

        def timed_cast(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return cast_encrypted(*args, **kwargs)
            finally:
                spent["cast_box"] = spent.get("cast_box", 0.0) + time.perf_counter() - start

        def timed_qr(text: str) -> str:
            start = time.perf_counter()
            try:
                return make_qr(text)
            finally:
                spent["qr"] = spent.get("qr", 0.0) + time.perf_counter() - start
                spent["qr_calls"] = spent.get("qr_calls", 0) + 1

        box.cast_encrypted = timed_cast  # type: ignore[method-assign]
        vm.qr = timed_qr  # type: ignore[method-assign]
        casts, in_box, in_qr, qr_calls, qr_visit = [], [], [], [], []
        for _ in range(spec["cast_rounds"]):
            spent.clear()
            casts.append(visit(spent))
            in_box.append(spent.get("cast_box", 0.0))
            in_qr.append(spent.get("qr", 0.0))
            qr_calls.append(spent.get("qr_calls", 0))
            qr_visit.append(spent.get("qr_calls_visit", 0))
        del box.cast_encrypted, vm.qr
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
