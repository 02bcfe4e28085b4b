"""The NIST results, cast vote record and event log documents tell the same counts, ballots
and blocks as the published records."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import pytest

from kiosk.core.block import BlockKind
from ledger.publish.export_common import StandardExportError
from ledger.publish.nist_cvr import nist_cvr
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
                assert sum_by_device(counts) == result[answer]
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
                assert sum_by_device(counts) == o["votes"]
            else:
                assert contest["VoteVariation"] == "range"
                score_sum = sum(c["sum"] for c in o["by_category"].values())
                assert total(counts) == pytest.approx(score_sum)
                assert sum_by_device(counts) == pytest.approx(score_sum)
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


# -- cast vote records (SP 1500-103) -----------------------------------------------------------


def test_one_anonymous_cvr_per_published_ballot(exported: Exported) -> None:
    records, paths = exported
    report = load(exported, "nist-1500-103-cvr.json")
    cvrs = report["CVR"]
    assert len(cvrs) == len(records.ballots)
    valid = [c for c in cvrs if "Status" not in c["CVRSnapshot"][0]]
    assert len(valid) == records.results["ballots"]["counted"]
    assert [c["UniqueId"] for c in cvrs] == [str(b["n"]) for b in records.ballots]  # same order
    assert [c["CreatingDeviceId"] for c in cvrs] == [
        f"device-{b['source']}" for b in records.ballots
    ]
    ids = ids_in(report)
    for ref in refs_in(report):
        assert ref in ids, f"{ref} points at nothing"
    # Nothing from the chain that could tie a record to a voter or a moment is in the file.
    text = paths["nist-1500-103-cvr.json"].read_text(encoding="utf-8")
    for blocks in records.chains.values():
        for b in blocks:
            if b.block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
                assert b.block.body["nullifier"] not in text
                assert b.block.body["sealed"][:40] not in text
                assert b.hash.hex() not in text
                assert b.block.time not in text
    for word in ("nullifier", "sealed", "TimeStamp", "BallotAuditId"):
        assert word not in text


def test_invalid_ballots_are_marked_with_their_reason() -> None:
    records = mixed()
    cvrs = nist_cvr(records.package, records.results, records.ballots, records.sources)["CVR"]
    invalid = [c for c in cvrs if c["CVRSnapshot"][0].get("Status") == ["other"]]
    assert len(invalid) == records.results["ballots"]["invalid"] == 1
    snapshot = invalid[0]["CVRSnapshot"][0]
    assert snapshot["OtherStatus"] == "invalid"
    assert "CVRContest" not in snapshot
    message = snapshot["Annotation"][0]["Message"]
    assert message[0] == f"invalid: {records.results['invalid'][0]['reason']}"
    assert base64.b64encode(b"not a ballot").decode() in message[1]


def test_counting_the_cvrs_gives_the_published_results(
    exported: Exported,
) -> None:
    records, _ = exported
    report = load(exported, "nist-1500-103-cvr.json")
    marks: Counter[str] = Counter()
    blanks: Counter[str] = Counter()
    for cvr in report["CVR"]:
        for contest in cvr["CVRSnapshot"][0].get("CVRContest", []):
            if contest.get("Status") == ["not-indicated"]:
                blanks[contest["ContestId"]] += 1
            for mark in contest["CVRContestSelection"]:
                positions = mark["SelectionPosition"]
                if len(positions) == 1:
                    marks[mark["ContestSelectionId"]] += positions[0]["NumberVotes"]
    for result in records.results["contests"]:
        cid = result["id"]
        if result["kind"] == "yesno":
            assert marks[f"selection-{cid}-yes"] == result["yes"]
            assert marks[f"selection-{cid}-no"] == result["no"]
            assert blanks[f"contest-{cid}"] == result["blank"]
        elif result["kind"] == "choice":
            for o in result["options"]:
                assert marks[f"selection-{cid}-{o['id']}"] == o["votes"]
        elif "criteria" not in result["options"][0]:
            for o in result["options"]:
                score_sum = sum(c["sum"] for c in o["by_category"].values())
                assert marks[f"selection-{cid}-{o['id']}"] == score_sum


def test_criterion_scores_are_one_position_each() -> None:
    records = mixed()
    cvrs = nist_cvr(records.package, records.results, records.ballots, records.sources)["CVR"]
    record = next(b for b in records.ballots if b.get("ballot", {}).get("category") == "expert")
    ballot = record["ballot"]
    (contest,) = [
        c
        for c in cvrs[record["n"]]["CVRSnapshot"][0]["CVRContest"]
        if c["ContestId"] == "contest-expert-criteria"
    ]
    assert len(contest["CVRContestSelection"]) == len(ballot["contests"]["expert-criteria"])
    for mark in contest["CVRContestSelection"]:
        option = mark["ContestSelectionId"].removeprefix("selection-expert-criteria-")
        given = {p["Code"][0]["Value"]: p["NumberVotes"] for p in mark["SelectionPosition"]}
        assert given == ballot["contests"]["expert-criteria"][option]


def test_a_ballot_from_an_unlisted_source_is_refused() -> None:
    records = review()
    stray = dict(records.ballots[0]) | {"source": "f" * 32}
    with pytest.raises(StandardExportError, match="not a listed source"):
        nist_cvr(records.package, records.results, [stray], records.sources)


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
                assert b.block.body["nullifier"] not in text
                assert b.block.body["sealed"][:40] not in text
    assert "nullifier" not in text and "sealed" not in text


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
