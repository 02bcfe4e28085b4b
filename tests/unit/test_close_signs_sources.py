"""The close statement signs the sources (id, key, name, channel, quarantined flag) and the
equivocation evidence as they stood at the close (ledger/rules/close_statement.py), so whoever
writes a record can no longer move a source to the other channel (which splits the sums and
score columns, and can make a sum of a few voters), rename one or drop a fork unnoticed:
`verify-bundle` and the trustee's recomputation from a record (``--record``) both refuse,
naming the file. Each forged record here is otherwise made consistent (selection, tally input,
shuffles, decryptions and results recomputed from the forged list), so nothing else catches it.

The records are testkit/v2_record.py's, of real signed chains, counted by the product's own
functions; the trustee's refusal through the real `ledger trustee shuffle --record` process is
tests/integration/test_close_signs_sources.py's."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.block import block_time, decode_signed_block, sign_block
from kiosk.core.checkpoint import NoteVerifier, sign_note
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.encoding import canonical_json
from ledger.publish.nist_results import nist_results
from ledger.rules.close_statement import RecordLists, statement_text
from ledger.rules.count_files import read_closure
from ledger.rules.selection import BALLOT_KINDS, LoggedBlock, select
from ledger.verify.bundle import Check, verify_bundle
from ledger.verify.count_inputs import CountInputsError, check_count_inputs, record_log
from ledger.verify.parallel import Where
from testkit.v2_record import ANNEX, HALL, LOG_ORIGIN, V2Record, build_record, count_files

CLOSE_CHECK = "close statement signed by the log key"


@pytest.fixture(scope="module")
def record() -> V2Record:
    return build_record()


def _verify(files: dict[str, bytes], record: V2Record, tmp: Path) -> dict[str, Check]:
    path = record.zip(tmp / "record.zip", files)
    checks = verify_bundle(path, where=Where(1), nist=nist_results)
    return {c.name: c for c in checks}


def _named(checks: dict[str, Check], part: str) -> Check:
    (found,) = [c for name, c in checks.items() if part in name]
    return found


def _trustee(files: dict[str, bytes], record: V2Record, tmp: Path) -> Any:
    """The trustee's `--record` check, in process (the same function the CLI calls)."""
    path = record.zip(tmp / "trustee-record.zip", files)
    with record_log(path) as log:
        return check_count_inputs(
            record.election.package,
            read_closure(files["close.json"]),
            NoteVerifier(LOG_ORIGIN, record.log_key.public_key),
            log,
            (files["count/selection.json"], files["count/tally-input.json"]),
            Where(workers=1),
        )


def _recounted(record: V2Record, sources: list[dict[str, Any]]) -> dict[str, bytes]:
    """The record with ``sources`` as its sources.json and every count file recomputed from
    it, consistently, as a dishonest record writer would publish them."""
    channels = {s["kiosk"]: s["channel"] for s in sources}
    entries = []
    for n, line in enumerate(record.files["log.jsonl"].split(b"\n")[:-1]):
        block = decode_signed_block(line).block
        if block.kind in BALLOT_KINDS:
            entries.append(LoggedBlock(n, block.kiosk, block.height, block, channels[block.kiosk]))
    closure = read_closure(record.files["close.json"])
    selection = select(record.election.package, entries, closure.checkpoint)
    files = record.files | {"sources.json": canonical_json(sources)}
    return files | count_files(
        record.election,
        selection,
        record.shares,
        record.trustee_keys,
        sources,
        record.files["close.json"],
    )


def _only_the_close_found_it(checks: dict[str, Check]) -> None:
    """Every other failure is a check that could not run on a list nobody signed (the
    selection's channels come from it, and the count's files follow from the selection): no
    other check found a fault in the forged, consistent files."""
    for name, check in checks.items():
        if check.status == "FAILED" and name != CLOSE_CHECK:
            assert check.detail.startswith("cannot check"), (name, check.detail)


def _sources(record: V2Record) -> list[dict[str, Any]]:
    return list(json.loads(record.files["sources.json"]))


def test_the_honest_record_passes_and_says_the_lists_are_signed(
    record: V2Record, tmp_path: Path
) -> None:
    checks = _verify(record.files, record, tmp_path)
    assert [c for c in checks.values() if c.status == "FAILED"] == []
    said = checks[CLOSE_CHECK].detail
    assert "sources.json (2 sources) and evidence.json (0 entries)" in said
    assert "are the lists the close statement signed" in said
    words = "\n".join(_trustee(record.files, record, tmp_path).said)
    assert "sources.json (2 sources) and evidence.json (0 entries) are the lists" in words
    assert "every ballot's channel comes from that list" in words


def test_a_source_moved_to_the_other_channel_is_refused(record: V2Record, tmp_path: Path) -> None:
    sources = _sources(record)
    moved = next(s for s in sources if s["name"] == HALL)  # the hall's ballots are counted
    moved["channel"] = "online"
    forged = _recounted(record, sources)
    # the forgery matters: the hall's ballots now count in the online channel's sums and quota
    tally = json.loads(forged["count/tally-input.json"])
    assert {a["channel"] for a in tally["aggregates"]} == {"online"}
    assert forged["count/tally-input.json"] != record.files["count/tally-input.json"]
    checks = _verify(forged, record, tmp_path)
    close = checks[CLOSE_CHECK]
    assert close.status == "FAILED"
    assert "sources.json is not the list of sources the close statement signed" in close.detail
    selection = _named(checks, "selection recomputed")
    assert selection.status == "FAILED" and "sources.json" in selection.detail
    _only_the_close_found_it(checks)
    with pytest.raises(CountInputsError) as refused:
        _trustee(forged, record, tmp_path)
    assert "sources.json is not the list of sources the close statement signed" in str(
        refused.value
    )


def test_a_renamed_source_is_refused(record: V2Record, tmp_path: Path) -> None:
    sources = _sources(record)
    next(s for s in sources if s["name"] == ANNEX)["name"] = "Hall C"
    forged = _recounted(record, sources)  # results.json names it "Hall C" too
    assert b"Hall C" in forged["count/results.json"]
    checks = _verify(forged, record, tmp_path)
    assert checks[CLOSE_CHECK].status == "FAILED"
    assert "sources.json is not the list" in checks[CLOSE_CHECK].detail
    _only_the_close_found_it(checks)
    with pytest.raises(CountInputsError, match=r"sources\.json is not the list"):
        _trustee(forged, record, tmp_path)


def _with_fork(record: V2Record) -> dict[str, bytes]:
    """The record as the ledger would write it had the annex signed a second block at the
    height of its last one before the close: evidence.json holds it, the statement signs it."""
    last = decode_signed_block(record.files["log.jsonl"].split(b"\n")[-2])
    other = sign_block(
        dataclasses.replace(last.block, time=block_time(datetime(2017, 1, 1, tzinfo=UTC))),
        SigningKey(sha256(f"record/kiosk/{ANNEX}".encode())),  # testkit/v2_record.py's key
    )
    evidence = [
        {"kiosk": last.block.kiosk, "height": last.block.height, "block": other.encode().decode()}
    ]
    closure = json.loads(record.files["close.json"])
    lists = RecordLists(tuple(_sources(record)), tuple(evidence)).hashes()
    text = statement_text(
        record.election.package.id,
        closure["size"],
        closure["checkpoint"],
        closure["closed_at"],
        closure["waivers"],
        lists,
    )
    closure["statement"] = sign_note(text, LOG_ORIGIN, record.log_key)
    return record.files | {
        "evidence.json": canonical_json(evidence),
        "close.json": canonical_json(closure),
    }


def test_a_dropped_evidence_entry_is_refused(record: V2Record, tmp_path: Path) -> None:
    with_fork = _with_fork(record)
    checks = _verify(with_fork, record, tmp_path)
    assert [c for c in checks.values() if c.status == "FAILED"] == []
    assert "evidence.json (1 entry)" in checks[CLOSE_CHECK].detail
    assert _named(checks, "equivocation").detail == "1 conflicting blocks"
    _trustee(with_fork, record, tmp_path)  # passes
    dropped = with_fork | {"evidence.json": b"[]"}
    checks = _verify(dropped, record, tmp_path)
    assert checks[CLOSE_CHECK].status == "FAILED"
    assert "evidence.json is not the equivocation evidence the close statement signed" in (
        checks[CLOSE_CHECK].detail
    )
    with pytest.raises(CountInputsError, match=r"evidence\.json is not the equivocation"):
        _trustee(dropped, record, tmp_path)


def test_the_order_of_the_lists_does_not_matter_but_a_repeated_entry_does(
    record: V2Record, tmp_path: Path
) -> None:
    sources = _sources(record)
    reordered = record.files | {"sources.json": canonical_json(sources[::-1])}
    assert _verify(reordered, record, tmp_path)[CLOSE_CHECK].status == "ok"
    repeated = record.files | {"sources.json": canonical_json([*sources, sources[0]])}
    assert _verify(repeated, record, tmp_path)[CLOSE_CHECK].status == "FAILED"
