"""The fast canonical JSON path gives exactly the RFC 8785 library's bytes."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.encoding import canonical_json

# What blocks and ballots are made of, with the awkward parts of each: every control
# character, quotes and backslashes, Hangul, characters beyond the BMP, U+2028, integer
# edges; keys of any ASCII, so the fast path's sorting is exercised.
texts = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]),  # no lone surrogates
    max_size=20,
)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=127), max_size=8), inner, max_size=5
        )
    ),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(values)
def test_the_fast_path_equals_the_library(value: Any) -> None:
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=4),  # any keys, non-ASCII too: the library's path
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**60), 2**60),
        max_size=4,
    )
)
def test_everything_else_goes_through_the_library(value: dict[str, Any]) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, ValueError):
        return  # refused by both: canonical_json raises EncodingError (unit tests)
    assert canonical_json(value) == expected
