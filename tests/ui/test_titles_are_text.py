"""Election text is drawn as plain text on the kiosk (issue 15, item 9, on the screens).

Qt's Text element guesses rich text by default, so a proposal titled ``<b>Park</b>`` or
``<img src="file:///...">`` was drawn as markup on the ballot: a title is text, never markup,
on the kiosk as in the published results.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtQuick import QQuickItem

from kiosk.app import build_kiosk
from kiosk.core.chain import Mode
from kiosk.hardware.devices import FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection, build_election
from testkit.kiosk_config import PX_PER_MM, make_config
from testkit.kiosk_screens import ui_definition
from testkit.robot import Robot

PIN = "123456"
MARKUP = "<b>x</b><img src='file:///etc/hostname'>"


def _items(item: QQuickItem) -> Iterator[QQuickItem]:
    yield item
    for child in item.childItems():
        yield from _items(child)


@contextmanager
def _on_the_ballot(
    qtbot: Any, tmp_path: Path, election: SyntheticElection
) -> Iterator[tuple[Any, Any, Robot]]:
    """A kiosk in official mode whose voter (a resident of g001 who may score p0001-02) has
    signed in: (ui, bridge, robot) on the ballot screen; closed afterwards."""
    from kiosk.ui.main import build_ui

    reader = FakeReader()
    services = build_kiosk(
        make_config(tmp_path, election),
        reader=reader,
        stick=FakeUsbStick(tmp_path / "stick"),
        printer=MemoryPrinter(),
    )
    assert services.box is not None
    services.box.set_mode(Mode.OFFICIAL)
    services.box.open_session()
    ui = build_ui(services, px_per_mm=PX_PER_MM)
    vm = ui.bridge
    robot = Robot(ui.window, lambda seconds: qtbot.wait(int(seconds * 1000)))
    try:
        qtbot.waitUntil(lambda: vm.property("readerReady"), timeout=5000)
        package = election.package
        voter = next(
            i
            for i, e in enumerate(package.roll)
            if e.category == "resident" and e.group == "g001" and "p0001-02" not in e.excluded
        )
        reader.insert(VirtualCard.with_auth_key(election.voter_keys[voter].seed, "Hong"))
        qtbot.waitUntil(lambda: vm.property("screen") == "pin", timeout=5000)
        for digit in PIN:
            robot.tap(f"pin{digit}")
        robot.tap("pinOk")
        qtbot.waitUntil(lambda: vm.property("screen") == "ballot", timeout=5000)
        yield ui, vm, robot
    finally:
        ui.close()
        services.close()


def test_a_title_that_looks_like_markup_is_drawn_as_it_is_written(
    qtbot: Any, tmp_path: Path
) -> None:
    definition = ui_definition()
    definition["options"][1]["title"] = {"ko": MARKUP, "en": MARKUP}  # p0001-02, group g001
    definition["options"][2]["title"] = {"ko": "x", "en": "x"}
    election = build_election(definition, seed="ui", experts_per_group=1, online_per_proposal=1)
    with _on_the_ballot(qtbot, tmp_path, election) as (ui, _, _):

        def shown(text: str) -> list[QQuickItem]:
            return [
                i
                for i in _items(ui.window.contentItem())
                if i.property("text") == text and i.isVisible()
            ]

        qtbot.waitUntil(lambda: bool(shown(MARKUP)) and bool(shown("x")), timeout=5000)
        (markup,), (short,) = shown(MARKUP), shown("x")
        # Drawn as written, the title is as wide as its 40-odd characters; as markup it was
        # one bold "x" and a missing picture.
        assert markup.property("contentWidth") > 10 * short.property("contentWidth")


def test_a_markup_title_is_text_on_the_v2_review_with_the_fingerprint(
    qtbot: Any, tmp_path: Path
) -> None:
    """Protocol v2's review screen (fingerprint and Check) draws a proposal's title as written."""
    definition = ui_definition()
    definition["options"][1]["title"] = {"ko": MARKUP, "en": MARKUP}  # p0001-02, group g001
    election = build_election(
        definition, seed="ui", experts_per_group=1, online_per_proposal=1, protocol=2
    )
    with _on_the_ballot(qtbot, tmp_path, election) as (ui, vm, robot):
        robot.tap("score-p0001-02-8")
        while vm.property("screen") == "ballot":
            if robot.find("answer-yes") is not None:
                robot.tap("answer-yes")
            robot.tap("next")
            if robot.find("warningGoOn") is not None:
                robot.tap("warningGoOn")
        qtbot.waitUntil(lambda: bool(vm.property("ballotReady")), timeout=5000)
        lines = [
            i
            for i in _items(ui.window.contentItem())
            if i.isVisible() and str(i.property("text") or "").startswith(MARKUP)
        ]
        assert lines, "the review shows the title as it is written"
        # Drawn as written, the line is some 45 characters wide; as markup it was "x: 8점".
        for line in lines:
            assert line.property("contentWidth") > 12 * line.property("font").pixelSize()
        assert robot.find("fingerprint") is not None
