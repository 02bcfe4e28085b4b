"""The kiosk's flow without Qt and without pcscd: a whole voter visit, the idle warning and
every staff action, through the effect runner, a real SQLCipher ballot box and fake devices
(an in-process virtual card, a folder for a USB stick, a memory printer)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.app import KioskConfig, KioskServices, Timeouts, build_kiosk
from kiosk.core.chain import ChainState, Mode, Session
from kiosk.core.election import sign_package
from kiosk.flow import effects as fx
from kiosk.flow import events as ev
from kiosk.flow import state as st
from kiosk.flow.events import StaffAction as A
from kiosk.flow.runner import EffectRunner, setup_of
from kiosk.flow.state import Screen
from kiosk.flow.step import start, step
from kiosk.flow.views import views
from kiosk.hardware.devices import FakeClock, FakeReader, FakeUsbStick
from kiosk.hardware.printer.memory import MemoryPrinter
from kiosk.hardware.printer.receipt import PrinterState
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.store.keys import provision
from testkit.elections import SyntheticElection, build_election, review_definition

PIN = "123456"
IDLE, WARNING = 60.0, 5.0


class Inline(Executor):
    """The runner's background thread, run at once: the test sees every answer in order."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


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

    def __init__(self, services: KioskServices, reader: FakeReader, stick: FakeUsbStick) -> None:
        self.services, self.reader, self.stick = services, reader, stick
        printer = services.printer
        assert isinstance(printer, MemoryPrinter)
        self.printer = printer
        self.timers = Timers()
        self.left = False
        self._queue: deque[ev.Event] = deque()
        self.state = start(setup_of(services))
        self.runner = EffectRunner(
            services, self._queue.append, self.timers, quit_app=self._leave, executor=Inline()
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


@pytest.fixture
def make_flow(tmp_path: Path, election: SyntheticElection) -> Iterator[Callable[..., Flow]]:
    made: list[Flow] = []

    def make(
        mode: Mode | None = Mode.OFFICIAL,
        open_session: bool = True,
        stick: bool = True,
        of: SyntheticElection = election,
    ) -> Flow:
        data = tmp_path / "data"
        data.mkdir(parents=True, exist_ok=True)
        signed = sign_package(of.package, of.authority)
        (data / "election.json").write_text(json.dumps(signed.to_json(), ensure_ascii=False))
        if not (tmp_path / "keys").exists():
            provision(tmp_path / "keys")
        config = KioskConfig(
            data,
            of.authority.public_key,
            key_dir=tmp_path / "keys",
            timeouts=Timeouts(idle_s=IDLE, warning_s=WARNING),
        )
        reader = FakeReader()
        usb = FakeUsbStick(tmp_path / "usb", plugged=stick)
        services = build_kiosk(
            config,
            reader=reader,
            stick=usb,
            printer=MemoryPrinter(),
            clock=FakeClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        )
        assert services.box is not None
        if mode is not None:
            services.box.set_mode(mode)
            if open_session:
                services.box.open_session()
        flow = Flow(services, reader, usb)
        made.append(flow)
        return flow

    yield make
    for flow in made:
        flow.runner.stop()
        flow.services.close()


def voter(election: SyntheticElection, category: str, n: int = 0) -> VirtualCard:
    entries = [i for i, e in enumerate(election.package.roll) if e.category == category]
    return card(election.voter_keys[entries[n]].seed)


def staff_card(election: SyntheticElection, role: str) -> VirtualCard:
    index = next(i for i, s in enumerate(election.package.staff) if s.role.value == role)
    return card(election.staff_keys[index].seed)


# -- the voter -----------------------------------------------------------------------------------
def test_a_whole_visit_from_card_to_receipt(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    assert flow.screen() is Screen.WAITING and flow.state.reader == flow.reader.name
    flow.post(ev.LanguageChosen("en"), ev.TextSizeChosen(9), ev.HighContrastChosen(True))
    assert flow.state.settings == st.Settings("en", False, 3, True)  # the size is clamped

    flow.insert(voter(election, "resident"))
    assert flow.screen() is Screen.PIN
    assert flow.state.settings.language == "en"  # chosen before the card: kept for it
    flow.post(*(ev.PinDigit(d) for d in range(10)), ev.PinDigit(1), ev.PinDigit(2))
    assert len(flow.state.pin) == st.PIN_MAX  # the 13th digit is not taken
    flow.post(*(ev.PinBack() for _ in range(st.PIN_MAX)))
    flow.post(*(ev.PinDigit(0) for _ in range(5)), ev.PinSubmitted())
    assert flow.screen() is Screen.PIN and not views(flow.state).pin.ready  # 5 digits: too few
    flow.post(ev.PinDigit(0), ev.PinSubmitted())  # a wrong PIN
    pin = views(flow.state).pin
    assert flow.screen() is Screen.PIN and pin.wrong and pin.tries_left == 2 and pin.length == 0

    flow.type_pin()
    assert flow.screen() is Screen.BALLOT
    form = flow.state.form
    assert form is not None
    ballot = views(flow.state).ballot
    assert ballot.page_index == 0 and ballot.page_count == len(form.contests) >= 2
    assert ballot.contest_kind == "score" and ballot.options

    flow.post(ev.NextPage())  # nothing scored: a warning that may be passed
    warning = flow.state.warning
    assert warning is not None and warning.key == "empty" and not warning.blocks
    flow.post(ev.WarningClosed())
    first = ballot.options[0].option_id
    flow.post(ev.ScoreGiven(first, "", ballot.contest_max))
    assert views(flow.state).ballot.options[0].score == ballot.contest_max
    flow.post(ev.DetailShown(first))
    assert views(flow.state).overlay.detail is not None
    flow.post(ev.DetailClosed(), ev.NextPage())
    warning = flow.state.warning
    assert warning is not None and warning.key == "unscored"
    assert warning.n == len(ballot.options) - 1
    flow.post(ev.GoOnAnyway())
    assert flow.state.page == 1 and flow.state.warning is None
    flow.post(ev.PreviousPage())
    assert flow.state.page == 0
    flow.post(ev.NextPage(), ev.GoOnAnyway())
    while flow.screen() is Screen.BALLOT:
        page = views(flow.state).ballot
        if page.contest_kind == "yesno":
            flow.post(ev.AnswerGiven("yes"))
        flow.post(ev.NextPage())
        if flow.state.warning is not None:
            flow.post(ev.GoOnAnyway())
    assert flow.screen() is Screen.REVIEW
    review = views(flow.state).review.rows
    assert len(review) == len(form.contests) and review[0].problem == ("unscored", warning.n)
    flow.post(ev.ChangeContest(0))
    assert flow.screen() is Screen.BALLOT and flow.state.page == 0
    flow.post(ev.NextPage(), ev.GoOnAnyway())
    while flow.screen() is Screen.BALLOT:
        flow.post(ev.NextPage(), ev.GoOnAnyway())

    flow.post(ev.CastAsked())
    assert flow.screen() is Screen.RECEIPT
    receipt = views(flow.state).receipt
    assert receipt.code and receipt.code in receipt.url and receipt.print_key == "printed"
    assert flow.printer.printed[-1].code == receipt.code
    assert flow.state.box is not None and flow.chain().session_ballots == 1
    assert flow.services.reader_state == "ok"

    flow.pull()
    assert flow.screen() is Screen.WAITING
    assert flow.state.form is None and flow.state.pin == "" and flow.state.receipt_code == ""
    assert flow.state.settings == st.Settings()  # the next voter starts from the defaults

    flow.sign_in(voter(election, "resident"))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "voted_here"
    assert flow.state.next_key == "ask_staff"


@pytest.fixture(scope="module")
def one_like() -> SyntheticElection:
    """Online members may like one proposal only."""
    d = review_definition(1, 3, election_id="one-like")
    for contest in d["contests"]:
        if contest["id"] == "likes":
            contest["max"] = 1
    return build_election(d, seed="one-like", online_per_proposal=1)


def test_a_choice_over_the_limit_is_refused_with_a_blocking_warning(
    make_flow: Callable[..., Flow], one_like: SyntheticElection
) -> None:
    flow = make_flow(of=one_like)
    flow.sign_in(voter(one_like, "online"))
    assert flow.screen() is Screen.BALLOT
    ballot = views(flow.state).ballot
    assert ballot.contest_kind == "choice" and ballot.contest_max == 1
    first, second = ballot.options[0].option_id, ballot.options[1].option_id
    flow.post(ev.ChoiceToggled(first), ev.ChoiceToggled(second))
    assert views(flow.state).ballot.chosen_count == 1
    assert flow.state.warning == st.Warning("full", 1, True)
    flow.post(ev.GoOnAnyway())
    assert flow.state.warning is not None  # a blocking warning cannot be passed
    flow.post(ev.WarningClosed(), ev.ChoiceToggled(first), ev.ChoiceToggled(second))
    assert views(flow.state).ballot.options[1].chosen and flow.state.warning is None


def test_refusals(make_flow: Callable[..., Flow], election: SyntheticElection) -> None:
    flow = make_flow(open_session=False)
    flow.sign_in(voter(election, "resident"))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "voting_closed"
    flow.pull()
    stranger = card(b"\x07" * 32)
    flow.insert(stranger)
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "not_enrolled"


def test_an_answer_for_a_pulled_card_is_dropped(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.insert(voter(election, "resident"))
    visit = flow.state.visit
    assert visit is not None and flow.screen() is Screen.PIN
    holder = flow.state.card.holder  # type: ignore[union-attr]
    flow.pull()
    before = flow.state
    flow.post(ev.CardProved(visit, holder))
    assert flow.state == before and flow.screen() is Screen.WAITING


# -- the idle warning ----------------------------------------------------------------------------
def test_nobody_answers_the_warning(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.sign_in(voter(election, "resident"))
    assert flow.timers.idle == IDLE
    flow.post(ev.IdleTimedOut())
    assert flow.state.seconds_left == WARNING and flow.timers.countdown
    flow.post(ev.Touched())
    assert flow.state.seconds_left == WARNING  # only "I need more time" counts now
    flow.post(*(ev.CountdownTick() for _ in range(int(WARNING))))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "timed_out"
    assert flow.state.form is None and flow.timers.idle is None


def test_more_time_doubles_both_waits(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.post(ev.MoreTimeChosen(True))
    assert flow.timers.idle == 2 * IDLE
    flow.sign_in(voter(election, "resident"))
    flow.post(ev.IdleTimedOut())
    assert flow.state.seconds_left == 2 * WARNING
    flow.post(ev.CountdownTick(), ev.MoreTimeAsked())
    assert flow.state.seconds_left == 0 and flow.timers.idle == 2 * IDLE
    assert flow.screen() is Screen.BALLOT


def test_settings_chosen_with_no_card_are_reset_after_a_while(
    make_flow: Callable[..., Flow],
) -> None:
    flow = make_flow()
    flow.post(ev.LanguageChosen("en"), ev.IdleTimedOut())
    assert flow.state.settings == st.Settings() and flow.state.seconds_left == 0


def test_the_staff_screen_closes_itself(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.sign_in(staff_card(election, "poll_worker"))
    assert flow.screen() is Screen.STAFF
    flow.post(ev.IdleTimedOut(), *(ev.CountdownTick() for _ in range(int(WARNING))))
    assert flow.screen() is Screen.MESSAGE and flow.state.message_key == "staff_idle"


# -- staff ---------------------------------------------------------------------------------------
def said(*keys: str) -> tuple[st.NotePart, ...]:
    return tuple(st.Said(k) for k in keys)


def test_every_staff_action(
    make_flow: Callable[..., Flow], election: SyntheticElection, tmp_path: Path
) -> None:
    flow = make_flow(mode=None)
    flow.sign_in(staff_card(election, "election_manager"))
    assert flow.screen() is Screen.STAFF and flow.state.is_manager
    assert flow.state.printer_known and flow.state.printer_state is PrinterState.READY

    flow.staff(A.SET_MODE, "test")
    assert flow.note() == said("mode_changed") and flow.chain().mode is Mode.TEST
    flow.staff(A.OPEN)
    assert flow.note() == said("session_opened", "report_printed")  # the opening report
    assert flow.chain().session is Session.OPEN
    assert "개시" in flow.printer.printed[-1].title
    flow.staff(A.PAUSE)
    assert flow.note() == said("session_paused") and flow.chain().session is Session.PAUSED
    flow.staff(A.RESUME)
    assert flow.note() == said("session_resumed") and flow.chain().session is Session.OPEN
    flow.staff(A.REPORT)
    assert flow.note() == said("report_printed")
    flow.staff(A.OPEN)  # already open: the error, then the report it still prints
    assert isinstance(flow.note()[0], st.Explained) and flow.note()[1:] == said("report_printed")

    flow.staff(A.DIAGNOSE)
    lines = flow.state.diagnostics
    assert lines[0] == st.ReadersLine((flow.reader.name,))
    assert lines[1] == st.PrinterLine(PrinterState.READY)
    assert isinstance(lines[2], st.LedgerLine) and lines[2].height is None  # no ledger
    flow.staff(A.TEST_TALLY)
    assert flow.state.test_tally[0] == st.TallyTotal(0)

    flow.staff(A.EXPORT)
    assert flow.note() == said("exported")
    assert [p.name[:7] for p in (tmp_path / "usb").iterdir()] == ["hanpyo-"]
    flow.stick.pull()
    flow.staff(A.EXPORT)
    assert flow.note() == said("no_usb")

    flow.staff(A.LOAD_USB)
    assert flow.note() == said("no_election_file")
    flow.stick.plug()
    signed = sign_package(election.package, election.authority)
    (tmp_path / "usb" / "election.json").write_text(json.dumps(signed.to_json()))
    flow.staff(A.LOAD_USB)
    assert flow.state.pending_hash == election.package.short_hash
    assert views(flow.state).staff.pending_hash == election.package.short_hash
    flow.staff(A.CANCEL_LOAD)
    assert views(flow.state).staff.pending_hash == ""
    flow.staff(A.LOAD_USB)
    flow.staff(A.CONFIRM_LOAD)  # refused while a session is open
    assert isinstance(flow.note()[0], st.Explained)
    flow.staff(A.LOAD_LEDGER)
    assert isinstance(flow.note()[0], st.Explained)  # no ledger is configured

    flow.staff(A.CLOSE)
    assert flow.note() == said("session_closed", "report_printed")
    assert flow.chain().session is Session.CLOSED
    flow.staff(A.LOAD_USB)
    flow.staff(A.CONFIRM_LOAD)
    assert flow.note() == said("loaded") and flow.state.package is not None

    assert not flow.left
    flow.staff(A.LEAVE)
    assert flow.left


def test_a_poll_worker_cannot_do_a_managers_actions(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.sign_in(staff_card(election, "poll_worker"))
    assert flow.screen() is Screen.STAFF and not flow.state.is_manager
    for action in (A.EXPORT, A.LOAD_USB, A.LOAD_LEDGER, A.DIAGNOSE, A.TEST_TALLY, A.LEAVE):
        flow.staff(action)
    flow.staff(A.SET_MODE, "test")
    assert flow.note() == () and flow.state.diagnostics == () and not flow.left
    assert flow.chain().mode is Mode.OFFICIAL
    flow.staff(A.PAUSE)
    assert flow.note() == said("session_paused")


def test_the_printer_runs_out_of_paper(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    flow = make_flow()
    flow.printer.state = PrinterState.NO_PAPER
    flow.sign_in(staff_card(election, "poll_worker"))
    assert flow.state.printer_state is PrinterState.NO_PAPER
    flow.staff(A.REPORT)
    assert isinstance(flow.note()[0], st.Explained)


def test_the_pin_never_shows_in_a_printed_state_or_effect(
    make_flow: Callable[..., Flow], election: SyntheticElection
) -> None:
    """States and effects are values a log line or a failing assertion may print: the PIN
    typed on the pad must not be in what they print."""
    flow = make_flow()
    flow.insert(voter(election, "resident"))
    typed = "97531864"
    flow.post(*(ev.PinDigit(int(d)) for d in typed))
    assert flow.state.pin == typed
    assert typed not in repr(flow.state)
    _, effects = step(flow.state, ev.PinSubmitted())
    proving = [e for e in effects if isinstance(e, fx.ProveCard)]
    assert proving and proving[0].pin == typed
    assert typed not in repr(effects)


def test_the_staff_screens_export_is_the_file_kiosk_export_writes(
    make_flow: Callable[..., Flow],
    election: SyntheticElection,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A manager's "export to USB" and `kiosk export --all` on the same store: both files
    pass the check `ledger import` makes, and hold the same signed blocks."""
    import random

    from kiosk.cli import main
    from kiosk.core.export import read_manifest, verify_export
    from testkit.elections import random_ballot, voter_of

    flow = make_flow()
    box = flow.services.box
    assert box is not None
    for n in range(2):
        someone = voter_of(election, "resident", n)
        box.cast_ballot(someone, random_ballot(election.package, someone, random.Random(n)))
    flow.sign_in(staff_card(election, "election_manager"))
    flow.staff(A.EXPORT)
    assert flow.note() == said("exported")
    (staff_file,) = (tmp_path / "usb").iterdir()

    cli_file = tmp_path / "cli.jsonl"
    store = box.store
    argv = ["export", str(store.path), "--keys", str(tmp_path / "keys"), "--out", str(cli_file)]
    assert main([*argv, "--all"]) == 0
    assert "exported blocks 0..4 (5)" in capsys.readouterr().out

    def verified_blocks(path: Path) -> list[bytes]:
        head, *lines = path.read_bytes().splitlines()
        manifest, signature = read_manifest(head)
        verify_export(manifest, signature, flow.services.keys.kiosk_key.public_key, lines)
        return lines

    blocks = verified_blocks(staff_file)
    assert blocks == verified_blocks(cli_file) == [b.encode() for b in store.blocks()]
    assert len(blocks) == 5  # genesis, mode, session open and the two ballots
