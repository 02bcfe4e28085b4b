"""The count rounds once: every published mean, sum and measure equals an independent recount
in exact fractions, rounded half up to 6 places only at the end (issue 21).

Before, ranking measures were worked out from means already rounded to 6 places and the CSV's
``score_sum`` added rounded per-category sums, so an independent exact recount published other
digits (0.515411 where 15017/29136 is 0.515410; 81.428572 for 570/7).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest

from kiosk.core.ballot import Ballot
from kiosk.core.election import ContestKind, ElectionPackage
from kiosk.core.tally import count_plaintexts, round_result
from ledger.publish.results_csv import write_results_csv
from testkit.elections import build_election, mixed_definition, random_ballot


def half_up(value: Fraction) -> float:
    """What the results must say: the exact value rounded half up to 6 places."""
    with localcontext() as ctx:
        ctx.prec = 80
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return float(exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


def decimal(weight: float) -> Fraction:
    return Fraction(str(weight))


def election(method: str, seed: str) -> tuple[ElectionPackage, list[Ballot]]:
    d = mixed_definition(groups=3, per_group=6, election_id=f"exact-{method}")
    weights = {"resident": 0.7, "expert": 0.3, "online": 1.0}
    for category in d["categories"]:
        category["weight"] = weights[category["id"]]
    criteria = d["contests"][2]
    criteria["criteria"][0]["weight"] = 0.35  # impact 0.35, feasibility 0.4: fifteenths
    criteria["categories"] = ["resident", "expert"]  # two categories' sums to add up
    d["tally"] |= {
        "method": method,
        "channels": {
            "kiosk": {"weight": 0.3, "winners": 6},
            "online": {"weight": 0.7, "winners": 4},
        },
        "drop_extremes": True,
    }
    built = build_election(d, seed=seed, experts_per_group=5, online_per_proposal=2)
    rng = random.Random(seed)
    package = built.package
    ballots = []
    for card in built.voter_keys:
        voter = package.voter_for_card(card.public_key)
        assert voter is not None
        ballots.append(random_ballot(package, voter, rng))
    return package, ballots


class Recount:
    """The count worked out again from the ballots, in fractions, with nothing rounded."""

    def __init__(self, package: ElectionPackage, ballots: Sequence[Ballot]) -> None:
        self.package = package
        self.scores: dict[tuple[str, str, str], list[Fraction]] = {}
        self.votes: dict[tuple[str, str, str], int] = {}
        for b in ballots:
            for contest_id, selection in b.selections.items():
                contest = next(c for c in package.contests if c.id == contest_id)
                if contest.kind is ContestKind.SCORE:
                    assert isinstance(selection, Mapping)
                    for option, given in selection.items():
                        key = (contest_id, option, b.category)
                        self.scores.setdefault(key, []).append(self.voter_score(contest, given))
                elif contest.kind is ContestKind.CHOICE:
                    assert isinstance(selection, tuple)
                    for option in selection:
                        key = (contest_id, option, b.category)
                        self.votes[key] = self.votes.get(key, 0) + 1

    @staticmethod
    def voter_score(contest: Any, given: Any) -> Fraction:
        if not contest.criteria:
            return Fraction(given)
        weights = {c.id: decimal(c.weight) for c in contest.criteria}
        return sum((weights[k] * v for k, v in given.items()), Fraction(0)) / sum(
            weights.values(), Fraction(0)
        )

    def cell(self, contest: str, option: str, category: str) -> tuple[Fraction, Fraction | None]:
        given = sorted(self.scores.get((contest, option, category), []))
        total = sum(given, Fraction(0))
        kept = given[1:-1] if self.package.tally.drop_extremes and len(given) >= 3 else given
        return total, (sum(kept, Fraction(0)) / len(kept) if kept else None)

    def channel_measures(self) -> dict[str, dict[str, Fraction]]:
        channel_of = {c.id: c.channel.value for c in self.package.categories}
        weight_of = {c.id: decimal(c.weight) for c in self.package.categories}
        options = [o.id for o in self.package.options]
        out: dict[str, dict[str, Fraction]] = {}
        for channel in ("kiosk", "online"):
            per_contest = []
            for contest in self.package.contests:
                cats = [c for c in contest.categories if channel_of[c] == channel]
                if not cats or contest.kind is ContestKind.YESNO:
                    continue
                raw = {}
                for o in options:
                    if contest.kind is ContestKind.CHOICE:
                        raw[o] = sum(
                            (weight_of[c] * self.votes.get((contest.id, o, c), 0) for c in cats),
                            Fraction(0),
                        )
                        continue
                    means = [(weight_of[c], self.cell(contest.id, o, c)[1]) for c in cats]
                    scored = [(w, m) for w, m in means if m is not None]
                    raw[o] = (
                        sum((w * m for w, m in scored), Fraction(0)) / sum(w for w, _ in scored)
                        if scored
                        else Fraction(0)
                    )
                best = max(raw.values())
                per_contest.append({o: v / best if best else Fraction(0) for o, v in raw.items()})
            if per_contest:
                out[channel] = {
                    o: sum((m[o] for m in per_contest), Fraction(0)) / len(per_contest)
                    for o in options
                }
        return out


@pytest.mark.parametrize("seed", ["one", "two", "three"])
def test_every_mean_and_sum_is_the_exact_value_rounded_once(seed: str) -> None:
    package, ballots = election("quota", seed)
    results = count_plaintexts(package, [b.plaintext() for b in ballots])
    recount = Recount(package, ballots)
    checked = 0
    for contest in results["contests"]:
        if contest["kind"] != "score":
            continue
        for option in contest["options"]:
            total = Fraction(0)
            for category, cell in option["by_category"].items():
                exact_sum, exact_mean = recount.cell(contest["id"], option["id"], category)
                total += exact_sum
                assert cell["sum"] == half_up(exact_sum)
                assert cell["mean"] == (None if exact_mean is None else half_up(exact_mean))
                checked += exact_mean is not None
            assert option["sum"] == half_up(total), (contest["id"], option["id"])
    assert checked > 50


@pytest.mark.parametrize("method", ["quota", "weighted_sum"])
def test_the_ranking_uses_exact_measures_and_rounds_them_once(method: str) -> None:
    package, ballots = election(method, method)
    results = count_plaintexts(package, [b.plaintext() for b in ballots])
    measures = Recount(package, ballots).channel_measures()
    rows = results["ranking"]["options"]
    for row in rows:
        assert row["channels"] == {ch: half_up(m[row["option"]]) for ch, m in measures.items()}
    if method == "weighted_sum":
        weights = {"kiosk": Fraction(3, 10), "online": Fraction(7, 10)}
        exact = {
            o.id: sum((weights[ch] * m[o.id] for ch, m in measures.items()), Fraction(0))
            for o in package.options
        }
        assert [r["option"] for r in rows] == sorted(exact, key=lambda o: (-exact[o], o))
        assert [r["result"] for r in rows] == [half_up(exact[r["option"]]) for r in rows]
        # a tie is an exact tie, never two results that only round alike
        values = [exact[r["option"]] for r in rows]
        neighbours = [values[i - 1 : i] + values[i + 1 : i + 2] for i in range(len(values))]
        assert [r["tied"] for r in rows] == [
            v in n for v, n in zip(values, neighbours, strict=True)
        ]


def test_rounding_is_half_up_on_the_exact_value() -> None:
    # the one rounding, on the cases where rounding twice or to even would differ
    assert round_result(Fraction(15017, 29136)) == 0.51541  # 0.5154104...; not 0.515411
    assert round_result(Fraction(570, 7)) == 81.428571  # 81.4285714...; not 81.428572
    assert round_result(Fraction(1, 2_000_000)) == 0.000001  # exactly half: up
    assert round_result(Fraction(5, 2_000_000)) == 0.000003  # half to even would give 0.000002


def test_the_csv_score_sum_is_the_exact_total_rounded_once() -> None:
    package, ballots = election("quota", "csv")
    results = count_plaintexts(package, [b.plaintext() for b in ballots])
    recount = Recount(package, ballots)
    out = io.StringIO()
    write_results_csv(out, package, results)
    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["kind"] == "score"]
    assert rows
    for row in rows:
        cats = next(c for c in package.contests if c.id == row["contest"]).categories
        exact = sum((recount.cell(row["contest"], row["option"], c)[0] for c in cats), Fraction(0))
        assert float(row["score_sum"]) == half_up(exact), row
