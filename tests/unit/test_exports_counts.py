"""The NIST results and event log documents tell the same counts and blocks as the published
records. (There is no cast vote record: a ballot is never decrypted on its own.)"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kiosk.core.block import BlockKind
from ledger.publish.nist_events import nist_event_log
from ledger.publish.nist_results import nist_results
from testkit.export_records import Exported, load, mixed, review

# -- election results (SP 1500-100) -----------------------------------------------------------


def test_results_report_counts_match_the_results(exported: Exported) -> None:
    records, _ = exported
    report = load(exported, "nist-1500-100-results.json")
    election = report["Election"][0]
    ids = ids_in(report)
    for ref in refs_in(report):
        assert ref in ids, f"{ref} points at nothing"
    devices = [g for g in report["GpUnit"] if g["@type"] == "ElectionResults.ReportingDevice"]
    assert [d["SerialNumber"] for d in devices] == [s["kiosk"] for s in records.sources]
    assert all("PartyId" not in c for c in election["Candidate"])
    assert len(election["Candidate"]) == len(records.package.options)
    contests = {c["@id"]: c for c in election["Contest"]}
    for result in records.results["contests"]:
        contest = contests[f"contest-{result['id']}"]
        names = [t["Content"] for t in contest["BallotTitle"]["Text"]]
        assert names == [result["title"]["ko"], result["title"]["en"]]
        selections = {s["@id"]: s for s in contest["ContestSelection"]}
        if result["kind"] == "yesno":
            assert contest["@type"] == "ElectionResults.BallotMeasureContest"
            for answer in ("yes", "no"):
                counts = selections[f"selection-{result['id']}-{answer}"]["VoteCounts"]
                assert total(counts) == result[answer]
                assert sum_by_device(counts) == 0  # the count is never split by source
            blank = [
                o["Undervotes"] for o in contest["OtherCounts"] if o["GpUnitId"] == "gpu-election"
            ]
            assert blank == [result["blank"]]
            continue
        assert contest["@type"] == "ElectionResults.CandidateContest"
        for o in result["options"]:
            counts = selections[f"selection-{result['id']}-{o['id']}"]["VoteCounts"]
            if result["kind"] == "choice":
                assert total(counts) == o["votes"]
                assert sum_by_device(counts) == 0
            else:
                assert contest["VoteVariation"] == "range"
                score_sum = sum(c["sum"] for c in o["by_category"].values())
                assert total(counts) == pytest.approx(score_sum)
                assert sum_by_device(counts) == 0
                for category, cell in o["by_category"].items():
                    if cell["mean"] is not None:
                        assert other(counts, f"mean:{category}") == cell["mean"]
    cast = next(b for b in election["BallotCounts"] if b["GpUnitId"] == "gpu-election")
    ballots = records.results["ballots"]
    assert cast["BallotsCast"] == ballots["counted"] + ballots["invalid"]
    assert cast["BallotsRejected"] == ballots["invalid"]


def test_results_report_names_the_winners() -> None:
    records = review()
    report = nist_results(records.package, records.results, records.sources)
    winners = {
        c["@id"].removeprefix("candidate-")
        for c in report["Election"][0]["Candidate"]
        if c["PostElectionStatus"] == "winner"
    }
    assert winners == {r["option"] for r in records.results["ranking"]["options"] if r["winner"]}


def total(counts: list[dict[str, Any]]) -> float:
    (found,) = [
        c["Count"] for c in counts if c["GpUnitId"] == "gpu-election" and c["Type"] == "total"
    ]
    return float(found)


def sum_by_device(counts: list[dict[str, Any]]) -> float:
    return float(sum(c["Count"] for c in counts if c["GpUnitId"].startswith("device-")))


def other(counts: list[dict[str, Any]], kind: str) -> float:
    (found,) = [c["Count"] for c in counts if c.get("OtherType") == kind]
    return float(found)


REF_KEYS = (
    "GpUnitId",
    "ElectionId",
    "ElectionScopeId",
    "ElectionDistrictId",
    "ContestId",
    "ContestSelectionId",
    "CreatingDeviceId",
    "CurrentSnapshotId",
)


def ids_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        own = {value["@id"]} if "@id" in value else set()
        return own.union(*(ids_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(ids_in(v) for v in value))
    return set()


def refs_in(value: Any) -> list[str]:
    """Every reference to another element (…Id, …Ids), which the schema does not check."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, v in value.items():
            if key in REF_KEYS:
                found.append(v)
            elif key.endswith("Ids") and isinstance(v, list):
                found += v
            else:
                found += refs_in(v)
    elif isinstance(value, list):
        for v in value:
            found += refs_in(v)
    return found


# -- event log (SP 1500-101) -------------------------------------------------------------------


def test_event_log_has_one_event_per_block_of_each_device(
    exported: Exported,
) -> None:
    records, paths = exported
    log = load(exported, "nist-1500-101-events.json")
    assert [d["Id"] for d in log["Device"]] == [s["kiosk"] for s in records.sources]
    for device in log["Device"]:
        blocks = records.chains[device["Id"]]
        events = device["Event"]
        assert len(events) == len(blocks)
        assert [e["Sequence"] for e in events] == [str(b.block.height) for b in blocks]
        assert [e["Hash"] for e in events] == [b.hash.hex() for b in blocks]
        assert [e["Type"] for e in events] == [b.block.kind.value for b in blocks]
        assert [e["TimeStamp"][:16] for e in events] == [b.block.time[:16] for b in blocks]
        for event in events:
            if event["Type"] in ("ballot", "test_ballot"):
                assert "Details" not in event
    text = paths["nist-1500-101-events.json"].read_text(encoding="utf-8")
    for blocks in records.chains.values():
        for b in blocks:
            if b.block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
                assert b.block.body["voter"] not in text
                assert b.block.body["card_sig"] not in text
                assert b.block.body["ballot"]["ballot_id"] not in text
    assert "voter" not in text and "card_sig" not in text


def test_event_log_tells_sessions_and_test_ballots_apart() -> None:
    records = mixed()
    log = nist_event_log(records.package, records.results, records.chains, records.sources)
    events = log["Device"][0]["Event"]
    kinds = Counter(e["Type"] for e in events)
    assert kinds["test_ballot"] == 2
    assert kinds["ballot"] == records.results["ballots"]["counted"]
    assert kinds["session_pause"] == kinds["session_resume"] == 1
    descriptions = [e["Description"] for e in events]
    assert "Session 2 paused" in descriptions and "Test ballot cast" in descriptions
    assert log["Device"][0]["Details"] == "대강당 키오스크 (kiosk)"
