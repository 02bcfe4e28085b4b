"""Canonical JSON (RFC 8785), unpadded base64url and Crockford base32: the only encodings."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import rfc8785

from kiosk.core.errors import EncodingError

_STD_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = str.maketrans(_STD_B32, _CROCKFORD)
_FROM_CROCKFORD = str.maketrans(_CROCKFORD, _STD_B32)


_SAFE_INT = 2**53  # integers JSON numbers carry exactly (IEEE 754 doubles)
_PLAIN = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value``: the bytes every hash and signature covers.

    Blocks and ballots hold only strings, small integers, booleans, null, lists and objects
    with ASCII keys. For those, RFC 8785 output is exactly the standard library's compact,
    key-sorted JSON without ASCII escaping: the same string escapes (ECMAScript's
    JSON.stringify escapes the same characters the same way), the same integer digits, and
    ASCII keys sort alike by UTF-16 code units and by code points. That path is many times
    faster than the pure-Python RFC 8785 library, which every other value (floats, large
    integers, non-ASCII keys, lone surrogates) still goes through.
    """
    fast = plain_canonical_json(value)
    if fast is not None:
        return fast
    try:
        return bytes(rfc8785.dumps(_as_doubles(value)))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise EncodingError(f"value cannot be canonicalised: {e}") from e


def plain_canonical_json(value: Any) -> bytes | None:
    """``canonical_json(value)`` when it comes by the fast path, else None. When it does,
    ``parse_json`` of those bytes gives back ``value`` itself (keys sorted): a reader can then
    read ``value`` instead of parsing the bytes again (ingest does, kiosk/core/block.py)."""
    if not _plain(value):
        return None
    try:
        return _PLAIN.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        return None  # a lone surrogate: the library decides what to do with it


def canonical_json_of_part(value: Any) -> bytes:
    """``canonical_json(value)`` for a part of a value that ``plain_canonical_json`` already
    encoded (so ``value`` is plain too): the fast path without walking it again."""
    return _PLAIN.encode(value).encode("utf-8")


def _as_doubles(value: Any) -> Any:
    """``value`` with each integer past 2^53 that is RFC 8785's own spelling of a double (as
    1e21 is "1e+21" and 2.002222222222222e17 is "200222222222222200", which parse_json reads
    back as an int) turned into that double, so canonical JSON stays canonical when read back
    and written again. Any other integer past 2^53 is left for the library to refuse."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _SAFE_INT:
        try:
            double = float(value)
        except OverflowError:
            return value
        return double if rfc8785.dumps(double) == str(value).encode() else value
    if isinstance(value, list | tuple):
        return [_as_doubles(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what the fast path encodes exactly as RFC 8785 does.
    Walked with a stack and exact types (what a JSON parser gives); anything else, such as a
    ``str`` subclass, is asked of ``_plain_value``. Ingest walks every block it receives, so
    this is on the hot path (kiosk/core/block.py, decode_uploaded_block). Values are trees
    (what a parser gives, or a caller builds): a list that holds itself is not looked for."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or v is None or t is bool:
            continue
        if t is dict:
            for k in v:
                if type(k) is not str or not k.isascii():
                    return False
            extend(v.values())
        elif t is list:
            extend(v)
        elif t is int:
            if not -_SAFE_INT < v < _SAFE_INT:
                return False
        elif not _plain_value(v):
            return False
    return True


def _plain_value(value: Any) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INT < value < _SAFE_INT
    if isinstance(value, list | tuple):
        return all(_plain_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain_value(v) for k, v in value.items())
    return False  # floats, bytes, anything else


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON strictly: no NaN or Infinity, no duplicate keys."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in pairs:
            if key in out:
                raise EncodingError(f"duplicate key {key!r} in JSON")
            out[key] = item
        return out

    def no_constants(name: str) -> Any:
        raise EncodingError(f"{name} is not allowed in JSON")

    try:
        return json.loads(raw, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (ValueError, RecursionError) as e:
        raise EncodingError(f"not valid JSON: {e}") from e


def b64e(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, *, length: int | None = None, name: str = "value") -> bytes:
    """Decode unpadded base64url strictly; with ``length``, insist on that many bytes."""
    if not isinstance(text, str):
        raise EncodingError(f"{name} must be a base64url string, not {type(text).__name__}")
    if "=" in text or any(c in text for c in "+/ \n\r\t"):
        raise EncodingError(f"{name} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise EncodingError(f"{name} is not valid base64url: {e}") from e
    if b64e(data) != text:
        raise EncodingError(f"{name} is not in canonical base64url form")
    if length is not None and len(data) != length:
        raise EncodingError(f"{name} must be {length} bytes, found {len(data)}")
    return data


def crockford32(data: bytes) -> str:
    """Crockford base32 without padding (digits and capitals, no I, L, O or U)."""
    return base64.b32encode(data).decode("ascii").rstrip("=").translate(_TO_CROCKFORD)


def crockford32_decode(text: str) -> bytes:
    """Decode Crockford base32 as a person might type it: any case, O for 0, I and L for 1,
    with or without hyphens and spaces."""
    cleaned = text.upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    if not cleaned or any(c not in _CROCKFORD for c in cleaned):
        raise EncodingError(f"{text!r} is not a Crockford base32 code")
    std = cleaned.translate(_FROM_CROCKFORD)
    try:
        return base64.b32decode(std + "=" * (-len(std) % 8))
    except (binascii.Error, ValueError) as e:
        raise EncodingError(f"{text!r} is not a whole Crockford base32 code") from e


def group4(code: str) -> str:
    """Split a code into groups of four for reading aloud: ``ABCD-EFGH-...``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
