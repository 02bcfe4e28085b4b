"""A kiosk flow over fake devices for tests: the effect runner run inline, its timers held
by the test, and virtual cards for voters and staff."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from kiosk.app import KioskServices
from kiosk.core.chain import ChainState
from kiosk.flow import events as ev
from kiosk.flow import state as st
from kiosk.flow.events import StaffAction as A
from kiosk.flow.runner import EffectRunner, setup_of
from kiosk.flow.state import Screen
from kiosk.flow.step import start, step
from kiosk.hardware.devices import FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection

PIN = "123456"


IDLE, WARNING = 60.0, 5.0


class Inline(Executor):
    """The runner's background thread, run at once: the test sees every answer in order."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class Held(Executor):
    """A background thread that runs its jobs only when the test says so (``release``): the
    test can act (pull a card) between a tap and the card's answer."""

    def __init__(self) -> None:
        self.jobs: deque[Callable[[], Any]] = deque()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.jobs.append(lambda: future.set_result(fn(*args, **kwargs)))
        return future

    def release(self) -> int:
        """Run every job held so far (and those they add); return how many ran."""
        ran = 0
        while self.jobs:
            self.jobs.popleft()()
            ran += 1
        return ran


class Timers:
    def __init__(self) -> None:
        self.idle: float | None = None
        self.countdown = False

    def start_idle(self, seconds: float) -> None:
        self.idle, self.countdown = seconds, False

    def start_countdown(self) -> None:
        self.countdown = True

    def stop(self) -> None:
        self.idle, self.countdown = None, False


class Flow:
    """The flow, its runner and its fakes; ``post`` runs an event and all it causes."""

    def __init__(
        self,
        services: KioskServices,
        reader: FakeReader,
        stick: FakeUsbStick,
        executor: Executor | None = None,
    ) -> None:
        self.services, self.reader, self.stick = services, reader, stick
        printer = services.printer
        assert isinstance(printer, MemoryPrinter)
        self.printer = printer
        self.timers = Timers()
        self.left = False
        self._queue: deque[ev.Event] = deque()
        self.state = start(setup_of(services))
        self.runner = EffectRunner(
            services,
            self._queue.append,
            self.timers,
            quit_app=self._leave,
            executor=executor or Inline(),
            crypto_executor=Inline(),
        )
        self.runner.start()
        self._drain()

    def _leave(self) -> None:
        self.left = True

    def _drain(self) -> None:
        while self._queue:
            self.state, effects = step(self.state, self._queue.popleft())
            for effect in effects:
                self.runner.run(effect)

    def post(self, *events: ev.Event) -> None:
        for event in events:
            self._queue.append(event)
            self._drain()

    def drain(self) -> None:
        """Handle the answers posted so far (after a held executor's jobs ran)."""
        self._drain()

    # Methods, not properties: mypy would keep a property narrowed by one assert across the
    # events that change it, and call the next assert about it unreachable.
    def screen(self) -> Screen:
        return self.state.screen

    def chain(self) -> ChainState:
        assert self.state.box is not None, "the flow has no ballot box"
        return self.state.box

    def insert(self, card: VirtualCard) -> None:
        self.reader.insert(card)
        self._drain()

    def pull(self) -> None:
        self.reader.pull()
        self._drain()

    def type_pin(self, pin: str = PIN) -> None:
        self.post(*(ev.PinDigit(int(d)) for d in pin), ev.PinSubmitted())

    def sign_in(self, card: VirtualCard, pin: str = PIN) -> None:
        self.insert(card)
        assert self.screen() is Screen.PIN
        self.type_pin(pin)

    def staff(self, action: A, mode: str = "") -> None:
        self.post(ev.StaffAsked(action, mode))

    def note(self) -> tuple[st.NotePart, ...]:
        return self.state.staff_note


def card(seed: bytes) -> VirtualCard:
    return VirtualCard.with_auth_key(seed, "Hong<<Gildong")


def voter(election: SyntheticElection, category: str, n: int = 0) -> VirtualCard:
    entries = [i for i, e in enumerate(election.package.roll) if e.category == category]
    return card(election.voter_keys[entries[n]].seed)


def staff_card(election: SyntheticElection, role: str) -> VirtualCard:
    index = next(i for i, s in enumerate(election.package.staff) if s.role.value == role)
    return card(election.staff_keys[index].seed)


def card_on_test_roll(election: SyntheticElection, n: int = 0) -> VirtualCard:
    """One of a v2 election's test cards (on its test roll)."""
    return card(election.test_card_keys[n].seed)


def to_review(flow: Flow) -> None:
    """From the ballot's first page to the review: score the first proposal of each scored
    page its highest score, answer yes/no questions "yes", choose the first of a choice."""
    from kiosk.flow.views import views

    while flow.screen() is Screen.BALLOT:
        page = views(flow.state).ballot
        if page.options and page.contest_kind == "score":
            first = page.options[0]
            if first.scores:
                for c in first.scores:
                    flow.post(ev.ScoreGiven(first.option_id, c.criterion, page.contest_max))
            else:
                flow.post(ev.ScoreGiven(first.option_id, "", page.contest_max))
        elif page.options and page.contest_kind == "choice":
            flow.post(ev.ChoiceToggled(page.options[0].option_id))
        elif page.contest_kind == "yesno":
            flow.post(ev.AnswerGiven("yes"))
        flow.post(ev.NextPage())
        if flow.state.warning is not None:
            flow.post(ev.GoOnAnyway())
