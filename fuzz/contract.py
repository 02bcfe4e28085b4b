"""What a target asserts: refusals are the project's own errors, and acceptance means what
the parser promises. A broken promise raises ``ContractBroken``, which the fuzzer reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from kiosk.core.errors import HanpyoError

T = TypeVar("T")


class ContractBroken(Exception):
    """An input was accepted that should not have been, or an answer broke its promise."""


def require(condition: bool, message: str) -> None:
    """Raise ``ContractBroken`` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ContractBroken(message)


def accepted(
    parse: Callable[[], T], refusals: tuple[type[HanpyoError], ...] = (HanpyoError,)
) -> T | None:
    """``parse()``'s result, or None when it refuses with one of ``refusals``.

    Any other exception (KeyError, TypeError, RecursionError, UnicodeError...) escapes: a
    parser of outside bytes must refuse bad input with the project's own errors only.
    """
    try:
        return parse()
    except refusals:
        return None
