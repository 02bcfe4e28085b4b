"""Drive the real kiosk window as a voter would: find a control by its objectName, scroll it
into view, and tap it with a mouse event at its centre. Nothing calls the view model's slots
directly, so a button that is hidden, disabled or covered cannot be "pressed" by a test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QPointF
from PySide6.QtQuick import QQuickItem

from kiosk.app import KioskServices
from kiosk.core.chain import Mode
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.ui.main import KioskUi
from testkit.elections import SyntheticElection
from testkit.robot import Robot, flickable_of, walk

PIN = "123456"
WAIT_MS = 15_000
SCREENSHOTS = Path(os.environ.get("HANPYO_SCREENSHOTS", "test-output/screenshots")) / "kiosk"


@dataclass
class Kiosk:
    ui: KioskUi
    services: KioskServices
    simulator: Simulator
    election: SyntheticElection
    printer: MemoryPrinter
    qtbot: Any
    cards: dict[str, VirtualCard] = field(default_factory=dict)

    # -- looking ---------------------------------------------------------------------------
    @property
    def vm(self) -> Any:
        return self.ui.bridge

    @property
    def screen(self) -> str:
        return str(self.vm.property("screen"))

    @property
    def robot(self) -> Robot:
        return Robot(self.ui.window, lambda seconds: self.qtbot.wait(int(seconds * 1000)))

    def find(self, name: str) -> QQuickItem | None:
        return self.robot.find(name)

    def text(self, name: str) -> str:
        item = self.find(name)
        assert item is not None, f"no visible item {name!r} on screen {self.screen!r}"
        return str(item.property("text"))

    def visible(self, name: str) -> bool:
        return self.find(name) is not None

    def wait_screen(self, screen: str, timeout: int = WAIT_MS) -> None:
        self.qtbot.waitUntil(lambda: self.screen == screen, timeout=timeout)

    def wait_for(self, name: str, timeout: int = WAIT_MS) -> QQuickItem:
        self.qtbot.waitUntil(lambda: self.visible(name), timeout=timeout)
        item = self.find(name)
        assert item is not None
        return item

    # -- touching --------------------------------------------------------------------------
    def tap(self, name: str) -> None:
        try:
            self.robot.tap(name)
        except LookupError as e:
            raise AssertionError(f"{e} on screen {self.screen!r}") from e

    def type_pin(self, pin: str = PIN) -> None:
        for digit in pin:
            self.tap(f"pin{digit}")
        self.tap("pinOk")
        self.qtbot.waitUntil(lambda: self.screen != "reading", timeout=WAIT_MS)

    # -- cards -----------------------------------------------------------------------------
    def card(self, name: str, seed: bytes, **options: Any) -> str:
        if name not in self.cards:
            self.cards[name] = VirtualCard.with_auth_key(seed, "Hong<<Gildong", **options)
            self.simulator.add_card(name, self.cards[name])
        return name

    def voter_card(self, category: str, n: int = 0) -> str:
        entries = [i for i, e in enumerate(self.election.package.roll) if e.category == category]
        return self.card(f"{category}-{n}", self.election.voter_keys[entries[n]].seed)

    def staff_card(self, role: str) -> str:
        index = next(i for i, s in enumerate(self.election.package.staff) if s.role.value == role)
        return self.card(f"staff-{role}", self.election.staff_keys[index].seed)

    def insert(self, name: str) -> None:
        self.simulator.insert(name, 0)

    def remove(self) -> None:
        self.simulator.remove(0)
        self.wait_screen("waiting")

    def sign_in_refused(self, name: str) -> None:
        """Insert a card the kiosk refuses before its PIN; wait for the message."""
        self.insert(name)
        self.wait_screen("message")

    def sign_in(self, name: str, pin: str = PIN) -> None:
        """Insert a card and type its PIN; wait until the kiosk has decided."""
        self.insert(name)
        self.wait_screen("pin")
        self.type_pin(pin)
        # OK shows the "one moment" screen at once; wait for the card's answer.
        self.qtbot.waitUntil(lambda: self.screen != "reading", timeout=WAIT_MS)

    # -- pictures --------------------------------------------------------------------------
    def screenshot(self, name: str) -> Path:
        self.qtbot.wait(50)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        image = self.ui.window.grabWindow()
        assert not image.isNull() and image.save(str(path)), f"could not save {path}"
        return path


class KioskFactory(Protocol):
    """The screen tests' ``kiosk_factory`` fixture: a kiosk window whose chain staff have left
    in ``mode`` (None: no mode chosen yet), with or without a session open; ``overrides`` are
    KioskConfig fields (idle timeouts, the USB folder, ...)."""

    def __call__(
        self, mode: Mode | None = ..., open_session: bool = ..., **overrides: Any
    ) -> Kiosk: ...


def layout_problems(kiosk: Kiosk) -> list[str]:
    """Controls a voter could not use on the current screen: a button smaller than 15 mm, or
    a control or text cut off by the screen's edge (outside any scrolling list)."""
    window, theme = kiosk.ui.window, kiosk.ui.theme
    touch = theme.property("touch")
    problems = []
    for item in walk(window.contentItem()):
        if not item.isVisible() or item.width() <= 0:
            continue
        is_button = (
            item.property("accessibleName") is not None and item.property("primary") is not None
        )
        is_text = item.inherits("QQuickText") and bool(item.property("text"))
        if not (is_button or is_text):
            continue
        label = item.objectName() or str(item.property("text"))[:30]
        if is_button and (item.width() < touch - 1 or item.height() < touch - 1):
            problems.append(f"button {label!r} is {item.width():.0f}x{item.height():.0f} px")
        flick = flickable_of(item)
        if flick is not None:
            continue  # a list scrolls: its rows may be out of view
        top_left = item.mapToScene(QPointF(0, 0))
        if (
            top_left.x() < -1
            or top_left.y() < -1
            or top_left.x() + item.width() > window.width() + 1
            or top_left.y() + item.height() > window.height() + 1
        ):
            problems.append(f"{label!r} is cut off at {top_left.x():.0f},{top_left.y():.0f}")
    return problems


def choose_settings(kiosk: Kiosk, language: str, size: int, contrast: bool = False) -> None:
    """What the voter does on the waiting screen before inserting the card."""
    kiosk.wait_screen("waiting")
    kiosk.tap("langEn" if language == "en" else "langKo")
    kiosk.tap("accessButton")
    kiosk.wait_for("accessPanel")
    if size:
        kiosk.tap(f"textSize{size}")
    if contrast:
        kiosk.tap("contrast")
    assert bool(kiosk.ui.theme.property("highContrast")) is contrast


def visit_every_screen(
    kiosk: Kiosk, language: str, size: int, contrast: bool, at: Callable[[str], None]
) -> list[str]:
    """Walk a test-mode kiosk through every screen and overlay a voter or a manager sees,
    with the settings chosen again before each card, calling ``at(name)`` on each one.
    Returns the names, in order."""
    seen: list[str] = []

    def here(name: str) -> None:
        kiosk.qtbot.wait(30)
        seen.append(name)
        at(name)

    choose_settings(kiosk, language, size, contrast)
    here("01-waiting")

    resident = _card_for_mode(kiosk, "resident")
    kiosk.insert(resident)
    kiosk.wait_screen("pin")
    kiosk.type_pin("000000")
    kiosk.wait_for("pinWrong")
    for digit in "12":
        kiosk.tap(f"pin{digit}")
    here("02-pin-after-a-mistake")
    kiosk.tap("pinBack")
    kiosk.tap("pinBack")
    kiosk.type_pin()
    kiosk.wait_screen("ballot")
    option = kiosk.election.package.options_in_group("g001")[1].id
    kiosk.tap(f"score-{option}-8")
    here("03-ballot-score")
    kiosk.tap(f"detail-{option}")
    kiosk.wait_for("detailOverlay")
    here("04-proposal-detail")
    kiosk.tap("closeDetail")
    kiosk.tap("next")
    kiosk.wait_for("warningOverlay")
    here("05-warning-unscored")
    kiosk.tap("warningGoOn")
    kiosk.tap("answer-yes")
    here("06-ballot-yes-no")
    kiosk.tap("next")
    kiosk.wait_screen("review")
    here("07-review")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    here("08-receipt")
    kiosk.remove()

    choose_settings(kiosk, language, size, contrast)
    kiosk.sign_in(_card_for_mode(kiosk, "online"))
    kiosk.wait_screen("ballot")
    assert kiosk.vm.property("contestKind") == "choice"
    here("09-ballot-choice")
    kiosk.remove()

    choose_settings(kiosk, language, size, contrast)
    kiosk.sign_in(resident)
    kiosk.wait_screen("message")
    here("10-refused-already-voted")
    kiosk.remove()

    choose_settings(kiosk, language, size, contrast)
    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.wait_screen("staff")
    kiosk.wait_for("managerPanel")
    here("11-staff-manager")
    kiosk.remove()
    return seen


def _card_for_mode(kiosk: Kiosk, category: str) -> str:
    """The first card of ``category`` the kiosk takes in its mode: a test card in test mode
    (a voter card is refused there), a voter card otherwise."""
    box = kiosk.services.box
    if box is None or box.state.mode is not Mode.TEST:
        return kiosk.voter_card(category, 0)
    package = kiosk.election.package
    for n, key in enumerate(kiosk.election.test_card_keys):
        voter = package.test_voter_for_card(key.public_key)
        if voter is not None and voter.category == category:
            return test_roll_card(kiosk, n)
    raise LookupError(f"the election has no test card of category {category!r}")


def kiosks_for(
    qtbot: Any, pcscd: Any, tmp_path: Path, election: SyntheticElection
) -> Iterator[KioskFactory]:
    """The screen tests' kiosk factory for any election (tests/ui/conftest.py's
    ``v2_kiosk_factory`` is this for ``ui_election_v2``): a generator for a fixture to yield
    from; every kiosk it made is closed after the test."""
    from kiosk.app import build_kiosk
    from kiosk.ui.main import build_ui
    from testkit.kiosk_config import PX_PER_MM, make_config

    made: list[tuple[Kiosk, KioskServices]] = []
    simulator = Simulator(pcscd.ports).__enter__()

    def make(
        mode: Mode | None = Mode.OFFICIAL, open_session: bool = True, **overrides: Any
    ) -> Kiosk:
        config = make_config(tmp_path, election, reader=pcscd.reader_names[0], **overrides)
        printer = MemoryPrinter()
        services = build_kiosk(config, printer=printer)
        assert services.box is not None
        if mode is not None:
            services.box.set_mode(mode)
            if open_session:
                services.box.open_session()
        ui = build_ui(services, px_per_mm=PX_PER_MM)
        kiosk = Kiosk(ui, services, simulator, election, printer, qtbot)
        made.append((kiosk, services))
        qtbot.waitUntil(lambda: ui.bridge.property("readerReady"), timeout=15_000)
        return kiosk

    try:
        yield make
    finally:
        for kiosk, services in made:
            kiosk.ui.close()
            services.close()
        simulator.__exit__(None, None, None)


def test_roll_card(kiosk: Kiosk, n: int = 0) -> str:
    """One of a v2 election's test cards, known to the simulator."""
    return kiosk.card(f"test-card-{n}", kiosk.election.test_card_keys[n].seed)


test_roll_card.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


def fill_in_to_review(kiosk: Kiosk) -> None:
    """From the first ballot page to the review: one score of 8, "yes" to a question."""
    kiosk.wait_screen("ballot")
    group = kiosk.election.package.roll[0].group or "g001"
    option = kiosk.election.package.options_in_group(group)[1].id
    if kiosk.find(f"score-{option}-8") is not None:
        kiosk.tap(f"score-{option}-8")
    while kiosk.screen == "ballot":
        if kiosk.find("answer-yes") is not None:
            kiosk.tap("answer-yes")
        kiosk.tap("next")
        if kiosk.find("warningGoOn") is not None:
            kiosk.tap("warningGoOn")
    kiosk.wait_screen("review")


def visit_cast_or_check(
    kiosk: Kiosk, language: str, size: int, contrast: bool, at: Callable[[str], None]
) -> list[str]:
    """Walk a protocol v2 kiosk in test mode through Check and Cast with a test card, and show
    a real voter card's refusal, calling ``at(name)`` on each screen. Returns the names."""
    seen: list[str] = []

    def here(name: str) -> None:
        kiosk.qtbot.wait(30)
        seen.append(name)
        at(name)

    choose_settings(kiosk, language, size, contrast)
    kiosk.sign_in(test_roll_card(kiosk))
    fill_in_to_review(kiosk)
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("ballotReady")), timeout=WAIT_MS)
    here("21-review-fingerprint")
    kiosk.tap("checkButton")
    kiosk.wait_for("checkOverlay")
    here("22-check-explained")
    kiosk.tap("checkConfirm")
    kiosk.wait_screen("checked")
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("receiptQr")), timeout=WAIT_MS)
    here("23-checked")
    kiosk.tap("ballotAgain")
    kiosk.wait_screen("review")
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("ballotReady")), timeout=WAIT_MS)
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.vm.property("receiptQr")), timeout=WAIT_MS)
    here("24-receipt-fingerprint")
    kiosk.remove()

    choose_settings(kiosk, language, size, contrast)
    kiosk.sign_in_refused(kiosk.voter_card("resident", 0))
    here("25-refused-real-card-in-test-mode")
    kiosk.remove()
    return seen
