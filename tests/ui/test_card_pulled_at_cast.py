"""A card pulled while a tap waits in the queue: the visit ends before the tap is handled.

The reader watcher reports a pulled card from its own thread. The bridge used to give every
event from another thread one more turn of the event loop, so a tap on Cast queued in that
turn committed a ballot for a card that had already left. A card or reader that is gone is
now acted on as soon as its event reaches the GUI thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent

from kiosk.app import build_kiosk
from kiosk.core.chain import Mode
from kiosk.hardware.devices import FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection
from testkit.robot import Robot

PIN = "123456"
PX_PER_MM = 96 / 25.4


def test_a_card_pulled_from_the_watcher_thread_ends_the_visit_before_any_queued_tap(
    qtbot: Any, tmp_path: Path, ui_election: SyntheticElection, ui_config: Any
) -> None:
    from kiosk.ui.main import build_ui

    reader = FakeReader()
    services = build_kiosk(
        ui_config(), reader=reader, stick=FakeUsbStick(tmp_path / "stick"), printer=MemoryPrinter()
    )
    assert services.box is not None
    services.box.set_mode(Mode.OFFICIAL)
    services.box.open_session()
    ui = build_ui(services, px_per_mm=PX_PER_MM)
    vm = ui.bridge
    robot = Robot(ui.window, lambda seconds: qtbot.wait(int(seconds * 1000)))
    try:
        qtbot.waitUntil(lambda: vm.property("readerReady"), timeout=5000)
        package = ui_election.package
        resident = next(i for i, e in enumerate(package.roll) if e.category == "resident")
        reader.insert(VirtualCard.with_auth_key(ui_election.voter_keys[resident].seed, "Hong"))
        qtbot.waitUntil(lambda: vm.property("screen") == "pin", timeout=5000)
        for digit in PIN:
            robot.tap(f"pin{digit}")
        robot.tap("pinOk")
        qtbot.waitUntil(lambda: vm.property("screen") == "ballot", timeout=5000)

        pulled = threading.Thread(target=reader.pull)  # as the reader watcher does
        pulled.start()
        pulled.join()
        # Deliver only what the watcher thread posted, the way the event loop would before
        # the next queued tap: no timers, no other turn of the loop.
        QCoreApplication.sendPostedEvents(vm, QEvent.Type.MetaCall)
        assert vm.property("screen") == "waiting"
        assert services.box.state.ballots == 0
    finally:
        ui.close()
        services.close()
