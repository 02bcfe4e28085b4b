"""The staff guide's walk on the real kiosk, for tests: a kiosk that can be restarted, the
voters of each walk, its cards and timeouts, and the Walk that presses what the guide names
and looks at the screen."""

from __future__ import annotations

import base64
import difflib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from kiosk.app import KioskConfig, Timeouts, build_kiosk
from kiosk.core.checkpoint import note_key_id
from kiosk.core.crypto import SigningKey
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.ui.main import build_ui
from testkit.elections import SyntheticElection
from testkit.kiosk_config import PX_PER_MM
from testkit.ledger_server import LedgerServer, free_port
from testkit.robot import walk
from testkit.staff_guide import (
    EXCEPTIONS,
    KNOWN_MISMATCHES,
    SHOWN_IN,
    Label,
    button_tables,
    flat,
)
from testkit.ui_driver import PIN, Kiosk

# -- the kiosk ---------------------------------------------------------------------------------

NORMAL = Timeouts(idle_s=600, warning_s=60)


FAST = Timeouts(idle_s=0.3, warning_s=1.0)


@dataclass(frozen=True)
class Voters:
    """Who votes in one walk. The two walks share one ledger, so they use different
    residents (indices into the residents of the roll)."""

    online_first: int  # voted online before the walk: the kiosk tells them
    official: int
    pulled_reader: int
    helped: int
    test: int  # the test card (an index into the test roll) of an online member's test ballot


VOTERS = {"en": Voters(0, 1, 2, 3, test=6), "ko": Voters(5, 6, 7, 8, test=7)}


def other_log_key(log_key: str) -> str:
    """A well-formed checkpoint key of the same name that the ledger does not sign with."""
    name = log_key.split("+", 1)[0]
    public = SigningKey.generate().public_key
    material = base64.b64encode(b"\x01" + public).decode()
    return f"{name}+{note_key_id(name, public):08x}+{material}"


class ScratchedCard(VirtualCard):
    """Answers SELECT and then fails every command: a card the kiosk cannot read."""

    def process(self, apdu: bytes) -> bytes:
        return super().process(apdu) if apdu[1:2] == b"\xa4" else b"\x6f\x00"


@dataclass
class Rig:
    """One kiosk that can be restarted with another configuration (same data, same keys,
    same reader, same printer), as after a power cut or a change of network."""

    qtbot: Any
    pcscd: PrivatePcscd
    simulator: Simulator
    election: SyntheticElection
    printer: MemoryPrinter = field(default_factory=MemoryPrinter)
    kiosk: Kiosk | None = None

    def start(self, config: KioskConfig) -> Kiosk:
        services = build_kiosk(config, printer=self.printer)
        ui = build_ui(services, px_per_mm=PX_PER_MM)
        cards = self.kiosk.cards if self.kiosk else {}
        self.kiosk = Kiosk(ui, services, self.simulator, self.election, self.printer, self.qtbot)
        self.kiosk.cards = cards
        self.qtbot.waitUntil(lambda: ui.bridge.property("readerReady"), timeout=15_000)
        return self.kiosk

    def stop(self) -> None:
        if self.kiosk is not None and not self.kiosk.ui.closed:
            self.kiosk.ui.close()
            self.kiosk.services.close()

    def restart(self, **changes: Any) -> Kiosk:
        assert self.kiosk is not None
        config = replace(self.kiosk.services.config, **changes)
        self.stop()
        return self.start(config)


# -- looking at the screen ---------------------------------------------------------------------


@dataclass
class Look:
    screen: str
    language: str
    texts: list[str]
    buttons: dict[str, bool]  # label -> enabled


def _is_button(item: Any) -> bool:
    return item.property("accessibleName") is not None and item.property("primary") is not None


class Walk:
    """The guide's steps on one kiosk, in one language, and what the screen showed."""

    def __init__(self, rig: Rig, ledger: LedgerServer, language: str, labels: list[Label]):
        self.rig, self.ledger, self.language = rig, ledger, language
        self.labels = [label for label in labels if label.screen == language]
        self.shown_when, self.manager_only = button_tables(language)
        self.section = 0
        self.looks: dict[int, list[Look]] = defaultdict(list)
        self.papers: dict[int, list[str]] = defaultdict(list)
        self.files: dict[int, set[str]] = defaultdict(set)

    @property
    def k(self) -> Kiosk:
        assert self.rig.kiosk is not None
        return self.rig.kiosk

    @contextmanager
    def step(self, section: int) -> Iterator[None]:
        self.section, printed = section, len(self.rig.printer.printed)
        yield
        for paper in self.rig.printer.printed[printed:]:
            self.papers[section].append(flat("\n".join([paper.title, *paper.lines])))
        usb = self.k.services.config.usb_dir
        assert usb is not None
        self.files[section] |= {p.name for p in usb.iterdir()}

    # -- looking -------------------------------------------------------------------------------
    def look(self) -> Look:
        texts, buttons = [], {}
        for item in walk(self.k.ui.window.contentItem()):
            if not item.isVisible():
                continue
            if _is_button(item):
                buttons[str(item.property("text"))] = item.isEnabled()
            elif item.inherits("QQuickText") and item.property("text"):
                texts.append(flat(str(item.property("text"))))
        seen = Look(self.k.screen, str(self.k.vm.property("language")), texts, buttons)
        self.looks[self.section].append(seen)
        if seen.screen == "staff" and seen.language == self.language:
            self._check_staff_buttons(seen)
        return seen

    def _check_staff_buttons(self, seen: Look) -> None:
        """Section 2: each button shows in the session states its row says, and the
        manager's buttons only on a manager's card."""
        state = str(self.k.vm.property("sessionState"))
        manager = bool(self.k.vm.property("isManager"))
        for name, states in self.shown_when.items():
            assert (name in seen.buttons) == (state in states), (
                f"guide-staff.{self.language}.md §2: [{name}] shows when {sorted(states)}, "
                f"the session is {state}; the staff screen has {sorted(seen.buttons)}"
            )
        for name in self.manager_only:
            assert (name in seen.buttons) == manager, (
                f"guide-staff.{self.language}.md §2: [{name}] is on an election manager's "
                f"card only; manager={manager}, the screen has {sorted(seen.buttons)}"
            )

    def waiting(self) -> Look:
        """The voting screen as staff read it: in English on the English walk."""
        self.k.wait_screen("waiting")
        self.english()
        return self.look()

    # -- doing ---------------------------------------------------------------------------------
    def press(self, name: str, guided: bool = True) -> str:
        """Tap the control ``name`` the way a person does, after checking that its label is
        one the current section of the guide names (unless the guide leaves the tap
        unsaid); look at the screen at once (before the kiosk has had time to answer:
        “Checking…”) and return the staff note it shows then."""
        item = self.k.robot.reveal(name)
        label = str(item.property("text"))
        named = {x.text for x in self.labels if x.kind == "button" and x.section == self.section}
        assert label in named or not guided, (
            f"the walk taps [{label}] in §{self.section}, which guide-staff.{self.language}.md "
            f"§{self.section} does not name: {sorted(named)}"
        )
        assert item.isEnabled(), f"[{label}] is greyed out on screen {self.k.screen!r}"
        self.k.qtbot.wait(20)  # let a control that has just appeared be laid out
        centre = item.mapToScene(QPointF(item.width() / 2, item.height() / 2))
        window = self.k.ui.window
        QTest.mouseClick(
            window,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            QPoint(int(centre.x()), int(centre.y())),
        )
        self.look()
        note = str(self.k.vm.property("staffNote"))
        self.k.qtbot.wait(10)
        return note

    def staff_action(self, name: str, prints: bool = False, guided: bool = True) -> None:
        """A staff button; wait for its note (and, for a report, the report's outcome)."""
        note = self.press(name, guided)
        if prints:
            self.k.qtbot.waitUntil(lambda: self.k.vm.property("staffNote") != note, timeout=5000)
        self.look()

    def english(self) -> None:
        if self.language == "en" and self.k.vm.property("language") != "en":
            if self.section in (1, 7):  # where the guide says to tap it
                self.press("langEn")
            else:
                self.k.tap("langEn")

    def sign_in(self, card: str, pin: str = PIN, *, guided_ok: bool = False) -> None:
        self.english()
        self.k.insert(card)
        self.k.wait_screen("pin")
        self.look()
        for digit in pin:
            self.k.tap(f"pin{digit}")
        if guided_ok:
            self.press("pinOk")
        else:
            self.k.tap("pinOk")
        self.k.qtbot.waitUntil(lambda: self.k.screen != "reading", timeout=15_000)
        self.look()

    def staff(self, role: str, **options: Any) -> None:
        self.sign_in(self.k.staff_card(role), **options)
        self.k.wait_screen("staff")
        self.look()

    def out(self) -> None:
        """Take the card out and read the voting screen."""
        self.k.remove()
        self.waiting()

    def vote(self, card: str) -> None:
        """A voter's whole visit: the ballot left as it comes, confirmed and cast."""
        self.sign_in(card)
        self.k.wait_screen("ballot")
        to_review(self.k, "answer-blank")
        self.look()
        self.k.tap("castButton")
        self.k.wait_screen("receipt")
        self.k.qtbot.waitUntil(lambda: bool(self.k.vm.property("printNote")), timeout=5000)
        self.look()
        self.out()

    def resident(self, role: str) -> str:
        return self.k.voter_card("resident", getattr(VOTERS[self.language], role))

    @property
    def height(self) -> int:
        box = self.k.services.box
        assert box is not None
        return box.state.height

    def set_timeouts(self, timeouts: Timeouts) -> None:
        self.k.services.config = replace(self.k.services.config, timeouts=timeouts)
        self.k.vm.set_timeouts(timeouts)

    # -- the verdict ---------------------------------------------------------------------------
    def missing(self) -> tuple[list[str], list[str]]:
        """The labels not seen where the guide puts them, and the known mismatches that
        now match."""
        missing, fixed = [], []
        for label in self.labels:
            if label.text in EXCEPTIONS:
                continue
            found = self._seen(label)
            known = KNOWN_MISMATCHES.get((label.guide, label.text))
            if known and found:
                fixed.append(f"{label}: now matches; remove it from KNOWN_MISMATCHES")
            elif not known and not found:
                missing.append(f"{label} {self._where_to_look(label)}")
        return missing, fixed

    def _seen(self, label: Label) -> bool:
        sections = SHOWN_IN.get(label.section, {label.section})
        looks = [x for s in sections for x in self.looks[s] if x.language == self.language]
        papers = [p for s in sections for p in self.papers[s]]
        pattern = label.pattern
        if label.kind == "button":
            return any(label.text in x.buttons for x in looks)
        if label.kind == "file":
            return any(pattern.fullmatch(f) for s in sections for f in self.files[s])
        texts = [] if label.kind == "paper" else [t for x in looks for t in x.texts]
        return any(pattern.search(t) for t in texts + papers)

    def _where_to_look(self, label: Label) -> str:
        if label.kind in ("paper", "file"):
            return "was not printed / written"
        sections = SHOWN_IN.get(label.section, {label.section})
        shown = {
            text
            for s in sections
            for x in self.looks[s]
            if x.language == self.language
            for text in [*x.texts, *x.buttons]
        }
        near = difflib.get_close_matches(label.text, shown, n=3, cutoff=0.4)
        return f"is not on any {self.language} screen of those steps; the nearest: {near}"


def to_review(k: Kiosk, answer: str) -> None:
    """From the ballot to the review: every page left as it is, with ``answer`` to a
    yes/no question; the warnings about unscored proposals are passed."""
    for _ in range(10):
        if k.screen != "ballot":
            break
        if k.visible(answer):
            k.tap(answer)
        k.tap("next")
        if k.visible("warningGoOn"):
            k.tap("warningGoOn")
    k.wait_screen("review")


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
