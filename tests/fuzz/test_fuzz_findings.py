"""Each finding of the fuzz campaigns (fuzz/REPORT.md), minimised, shown exactly: the input
that the target reported, and the behaviour a user would meet."""

from __future__ import annotations

import base64

import pytest

from fuzz import targets_core
from kiosk.core.checkpoint import NoteVerifier, open_note
from kiosk.core.encoding import canonical_json, parse_json
from kiosk.core.errors import EncodingError


def _input(text: str) -> bytes:
    return base64.b64decode(text)


# F1: a note key name that is not UTF-8 (a command-line argument with invalid UTF-8 reaches
# Python as lone surrogates) crashed NoteVerifier.parse with UnicodeEncodeError.
F1 = (
    "AmZ1gHoudGVzdC9oYW5weW8rNzkyMmNjZDErQVF4aWttemZsUHlmVHEzUnpnL3lSbFltN1hHSmZ2amhGRXhp"
    "MlNDTWcwYTA="
)


def test_f1_the_fuzz_input_is_refused_cleanly() -> None:
    targets_core.checkpoint(_input(F1))


def test_f1_a_verifier_key_name_that_is_not_utf8_is_refused() -> None:
    vkey = _input(F1)[1:].decode("utf-8", "surrogateescape")
    with pytest.raises(EncodingError, match="note key name"):
        NoteVerifier.parse(vkey)
    with pytest.raises(EncodingError, match="note key name"):
        open_note("text\n\n\u2014 a b\n", ("fu\udc80z", bytes(32)))


# F3: canonical JSON of a large float (2.002222222222222e17) is RFC 8785's "200222222222222200",
# which parse_json reads as an integer that canonical_json then refused: the canonical form of
# a value could not be canonicalised again.
F3 = (
    "AHsibWV0aG9kIjogeyJraW9zayI6IHsid2VpcnMiOiAyMDAyMjIyMjIyMjIyMjIyMjIuMjIyMn19LCAiZHJzIjog"
    "dHJ1ZSwgInRpZWFrIjogImxvd2VzdCBvcHRpb24gaWQifQ=="
)


def test_f3_the_fuzz_input_round_trips() -> None:
    targets_core.encoding(_input(F3))


@pytest.mark.parametrize("number", [2.002222222222222e17, 1e21, -9.007199254740993e15, 1e300])
def test_f3_canonical_json_of_a_float_is_a_fixed_point(number: float) -> None:
    once = canonical_json({"x": number})
    assert canonical_json(parse_json(once)) == once
    assert float(parse_json(once)["x"]) == number


def test_f3_an_integer_no_double_prints_as_is_still_refused() -> None:
    with pytest.raises(EncodingError):
        canonical_json(2**53 + 1)  # rounds to another number: refused, never changed
