"""The real screens over fake devices: build_kiosk with an in-process card reader, a
folder for a USB stick and a memory printer, no pcscd. What a developer runs at a desk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.app import build_kiosk
from kiosk.core.chain import Mode
from kiosk.hardware.devices import FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection
from testkit.robot import Robot

PIN = "123456"
PX_PER_MM = 96 / 25.4


def test_a_voter_signs_in_and_a_manager_exports_with_fake_devices(
    qtbot: Any, tmp_path: Path, ui_election: SyntheticElection, ui_config: Any
) -> None:
    from kiosk.ui.main import build_ui

    reader, stick = FakeReader(), FakeUsbStick(tmp_path / "stick")
    services = build_kiosk(ui_config(), reader=reader, stick=stick, printer=MemoryPrinter())
    assert services.box is not None
    services.box.set_mode(Mode.OFFICIAL)
    services.box.open_session()
    ui = build_ui(services, px_per_mm=PX_PER_MM)
    vm = ui.bridge
    robot = Robot(ui.window, lambda seconds: qtbot.wait(int(seconds * 1000)))
    try:
        qtbot.waitUntil(lambda: vm.property("readerReady"), timeout=5000)

        def sign_in(seed: bytes) -> None:
            reader.insert(VirtualCard.with_auth_key(seed, "Hong<<Gildong"))
            qtbot.waitUntil(lambda: vm.property("screen") == "pin", timeout=5000)
            for digit in PIN:
                robot.tap(f"pin{digit}")
            robot.tap("pinOk")
            qtbot.waitUntil(lambda: vm.property("screen") not in ("pin", "reading"), timeout=5000)

        package = ui_election.package
        resident = next(i for i, e in enumerate(package.roll) if e.category == "resident")
        sign_in(ui_election.voter_keys[resident].seed)
        assert vm.property("screen") == "ballot"
        reader.pull()
        qtbot.waitUntil(lambda: vm.property("screen") == "waiting", timeout=5000)
        assert vm.property("pageCount") == 0

        manager = next(i for i, s in enumerate(package.staff) if s.role.value == "election_manager")
        sign_in(ui_election.staff_keys[manager].seed)
        assert vm.property("screen") == "staff"
        robot.tap("exportUsb")
        qtbot.waitUntil(lambda: bool(vm.property("staffNote")), timeout=5000)
        assert [p.suffix for p in stick.path.iterdir()] == [".jsonl"]
        stick.pull()
        robot.tap("exportUsb")
        qtbot.waitUntil(
            lambda: vm.property("staffNote") == "USB 저장 장치가 연결되어 있지 않습니다.",
            timeout=5000,
        )
    finally:
        ui.close()
        services.close()
