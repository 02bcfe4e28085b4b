"""Canonical JSON, base64url and Crockford base32 behave exactly as the protocol needs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.encoding import (
    b64d,
    b64e,
    canonical_json,
    crockford32,
    crockford32_decode,
    group4,
    parse_json,
)
from kiosk.core.errors import EncodingError


def test_canonical_json_sorts_keys_and_keeps_hangul_as_utf8() -> None:
    assert canonical_json({"b": 1, "a": "한표"}) == '{"a":"한표","b":1}'.encode()


def test_canonical_json_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(EncodingError):
        canonical_json({"x": float("nan")})
    with pytest.raises(EncodingError):
        canonical_json({"x": b"bytes"})


@pytest.mark.parametrize("text", ['{"a":1,"a":2}', '{"a":NaN}', '{"a":Infinity}', "{", ""])
def test_parse_json_refuses_duplicates_constants_and_garbage(text: str) -> None:
    with pytest.raises(EncodingError):
        parse_json(text)


@given(st.binary(max_size=200))
def test_base64url_round_trips(data: bytes) -> None:
    assert b64d(b64e(data)) == data
    assert "=" not in b64e(data)


@pytest.mark.parametrize("text", ["AA==", "A+/B", "AB C", "A", "AB", "AAB"])
def test_base64url_refuses_padding_other_alphabets_and_non_canonical_tails(text: str) -> None:
    # "AB" decodes to one byte but its canonical form is "AA": two spellings, one refused.
    with pytest.raises(EncodingError):
        b64d(text)


def test_base64url_checks_length() -> None:
    with pytest.raises(EncodingError, match="32 bytes"):
        b64d(b64e(bytes(31)), length=32)


@given(st.binary(min_size=1, max_size=40))
def test_crockford_round_trips_and_uses_no_ambiguous_letters(data: bytes) -> None:
    code = crockford32(data)
    assert not set(code) & set("ILOU")
    assert crockford32_decode(code)[: len(data)] == data


def test_crockford_forgives_how_people_type_codes() -> None:
    code = group4(crockford32(bytes(range(10))))
    assert crockford32_decode(code.lower()) == bytes(range(10))
    assert crockford32_decode("o1") == crockford32_decode("01") == crockford32_decode("OI")
    with pytest.raises(EncodingError):
        crockford32_decode("U!")
