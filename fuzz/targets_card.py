"""Targets for what comes from card readers and from vpcd: BER-TLV, a hostile card's answers
and status words through the kiosk's card protocol, and a hostile vpcd peer's frames sent to
the card simulator."""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable
from typing import cast

from fuzz import world
from fuzz.contract import ContractBroken, accepted, require
from fuzz.draw import Draw
from kiosk.hardware.card.auth import authenticate, identify
from kiosk.hardware.card.errors import CardError
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard, Pin
from kiosk.hardware.card.tlv import Tlv, encode_tlv, find, parse_tlvs
from kiosk.hardware.sim.card_state import CardState
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.hardware.sim.vpcd import _Insertion, read_frame

PIN = "123456"
ADMIN_PIN = "12345678"
PATHS = [(0x6E, 0x73, 0xC4), (0x6E, 0x4F), (0x7F49, 0x86), (0x65, 0x5B), (0xF9, 0x81)]


# -- BER-TLV ------------------------------------------------------------------------------------


def tlv(data: bytes) -> None:
    """parse_tlvs and find refuse with MalformedResponseError only; every object parsed lies
    in the input and reads back the same once re-encoded."""
    objects = accepted(lambda: parse_tlvs(data), (CardError,))
    if objects is None:
        return
    for obj in objects:
        require(obj.value in data, "a TLV value that is not in the input")
        encoded = encode_tlv(obj.tag, obj.value)
        if encoded.strip(b"\x00\xff"):  # only 00 and FF bytes read as padding, as cards send
            again = parse_tlvs(encoded)
            require(again == [obj], f"TLV {obj.tag:X} does not read back after encoding")
        _walk(obj, 0)
    for path in PATHS:
        accepted(functools.partial(find, data, *path), (CardError,))


def _walk(obj: Tlv, depth: int) -> None:
    if not obj.constructed:
        return
    children = accepted(lambda: obj.children(depth), (CardError,))
    for child in children or []:
        _walk(child, depth + 1)


# -- a hostile card behind a reader -------------------------------------------------------------


class ScriptedCard:
    """A card connection that answers each APDU with the next scripted (data, status word).

    A script is a list of frames: 2-byte length, data, 2-byte status word. Past its end the
    card answers 6F00, as a card pulled mid-command would leave the reader with an error.
    """

    def __init__(self, script: bytes) -> None:
        self._draw = Draw(script)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        if self._draw.left < 4:
            return b"", 0x6F00
        data = self._draw.raw(self._draw.uint(2) % 1024)
        return data, self._draw.uint(2)


class RecordingCard:
    """Passes APDUs to a virtual card and writes its answers down as a ScriptedCard script."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.script = bytearray()

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        reply = self.card.process(apdu)
        data, sw = reply[:-2], int.from_bytes(reply[-2:], "big")
        self.script += len(data).to_bytes(2, "big") + data + sw.to_bytes(2, "big")
        return data, sw


def enrolled_card() -> VirtualCard:
    """A simulated card holding the first voter's key, as enrolment leaves it."""
    seed = world.election().voter_keys[0].seed
    return VirtualCard.with_auth_key(seed, "Fuzz<<Card", PIN, ADMIN_PIN)


def _steps() -> list[Callable[[OpenPGPCard], object]]:
    package = world.election().package
    return [
        lambda card: authenticate(card, PIN, package, world.kiosk_id()),
        lambda card: (identify(card, package), card.cardholder_name(), card.kdf_enabled()),
        lambda card: (card.select(), card.verify_pin(PIN), card.verify_pin(ADMIN_PIN, Pin.PW3)),
        lambda card: (
            card.select(),
            card.read_public_key(KeyRef.AUT),
            card.pin_status(),
            card.remove_resetting_code(),
            card.block_admin_pin(ADMIN_PIN),
        ),
    ]


STEPS = len(_steps())


def card_session(data: bytes) -> None:
    """The kiosk's card protocol against a card that answers anything: it refuses with
    CardError only, never loops, and never authenticates a card that cannot sign."""
    d = Draw(data)
    which = d.below(STEPS)
    connection = ScriptedCard(d.rest())
    result = accepted(lambda: _steps()[which](OpenPGPCard(connection)), (CardError,))
    require(len(connection.sent) < 2000, "the kiosk kept talking to a card that never finished")
    if which == 0:
        require(result is None, "a scripted card without the key passed authentication")
    if which == 1 and result is not None:
        holder = cast(tuple[object, ...], result)[0]
        require(holder is not None, "identify returned nothing")


def card_session_script(which: int) -> bytes:
    """A real card's answers to step ``which``, recorded from the simulator: a seed."""
    recorder = RecordingCard(enrolled_card())
    _steps()[which](OpenPGPCard(recorder))
    return bytes([which]) + bytes(recorder.script)


# -- a hostile vpcd peer ------------------------------------------------------------------------


class _Errors(logging.Handler):
    """Collects the errors the simulator logs when a command fails inside the card."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@functools.cache
def _error_log() -> _Errors:
    handler = _Errors()
    logger = logging.getLogger("kiosk.hardware.sim")
    logger.addHandler(handler)
    logger.propagate = False  # the fuzzer reports them; no traceback spam per input
    return handler


def vpcd(data: bytes) -> None:
    """vpcd frames from a hostile peer: every APDU gets an answer ending in a status word, no
    command makes the simulated card fail inside, and the card's state can still be saved."""
    card, errors = enrolled_card(), _error_log()
    errors.records.clear()
    insertion = cast(_Insertion, _Peer(card))
    near, far = socket.socketpair()
    with near, far:
        far.sendall(data)
        far.shutdown(socket.SHUT_WR)
        while (message := read_frame(near)) is not None:
            reply = _Insertion._answer(insertion, message)
            if len(message) != 1:
                require(reply is not None and len(reply) >= 2, "an APDU got no status word")
    if errors.records:
        record = errors.records[0]
        raise ContractBroken(f"the card failed inside: {record.getMessage()}") from (
            record.exc_info[1] if record.exc_info else None
        )
    saved = card.state.to_json()
    require(CardState.from_json(saved, "fuzz").to_json() == saved, "card state does not reload")


class _Peer:
    """What ``_Insertion._answer`` uses of an insertion: its card (no thread, no socket)."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
