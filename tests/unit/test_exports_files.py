"""The standard exports as files: all three written and complete, the spreadsheet a clerk opens,
each NIST document valid under NIST's own schema, and Hangul titles kept."""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kiosk.core.election import read_package
from ledger.publish.nist_events import nist_event_log
from ledger.publish.nist_results import nist_results
from ledger.publish.results_csv import write_results_csv
from testkit.elections import MARKUP_LIKE_TITLES
from testkit.export_records import Exported, load, mixed, review
from testkit.nist_schemas import EVENTS_SCHEMA, RESULTS_SCHEMA, validate

# -- the files -----------------------------------------------------------------------------


def test_all_three_files_are_written_and_complete(exported: Exported) -> None:
    _, paths = exported
    assert sorted(paths) == [
        "nist-1500-100-results.json",
        "nist-1500-101-events.json",
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
    assert nist_event_log(r.package, r.results, r.chains, r.sources) == load(
        exported, "nist-1500-101-events.json"
    )


@pytest.mark.parametrize(
    ("schema", "break_it"),
    [
        (RESULTS_SCHEMA, lambda d: d.pop("GeneratedDate")),
        (RESULTS_SCHEMA, lambda d: d["Election"][0]["Contest"][0].update(VotesAllowed="six")),
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
        EVENTS_SCHEMA: lambda: nist_event_log(r.package, r.results, r.chains, r.sources),
    }[schema]
    document = copy.deepcopy(build())
    validate(document, schema)
    break_it(document)
    with pytest.raises(jsonschema.ValidationError):
        validate(document, schema)


# -- Hangul ------------------------------------------------------------------------------------


def test_hangul_titles_survive_in_every_nist_document(
    exported: Exported,
) -> None:
    records, paths = exported
    title = records.package.title.ko
    option = records.package.options[0].title.ko
    for name in ("nist-1500-100-results.json",):
        text = paths[name].read_text(encoding="utf-8")
        assert title in text and option in text  # readable, not \\uXXXX escapes
    report = load(exported, "nist-1500-100-results.json")
    name = report["Election"][0]["Name"]["Text"]
    assert name[0] == {
        "@type": "ElectionResults.LanguageString",
        "Language": "ko",
        "Content": title,
    }


def test_csv_defuses_formula_like_text_and_keeps_numbers(tmp_path: Path) -> None:
    """A title a spreadsheet would run (= + - @, tab, CR first) gets an apostrophe in front, as
    OWASP advises; a number is never touched, even a negative one."""
    records = review()
    document = copy.deepcopy(records.package.to_json())
    titles = (*MARKUP_LIKE_TITLES, "-2+3", "\tx", "\rx", "'quoted")
    for option, title in zip(document["options"], titles, strict=False):
        option["title"] = {"ko": title, "en": title}
    package = read_package(document)
    results: dict[str, Any] = copy.deepcopy(records.results)
    likes = next(c for c in results["contests"] if c["id"] == "likes")
    likes["options"][0]["votes"] = -1  # not a real count: shows numbers are left alone
    out = tmp_path / "results.csv"
    with out.open("w", encoding="utf-8-sig", newline="") as f:
        write_results_csv(f, package, results)
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    by_option = {(r["contest"], r["option"]): r for r in rows}
    expected = {
        '=HYPERLINK("http://x")': '\'=HYPERLINK("http://x")',
        "+1": "'+1",
        "@SUM(A1)": "'@SUM(A1)",
        "-2+3": "'-2+3",
        "\tx": "'\tx",
        "\rx": "'\rx",
        "$\\frac{x$": "$\\frac{x$",
        "<script>alert(1)</script>": "<script>alert(1)</script>",
        "'quoted": "'quoted",
    }
    for option, title in zip(document["options"], titles, strict=False):
        for contest in ("review", "likes"):
            row = by_option[contest, option["id"]]
            assert row["option_title_ko"] == row["option_title_en"] == expected[title]
    assert by_option["likes", likes["options"][0]["id"]]["votes"] == "-1"
