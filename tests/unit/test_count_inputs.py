"""The trustee's recomputation of the count's inputs from a record (ledger/verify/count_inputs.py),
in process, on a record of real signed chains (testkit/v2_record.py): the honest selection and
tally input pass and the tool's words say what was checked; a count that also counts a ballot
the rules leave out (a stuffed one, made consistent by the attacker) is refused naming it; a
record of another close, another package or a cut-off log is refused, naming which.
The real trustee processes are tests/integration/test_count_trustees.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import canonical_json
from ledger.rules.count_files import read_closure
from ledger.verify.count_inputs import CountInputsError, check_count_inputs, record_log
from ledger.verify.parallel import Where
from testkit.v2_ballots import signed_body
from testkit.v2_record import LOG_ORIGIN, Hall, V2Record, build_record, dishonest_count


def no_card_signature(hall: Hall) -> dict[str, Any]:
    """A ballot of voter 2 (who did not vote) signed by a key that is not on the roll."""
    from testkit.v2_ballots import cast_ballot

    ballot = cast_ballot(hall.election, 2, hall.rng).encrypted
    entry = hall.election.package.roll[2]
    assert entry.voter_id is not None
    return signed_body(entry.voter_id, ballot, SigningKey(bytes(range(32))))


@pytest.fixture(scope="module")
def record() -> V2Record:
    return build_record([("stuffed", no_card_signature)])


def _check(record: V2Record, files: dict[str, bytes], tmp: Path) -> Any:
    path = record.zip(tmp / "record.zip", files)
    closure = read_closure(record.files["close.json"])
    verifier = NoteVerifier(LOG_ORIGIN, record.log_key.public_key)
    with record_log(path) as log:
        return check_count_inputs(
            record.election.package,
            closure,
            verifier,
            log,
            (files["count/selection.json"], files["count/tally-input.json"]),
            Where(workers=1),
        )


def test_the_honest_count_passes_and_says_what_was_checked(
    record: V2Record, tmp_path: Path
) -> None:
    checked = _check(record, record.files, tmp_path)
    said = "\n".join(checked.said)
    assert "the closed log, from the record record.zip, checked with no secret" in said
    assert "2 chains of" in said and "every ballot's proofs on 1 local process" in said
    assert f"{len(record.selection.counted)} ballots counted" in said
    assert "key_not_on_roll" in said and "byte for byte the recomputed ones" in said
    assert "ballots counted per channel: kiosk" in said


def test_a_count_that_counts_a_stuffed_ballot_is_refused(record: V2Record, tmp_path: Path) -> None:
    position = record.positions["stuffed"]
    forged = dishonest_count(record, position)
    with pytest.raises(CountInputsError) as caught:
        _check(record, forged, tmp_path)
    detail = caught.value.detail
    assert detail.startswith("the selection: count/selection.json differs")
    assert f"log position {position} (" in detail
    assert "the record says counted" in detail and "left out, key_not_on_roll" in detail


def test_a_record_of_another_close_or_package_or_a_cut_log_is_refused(
    record: V2Record, tmp_path: Path
) -> None:
    closed = json.loads(record.files["close.json"])
    other_close = record.files | {
        "close.json": canonical_json(closed | {"closed_at": "2026-12-07T19:00:00+00:00"})
    }
    with pytest.raises(CountInputsError, match="another close than the count directory"):
        _check(record, other_close, tmp_path)
    signed = json.loads(record.files["package.json"])
    signed["package"]["title"] = {"ko": "다른 선거", "en": "Another election"}
    other_package = record.files | {"package.json": canonical_json(signed)}
    with pytest.raises(CountInputsError, match="is the log of package"):
        _check(record, other_package, tmp_path)
    cut = record.files | {"log.jsonl": record.files["log.jsonl"][:-1]}
    with pytest.raises(CountInputsError, match="cut short"):
        _check(record, cut, tmp_path)
    dropped = record.files | {
        "log.jsonl": b"".join(record.files["log.jsonl"].splitlines(keepends=True)[:-1])
    }
    with pytest.raises(CountInputsError, match="the log's root: the log holds"):
        _check(record, dropped, tmp_path)


def test_a_damaged_or_missing_record_is_refused(record: V2Record, tmp_path: Path) -> None:
    with pytest.raises(CountInputsError, match="not a record that can be read"):
        _check_path(tmp_path / "missing.zip")
    files = {k: v for k, v in record.files.items() if k != "sources.json"}
    path = record.zip(tmp_path / "no-sources.zip", files)
    with pytest.raises(CountInputsError, match=r"no sources\.json"):
        _check_path(path)


def _check_path(path: Path) -> None:
    with record_log(path):
        pass
