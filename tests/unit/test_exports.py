"""The standard exports of the published records: the spreadsheet a clerk opens, and the NIST
results, cast vote record and event log documents, each checked against NIST's own schema."""

from __future__ import annotations

import base64
import copy
import csv
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kiosk.core.block import BlockKind, SignedBlock, body_bytes
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionPackage
from kiosk.core.tally import Tally
from ledger.publish.export_common import StandardExportError
from ledger.publish.nist_cvr import nist_cvr
from ledger.publish.nist_events import nist_event_log
from ledger.publish.nist_results import nist_results
from ledger.publish.standard_exports import write_exports
from testkit.chain_writer import ChainWriter
from testkit.elections import build_election, mixed_definition, random_ballot
from testkit.nist_schemas import CVR_SCHEMA, EVENTS_SCHEMA, RESULTS_SCHEMA, validate
from testkit.published_sample import sample_published


@dataclass(frozen=True)
class Records:
    """What the tally published, as ``write_exports`` takes it."""

    package: ElectionPackage
    results: dict[str, Any]
    ballots: tuple[dict[str, Any], ...]
    chains: dict[str, tuple[SignedBlock, ...]]

    @property
    def sources(self) -> list[dict[str, Any]]:
        sources: list[dict[str, Any]] = self.results["sources"]
        return sources


@cache
def review() -> Records:
    """The small closed review: two halls and an online platform, scores and likes."""
    p = sample_published()
    chains = {s.kiosk: s.blocks for s in p.sources}
    return Records(p.package, p.results, p.ballots, chains)


@cache
def mixed() -> Records:
    """One kiosk, every contest kind (a criteria-scored contest and a yes/no question), a
    paused session, test ballots, and one ballot that did not open."""
    election = build_election(
        mixed_definition(groups=2, per_group=3, election_id="exports-mixed"),
        seed="exports",
        experts_per_group=1,
        online_per_proposal=1,
    )
    package = election.package
    voters = [package.voter_for_card(e.card_key) for e in package.roll]
    rng = random.Random(7)
    key = SigningKey.generate()
    writer = ChainWriter(
        package, key, datetime(2026, 11, 22, 1, 0, tzinfo=UTC), timedelta(minutes=3)
    )
    writer.mode(Mode.TEST)
    writer.open_session()
    for voter in voters[:2]:
        assert voter is not None
        writer.cast(voter, random_ballot(package, voter, rng))
    writer.close_session()
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    for n, voter in enumerate(voters):
        assert voter is not None
        if n == len(voters) // 2:
            writer.append(BlockKind.SESSION_PAUSE, {"session": 2})
            writer.append(BlockKind.SESSION_RESUME, {"session": 2})
        writer.cast(voter, random_ballot(package, voter, rng))
    writer.close_session()
    kiosk = kiosk_id_for(key.public_key)
    opened = [
        election.ballot_key.open(body_bytes(b.block.body, "sealed"))
        for b in writer.blocks
        if b.block.kind is BlockKind.BALLOT
    ]
    random.Random(3).shuffle(opened)
    tally = Tally(package)
    records: list[dict[str, Any]] = []
    for n, raw in enumerate(opened):
        assert tally.add_plaintext(raw, n, kiosk)
        records.append({"n": n, "source": kiosk, "ballot": json.loads(raw)})
    garbage = b"not a ballot"
    assert not tally.add_plaintext(garbage, len(records), kiosk)
    records.append(
        {
            "n": len(records),
            "source": kiosk,
            "invalid": tally.invalid[0].reason,
            "plaintext": base64.b64encode(garbage).decode(),
        }
    )
    results = tally.results()
    source = {
        "kiosk": kiosk,
        "name": "대강당 키오스크",
        "channel": "kiosk",
        "ballots_counted": tally.valid,
        "contests": results["contests"],
    }
    results |= {"sources": [source], "tallied_at": "2026-11-22T09:30:12.345678+00:00"}
    return Records(package, results, tuple(records), {kiosk: tuple(writer.blocks)})


SCENARIOS = {"review": review, "mixed": mixed}


Exported = tuple[Records, dict[str, Path]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """Each scenario's exports, written once: the records and the files by name."""
    done = {}
    for name, build in SCENARIOS.items():
        records = build()
        # The ballots arrive as a one-pass stream, as when read line by line from ballots.jsonl.
        paths = write_exports(
            tmp_path_factory.mktemp(name),
            records.package,
            records.results,
            iter(records.ballots),
            records.chains,
            records.sources,
        )
        done[name] = (records, {p.name: p for p in paths})
    return done


@pytest.fixture(params=list(SCENARIOS))
def exported(request: pytest.FixtureRequest, written: dict[str, Exported]) -> Exported:
    return written[request.param]


def load(exported: Exported, name: str) -> Any:
    return json.loads(exported[1][name].read_text(encoding="utf-8"))


# -- the files -----------------------------------------------------------------------------


def test_all_four_files_are_written_and_complete(exported: Exported) -> None:
    _, paths = exported
    assert sorted(paths) == [
        "nist-1500-100-results.json",
        "nist-1500-101-events.json",
        "nist-1500-103-cvr.json",
        "results.csv",
    ]
    folder = next(iter(paths.values())).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(paths)  # no half-written files


# -- results.csv -----------------------------------------------------------------------------


def csv_rows(exported: Exported) -> list[dict[str, str]]:
    raw = exported[1]["results.csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8 Hangul
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def test_csv_has_the_counts_means_and_ranking_of_the_results(
    written: dict[str, Exported],
) -> None:
    records = review()
    rows = csv_rows(written["review"])
    contests = {c["id"]: c for c in records.results["contests"]}
    assert len(rows) == sum(len(c["options"]) for c in contests.values())
    by_key = {(r["contest"], r["option"]): r for r in rows}
    for o in contests["review"]["options"]:
        row = by_key["review", o["id"]]
        assert int(row["scores"]) == o["count"]
        for category, cell in o["by_category"].items():
            assert int(row[f"scores_{category}"]) == cell["count"]
            assert float(row[f"score_sum_{category}"]) == cell["sum"]
            mean = cell["mean"]
            assert row[f"mean_{category}"] == ("" if mean is None else str(mean))
    for o in contests["likes"]["options"]:
        assert int(by_key["likes", o["id"]]["votes"]) == o["votes"]
        assert int(by_key["likes", o["id"]]["votes_online"]) == o["by_category"]["online"]
    for rank in records.results["ranking"]["options"]:
        for contest in contests:
            row = by_key[contest, rank["option"]]
            assert int(row["rank"]) == rank["rank"]
            assert row["winner"] == ("TRUE" if rank["winner"] else "FALSE")
            assert row["won_by"] == (rank["won_by"] or "")
    winners = {r["option"] for r in rows if r["winner"] == "TRUE"}
    assert len(winners) == records.results["ranking"]["winners"] == 10


def test_csv_keeps_korean_and_english_titles(exported: Exported) -> None:
    records, _ = exported
    rows = csv_rows(exported)
    for row in rows:
        contest = next(c for c in records.package.contests if c.id == row["contest"])
        assert (row["contest_title_ko"], row["contest_title_en"]) == (
            contest.title.ko,
            contest.title.en,
        )
        option = records.package.option(row["option"])
        if option is not None:
            assert (row["option_title_ko"], row["option_title_en"]) == (
                option.title.ko,
                option.title.en,
            )
    assert any("조" in r["contest_title_ko"] for r in rows)  # Hangul, not mojibake


def test_csv_has_yes_no_and_blank_rows_and_criteria(written: dict[str, Exported]) -> None:
    records = mixed()
    rows = csv_rows(written["mixed"])
    rules = next(c for c in records.results["contests"] if c["id"] == "rules")
    answers = {r["option"]: r for r in rows if r["contest"] == "rules"}
    assert sorted(answers) == ["blank", "no", "yes"]
    assert [answers[a]["option_title_ko"] for a in ("yes", "no", "blank")] == [
        "찬성",
        "반대",
        "기권",
    ]
    for answer in ("yes", "no", "blank"):
        assert int(answers[answer]["votes"]) == rules[answer]
        assert int(answers[answer]["votes_resident"]) == rules["by_category"]["resident"][answer]
    assert sum(int(a["votes"]) for a in answers.values()) == rules["ballots"]
    criteria = next(c for c in records.results["contests"] if c["id"] == "expert-criteria")
    first = criteria["options"][0]
    row = next(r for r in rows if r["contest"] == "expert-criteria" and r["option"] == first["id"])
    assert int(row["criterion_sum_impact"]) == first["criteria"]["impact"]
    assert int(row["criterion_sum_feasibility"]) == first["criteria"]["feasibility"]


# -- the schemas -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("nist-1500-100-results.json", RESULTS_SCHEMA),
        ("nist-1500-103-cvr.json", CVR_SCHEMA),
        ("nist-1500-101-events.json", EVENTS_SCHEMA),
    ],
)
def test_each_nist_document_validates_against_its_schema(
    exported: Exported, name: str, schema: str
) -> None:
    validate(load(exported, name), schema)


def test_the_builders_give_the_documents_that_were_written(
    exported: Exported,
) -> None:
    records, _ = exported
    r = records
    assert nist_results(r.package, r.results, r.sources) == load(
        exported, "nist-1500-100-results.json"
    )
    assert nist_cvr(r.package, r.results, r.ballots, r.sources) == load(
        exported, "nist-1500-103-cvr.json"
    )
    assert nist_event_log(r.package, r.results, r.chains, r.sources) == load(
        exported, "nist-1500-101-events.json"
    )


@pytest.mark.parametrize(
    ("schema", "break_it"),
    [
        (RESULTS_SCHEMA, lambda d: d.pop("GeneratedDate")),
        (RESULTS_SCHEMA, lambda d: d["Election"][0]["Contest"][0].update(VotesAllowed="six")),
        (CVR_SCHEMA, lambda d: d["CVR"][0].update(Nullifier="x")),
        (CVR_SCHEMA, lambda d: d["CVR"][0]["CVRSnapshot"][0].update(Type="final")),
        (EVENTS_SCHEMA, lambda d: d["Device"][0]["Event"][0].update(Sequence=0)),
        (EVENTS_SCHEMA, lambda d: d["Device"][0]["Event"][0].pop("Disposition")),
    ],
)
def test_the_schema_check_catches_a_broken_document(
    schema: str, break_it: Callable[[dict[str, Any]], Any]
) -> None:
    r = review()
    build: Callable[[], dict[str, Any]] = {
        RESULTS_SCHEMA: lambda: nist_results(r.package, r.results, r.sources),
        CVR_SCHEMA: lambda: nist_cvr(r.package, r.results, r.ballots, r.sources),
        EVENTS_SCHEMA: lambda: nist_event_log(r.package, r.results, r.chains, r.sources),
    }[schema]
    document = copy.deepcopy(build())
    validate(document, schema)
    break_it(document)
    with pytest.raises(jsonschema.ValidationError):
        validate(document, schema)


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


# -- Hangul ------------------------------------------------------------------------------------


def test_hangul_titles_survive_in_every_nist_document(
    exported: Exported,
) -> None:
    records, paths = exported
    title = records.package.title.ko
    option = records.package.options[0].title.ko
    for name in ("nist-1500-100-results.json", "nist-1500-103-cvr.json"):
        text = paths[name].read_text(encoding="utf-8")
        assert title in text and option in text  # readable, not \\uXXXX escapes
    report = load(exported, "nist-1500-100-results.json")
    name = report["Election"][0]["Name"]["Text"]
    assert name[0] == {
        "@type": "ElectionResults.LanguageString",
        "Language": "ko",
        "Content": title,
    }
