"""Command APDUs as the virtual card reads them: ISO 7816-4 cases and the key-import list."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hardware.sim.card_state import CardRefusal, KeyRef, Sw, only, parse_tlvs, read_header


@dataclass(frozen=True, slots=True)
class Command:
    """One command APDU. ``ne`` is the longest answer the host takes; None when Le is absent."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None

    @property
    def p1p2(self) -> int:
        return self.p1 << 8 | self.p2


def parse_command(apdu: bytes) -> Command:
    """Split an APDU into its fields by the ISO 7816-4 cases, short or extended; else 6700."""
    if len(apdu) < 4:
        raise CardRefusal(Sw.WRONG_LENGTH)
    head, body = apdu[:4], apdu[4:]
    data, ne = _short_body(body) if not body or body[0] != 0 or len(body) == 1 else _long_body(body)
    return Command(head[0], head[1], head[2], head[3], data, ne)


def _short_body(body: bytes) -> tuple[bytes, int | None]:
    if not body:
        return b"", None
    if len(body) == 1:
        return b"", body[0] or 256
    lc = body[0]
    if len(body) == 1 + lc:
        return body[1:], None
    if len(body) == 2 + lc:
        return body[1:-1], body[-1] or 256
    raise CardRefusal(Sw.WRONG_LENGTH)


def _long_body(body: bytes) -> tuple[bytes, int | None]:
    if len(body) == 3:
        return b"", int.from_bytes(body[1:]) or 65536
    lc = int.from_bytes(body[1:3])
    if lc and len(body) == 3 + lc:
        return body[3:], None
    if lc and len(body) == 5 + lc:
        return body[3:-2], int.from_bytes(body[-2:]) or 65536
    raise CardRefusal(Sw.WRONG_LENGTH)


def parse_key_import(data: bytes) -> tuple[KeyRef, bytes]:
    """The slot and private key of an extended header list: 4D { CRT, 7F48 {...}, 5F48 keys }."""
    items = parse_tlvs(only(data, 0x4D))
    if len(items) != 3 or items[1][0] != 0x7F48 or items[2][0] != 0x5F48:
        raise CardRefusal(Sw.INCORRECT_DATA)
    ref, template, key_data = key_ref(items[0][0]), items[1][1], items[2][1]
    # 7F48 lists tags and lengths without values; 5F48 holds the values in that order.
    offset, i = 0, 0
    while i < len(template):
        tag, length, i = read_header(template, i)
        if tag == 0x92:
            private = key_data[offset : offset + length]
            if len(private) != length:
                raise CardRefusal(Sw.INCORRECT_DATA)
            return ref, private
        offset += length
    raise CardRefusal(Sw.INCORRECT_DATA)


def key_ref(tag: int) -> KeyRef:
    try:
        return KeyRef(tag)
    except ValueError as e:
        raise CardRefusal(Sw.INCORRECT_DATA) from e
