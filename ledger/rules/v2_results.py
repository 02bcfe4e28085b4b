"""Results of a protocol v2 count from what the trustees decrypted: the choice and yes/no sums
and the shuffled score columns (verifiable-election.md, "The count", step 6). Pure.

The numbers are the plaintext tally's (kiosk/core/tally.py, protocol 1's count, kept for the
kiosk's test tally and the tests' recounts): the decrypted values are put into the same
``Tally`` counters that opened ballots fill, and the same code computes the means,
dropped extremes, weights, quota or weighted ranking and ties. What the columns cannot give
is a voter's whole ballot, and that changes one rule:

**Dropped extremes with criteria, per criterion column.** The plaintext tally drops, per option and
category, the voters with the highest and the lowest criteria-weighted total. In v2 every
(option, criterion) column is shuffled on its own, on purpose (a voter's row of scores would
identify them), so no one can know which criterion scores belong to the same voter. v2 drops
the highest and the lowest score of each criterion column (with at least three scores in it)
and takes the criteria-weighted mean of the criteria's trimmed means. Without criteria, or
without dropped extremes, the numbers are exactly the plaintext tally's; with honest ballots the
weighted mean of per-criterion means equals its mean of weighted totals.

A score cell that decrypts outside 0..(max − min + 1) (a cheating kiosk: score cells carry
no range proof) is not counted and is listed in ``invalid_cells``; nobody can tell which ballot
it came from, which is the point of the shuffle. Every counted ballot was checked before it
was counted (``selection.json``), so ``ballots.invalid`` is 0 and ``invalid`` is empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from kiosk.core.election import Contest, ContestKind, ElectionPackage
from kiosk.core.encrypted_ballot import score_of
from kiosk.core.errors import BallotError, VerificationError
from kiosk.core.tally import (
    Tally,
    _criteria_weight,
    _exact,
    _Means,
    _ScoreCell,
    _weighted,
    round_result,
)
from ledger.rules.count_input import AggregateKey, ColumnKey

# per (contest, option, category): criterion ("" without criteria) -> the column's scores
_Scores = dict[tuple[str, str, str], dict[str, list[int]]]


class ResultsError(VerificationError):
    """Decrypted values that cannot be the count of the tally input."""


class _DecryptedTally(Tally):
    """A ``Tally`` filled from decrypted sums and columns instead of opened ballots."""

    def __init__(self, package: ElectionPackage, columns: _Scores) -> None:
        super().__init__(package)
        self.columns = columns

    def _score_option(self, contest: Contest, option: str, means: _Means) -> dict[str, Any]:
        if not contest.criteria:
            return super()._score_option(contest, option, means)
        return _criteria_option(self, contest, option, means)


def _criteria_option(
    tally: _DecryptedTally, contest: Contest, option: str, means: _Means
) -> dict[str, Any]:
    """A criteria-scored option, every criterion column on its own (the module's rule)."""
    drop = tally.package.tally.drop_extremes
    weight = _criteria_weight(contest)
    by_category: dict[str, Any] = {}
    total_sums: Counter[str] = Counter()
    for cat in contest.categories:
        column = tally.columns.get((contest.id, option, cat), {})
        sums = {c.id: sum(column.get(c.id, [])) for c in contest.criteria}
        counts = {c.id: len(column.get(c.id, [])) for c in contest.criteria}
        total_sums.update(sums)
        entry: dict[str, Any] = {
            "count": max(counts.values(), default=0),
            "sum": round_result(_weighted(contest, sums) / weight),
        }
        kept: dict[str, Fraction] = {}
        dropped: dict[str, Any] = {}
        for c in contest.criteria:
            scores = column.get(c.id, [])
            if not scores:
                continue
            if drop and len(scores) >= 3:
                high, low = max(scores), min(scores)
                kept[c.id] = Fraction(sum(scores) - high - low, len(scores) - 2)
                dropped[c.id] = {"high": high, "low": low}
            else:
                kept[c.id] = Fraction(sum(scores), len(scores))
        if dropped:
            entry["dropped"] = {"by_criterion": dropped}
        scored = [c for c in contest.criteria if c.id in kept]
        mean = None
        if scored:
            w = sum((_exact(c.weight) for c in scored), Fraction(0))
            mean = sum((_exact(c.weight) * kept[c.id] for c in scored), Fraction(0)) / w
        means[contest.id, option, cat] = mean
        entry["mean"] = None if mean is None else round_result(mean)
        by_category[cat] = entry
    return {
        "id": option,
        "count": sum(e["count"] for e in by_category.values()),
        "sum": round_result(_weighted(contest, total_sums) / weight),
        "by_category": by_category,
        "criteria": {c.id: total_sums[c.id] for c in contest.criteria},
    }


def count_results(
    package: ElectionPackage,
    by_category: Mapping[str, int],
    sums: Sequence[tuple[AggregateKey, int]],
    columns: Sequence[tuple[ColumnKey, Sequence[int | None]]],
) -> dict[str, Any]:
    """The results document (the plaintext tally's shape, plus ``invalid_cells``) from the
    number of counted ballots per category, each aggregate's decrypted sum and each column's
    decrypted cells (None: a cell that decrypts to no small number at all)."""
    contests: dict[str, Contest] = {c.id: c for c in package.contests}
    scores: _Scores = {}
    invalid_cells: list[dict[str, Any]] = []
    for key, values in columns:
        contest = _contest(contests, key.contest, ContestKind.SCORE)
        place = scores.setdefault((key.contest, key.option, key.category), {})
        column = place.setdefault(key.criterion or "", [])
        for value in values:
            if value is None:
                invalid_cells.append(_invalid(key, None, "decrypts to no value a score can be"))
                continue
            try:
                score = score_of(contest, value)
            except BallotError as e:
                invalid_cells.append(_invalid(key, value, str(e)))
                continue
            if score is not None:
                column.append(score)
    tally = _DecryptedTally(package, scores)
    tally.valid = sum(by_category.values())
    tally.by_category.update(by_category)
    for category, n in by_category.items():
        for contest in package.contests_for(category):
            tally.answered[contest.id, category] += n
    for agg, total in sums:
        contest = _contest(contests, agg.contest, None)
        if contest.kind is ContestKind.CHOICE:
            tally.votes[agg.contest, agg.option, agg.category] += total
        elif contest.kind is ContestKind.YESNO:
            tally.answers[agg.contest, agg.option, agg.category] += total
        else:
            raise ResultsError(f"contest {agg.contest} is scored: it has columns, not sums")
    for (contest_id, option, category), place in scores.items():
        if not contests[contest_id].criteria:
            tally.scores[contest_id, option, category] = _cell(place.get("", []))
    out = tally.results()
    out["invalid_cells"] = invalid_cells
    return out


def _cell(scores: Sequence[int]) -> _ScoreCell:
    """The plaintext tally's per (option, category) cell from one column's scores: the count,
    the sum and the extremes are all it keeps of the individual scores."""
    cell = _ScoreCell()
    for s in scores:
        cell.add({"": s}, Fraction(s))
    return cell


def _contest(contests: Mapping[str, Contest], contest_id: str, kind: ContestKind | None) -> Contest:
    contest = contests.get(contest_id)
    if contest is None or (kind is not None and contest.kind is not kind):
        raise ResultsError(f"the tally input names contest {contest_id!r}, not one of this kind")
    return contest


def _invalid(key: ColumnKey, value: int | None, reason: str) -> dict[str, Any]:
    return {
        "contest": key.contest,
        "option": key.option,
        "criterion": key.criterion,
        "category": key.category,
        "channel": key.channel,
        "value": value,
        "reason": reason,
    }
