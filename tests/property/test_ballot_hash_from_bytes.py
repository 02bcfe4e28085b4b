"""The ledger and the count take an encrypted ballot's hash from the bytes they read
(``document_hash``) instead of writing the parsed ballot out again, and read well-formed cells
by a fast path (``_cell_fast``). Both are only sound if the strict reader accepts no document
that writes back differently, and the fast path accepts nothing the strict reader refuses.

Under Hypothesis, real encrypted ballots of every contest kind (choice, score with and without
criteria, yes/no) are altered at a random place in a random way (a value nulled, removed,
retyped, re-spelt in upper case, padded, an unknown member added): whenever the reader still
accepts the document, its hash from the bytes equals the hash of the ballot written out again,
and each cell the fast path reads equals the strict reader's. What a card signs is that hash,
so a gap here would let the ledger accept a ballot the count refuses, or the other way round.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kiosk.core.block import BlockKind, read_cast_ballot
from kiosk.core.election import ContestKind
from kiosk.core.encrypted_ballot import (
    BallotFormError,
    BallotShape,
    _cell_fast,
    _read_cell,
    document_hash,
    read_ballot_shape,
    read_encrypted_ballot,
)
from kiosk.core.errors import BallotError, BlockError, EncodingError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.group import ORDER
from testkit.elections import SyntheticElection
from testkit.v2_ballots import cast_ballot, roll_index

ALTER = settings(max_examples=150, deadline=None)


@pytest.fixture(scope="module")
def bodies(election: SyntheticElection) -> list[dict[str, Any]]:
    """Cast ballot bodies of a resident (score, yes/no), an expert (score with criteria) and an
    online member (choice): every contest kind and cell shape."""
    rng = random.Random(7)
    categories = sorted({e.category for e in election.package.roll})
    return [
        cast_ballot(election, roll_index(election, category), rng).body for category in categories
    ]


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a member or item in ``value``."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _places(item, (*path, i))
    return found


def _altered(value: Any, how: str) -> Any:
    match how:
        case "null":
            return None
        case "upper":
            return value.upper() if isinstance(value, str) else value
        case "pad":
            return f" {value}" if isinstance(value, str) else value
        case "number":
            return 2
        case "text":
            return "2"
        case "empty":
            return type(value)() if isinstance(value, str | list | dict) else ""
        case "flag":
            return True
        case "wrap":
            return [value]
        case "at_order":  # the group order itself: spelled right, one too large for a scalar
            return _scalar_hex(ORDER) if _is_hex64(value) else value
        case "below_order":  # the largest scalar, whose top byte is 0x10
            return _scalar_hex(ORDER - 1) if _is_hex64(value) else value
    raise AssertionError(how)


def _scalar_hex(value: int) -> str:
    return value.to_bytes(32, "little").hex()


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64


HOWS = (
    "null",
    "upper",
    "pad",
    "number",
    "text",
    "empty",
    "flag",
    "wrap",
    "drop",
    "extra",
    "at_order",
    "below_order",
)


def _apply(document: Any, path: tuple[Any, ...], how: str) -> Any:
    changed = copy.deepcopy(document)
    if not path:
        return _altered(changed, how) if how not in ("drop", "extra") else changed
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "drop":
        del parent[last]
    elif how == "extra":
        target = parent[last]
        if isinstance(target, dict):
            target["criterion" if "option" in target else "note"] = None
        elif isinstance(target, list):
            target.append(copy.deepcopy(target[0]) if target else None)
    else:
        parent[last] = _altered(parent[last], how)
    return changed


@ALTER
@given(data=st.data())
def test_an_accepted_ballot_hashes_alike_from_its_bytes_and_written_again(
    bodies: list[dict[str, Any]], data: st.DataObject
) -> None:
    body = data.draw(st.sampled_from(bodies))
    document = body["ballot"]
    path = data.draw(st.sampled_from(_places(document)))
    how = data.draw(st.sampled_from(HOWS))
    changed = _apply(document, path, how)
    try:
        ballot = read_encrypted_ballot(changed)
    except (BallotError, EncodingError):
        return  # refused: nothing to hash
    assert document_hash(changed) == ballot.hash, (path, how)


@ALTER
@given(data=st.data())
def test_the_fast_cell_reader_accepts_only_what_the_strict_one_does(
    bodies: list[dict[str, Any]], data: st.DataObject
) -> None:
    body = data.draw(st.sampled_from(bodies))
    contests = body["ballot"]["contests"]
    contest = data.draw(st.sampled_from(contests))
    cell = data.draw(st.sampled_from(contest["cells"]))
    kind = ContestKind(contest["kind"])
    wrapper = {"cell": cell}
    path = data.draw(st.sampled_from(_places(wrapper)[1:]))
    how = data.draw(st.sampled_from(HOWS))
    altered = _apply(wrapper, path, how)
    assume("cell" in altered)
    changed = altered["cell"]
    fast = _cell_fast(changed, kind)
    try:
        strict = _read_cell(Reader(changed, "cell", BallotFormError), kind)
    except (BallotError, EncodingError):
        assert fast is None, (path, how)
        return
    assert fast is None or fast == strict, (path, how)


def test_every_well_formed_cell_takes_the_fast_path(bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        for contest in body["ballot"]["contests"]:
            kind = ContestKind(contest["kind"])
            for cell in contest["cells"]:
                fast = _cell_fast(cell, kind)
                assert fast is not None
                assert fast == _read_cell(Reader(cell, "cell", BallotFormError), kind)


def test_a_null_criterion_is_refused_by_name(bodies: list[dict[str, Any]]) -> None:
    """A null criterion used to be read as an absent one, and written back without it: the
    bytes a card signed and the ballot the count reads would then hash differently."""
    body = copy.deepcopy(bodies[0])
    body["ballot"]["contests"][0]["cells"][0]["criterion"] = None
    with pytest.raises(BlockError, match=r"cells\[0\]\.criterion: must be a criterion's id"):
        read_cast_ballot(BlockKind.BALLOT, body)


def test_the_cast_ballot_carries_the_hash_the_card_signed(
    bodies: list[dict[str, Any]],
) -> None:
    for body in bodies:
        cast = read_cast_ballot(BlockKind.BALLOT, body)
        strict = read_encrypted_ballot(body["ballot"])
        assert cast.ballot_hash == strict.hash == document_hash(body["ballot"])
        assert cast.ballot == BallotShape.of(strict)


@ALTER
@given(data=st.data())
def test_the_shape_reader_refuses_what_the_strict_one_does_but_for_a_points_membership(
    bodies: list[dict[str, Any]], data: st.DataObject
) -> None:
    """What the ledger reads on arrival (read_ballot_shape) against what the count reads
    (read_encrypted_ballot): the same ballot when the strict reader accepts it; a document
    only the shape reader accepts is one whose fault is a point that is not a group element,
    which the count then leaves out as bad_form."""
    body = data.draw(st.sampled_from(bodies))
    document = body["ballot"]
    path = data.draw(st.sampled_from(_places(document)))
    how = data.draw(st.sampled_from((*HOWS, "off_curve")))
    if how == "off_curve":
        changed = _with_a_bad_point(document, data.draw(st.integers(0, 10_000)))
    else:
        changed = _apply(document, path, how)
    try:
        strict = read_encrypted_ballot(changed)
    except (BallotError, EncodingError) as e:
        try:
            read_ballot_shape(changed)
        except (BallotError, EncodingError):
            return
        assert "ristretto255" in str(e), (path, how, str(e))
        return
    assert read_ballot_shape(changed) == BallotShape.of(strict), (path, how)


def _with_a_bad_point(document: dict[str, Any], pick: int) -> dict[str, Any]:
    """``document`` with one ciphertext point replaced by 64 hex digits that are no
    ristretto255 encoding (all ff: not canonical)."""
    changed = copy.deepcopy(document)
    cells = [cell for contest in changed["contests"] for cell in contest["cells"]]
    cell = cells[pick % len(cells)]
    cell["ct"][pick % 2] = "ff" * 32
    return changed
