"""The scripted visit of the demo's kiosk (protocol v2), offscreen: the robot taps the real QML
screens while the simulator inserts and removes cards in the real pcscd. A test card votes in
test mode (a real voter card is refused there); in official mode voters cast, each ballot
encrypted when the review shows and signed by the voter's card at Cast; the first voter Checks a
ballot first (the check screen, the checked screen) and then casts; a test card, a second vote
and an unknown card are refused; the session closes and the kiosk syncs. Every screen passed is
saved as a PNG."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.app import KioskServices
from kiosk.hardware.sim.simulator import Simulator
from testkit.demo.ceremony import say
from testkit.demo.terminal import PIN
from testkit.robot import Robot

WAIT_S = 60  # an encryption on a busy machine, a witness's cosignature


@dataclass
class Cast:
    """A ballot cast through the screens: its tracking code and fingerprint, and the ballot the
    voter checked before it (tracking code, fingerprint)."""

    name: str
    code: str
    fingerprint: str
    checked: tuple[str, str] | None = None


class Visit:
    """The robot's hands on the kiosk, with a numbered screenshot of each screen it names."""

    def __init__(self, robot: Robot, vm: Any, simulator: Simulator, shots: Path) -> None:
        self.robot, self.vm, self.simulator, self.shots = robot, vm, simulator, shots
        self.number = 0

    def tap(self, name: str) -> None:
        """Tap ``name``; again if the screen rebuilt the item between finding and tapping it (a
        list re-laid out after the language changed: Qt deletes the old item)."""
        for attempt in range(3):
            try:
                self.robot.tap(name)
                return
            except RuntimeError as e:
                if "already deleted" not in str(e) or attempt == 2:
                    raise
                self.wait(lambda: self.robot.find(name) is not None, name)

    def screen(self) -> str:
        return str(self.vm.property("screen"))

    def shot(self, name: str) -> None:
        self.number += 1
        self.robot.screenshot(self.shots / f"{self.number:02d}-{name}.png")

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        self.robot.until(condition, timeout=WAIT_S, what=what)

    def sign_in(self, card: str, pin: str = PIN) -> None:
        self.simulator.insert(card, 0)
        self.wait(lambda: self.screen() in ("pin", "message"), "the PIN screen")
        if self.screen() == "message":  # refused before the PIN (the card's kind, the roll)
            return
        for digit in pin:
            self.tap(f"pin{digit}")
        self.tap("pinOk")
        self.wait(lambda: self.screen() != "reading", "the card's answer")

    def take_out(self) -> None:
        self.simulator.remove(0)
        self.wait(lambda: self.screen() == "waiting", "the waiting screen")

    def refused(self, card: str, name: str) -> str:
        """Insert ``card``, expect a refusal, screenshot it; the message's words."""
        self.sign_in(card)
        self.wait(lambda: self.screen() == "message", "the refusal")
        self.shot(name)
        said = self.robot.text("message")
        self.take_out()
        return said

    def fill_in(self, scores: list[int], pictures: bool) -> None:
        """Every contest of the ballot, to the review screen."""
        self.wait(lambda: self.screen() == "ballot", "the ballot")
        while True:
            kind = str(self.vm.property("contestKind"))
            rows = self.vm.options.rows
            if kind == "score":
                for row, score in zip(rows, scores, strict=False):
                    self.tap(f"score-{row['optionId']}-{score}")
            elif kind == "choice":
                for row in rows[: int(self.vm.property("contestMax"))]:
                    self.tap(f"choose-{row['optionId']}")
            else:
                self.tap("answer-yes")
            if pictures:
                self.shot(f"ballot-{kind}")
            self.tap("next")
            if self.robot.find("warningGoOn") is not None:
                if pictures:
                    self.shot("warning")
                self.tap("warningGoOn")
            if self.screen() == "review":
                return

    def ready(self) -> str:
        """The review screen once the ballot is encrypted: its fingerprint."""
        self.wait(lambda: bool(self.vm.property("ballotReady")), "the encrypted ballot")
        return str(self.vm.property("fingerprint"))

    def check(self, pictures: bool) -> tuple[str, str]:
        """Tap Check, confirm, and make the ballot again: the checked ballot's code and
        fingerprint."""
        fingerprint = self.ready()
        self.tap("checkButton")
        self.wait(lambda: self.robot.find("checkOverlay") is not None, "the Check explanation")
        if pictures:
            self.shot("check-explained")
        self.tap("checkConfirm")
        self.wait(lambda: self.screen() == "checked", "the checked screen")
        self.wait(lambda: bool(self.vm.property("receiptQr")), "the checked ballot's QR code")
        code = str(self.vm.property("receiptCode"))
        if pictures:
            self.shot("checked")
        self.tap("ballotAgain")
        self.wait(lambda: self.screen() == "review", "the review screen again")
        return code, fingerprint

    def vote(
        self,
        card: str,
        scores: list[int],
        *,
        mistake: bool = False,
        check_first: bool = False,
        pictures: bool = False,
        language: str = "ko",
    ) -> Cast:
        if language == "en":
            self.tap("langEn")
        self.sign_in(card, "000000" if mistake else PIN)
        if mistake:
            if pictures:
                self.shot("pin-after-a-mistake")
            for digit in PIN:
                self.tap(f"pin{digit}")
            self.tap("pinOk")
        self.fill_in(scores, pictures)
        fingerprint = self.ready()
        if pictures:
            self.shot("review-with-fingerprint")
        checked = self.check(pictures) if check_first else None
        fingerprint = self.ready()
        self.tap("castButton")  # the card in the reader signs the encrypted ballot
        self.wait(lambda: self.screen() == "receipt", "the receipt")
        self.wait(lambda: bool(self.vm.property("receiptQr")), "the receipt's QR code")
        if pictures:
            self.shot("receipt")
        code = str(self.vm.property("receiptCode"))
        self.take_out()
        return Cast(card, code, fingerprint, checked)


def visit(services: KioskServices, robot: Robot, vm: Any, simulator: Simulator, out: Path) -> Cast:
    """The whole scripted visit; the first voter's cast ballot (which checked one first)."""
    v = Visit(robot, vm, simulator, out / "screenshots")
    v.wait(lambda: bool(vm.property("readerReady")), "the card reader")
    v.shot("waiting")
    say("1. The manager's card: test mode, a test session; a test card votes")
    v.sign_in("manager")
    v.tap("testMode")
    v.tap("openSession")
    v.shot("staff-manager-test-mode")
    v.take_out()
    test = v.vote("test1", [5, 5, 5], pictures=False)
    say(f"   test card → test ballot {test.fingerprint} recorded, tracking code {test.code} "
        "(encrypted to the public test key; never counted)")  # fmt: skip
    said = v.refused("resident1", "refused-real-card-in-test-mode")
    say(f"   a real voter card in test mode → {said}")
    v.sign_in("manager")
    v.tap("closeSession")
    v.tap("officialMode")
    v.take_out()

    say("2. A poll worker opens the official session (a zero report is printed)")
    v.sign_in("worker1")
    v.tap("openSession")
    v.shot("staff-session-open")
    v.take_out()

    say("3. Voters vote through the screens; each voter's card signs their encrypted ballot")
    rng = random.Random(7)
    first = v.vote("resident1", [rng.randint(1, 10) for _ in range(11)], mistake=True,
                   check_first=True, pictures=True)  # fmt: skip
    assert first.checked is not None
    say(f"   resident1  checks first: ballot {first.checked[1]} published opened, "
        f"tracking code {first.checked[0]}; then makes it again")  # fmt: skip
    casts = [
        first,
        v.vote("expert1", [rng.randint(1, 10) for _ in range(12)], language="en"),
        v.vote("online1", []),
    ]
    for cast in casts:
        say(f"   {cast.name:<10} → fingerprint {cast.fingerprint}, signed by the card, "
            f"tracking code {cast.code}")  # fmt: skip

    say("4. Refusals: a test card, the same resident again, a card nobody enrolled")
    for card, name in (("test2", "test-card-in-official-mode"),
                       ("resident1", "already-voted"), ("stranger", "unknown-card")):  # fmt: skip
        said = v.refused(card, f"refused-{name}")
        say(f"   {card:<10} → {said}")

    say("5. The poll worker closes the session; the kiosk syncs to the ledger")
    v.sign_in("worker1")
    v.tap("closeSession")
    box = services.box
    assert box is not None
    services.sync_now()
    v.wait(lambda: services.sync_status.acknowledged_height == box.state.height,
           "the ledger to hold every block in a witnessed checkpoint")  # fmt: skip
    v.wait(lambda: services.sync_status.pending == 0, "the sync status")
    v.shot("staff-session-closed-synced")
    say(f"   {robot.text('syncText')}; the ledger holds blocks 0..{box.state.height}")
    v.take_out()
    return first
