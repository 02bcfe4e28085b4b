"""The roll file's test cards: enrolled beside the voter cards, never twice, and each card in
one section only."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.errors import ElectionPackageError
from kiosk.core.roll import add_staff, add_voter, empty_roll
from testkit.elections import mixed_definition


def _key(n: int) -> bytes:
    return SigningKey(sha256(f"roll-file/{n}".encode())).public_key


def test_a_test_card_goes_to_the_test_roll_and_a_voter_card_to_the_roll() -> None:
    roll = empty_roll()
    definition = mixed_definition()
    add_voter(roll, definition, _key(1), "resident", "g001", ["p0001-01"])
    entry = add_voter(roll, definition, _key(2), "expert", "g002", [], test=True)
    assert [e["category"] for e in roll["roll"]] == ["resident"]
    assert roll["test_roll"] == [entry]
    assert entry["category"] == "expert" and entry["group"] == "g002"


@pytest.mark.parametrize("first_test", [True, False])
def test_a_card_is_enrolled_in_one_section_only(first_test: bool) -> None:
    roll = empty_roll()
    definition = mixed_definition()
    add_voter(roll, definition, _key(3), "resident", "g001", [], test=first_test)
    with pytest.raises(ElectionPackageError, match="already enrolled"):
        add_voter(roll, definition, _key(3), "resident", "g001", [], test=not first_test)
    with pytest.raises(ElectionPackageError, match="already enrolled"):
        add_staff(roll, _key(3), "poll_worker", "김하나")


def test_a_test_card_is_checked_like_a_voter_card() -> None:
    with pytest.raises(ElectionPackageError, match="a group is required"):
        add_voter(empty_roll(), mixed_definition(), _key(4), "resident", None, [], test=True)
