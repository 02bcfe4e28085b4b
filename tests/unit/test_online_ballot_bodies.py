"""Whatever a page sends in place of any part of a good ballot body, the platform's checks
answer with a refusal it can name (422 ``bad_ballot``), never another error: a malformed
body never becomes a 500, and never a recorded ballot."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from online.ballots import check_cast
from online.errors import ApiError
from online.limits import Session
from testkit.elections import SyntheticElection
from testkit.v2_ballots import CastBallot, cast_ballot, roll_index

Path = tuple[str | int, ...]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def replaced(body: dict[str, Any], path: Path, value: Any) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(body)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


@pytest.fixture(scope="module")
def made(election: SyntheticElection) -> tuple[CastBallot, Session]:
    index = roll_index(election, "online", 0)
    ballot = cast_ballot(election, index, random.Random(0))
    voter_id = election.package.roll[index].voter_id
    assert voter_id is not None
    key = election.voter_keys[index].public_key
    return ballot, Session("t", voter_id, key, False, 0.0, "")


def test_the_good_body_passes(
    election: SyntheticElection, made: tuple[CastBallot, Session]
) -> None:
    ballot, session = made
    assert check_cast(election.package, session, ballot.body).ballot == ballot.encrypted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data(), value=JSON)
def test_any_part_replaced_is_refused_by_name(
    election: SyntheticElection, made: tuple[CastBallot, Session], data: st.DataObject, value: Any
) -> None:
    ballot, session = made
    all_paths = paths(ballot.body)
    path = data.draw(st.sampled_from(all_paths))
    old: Any = ballot.body
    for step in path:
        old = old[step]
    assume(value != old)
    with pytest.raises(ApiError) as refused:
        check_cast(election.package, session, replaced(ballot.body, path, value))
    assert (refused.value.status, refused.value.code) == (422, "bad_ballot")
    assert refused.value.reason
