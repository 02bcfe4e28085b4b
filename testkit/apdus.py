"""APDUs for tests of the simulated OpenPGP card: the commands, and helpers that send them and
read the status word, the data objects, the PIN counters and the public keys."""

from __future__ import annotations

from kiosk.hardware.sim.card_state import (
    parse_tlvs,
)
from kiosk.hardware.sim.simulator import (
    VirtualCard,
)

SEED = bytes(range(32))


SELECT = "00A4040006D2760001240100"


VERIFY_PW1 = "0020008206" + b"123456".hex()


VERIFY_PW1_SIGN = "0020008106" + b"123456".hex()


VERIFY_PW3 = "0020008308" + b"12345678".hex()


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """A short APDU; ``le`` 256 is written as 00."""
    body = (bytes([len(data)]) + data if data else b"") + (b"" if le is None else bytes([le % 256]))
    return bytes([cla, ins, p1, p2]) + body


def send(card: VirtualCard, command: str | bytes) -> tuple[bytes, int]:
    raw = card.process(bytes.fromhex(command) if isinstance(command, str) else command)
    return raw[:-2], int.from_bytes(raw[-2:])


def sw(card: VirtualCard, command: str | bytes) -> int:
    return send(card, command)[1]


def ok(card: VirtualCard, command: str | bytes) -> bytes:
    data, status = send(card, command)
    assert status == 0x9000, f"{command!r} gave {status:04X}"
    return data


def get_data(card: VirtualCard, tag: int) -> bytes:
    return ok(card, apdu(0, 0xCA, tag >> 8, tag & 0xFF, le=256))


def tlvs(data: bytes) -> dict[int, bytes]:
    return dict(parse_tlvs(data))


def tries(card: VirtualCard) -> tuple[int, int, int]:
    c4 = get_data(card, 0xC4)
    return c4[4], c4[5], c4[6]


# -- keys ------------------------------------------------------------------------------------
def read_public_key(card: VirtualCard, crt: str) -> bytes:
    template = tlvs(ok(card, "0047810002" + crt + "00"))
    return tlvs(template[0x7F49])[0x86]
