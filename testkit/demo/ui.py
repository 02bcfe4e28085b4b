"""The whole system on one machine: the ledger, simulated cards behind a private pcscd, and
the kiosk's touchscreen.

With a display, the kiosk opens in a window and you insert and remove cards with the
`kiosk-simulator` command. Without one, a scripted visit runs through the real screens
offscreen (staff open the session, voters vote, a card is refused, the session closes),
the kiosk syncs to the ledger, a tracking code is checked, and every screen is saved as a
PNG.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.app import KioskConfig, build_kiosk
from kiosk.core.election import sign_package
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.private_pcscd import private_pcscd
from kiosk.hardware.sim.simulator import ControlServer, Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.keys import load_keys, provision
from testkit.demo.observers import show_observers, witness_for
from testkit.demo.terminal import PIN, SAMPLE, DemoLedger, say
from testkit.elections import SyntheticElection, build_election, derived_key, stays_open
from testkit.witness_server import WitnessServer


@dataclass
class Cast:
    name: str
    code: str


def _cards(election: SyntheticElection) -> dict[str, VirtualCard]:
    """A few cards with memorable names: two poll workers' and a manager's, and voters."""
    package, cards = election.package, {}
    for i, staff in enumerate(package.staff):
        name = "manager" if staff.role.value == "election_manager" else f"worker{i + 1}"
        cards[name] = VirtualCard.with_auth_key(election.staff_keys[i].seed, "Staff<<Demo")
    taken: dict[str, int] = {}
    for i, entry in enumerate(package.roll):
        category = entry.category
        if taken.get(category, 0) >= 3 or entry.group != "g001":
            continue
        taken[category] = taken.get(category, 0) + 1
        cards[f"{category}{taken[category]}"] = VirtualCard.with_auth_key(
            election.voter_keys[i].seed, "Demo<<Voter"
        )
    cards["stranger"] = VirtualCard.with_auth_key(
        derived_key("not-enrolled", "voter", 0).seed, "Not<<Enrolled"
    )
    return cards


def run_ui_demo(out: Path, *, window: bool | None = None) -> int:
    if window is None:
        window = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not window:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    say("한표 Hanpyo — the whole system: ledger, card readers and the kiosk screen")
    say("=" * 72)
    election = build_election(stays_open(json.loads(SAMPLE.read_text("utf-8"))), seed="demo")
    package_file = out / "election.json"
    package_file.write_text(
        json.dumps(
            sign_package(election.package, election.authority).to_json(), ensure_ascii=False
        ),
        "utf-8",
    )
    provision(out / "keys")
    keys = load_keys(out / "keys")
    say(f"Election: {election.package.title.ko} ({election.package.short_hash})")

    ledger = DemoLedger(out / "ledger", package_file, election.authority.public_key)
    witness = witness_for(out, ledger)
    with witness, ledger:
        ledger.enrol(keys.kiosk_key.public_key, "전시홀 A 1번 · Hall A kiosk 1")
        say(f"Ledger: {ledger.url} (its data in {out / 'ledger'}); the kiosk is enrolled")
        say(f"Witness: {witness.url}, run by an observer; it cosigns every checkpoint")
        data = out / "kiosk"
        data.mkdir()
        shutil.copy(package_file, data / "election.json")
        with private_pcscd(readers=1, socket_dir=out / "pcscd") as pcscd:
            os.environ["PCSCLITE_CSOCK_NAME"] = str(pcscd.socket)  # before any PC/SC call
            cards = _cards(election)
            with Simulator(pcscd.ports, cards=cards) as simulator:
                config = KioskConfig(
                    data,
                    election.authority.public_key,
                    key_dir=out / "keys",
                    log_key=ledger.log_key,
                    ledger_url=ledger.url,
                    reader=pcscd.reader_names[0],
                    printer="memory",
                    usb_dir=out / "usb",
                    sync_idle_s=1.0,
                )
                (out / "usb").mkdir()
                if window:
                    return _window(config, simulator, out, cards)
                return _scripted(config, simulator, out, ledger, election, witness)


def _window(
    config: KioskConfig, simulator: Simulator, out: Path, cards: dict[str, VirtualCard]
) -> int:
    from kiosk.ui.main import run

    control = out / "simulator.sock"
    server = ControlServer(control, simulator)
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    say("")
    say("The kiosk window is open. Insert and remove cards from another terminal:")
    say(f"  export HANPYO_SIMULATOR_CONTROL={control}")
    say("  .venv/bin/kiosk-simulator insert manager     # then PIN 123456 on the screen")
    say("  .venv/bin/kiosk-simulator remove")
    say(f"Cards: {', '.join(sorted(cards))}. Every PIN is {PIN}.")
    say("Start with 'manager' (choose a mode and open the session), then a voter card.")
    say("An election manager's card can leave kiosk mode (the last button on its screen).")
    try:
        return run(config, fullscreen=False)
    finally:
        server.shutdown()
        server.server_close()


def _scripted(
    config: KioskConfig,
    simulator: Simulator,
    out: Path,
    ledger: DemoLedger,
    election: SyntheticElection,
    witness: WitnessServer,
) -> int:
    from PySide6.QtGui import QGuiApplication

    from kiosk.ui.main import build_ui
    from testkit.robot import Robot

    app = QGuiApplication(sys.argv[:1])
    printer = MemoryPrinter()
    services = build_kiosk(config, printer=printer)
    ui = build_ui(services)
    robot = Robot(ui.window)
    shots = out / "screenshots"
    vm = ui.bridge
    number = 0

    def screen() -> str:
        return str(vm.property("screen"))

    def shot(name: str) -> None:
        nonlocal number
        number += 1
        robot.screenshot(shots / f"{number:02d}-{name}.png")

    def sign_in(card: str, pin: str = PIN) -> None:
        simulator.insert(card, 0)
        robot.until(lambda: screen() == "pin", what="the PIN screen")
        for digit in pin:
            robot.tap(f"pin{digit}")
        robot.tap("pinOk")
        robot.until(lambda: screen() != "reading", what="the card's answer")

    def take_out() -> None:
        simulator.remove(0)
        robot.until(lambda: screen() == "waiting", what="the waiting screen")

    def vote(
        card: str,
        scores: list[int],
        *,
        mistake: bool = False,
        pictures: bool = False,
        language: str = "ko",
    ) -> Cast:
        if language == "en":
            robot.tap("langEn")
        if mistake:
            sign_in(card, "000000")
            if pictures:
                shot("pin-after-a-mistake")
            for digit in PIN:
                robot.tap(f"pin{digit}")
            robot.tap("pinOk")
            robot.until(lambda: screen() == "ballot", what="the ballot")
        else:
            sign_in(card)
        robot.until(lambda: screen() == "ballot", what="the ballot")
        while True:
            kind = str(vm.property("contestKind"))
            rows = vm.options.rows
            if kind == "score":
                for row, score in zip(rows, scores, strict=False):
                    robot.tap(f"score-{row['optionId']}-{score}")
            elif kind == "choice":
                for row in rows[: int(vm.property("contestMax"))]:
                    robot.tap(f"choose-{row['optionId']}")
            else:
                robot.tap("answer-yes")
            if pictures:
                shot(f"ballot-{kind}")
            robot.tap("next")
            if robot.find("warningGoOn") is not None:
                if pictures:
                    shot("warning")
                robot.tap("warningGoOn")
            if screen() == "review":
                break
        if pictures:
            shot("review")
        robot.tap("castButton")
        robot.until(lambda: screen() == "receipt", what="the receipt")
        if pictures:
            shot("receipt")
        code = str(vm.property("receiptCode"))
        take_out()
        return Cast(card, code)

    try:
        robot.until(lambda: bool(vm.property("readerReady")), what="the card reader")
        shot("waiting")
        say("1. The manager's card: test mode, a test session with one test ballot, closed")
        sign_in("manager")
        robot.tap("testMode")
        robot.tap("openSession")
        shot("staff-manager-test-mode")
        take_out()
        test = vote("resident1", [5, 5, 5])
        say(f"   test ballot recorded; tracking code {test.code} (not counted)")
        sign_in("manager")
        robot.tap("closeSession")
        robot.tap("officialMode")
        take_out()

        say("2. A poll worker opens the official session (a zero report is printed)")
        sign_in("worker1")
        robot.tap("openSession")
        shot("staff-session-open")
        take_out()

        say("3. Voters vote through the screens")
        rng = random.Random(7)
        casts = [
            vote("resident1", [rng.randint(1, 10) for _ in range(11)], mistake=True, pictures=True),
            vote("expert1", [rng.randint(1, 10) for _ in range(12)], language="en"),
            vote("online1", []),
        ]
        for cast in casts:
            say(f"   {cast.name:<10} → recorded, tracking code {cast.code}")

        say("4. The same resident tries again, and a card that is not enrolled is tried")
        sign_in("resident1")
        shot("refused-already-voted")
        say(f"   resident1 again → {robot.text('message')}")
        take_out()
        simulator.insert("stranger", 0)
        robot.until(lambda: screen() == "message", what="the refusal")
        say(f"   stranger      → {robot.text('message')}")
        take_out()

        say("5. The poll worker closes the session; the kiosk syncs to the ledger")
        sign_in("worker1")
        robot.tap("closeSession")
        box = services.box
        assert box is not None
        services.sync_now()
        robot.until(
            lambda: services.sync_status.acknowledged_height == box.state.height,
            timeout=60,
            what="the ledger to hold every block",
        )
        robot.until(lambda: services.sync_status.pending == 0, what="the sync status")
        shot("staff-session-closed-synced")
        say(f"   {robot.text('syncText')}; the ledger holds blocks 0..{box.state.height}")
        take_out()
    except (TimeoutError, LookupError, AssertionError) as e:
        say(f"!! the scripted visit stopped on screen {screen()!r}: {e}")
        robot.screenshot(shots / "failure.png")
        return 1
    finally:
        ui.close()
        services.close()
        del app

    (out / "receipts").mkdir()
    for index in range(len(printer.printed)):
        printer.save_png(index, out / "receipts" / f"{index + 1:02d}.png")
    ok, said = ledger.verify_tracking_code(casts[0].code)
    if not ok:
        say(f"!! tracking code {casts[0].code} did not verify: {said}")
        return 1
    say(f"6. A voter checks receipt {casts[0].code}: {said}")
    say("7. Observers: a witness cosigns, a mirror keeps its own verified copy")
    if not show_observers(out, ledger, witness, election.authority.public_key, casts[0].code):
        return 1
    from testkit.demo.ceremony import run_ceremony

    say("8. Protocol v2's key ceremony: five trustees make a key nobody holds (any 3 decrypt)")
    if not run_ceremony(out / "ceremony"):
        return 1
    say(f"Screens: {shots}  Printed receipts: {out / 'receipts'}")
    return 0
