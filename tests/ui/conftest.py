"""The kiosk as it runs: real QML offscreen, a real SQLCipher store, a private pcscd with
the card simulator behind vpcd, and a memory receipt printer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from kiosk.app import KioskConfig, KioskServices, Timeouts, build_kiosk
from kiosk.core.chain import Mode
from kiosk.core.election import sign_package
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.ui_driver import Kiosk, KioskFactory

PX_PER_MM = 96 / 25.4  # a 96-dpi panel: 1280 x 800 is then a 15.9-inch screen


def ui_definition() -> dict[str, Any]:
    """The tests' mixed election with two groups of five proposals: residents score their
    group (1..10) and answer a yes/no question; experts also score by criterion (0..5);
    online members may like at most two. One proposal has a picture."""
    d = mixed_definition(groups=2, per_group=5, election_id="ui-review")
    for contest in d["contests"]:
        if contest["id"] == "likes":
            contest["max"] = 2
    d["options"][1]["image"] = "p0001-02.png"
    return d


@pytest.fixture(scope="session")
def ui_election() -> SyntheticElection:
    return build_election(ui_definition(), seed="ui", experts_per_group=1, online_per_proposal=1)


def make_config(tmp: Path, election: SyntheticElection, **overrides: Any) -> KioskConfig:
    data = tmp / "data"
    (data / "media").mkdir(parents=True, exist_ok=True)
    signed = sign_package(election.package, election.authority)
    (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
    _picture(data / "media" / "p0001-02.png")
    provision(tmp / "keys")
    usb = tmp / "usb"
    usb.mkdir(exist_ok=True)
    options: dict[str, Any] = {
        "key_dir": tmp / "keys",
        "usb_dir": usb,
        "timeouts": Timeouts(idle_s=600, warning_s=60),
    } | overrides
    return KioskConfig(data, election.authority.public_key, **options)


def _picture(path: Path) -> None:
    """A small picture for one proposal's detail view."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 240), "#dbe8f5")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 120, 440, 200), fill="#5a7d3a")
    draw.ellipse((330, 30, 410, 110), fill="#f4c542")
    image.save(path)


@pytest.fixture
def ui_config(tmp_path: Path, ui_election: SyntheticElection) -> Callable[..., KioskConfig]:
    """``make_config`` for this test's folder: ``ui_config(**overrides)``."""
    return lambda **overrides: make_config(tmp_path, ui_election, **overrides)


@pytest.fixture
def kiosk_factory(
    qtbot: QtBot, pcscd: PrivatePcscd, tmp_path: Path, ui_election: SyntheticElection
) -> Iterator[KioskFactory]:
    """Builds a kiosk window; ``mode``/``session`` prepare the chain as staff would have."""
    from kiosk.ui.main import build_ui

    made: list[tuple[Kiosk, KioskServices]] = []
    simulator = Simulator(pcscd.ports).__enter__()

    def make(
        mode: Mode | None = Mode.OFFICIAL, open_session: bool = True, **overrides: Any
    ) -> Kiosk:
        config = make_config(tmp_path, ui_election, reader=pcscd.reader_names[0], **overrides)
        printer = MemoryPrinter()
        services = build_kiosk(config, printer=printer)
        assert services.box is not None
        if mode is not None:
            services.box.set_mode(mode)
            if open_session:
                services.box.open_session()
        ui = build_ui(services, px_per_mm=PX_PER_MM)
        kiosk = Kiosk(ui, services, simulator, ui_election, printer, qtbot)
        made.append((kiosk, services))
        qtbot.waitUntil(lambda: ui.controller.property("readerReady"), timeout=15_000)
        return kiosk

    yield make
    for kiosk, services in made:
        kiosk.ui.close()
        services.close()
    simulator.__exit__(None, None, None)


@pytest.fixture
def kiosk(kiosk_factory: KioskFactory) -> Kiosk:
    """A kiosk in official mode with a session open, waiting for a card."""
    return kiosk_factory()
