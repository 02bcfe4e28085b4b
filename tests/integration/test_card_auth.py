"""Voter and staff authentication through real pcscd, real pyscard and the card simulator."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from kiosk.hardware.card.auth import authenticate, identify, prove
from kiosk.hardware.card.errors import (
    CardBlockedError,
    CardRemovedError,
    NotEnrolledError,
    NotOpenPGPCardError,
    UnsupportedCardError,
    WrongPinError,
)
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.card.session import Failed, Reading, Waiting, next_state
from kiosk.hardware.devices import ReaderEvent, ReaderEventKind
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.pcsc.watcher import ReaderWatcher
from kiosk.hardware.sim.card_state import WrongPinReply
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection

KIOSK_ID = "ab" * 16
PIN = "123456"


def voter_card(
    election: SyntheticElection,
    index: int = 0,
    *,
    wrong_pin_reply: WrongPinReply = WrongPinReply.RETRIES_LEFT,
    kdf: bool = False,
) -> VirtualCard:
    return VirtualCard.with_auth_key(
        election.voter_keys[index].seed,
        "Hong Gildong",
        wrong_pin_reply=wrong_pin_reply,
        kdf=kdf,
    )


@contextmanager
def card_in(pcscd: PrivatePcscd, card: VirtualCard, reader: int = 0) -> Iterator[OpenPGPCard]:
    """Insert ``card`` into reader ``reader`` and connect to it through pcscd."""
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        simulator.insert("card", reader)
        name = pcscd.reader_names[reader]
        wait_for_card(name, present=True, timeout_s=10)
        with PcscConnection(name) as connection:
            yield OpenPGPCard(connection)


def test_an_enrolled_voter_is_authenticated(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    with card_in(pcscd, voter_card(election, 0)) as card:
        holder = authenticate(card, PIN, election.package, KIOSK_ID)
    assert holder.voter is not None and holder.staff is None
    assert holder.voter.card_key == election.voter_keys[0].public_key
    expected = election.package.voter_for_card(election.voter_keys[0].public_key)
    assert holder.voter == expected


def test_a_staff_member_is_authenticated_with_their_role(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    card = VirtualCard.with_auth_key(election.staff_keys[-1].seed, "Kim Minji")
    with card_in(pcscd, card) as connected:
        holder = authenticate(connected, PIN, election.package, KIOSK_ID)
    assert holder.staff is not None and holder.staff.role.value == "election_manager"


@pytest.mark.parametrize("reply", list(WrongPinReply))
def test_wrong_pins_count_down_to_a_blocked_card(
    pcscd: PrivatePcscd, election: SyntheticElection, reply: WrongPinReply
) -> None:
    with card_in(pcscd, voter_card(election, 1, wrong_pin_reply=reply)) as card:
        holder = identify(card, election.package)
        assert holder.pin_tries == 3
        for left in (2, 1):
            with pytest.raises(WrongPinError) as wrong:
                prove(card, holder, "000000", election.package.id, KIOSK_ID)
            assert wrong.value.tries_left == left
        with pytest.raises(CardBlockedError):
            prove(card, holder, "000000", election.package.id, KIOSK_ID)
        with pytest.raises(CardBlockedError):
            prove(card, holder, PIN, election.package.id, KIOSK_ID)
        with pytest.raises(CardBlockedError) as blocked:
            identify(card, election.package)  # the next time it is inserted
    assert "잠겼습니다" in blocked.value.user_message[0]


def test_an_unenrolled_card_is_refused_without_spending_a_pin_try(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    stranger = VirtualCard.with_auth_key(bytes(range(32)), "Stranger")
    with card_in(pcscd, stranger) as card:
        with pytest.raises(NotEnrolledError):
            identify(card, election.package)
        assert card.pin_status().pw1_tries == 3


def test_a_card_with_a_kdf_do_is_refused_with_a_clear_reason(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    with (
        card_in(pcscd, voter_card(election, 2, kdf=True)) as card,
        pytest.raises(UnsupportedCardError, match="KDF"),
    ):
        identify(card, election.package)


class NotOpenPGP(VirtualCard):
    """A payment-style card: answers SELECT of the OpenPGP application with 'not found'."""

    def process(self, apdu: bytes) -> bytes:
        return b"\x6a\x82" if apdu[1] == 0xA4 else b"\x6d\x00"


def test_a_card_that_is_not_an_openpgp_card_is_refused(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    with (
        card_in(pcscd, NotOpenPGP.with_auth_key(bytes(32), "x")) as card,
        pytest.raises(NotOpenPGPCardError) as refused,
    ):
        identify(card, election.package)
    assert "투표용 카드가 아닙니다" in refused.value.user_message[0]


class PulledCard(VirtualCard):
    """A card that is yanked out of the reader when it receives instruction ``pull_on``."""

    pull_on = 0
    pull: Callable[[], object] = staticmethod(lambda: None)

    def process(self, apdu: bytes) -> bytes:
        if len(apdu) > 1 and apdu[1] == self.pull_on:
            self.pull()  # from the card's own thread: the reply below goes nowhere
        return super().process(apdu)


@pytest.mark.parametrize(
    ("instruction", "name"), [(0x20, "VERIFY"), (0x88, "INTERNAL AUTHENTICATE")]
)
def test_a_card_pulled_mid_command_ends_the_session_cleanly(
    pcscd: PrivatePcscd, election: SyntheticElection, instruction: int, name: str
) -> None:
    card = PulledCard.with_auth_key(election.voter_keys[3].seed, "Hong Gildong")
    assert isinstance(card, PulledCard)  # with_auth_key is declared to return a VirtualCard
    card.pull_on = instruction
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        card.pull = lambda: simulator.remove(0)
        simulator.insert("card", 0)
        reader = pcscd.reader_names[0]
        wait_for_card(reader, present=True, timeout_s=10)
        with PcscConnection(reader) as connection:
            session = Reading()
            with pytest.raises(CardRemovedError) as removed:
                authenticate(OpenPGPCard(connection), PIN, election.package, KIOSK_ID)
            assert "카드가 빠졌습니다" in removed.value.user_message[0], name
            assert next_state(session, Failed(removed.value)) == Waiting()


def test_two_readers_authenticate_two_cards_at_once(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    cards = {"a": voter_card(election, 4), "b": voter_card(election, 5)}
    results: queue.Queue[object] = queue.Queue()
    with Simulator(pcscd.ports, cards=cards) as simulator:
        simulator.insert("a", 0)
        simulator.insert("b", 1)

        def kiosk(reader: str) -> None:
            try:
                wait_for_card(reader, present=True, timeout_s=10)
                with PcscConnection(reader) as connection:
                    for _ in range(5):
                        holder = authenticate(
                            OpenPGPCard(connection), PIN, election.package, KIOSK_ID
                        )
                results.put(holder.card_key)
            except Exception as e:  # reported to the test thread below
                results.put(e)

        threads = [threading.Thread(target=kiosk, args=(name,)) for name in pcscd.reader_names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    keys = {results.get_nowait() for _ in threads}
    assert keys == {election.voter_keys[4].public_key, election.voter_keys[5].public_key}


def test_the_kiosk_survives_a_pcscd_restart(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    events: queue.Queue[ReaderEvent] = queue.Queue()

    def wait_for(kind: ReaderEventKind, timeout: float = 15) -> ReaderEvent:
        while True:
            event = events.get(timeout=timeout)
            if event.kind is kind:
                return event

    with (
        Simulator(pcscd.ports, cards={"card": voter_card(election, 6)}) as simulator,
        ReaderWatcher(events.put, poll_ms=100) as watcher,
    ):
        wait_for(ReaderEventKind.READER_ADDED)
        simulator.insert("card", 0)
        assert wait_for(ReaderEventKind.CARD_INSERTED).reader == pcscd.reader_names[0]

        pcscd.stop()
        wait_for(ReaderEventKind.CARD_REMOVED)
        wait_for(ReaderEventKind.SERVICE_LOST)
        pcscd.start()
        wait_for(ReaderEventKind.SERVICE_BACK)
        assert wait_for(ReaderEventKind.CARD_INSERTED).reader == pcscd.reader_names[0]
        assert pcscd.reader_names[0] in watcher.readers
        with PcscConnection(pcscd.reader_names[0]) as connection:
            holder = authenticate(OpenPGPCard(connection), PIN, election.package, KIOSK_ID)
    assert holder.voter is not None


def test_the_watcher_reports_insertion_and_removal(
    pcscd: PrivatePcscd, election: SyntheticElection
) -> None:
    events: queue.Queue[ReaderEvent] = queue.Queue()
    with (
        Simulator(pcscd.ports, cards={"card": voter_card(election, 7)}) as simulator,
        ReaderWatcher(events.put, poll_ms=100),
    ):
        seen = []
        for action in (lambda: simulator.insert("card", 1), lambda: simulator.remove(1)):
            action()
            while True:
                event = events.get(timeout=15)
                if event.kind in (ReaderEventKind.CARD_INSERTED, ReaderEventKind.CARD_REMOVED):
                    seen.append((event.kind, event.reader))
                    break
    assert seen == [
        (ReaderEventKind.CARD_INSERTED, pcscd.reader_names[1]),
        (ReaderEventKind.CARD_REMOVED, pcscd.reader_names[1]),
    ]
