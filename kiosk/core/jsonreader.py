"""Strict reading of untrusted JSON objects: every complaint names the path of the bad field."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

from kiosk.core.encoding import b64d
from kiosk.core.errors import EncodingError, HanpyoError

T = TypeVar("T")
ID_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z")


class Reader:
    """A view of one JSON object at ``path`` that raises ``error`` for anything off-schema."""

    def __init__(self, value: Any, path: str, error: type[HanpyoError]) -> None:
        self.path = path
        self.error = error
        if not isinstance(value, dict):
            self.fail(f"must be an object, found {type(value).__name__}")
        self.value: dict[str, Any] = value
        self._seen: set[str] = set()

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        where = f"{self.path}.{key}" if key else self.path
        raise self.error(f"{where or 'document'}: {message}")

    def _get(self, key: str, optional: bool) -> Any:
        self._seen.add(key)
        if key not in self.value:
            if optional:
                return None
            self.fail("is missing", key)
        return self.value[key]

    def text(self, key: str, *, optional: bool = False, max_len: int = 10_000) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail("must be a non-empty string", key)
        if len(value) > max_len:
            self.fail(f"is longer than {max_len} characters", key)
        return value

    def ident(self, key: str) -> str:
        value = self.text(key)
        if not ID_PATTERN.match(value):
            self.fail(f"{value!r} is not an id (lower-case letters, digits, _ . -)", key)
        return str(value)

    def integer(
        self, key: str, *, optional: bool = False, lo: int | None = None, hi: int | None = None
    ) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail("must be a whole number", key)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.fail(f"must be between {lo} and {hi}, found {value}", key)
        return value

    def number(self, key: str, *, lo: float = 0.0, hi: float = 1e9) -> float:
        value = self._get(key, False)
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail("must be a number", key)
        if not lo <= value <= hi:
            self.fail(f"must be between {lo} and {hi}, found {value}", key)
        return float(value)

    def flag(self, key: str, *, default: bool) -> bool:
        value = self._get(key, True)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail("must be true or false", key)
        return value

    def binary(self, key: str, *, length: int | None = None) -> bytes:
        value = self._get(key, False)
        try:
            return b64d(value, length=length, name=key)
        except EncodingError as e:
            self.fail(str(e), key)

    def enum(self, key: str, allowed: Callable[[str], T], *, optional: bool = False) -> Any:
        value = self.text(key, optional=optional)
        if value is None:
            return None
        try:
            return allowed(value)
        except ValueError:
            self.fail(f"{value!r} is not one of the allowed values", key)

    def items(self, key: str, *, optional: bool = False, max_items: int = 10_000_000) -> list[Any]:
        value = self._get(key, optional)
        if value is None and optional:
            return []
        if not isinstance(value, list):
            self.fail("must be a list", key)
        if len(value) > max_items:
            self.fail(f"has more than {max_items} items", key)
        return value

    def objects(self, key: str, *, optional: bool = False) -> Iterator[Reader]:
        for i, item in enumerate(self.items(key, optional=optional)):
            prefix = f"{self.path}.{key}" if self.path else key
            yield Reader(item, f"{prefix}[{i}]", self.error)

    def obj(self, key: str) -> Reader:
        return Reader(self._get(key, False), f"{self.path}.{key}" if self.path else key, self.error)

    def raw(self, key: str, *, optional: bool = False) -> Any:
        return self._get(key, optional)

    def done(self) -> None:
        """Refuse fields nobody read: a typo must not be silently ignored."""
        extra = sorted(set(self.value) - self._seen)
        if extra:
            self.fail(f"unknown field(s): {', '.join(extra)}")
