"""Strict BER-TLV parsing of card responses: malformed input is always a MalformedResponseError."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kiosk.hardware.card.errors import MalformedResponseError

MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes
    constructed: bool

    def children(self, depth: int = 0) -> list[Tlv]:
        if not self.constructed:
            raise MalformedResponseError(f"tag {self.tag:X} is not a constructed object")
        if depth >= MAX_DEPTH:
            raise MalformedResponseError("TLV nesting is too deep")
        return parse_tlvs(self.value)


def _read_tag(data: bytes, pos: int) -> tuple[int, bool, int]:
    if pos >= len(data):
        raise MalformedResponseError("TLV ends before its tag")
    first = data[pos]
    constructed = bool(first & 0x20)
    tag, pos = first, pos + 1
    if first & 0x1F == 0x1F:  # multi-byte tag: continue while the high bit is set
        for count in range(3):
            if pos >= len(data):
                raise MalformedResponseError("TLV ends inside a multi-byte tag")
            byte = data[pos]
            tag, pos = (tag << 8) | byte, pos + 1
            if not byte & 0x80:
                break
            if count == 2:
                raise MalformedResponseError("TLV tag is longer than 4 bytes")
    return tag, constructed, pos


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise MalformedResponseError("TLV ends before its length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0 or count > 3:
        raise MalformedResponseError(f"unsupported TLV length form {first:02X}")
    if pos + count > len(data):
        raise MalformedResponseError("TLV ends inside its length")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def iter_tlvs(data: bytes) -> Iterator[Tlv]:
    pos = 0
    while pos < len(data):
        if data[pos] in (0x00, 0xFF) and data[pos:].strip(b"\x00\xff") == b"":
            return  # padding after the last object, as some cards send
        tag, constructed, pos = _read_tag(data, pos)
        length, pos = _read_length(data, pos)
        if pos + length > len(data):
            raise MalformedResponseError(
                f"TLV {tag:X} says {length} bytes but only {len(data) - pos} follow"
            )
        yield Tlv(tag, bytes(data[pos : pos + length]), constructed)
        pos += length


def parse_tlvs(data: bytes) -> list[Tlv]:
    return list(iter_tlvs(data))


def find(data: bytes, *path: int) -> bytes | None:
    """The value at ``path`` (tags from the outside in), or None if any step is absent."""
    objects = parse_tlvs(data)
    for depth, tag in enumerate(path):
        match = next((t for t in objects if t.tag == tag), None)
        if match is None:
            return None
        if depth == len(path) - 1:
            return match.value
        objects = match.children(depth)
    return None


def encode_tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    return tag_bytes + length + value
