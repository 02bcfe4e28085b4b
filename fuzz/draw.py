"""Structured values drawn from fuzz bytes, the same way under atheris and in a replay.

atheris' FuzzedDataProvider would do, but the test suite replays the corpus without it; this
small reader keeps a corpus file meaning the same thing everywhere.
"""

from __future__ import annotations


class Draw:
    """Consumes ``data`` from the front; once it runs out, every draw gives zeros."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def left(self) -> int:
        return len(self._data) - self._pos

    def raw(self, n: int) -> bytes:
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    def uint(self, n_bytes: int) -> int:
        return int.from_bytes(self.raw(n_bytes).ljust(n_bytes, b"\0"), "big")

    def below(self, bound: int) -> int:
        """An integer in ``range(bound)`` (``bound`` > 0), from as few bytes as it needs."""
        return self.uint(max(1, (bound.bit_length() + 7) // 8)) % bound

    def flag(self) -> bool:
        return bool(self.uint(1) & 1)

    def chunk(self, max_len: int = 255) -> bytes:
        """A length byte (or two, past 255), then that many bytes."""
        length = self.uint(1 if max_len < 256 else 2) % (max_len + 1)
        return self.raw(length)

    def rest(self) -> bytes:
        return self.raw(self.left)
