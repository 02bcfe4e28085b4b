"""How many voters each count column holds: the numbers `ledger election create` warns about."""

from __future__ import annotations

import copy

from kiosk.core.column_sizes import column_sizes, small_columns
from kiosk.core.election import read_package
from testkit.elections import build_election, mixed_definition


def _sizes(min_column: int = 10) -> dict[str, int]:
    election = build_election(mixed_definition(), seed="columns", protocol=2, min_column=min_column)
    return {c.label(): c.voters for c in column_sizes(election.package)}


def test_a_column_holds_its_groups_voters_less_those_recused_from_the_option() -> None:
    sizes = _sizes()
    # 3 groups of 4 proposals: per group 4 residents (each recused from their own proposal),
    # 2 experts, and 9 online members per proposal (recused from it)
    assert sizes["review / p0001-01 / resident / kiosk"] == 3
    assert sizes["review / p0002-04 / expert / kiosk"] == 2
    assert sizes["expert-criteria / p0003-02 / impact / expert / kiosk"] == 2
    assert sizes["expert-criteria / p0003-02 / feasibility / expert / kiosk"] == 2
    assert sizes["likes / p0001-01 / online / online"] == 27
    assert sizes["rules / yes/no / resident / kiosk"] == 12


def test_every_column_of_every_contest_is_counted() -> None:
    sizes = _sizes()
    # review: 12 options x 2 categories; criteria: 12 x 2 criteria; likes: 12; rules: 1
    assert len(sizes) == 24 + 24 + 12 + 1


def test_small_columns_are_those_below_the_packages_floor() -> None:
    election = build_election(mixed_definition(), seed="columns", protocol=2, min_column=3)
    small = {c.label() for c in small_columns(election.package)}
    assert "review / p0002-04 / expert / kiosk" in small  # 2 experts
    assert "review / p0001-01 / resident / kiosk" not in small  # 3 residents: enough
    assert not any(label.startswith("likes") for label in small)


def test_a_contest_over_all_options_counts_the_whole_category() -> None:
    election = build_election(mixed_definition(), seed="columns", protocol=2)
    document = copy.deepcopy(election.package.to_json())
    document["contests"][1]["scope"] = "all"  # likes: every proposal of the election
    sizes = {c.label(): c.voters for c in column_sizes(read_package(document))}
    assert sizes["likes / p0001-01 / online / online"] == 3 * 36 - 9


def test_an_empty_column_is_not_reported_as_small() -> None:
    election = build_election(mixed_definition(), seed="columns", protocol=2, max_voters=4)
    labels = {c.label() for c in small_columns(election.package)}
    assert "review / p0001-02 / resident / kiosk" in labels  # 3 of the first 4 residents
    assert not any("p0002" in label for label in labels)  # group 2 has nobody yet
