"""v2 results from decrypted sums and shuffled score columns give the v1 tally's numbers on the
same plaintext ballots; dropped extremes with criteria follow v2's per-column rule; a score
cell out of range is listed, not counted."""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from typing import Any

import pytest

from kiosk.core.ballot import Ballot
from kiosk.core.election import Channel, ContestKind, ElectionPackage, RollEntry
from kiosk.core.encrypted_ballot import cell_values, layout
from kiosk.core.tally import count_plaintexts
from ledger.rules.count_input import AggregateKey, ColumnKey
from ledger.rules.v2_results import count_results
from testkit.elections import build_election, mixed_definition, random_ballot


def without_criteria_and_drop(definition: dict[str, Any], *, drop: bool) -> dict[str, Any]:
    """v1 and v2 agree unless a contest has criteria AND extremes are dropped: keep one."""
    d = copy.deepcopy(definition)
    d["tally"]["drop_extremes"] = drop
    if drop:
        d["contests"] = [c for c in d["contests"] if not c.get("criteria")]
    return d


def cast_all(
    package: ElectionPackage, rng: random.Random, turnout: float
) -> list[tuple[RollEntry, Ballot]]:
    out = []
    for e in package.roll:
        if rng.random() > turnout:
            continue
        voter = package.voter_for_card(e.keys[0])
        assert voter is not None
        out.append((e, random_ballot(package, voter, rng)))
    return out


def columnwise(
    package: ElectionPackage, cast: Sequence[tuple[RollEntry, Ballot]], rng: random.Random
) -> tuple[list[tuple[AggregateKey, int]], list[tuple[ColumnKey, list[int | None]]]]:
    """What the trustees would decrypt, without encrypting anything: per key, the sum of the
    cells' plaintext values (choice, yes/no) or the cells' values shuffled (score)."""
    sums: dict[AggregateKey, int] = {}
    columns: dict[ColumnKey, list[int | None]] = {}
    for entry, ballot in cast:
        channel = package.category(entry.category)
        assert channel is not None
        for contest in package.contests_for(entry.category):
            spots = layout(package, contest, entry.group, entry.excluded)
            values = cell_values(contest, spots, ballot.selections[contest.id])
            for spot, value in zip(spots, values, strict=True):
                ch = channel.channel.value
                if contest.kind is ContestKind.SCORE:
                    key = ColumnKey(contest.id, spot.option, spot.criterion, entry.category, ch)
                    columns.setdefault(key, []).append(value)
                else:
                    agg = AggregateKey(contest.id, spot.option, entry.category, ch)
                    sums[agg] = sums.get(agg, 0) + value
    for column in columns.values():
        rng.shuffle(column)  # the trustees' shuffles: the results must not depend on the order
    return list(sums.items()), list(columns.items())


def by_category(cast: Sequence[tuple[RollEntry, Ballot]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e, _ in cast:
        out[e.category] = out.get(e.category, 0) + 1
    return out


@pytest.mark.parametrize(
    ("seed", "drop", "method", "turnout"),
    [
        (1, True, "quota", 1.0),
        (2, False, "quota", 0.8),
        (3, True, "weighted_sum", 0.6),
        (4, False, "weighted_sum", 1.0),
        (5, True, "quota", 0.3),
        (6, False, "quota", 0.1),
    ],
)
def test_results_equal_v1_on_the_same_plaintexts(
    seed: int, drop: bool, method: str, turnout: float
) -> None:
    d = without_criteria_and_drop(mixed_definition(groups=3, per_group=5), drop=drop)
    d["tally"]["method"] = method
    d["tally"]["channels"] = {
        "kiosk": {"weight": 0.7, "winners": 4},
        "online": {"weight": 0.3, "winners": 3},
    }
    package = build_election(d, protocol=2, seed=f"results-{seed}", online_per_proposal=2).package
    rng = random.Random(seed)
    cast = cast_all(package, rng, turnout)
    v1 = count_plaintexts(package, [b.plaintext() for _, b in cast])
    sums, columns = columnwise(package, cast, rng)
    v2 = count_results(package, by_category(cast), sums, columns)
    assert v2.pop("invalid_cells") == []
    assert v2 == v1


def test_ties_are_marked_as_v1_marks_them() -> None:
    """Every voter gives every option the same score: all tie, decided by the lowest id."""
    d = without_criteria_and_drop(mixed_definition(groups=2, per_group=3), drop=True)
    package = build_election(d, protocol=2, seed="ties", online_per_proposal=1).package
    cast = []
    for e in package.roll:
        voter = package.voter_for_card(e.keys[0])
        assert voter is not None
        ballot = random_ballot(package, voter, random.Random(0))
        selections = dict(ballot.selections)
        for contest in package.contests_for(e.category):
            if contest.kind is ContestKind.SCORE:
                options = package.eligible_options(contest, e.group, e.excluded)
                selections[contest.id] = {o.id: 7 for o in options}
            elif contest.kind is ContestKind.CHOICE:
                selections[contest.id] = ()
        cast.append((e, Ballot(ballot.election, ballot.category, ballot.group, selections)))
    sums, columns = columnwise(package, cast, random.Random(1))
    v2 = count_results(package, by_category(cast), sums, columns)
    v1 = count_plaintexts(package, [b.plaintext() for _, b in cast])
    rows = v2["ranking"]["options"]
    assert all(r["tied"] for r in rows)
    assert [r["option"] for r in rows] == sorted(r["option"] for r in rows)
    assert v2["ranking"] == v1["ranking"]


def test_dropped_extremes_with_criteria_are_dropped_per_criterion_column() -> None:
    """Four experts score one proposal on impact (weight 0.6) and feasibility (0.4), 0..5:
    (5,0), (1,2), (3,2), (4,5). v2 trims each column: impact keeps 3 and 4 (3.5), feasibility
    keeps 2 and 2 (2.0), so the mean is 0.6·3.5 + 0.4·2 = 2.9. (v1 dropped the voters with the
    highest and lowest weighted totals, 4.4 and 1.4, for 2.8: no longer computable once the
    columns are shuffled apart.)"""
    d = mixed_definition(groups=1, per_group=4)
    assert d["tally"]["drop_extremes"]
    package = build_election(d, protocol=2, seed="per-column", online_per_proposal=1).package
    option = package.options[0].id
    rows = [(5, 0), (1, 2), (3, 2), (4, 5)]
    impact = [ColumnKey("expert-criteria", option, "impact", "expert", Channel.KIOSK.value)]
    feasibility = [ColumnKey("expert-criteria", option, "feasibility", "expert", "kiosk")]
    columns: list[tuple[ColumnKey, list[int | None]]] = [
        (impact[0], [a + 1 for a, _ in rows]),  # a cell holds score − min + 1
        (feasibility[0], [f + 1 for _, f in rows]),
    ]
    v2 = count_results(package, {"expert": 4}, [], columns)
    contest = next(c for c in v2["contests"] if c["id"] == "expert-criteria")
    result = next(o for o in contest["options"] if o["id"] == option)["by_category"]["expert"]
    assert result["mean"] == 2.9
    assert result["count"] == 4
    assert result["dropped"] == {
        "by_criterion": {"impact": {"high": 5, "low": 1}, "feasibility": {"high": 5, "low": 0}}
    }


def test_a_score_cell_out_of_range_is_listed_and_not_counted() -> None:
    d = without_criteria_and_drop(mixed_definition(groups=1, per_group=3), drop=False)
    package = build_election(d, protocol=2, seed="range", online_per_proposal=1).package
    option = package.options[0].id
    key = ColumnKey("review", option, None, "resident", "kiosk")
    v2 = count_results(package, {"resident": 3}, [], [(key, [10, 0, 11, None])])
    review = next(c for c in v2["contests"] if c["id"] == "review")
    scored = next(o for o in review["options"] if o["id"] == option)
    assert scored["count"] == 1 and scored["sum"] == 10  # 10 is score 10; 0 is "not scored"
    assert [(c["value"], c["option"]) for c in v2["invalid_cells"]] == [
        (11, option),
        (None, option),
    ]
