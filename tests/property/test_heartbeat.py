"""The typed heartbeat against the pydantic model the ledger parsed it with before: every report
that model accepted round-trips to the same stored JSON, and what it refused is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from kiosk.core.chain import Mode, Session
from kiosk.core.heartbeat import Heartbeat, HeartbeatError, PrinterReport, ReaderState


class _Before(BaseModel):
    """ledger/fleet.py's Heartbeat as it was."""

    mode: str = Field(pattern="^(unset|test|official)$")
    session: str = Field(pattern="^(closed|open|paused)$")
    height: int = Field(ge=-1, le=2**53)
    pending_blocks: int = Field(ge=0, le=2**53)
    ballots_session: int = Field(ge=0, le=2**53)
    reader: str = Field(pattern="^(ok|missing|error)$")
    printer: str = Field(pattern="^(ok|no_paper|offline|none)$")
    version: str = Field(max_length=40)


counts = st.integers(min_value=-3, max_value=2**53 + 2)
reports = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["unset", "test", "official", "TEST", ""]),
        "session": st.sampled_from(["closed", "open", "paused", "shut"]),
        "height": counts,
        "pending_blocks": counts,
        "ballots_session": counts,
        "reader": st.sampled_from(["ok", "missing", "error", "gone"]),
        "printer": st.sampled_from(["ok", "no_paper", "offline", "none", "jam"]),
        "version": st.text(max_size=45),
    }
)


@given(reports)
def test_the_same_reports_are_accepted_and_stored_alike(report: dict[str, Any]) -> None:
    try:
        before = _Before.model_validate(report).model_dump_json()
    except ValidationError:
        with pytest.raises(HeartbeatError):
            Heartbeat.from_json(report)
        return
    beat = Heartbeat.from_json(report)
    assert beat.encode() == before
    assert Heartbeat.from_json(json.loads(beat.encode())) == beat


BEAT = Heartbeat(
    Mode.OFFICIAL, Session.OPEN, 3, 0, 1, ReaderState.OK, PrinterReport.NO_PAPER, "0.1.0"
)


def test_the_wire_json_is_todays() -> None:
    assert BEAT.to_json() == {
        "mode": "official",
        "session": "open",
        "height": 3,
        "pending_blocks": 0,
        "ballots_session": 1,
        "reader": "ok",
        "printer": "no_paper",
        "version": "0.1.0",
    }


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"height": True}, "heartbeat.height: must be a whole number"),
        ({"height": "3"}, "heartbeat.height: must be a whole number"),
        ({"mode": 1}, "heartbeat.mode: is not one of the allowed values"),
        ({"version": None}, "heartbeat.version"),
        ({"reader": "<script>"}, "heartbeat.reader: is not one of the allowed values"),
    ],
)
def test_hostile_values_name_the_field(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(HeartbeatError, match=words):
        Heartbeat.from_json(BEAT.to_json() | changes)


def test_a_missing_field_and_a_non_object_are_refused() -> None:
    without = BEAT.to_json()
    del without["printer"]
    with pytest.raises(HeartbeatError, match=r"heartbeat\.printer: is missing"):
        Heartbeat.from_json(without)
    with pytest.raises(HeartbeatError, match="must be a JSON object"):
        Heartbeat.from_json([])


def test_unknown_keys_are_ignored_as_before() -> None:
    assert Heartbeat.from_json(BEAT.to_json() | {"battery": 80}) == BEAT
