"""Protocol v2's Cast tap on the real kiosk screens: the mouse click on castButton to the receipt
screen, with the voter's card signing through a private pcscd, vpcd and the card simulator,
over a real SQLCipher store (issue 17; goal: the tap adds no more than 150 ms).

The kiosk (`kiosk.app.build_kiosk`, `kiosk.ui.main.build_ui`, QT_QPA_PLATFORM=offscreen) runs
in a worker process of its own, as bench/kiosk_visits.py runs it, in a v2 election of the
reference event's shape (groups of 12 proposals; residents score the 11 not their own). Each
voter: card in, PIN, one score, on past the warning, the review screen; the time from the review
screen showing to the encrypted ballot being ready (``ballotReady``: the kiosk encrypts and
proves in the background while the review shows) is recorded; then the click on castButton,
timed to the bridge's receipt screen (the card's INTERNAL AUTHENTICATE on the kiosk's card
thread, the signature checked, ``cast_encrypted``'s checks, sign and commit, the screen
change). Inside the tap, ``sign_ballot`` and ``cast_encrypted`` are timed by wrapping them for
these rounds. Baselines in the same run, after each voter: one raw INTERNAL AUTHENTICATE
round trip (a connection of its own: SELECT and VERIFY, then the timed command) and one raw
one-row SQLCipher commit of the ballot block's size.

Run: `.venv/bin/python -m bench.cast_tap_kiosk --voters 60` (prints the rows).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cast_tap_bench import _raw_commit, print_rows
from bench.common import Row, percentile
from kiosk.app import KioskConfig, Timeouts, build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.election import sign_package
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection, build_election, review_definition

ROOT = Path(__file__).resolve().parent.parent
PX_PER_MM = 96 / 25.4
PIN = "123456"
SCORE = 7
WAIT_S = 20.0
VERIFY_PIN = bytes.fromhex("00200082") + bytes([len(PIN)]) + PIN.encode()
SELECT_APDU = bytes.fromhex("00A4040006D2760001240100")


def election_for(voters: int) -> SyntheticElection:
    groups = max(2, -(-voters // 12))
    definition = review_definition(groups=groups, per_group=12, election_id="bench-kiosk-v2")
    return build_election(
        definition, seed="bench-kiosk-v2", protocol=2, experts_per_group=2, online_per_proposal=0
    )


def config(spec: dict[str, Any]) -> KioskConfig:
    return KioskConfig(
        Path(spec["data"]),
        bytes.fromhex(spec["authority"]),
        key_dir=Path(spec["keys"]),
        reader=spec["reader"],
        printer="memory",
        timeouts=Timeouts(idle_s=600, warning_s=60),
    )


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, QObject, QPoint, QPointF, Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    from kiosk.hardware.card.openpgp import OpenPGPCard
    from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
    from kiosk.hardware.printer.memory import MemoryPrinter
    from kiosk.hardware.sim.simulator import Simulator
    from kiosk.hardware.sim.virtual_card import VirtualCard
    from kiosk.ui.main import build_ui
    from testkit.robot import Robot

    app = QGuiApplication(sys.argv[:1])
    election = election_for(spec["voters"])
    package = election.package
    residents = [i for i, e in enumerate(package.roll) if e.category == "resident"]
    reader = spec["reader"]

    class Loop:
        """As bench/kiosk_visits.py: the event loop until a screen (or a property) shows."""

        def __init__(self, vm: QObject) -> None:
            self._vm, self._target = vm, ""
            self.at: float | None = None
            self._loop: QEventLoop | None = None
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._quit)
            vm.sessionChanged.connect(self._changed)  # type: ignore[attr-defined]
            vm.reviewChanged.connect(self._changed)  # type: ignore[attr-defined]

        def _quit(self) -> None:
            if self._loop is not None:
                self._loop.quit()

        def _done(self) -> bool:
            if self._target == "ballotReady":
                return bool(self._vm.property("ballotReady"))
            return bool(self._target) and self._vm.property("screen") == self._target

        def _changed(self) -> None:
            if self.at is None and self._done():
                self.at = time.perf_counter()
                self._quit()

        def run(self, seconds: float) -> None:
            self._loop = QEventLoop()
            self._timer.start(max(1, round(seconds * 1000)))
            self._loop.exec()
            self._timer.stop()
            self._loop = None

        def expect(self, target: str) -> None:
            self._target, self.at = target, None

        def reached(self, timeout: float = WAIT_S) -> float:
            if self.at is None and self._done():
                self.at = time.perf_counter()
            deadline = time.perf_counter() + timeout
            while self.at is None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    screen = self._vm.property("screen")
                    raise TimeoutError(f"no {self._target!r} in {timeout} s; on {screen!r}")
                self.run(left)
            return self.at

    def raw_auth() -> float:
        """A raw INTERNAL AUTHENTICATE round trip on a connection of its own."""
        with PcscConnection(reader) as connection:
            connection.transmit(SELECT_APDU)
            connection.transmit(VERIFY_PIN)
            card = OpenPGPCard(connection)
            start = time.perf_counter()
            card.internal_authenticate(b"\x01" * 100)
            return time.perf_counter() - start

    out: dict[str, list[float]] = {
        k: [] for k in ("tap", "encrypt", "sign", "commit", "raw_auth", "raw_commit")
    }
    with Simulator(spec["ports"]) as simulator:
        for n, i in enumerate(residents[: spec["voters"]]):
            seed = election.voter_keys[i].seed
            simulator.add_card(f"v{n}", VirtualCard.with_auth_key(seed, "Bench<<Voter"))
        services = build_kiosk(config(spec))
        ui = build_ui(services, px_per_mm=PX_PER_MM)
        printer, box, vm = services.printer, services.box, ui.bridge
        assert isinstance(printer, MemoryPrinter) and box is not None
        loop = Loop(vm)
        robot = Robot(ui.window, loop.run)
        deadline = time.monotonic() + WAIT_S
        while not vm.property("readerReady"):
            assert time.monotonic() < deadline, "the kiosk found no reader"
            loop.run(0.01)
        spent: dict[str, float] = {}

        def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

            return call

        import kiosk.flow.runner as runner  # the card thread calls sign_ballot from here

        runner.sign_ballot = timed("sign", runner.sign_ballot)  # type: ignore[attr-defined]
        box.cast_encrypted = timed("commit", box.cast_encrypted)  # type: ignore[method-assign]
        raw_commit: Callable[[], float] | None = None
        for n, i in enumerate(residents[: spec["voters"]]):
            voter = package.voter_for_card(election.voter_keys[i].public_key)
            assert voter is not None and voter.group is not None
            option = next(
                o.id for o in package.options_in_group(voter.group) if o.id not in voter.excluded
            )
            loop.expect("pin")
            simulator.insert(f"v{n}", 0)
            loop.reached()
            for digit in PIN:
                robot.tap(f"pin{digit}")
            loop.expect("ballot")
            robot.tap("pinOk")
            loop.reached()
            robot.tap(f"score-{option}-{SCORE}")
            loop.expect("review")
            robot.tap("next")
            if robot.find("warningGoOn") is not None:
                robot.tap("warningGoOn")
            shown = loop.reached()
            loop.expect("ballotReady")
            out["encrypt"].append(loop.reached() - shown)
            button = robot.reveal("castButton")
            assert button.isEnabled()
            centre = button.mapToScene(QPointF(button.width() / 2, button.height() / 2))
            loop.expect("receipt")
            spent.clear()
            start = time.perf_counter()
            QTest.mouseClick(
                ui.window,
                Qt.MouseButton.LeftButton,
                Qt.KeyboardModifier.NoModifier,
                QPoint(int(centre.x()), int(centre.y())),
            )
            out["tap"].append(loop.reached() - start)
            out["sign"].append(spent.get("sign", 0.0))
            out["commit"].append(spent.get("commit", 0.0))
            while not printer.printed:
                loop.run(0.005)
            printer.printed.clear()
            out["raw_auth"].append(raw_auth())
            if raw_commit is None:
                store = box.store
                size = len(next(store.blocks(store.state.height)).encode())
                raw_commit = _raw_commit(Path(spec["scratch"]), size)
            out["raw_commit"].append(raw_commit())
            loop.expect("waiting")
            simulator.remove(0)
            loop.reached()
            wait_for_card(reader, present=False, timeout_s=WAIT_S)
        ui.close()
        services.close()
    del app
    return out


def bench_kiosk_tap(directory: Path, voters: int) -> list[Row]:
    election = election_for(voters)
    data = directory / "data"
    data.mkdir(parents=True)
    signed = sign_package(election.package, election.authority)
    (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
    provision(directory / "keys")
    (directory / "scratch").mkdir()
    with private_pcscd(readers=1, socket_dir=directory / "pcscd") as pcscd:
        spec: dict[str, Any] = {
            "data": str(data),
            "keys": str(directory / "keys"),
            "authority": election.authority.public_key.hex(),
            "reader": pcscd.reader_names[0],
            "ports": pcscd.ports,
            "voters": voters,
            "scratch": str(directory / "scratch"),
        }
        services = build_kiosk(config(spec))
        assert services.box is not None
        services.box.set_mode(Mode.OFFICIAL)
        services.box.open_session()
        services.close()
        env = {**os.environ, **pcscd.env, "QT_QPA_PLATFORM": "offscreen"}
        done = subprocess.run(
            [sys.executable, "-m", "bench.cast_tap_kiosk", "--worker", json.dumps(spec)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    return rows(seen)


def rows(seen: dict[str, list[float]]) -> list[Row]:
    out = []
    for q in (50, 99):
        tap, auth, commit = (percentile(seen[k], q) for k in ("tap", "raw_auth", "raw_commit"))
        out += [
            Row(
                f"kiosk screens (v2): tap on Cast → receipt screen p{q}",
                f"{tap * 1e3:.2f} ms",
                f"raw INTERNAL AUTHENTICATE p{q} {auth * 1e3:.2f} ms + raw SQLCipher commit "
                f"p{q} {commit * 1e3:.2f} ms",
                f"{tap / (auth + commit):.2f}x",
            ),
            Row(
                f"  of which sign_ballot on the card thread p{q}",
                f"{percentile(seen['sign'], q) * 1e3:.2f} ms",
                f"raw INTERNAL AUTHENTICATE p{q} {auth * 1e3:.2f} ms",
                f"{percentile(seen['sign'], q) / auth:.2f}x",
            ),
            Row(
                f"  of which cast_encrypted p{q}",
                f"{percentile(seen['commit'], q) * 1e3:.2f} ms",
                f"raw SQLCipher commit p{q} {commit * 1e3:.2f} ms",
                f"{percentile(seen['commit'], q) / commit:.2f}x",
            ),
            Row(
                f"kiosk screens (v2): review shown → encrypted ballot ready p{q}",
                f"{percentile(seen['encrypt'], q) * 1e3:.2f} ms",
                "(in the background while the voter reads the review)",
                "—",
            ),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=60)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="hanpyo-kiosk-tap-") as directory:
        print_rows(bench_kiosk_tap(Path(directory), args.voters))


if __name__ == "__main__":
    main()
