"""Counting opened ballots under the package's contest and tally rules.

The same code counts the test tally that staff run on a kiosk in test mode, and a test's
independent recount of the plaintexts it kept (the official count works on encrypted sums and
shuffled score columns: ledger/rules/v2_results.py, which shares this module's ranking). It is
pure: opened ballots in, a results document out.

Every ballot is checked against the contest rules before it counts. One that fails (not the
canonical form, another election, an unknown category or group, a rule broken) is counted as
*invalid* and listed with its reason; nothing is dropped silently.

Counting is exact and does not depend on the order of the ballots: scores are summed as whole
numbers per criterion, so a recount in another order or split across processes
(``Tally.merge``) gives the same document. Every mean, measure and weighted result is computed
in exact fractions (weights are read as the decimals the package states) and rounded once, to
``DECIMALS`` places, half up, only where it is written into the results; the ranking and its
ties use the exact values.

The ranking of proposals follows the package's tally rules:

- Within a channel, a *score* contest measures an option by the category-weighted mean of its
  per-category mean scores (optionally after dropping each category's highest and lowest score
  for the option, when it has at least three), and a *choice* contest by its category-weighted
  votes. A channel's measure is the mean, over the contests voted in that channel, of each
  contest's measure divided by that contest's best measure (so the top option scores 1.0).
- ``weighted_sum``: an option's result is the sum over channels of weight x channel measure;
  the number of winners is the sum of the channels' ``winners``.
- ``quota``: each channel in turn (kiosk, then online) picks its ``winners`` best options that
  earlier channels have not picked and that received at least one vote or score there.
- Ties are broken by the published rule: the lower option id ranks first. Ties are marked in the
  output so that anyone can see where the rule decided.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kiosk.core.ballot import Ballot, Selection, ballot_from_plaintext, check_contests
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.election import (
    TIE_BREAK,
    Channel,
    Contest,
    ContestId,
    ContestKind,
    ElectionPackage,
    TallyMethod,
)
from kiosk.core.encrypted_ballot import (
    EncryptedBallot,
    plaintext_ballot,
    read_encrypted_ballot,
    selection_from_values,
)
from kiosk.core.errors import BallotError, VerificationError
from kiosk.core.verifiable.dlog import discrete_log
from kiosk.core.verifiable.elgamal import decrypt_to_point

DECIMALS = 6  # means and measures are rounded to this many places, once, in the results

# Exact means by (contest, option, category), kept beside the rounded results document.
_Means = dict[tuple[str, str, str], Fraction | None]


@dataclass(slots=True)
class _ScoreCell:
    """One option's scores from one category: whole-number sums per criterion, extremes."""

    count: int = 0
    sums: Counter[str] = field(default_factory=Counter)  # criterion ("" without) -> sum
    low: Fraction | None = None
    high: Fraction | None = None

    def add(self, per_criterion: Mapping[str, int], value: Fraction) -> None:
        self.count += 1
        self.sums.update(per_criterion)
        self.low = value if self.low is None else min(self.low, value)
        self.high = value if self.high is None else max(self.high, value)

    def merge(self, other: _ScoreCell) -> None:
        self.count += other.count
        self.sums.update(other.sums)
        for extreme in (other.low, other.high):
            if extreme is not None:
                self.low = extreme if self.low is None else min(self.low, extreme)
                self.high = extreme if self.high is None else max(self.high, extreme)


@dataclass(slots=True)
class InvalidBallot:
    position: int  # where the ballot stands in the counted (shuffled) order
    reason: str
    contest: str | None = None
    source: str | None = None  # e.g. "kiosk-id@height", when the caller knows it

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "reason": self.reason,
            "contest": self.contest,
            "source": self.source,
        }


class Tally:
    """Accumulates opened ballots; ``merge`` combines tallies counted in parallel."""

    def __init__(self, package: ElectionPackage) -> None:
        self.package = package
        self.valid = 0
        self.invalid: list[InvalidBallot] = []
        self.by_category: Counter[str] = Counter()
        # choice: (contest, option, category) -> votes; (contest, category) -> ballots
        self.votes: Counter[tuple[str, str, str]] = Counter()
        self.answered: Counter[tuple[str, str]] = Counter()
        # score: (contest, option, category) -> cell
        self.scores: dict[tuple[str, str, str], _ScoreCell] = {}
        # yesno: (contest, answer, category) -> count
        self.answers: Counter[tuple[str, str, str]] = Counter()
        self._contests = {c.id: c for c in package.contests}
        self._groups = {g.id for g in package.groups}

    def __getstate__(self) -> dict[str, Any]:
        """The counts alone, so a worker process sends back only what ``merge`` needs."""
        state = dict(self.__dict__)
        for name in ("package", "_contests", "_groups"):
            state.pop(name)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- counting -------------------------------------------------------------------------
    def refuse(
        self, position: int, reason: str, source: str | None = None, contest: str | None = None
    ) -> bool:
        """Count the ballot at ``position`` as invalid, with its reason. Returns False."""
        self.invalid.append(InvalidBallot(position, reason, contest, source))
        return False

    def add_plaintext(self, raw: bytes, position: int, source: str | None = None) -> bool:
        """Count one opened ballot; return False (and record why) if it is invalid."""
        try:
            ballot = ballot_from_plaintext(raw)
        except BallotError as e:
            return self.refuse(position, str(e), source)
        return self.add(ballot, position, source)

    def add(self, ballot: Ballot, position: int, source: str | None = None) -> bool:
        try:
            self._check(ballot)
        except BallotError as e:
            return self.refuse(position, str(e), source, e.contest)
        self.valid += 1
        self.by_category[ballot.category] += 1
        for contest_id, selection in ballot.selections.items():
            contest = self._contests[contest_id]
            cat = ballot.category
            self.answered[contest_id, cat] += 1
            match contest.kind:
                case ContestKind.CHOICE if isinstance(selection, tuple):
                    for option in selection:
                        self.votes[contest_id, option, cat] += 1
                case ContestKind.SCORE if isinstance(selection, Mapping):
                    for option, score in selection.items():
                        per = score if isinstance(score, Mapping) else {"": score}
                        cell = self.scores.setdefault((contest_id, option, cat), _ScoreCell())
                        cell.add(per, _voter_score(contest, per))
                case ContestKind.YESNO if isinstance(selection, str):
                    self.answers[contest_id, selection, cat] += 1
        return True

    def _check(self, ballot: Ballot) -> None:
        if ballot.election != self.package.id:
            raise BallotError(f"ballot is for election {ballot.election!r}")
        if self.package.category(ballot.category) is None:
            raise BallotError(f"category {ballot.category!r} does not exist")
        if ballot.group is not None and ballot.group not in self._groups:
            raise BallotError(f"group {ballot.group!r} does not exist")
        check_contests(self.package, ballot)

    def merge(self, other: Tally) -> None:
        self.valid += other.valid
        self.invalid += other.invalid
        self.by_category.update(other.by_category)
        self.votes.update(other.votes)
        self.answered.update(other.answered)
        self.answers.update(other.answers)
        for key, cell in other.scores.items():
            self.scores.setdefault(key, _ScoreCell()).merge(cell)

    # -- results --------------------------------------------------------------------------
    def results(self) -> dict[str, Any]:
        """The results document: per contest counts, the ranking and the invalid ballots."""
        means: _Means = {}
        contests = [self._contest_result(c, means) for c in self.package.contests]
        return {
            "election": self.package.id,
            "package_hash": self.package.package_hash.hex(),
            "ballots": {
                "counted": self.valid,
                "invalid": len(self.invalid),
                "by_category": dict(sorted(self.by_category.items())),
            },
            "contests": contests,
            "ranking": self._ranking(contests, means),
            "invalid": [b.to_json() for b in sorted(self.invalid, key=lambda b: b.position)],
        }

    def _contest_result(self, contest: Contest, means: _Means) -> dict[str, Any]:
        cats = list(contest.categories)
        out: dict[str, Any] = {
            "id": contest.id,
            "kind": contest.kind.value,
            "title": contest.title.to_json(),
            "ballots": sum(self.answered[contest.id, c] for c in cats),
        }
        match contest.kind:
            case ContestKind.CHOICE:
                out["options"] = [
                    {
                        "id": o.id,
                        "votes": sum(self.votes[contest.id, o.id, c] for c in cats),
                        "by_category": {c: self.votes[contest.id, o.id, c] for c in cats},
                    }
                    for o in self.package.options
                ]
            case ContestKind.SCORE:
                out["options"] = [
                    self._score_option(contest, o.id, means) for o in self.package.options
                ]
            case ContestKind.YESNO:
                for answer in ("yes", "no", "blank"):
                    out[answer] = sum(self.answers[contest.id, answer, c] for c in cats)
                out["by_category"] = {
                    c: {a: self.answers[contest.id, a, c] for a in ("yes", "no", "blank")}
                    for c in cats
                }
        return out

    def _score_option(self, contest: Contest, option: str, means: _Means) -> dict[str, Any]:
        drop = self.package.tally.drop_extremes
        weight = _criteria_weight(contest)
        by_category: dict[str, Any] = {}
        total_sums: Counter[str] = Counter()
        for cat in contest.categories:
            cell = self.scores.get((contest.id, option, cat), _ScoreCell())
            total_sums.update(cell.sums)
            raw_sum = _weighted(contest, cell.sums) / weight
            entry: dict[str, Any] = {"count": cell.count, "sum": round_result(raw_sum)}
            count, kept = cell.count, raw_sum
            if drop and cell.count >= 3 and cell.low is not None and cell.high is not None:
                count, kept = cell.count - 2, raw_sum - cell.low - cell.high
                entry["dropped"] = {"high": round_result(cell.high), "low": round_result(cell.low)}
            mean = kept / count if count else None
            means[contest.id, option, cat] = mean
            entry["mean"] = None if mean is None else round_result(mean)
            by_category[cat] = entry
        out: dict[str, Any] = {
            "id": option,
            "count": sum(e["count"] for e in by_category.values()),
            # every category's scores together, summed exactly and rounded once
            "sum": round_result(_weighted(contest, total_sums) / weight),
            "by_category": by_category,
        }
        if contest.criteria:
            out["criteria"] = {c.id: total_sums[c.id] for c in contest.criteria}
        return out

    def _ranking(self, contests: list[dict[str, Any]], means: _Means) -> dict[str, Any]:
        rules = self.package.tally
        channel_of = {c.id: c.channel for c in self.package.categories}
        weight_of = {c.id: _exact(c.weight) for c in self.package.categories}
        ranked = [
            (self._contests[r["id"]], r)
            for r in contests
            if r["kind"] in (ContestKind.SCORE.value, ContestKind.CHOICE.value)
        ]
        option_ids: list[str] = [o.id for o in self.package.options]
        per_channel: dict[Channel, dict[str, Fraction]] = {}
        voted: dict[Channel, set[str]] = {}
        for channel in Channel:
            measures = []
            for contest, result in ranked:
                cats = [c for c in contest.categories if channel_of[c] is channel]
                if not cats:
                    continue
                raw = {
                    o["id"]: _measure(contest, o, cats, weight_of, means) for o in result["options"]
                }
                voted.setdefault(channel, set()).update(
                    o["id"] for o in result["options"] if _has_votes(contest, o, cats)
                )
                best = max(raw.values(), default=Fraction(0))
                measures.append(
                    {k: (v / best if best > 0 else Fraction(0)) for k, v in raw.items()}
                )
            if measures:
                per_channel[channel] = {
                    o: sum((m.get(o, Fraction(0)) for m in measures), Fraction(0)) / len(measures)
                    for o in option_ids
                }
        winners_wanted = sum(rules.channel_winners.get(c, 0) for c in per_channel)
        rows: list[dict[str, Any]] = []
        if rules.method is TallyMethod.WEIGHTED_SUM:
            score = {
                o: sum(
                    (
                        _exact(rules.channel_weights.get(c, 0.0)) * m[o]
                        for c, m in per_channel.items()
                    ),
                    Fraction(0),
                )
                for o in option_ids
            }
            order = _ordered(score)
            for rank, o in enumerate(order, start=1):
                rows.append(
                    {
                        "rank": rank,
                        "option": o,
                        "result": round_result(score[o]),
                        "channels": {c.value: round_result(m[o]) for c, m in per_channel.items()},
                        "winner": rank <= winners_wanted and score[o] > 0,
                        "won_by": None,
                    }
                )
            _mark_ties(rows, lambda r: score[r["option"]])
        else:
            picked: dict[str, Channel] = {}
            for channel, measure in per_channel.items():
                wanted = rules.channel_winners.get(channel, 0)
                for o in _ordered(measure):
                    if wanted <= 0:
                        break
                    if o in picked or o not in voted.get(channel, set()):
                        continue
                    picked[o] = channel
                    wanted -= 1
            for rank, o in enumerate(
                sorted(option_ids, key=lambda o: (o not in picked, *_key_in(per_channel, o))),
                start=1,
            ):
                rows.append(
                    {
                        "rank": rank,
                        "option": o,
                        "result": None,
                        "channels": {c.value: round_result(m[o]) for c, m in per_channel.items()},
                        "winner": o in picked,
                        "won_by": picked[o].value if o in picked else None,
                    }
                )
            _mark_ties(rows, lambda r: tuple(m[r["option"]] for m in per_channel.values()))
        return {
            "method": rules.method.value,
            "channels": {
                c.value: {
                    "weight": rules.channel_weights.get(c, 0.0),
                    "winners": rules.channel_winners.get(c, 0),
                }
                for c in per_channel
            },
            "drop_extremes": rules.drop_extremes,
            "tie_break": TIE_BREAK,
            "winners": sum(1 for r in rows if r["winner"]),
            "options": rows,
        }


def _exact(weight: float) -> Fraction:
    """A weight as the decimal the package wrote (0.7 is 7/10, not the nearest binary float)."""
    return Fraction(str(weight))


def _voter_score(contest: Contest, per_criterion: Mapping[str, int]) -> Fraction:
    """One voter's score for one option: the criterion-weighted mean, on the contest's scale."""
    return _weighted(contest, per_criterion) / _criteria_weight(contest)


def _weighted(contest: Contest, sums: Mapping[str, int]) -> Fraction:
    if not contest.criteria:
        return Fraction(sums.get("", 0))
    return sum((_exact(c.weight) * sums.get(c.id, 0) for c in contest.criteria), Fraction(0))


def _criteria_weight(contest: Contest) -> Fraction:
    if not contest.criteria:
        return Fraction(1)
    return sum((_exact(c.weight) for c in contest.criteria), Fraction(0))


def _measure(
    contest: Contest,
    option: dict[str, Any],
    cats: Sequence[str],
    weight_of: Mapping[Any, Fraction],
    means: _Means,
) -> Fraction:
    """An option's standing in one contest among the categories of one channel, from the exact
    means (never the rounded ones in the document)."""
    if contest.kind is ContestKind.CHOICE:
        return sum((weight_of[c] * option["by_category"][c] for c in cats), Fraction(0))
    weighted = [(weight_of[c], means[contest.id, option["id"], c]) for c in cats]
    scored = [(w, m) for w, m in weighted if m is not None]
    if not scored:
        return Fraction(0)
    return sum((w * m for w, m in scored), Fraction(0)) / sum((w for w, _ in scored), Fraction(0))


def _has_votes(contest: Contest, option: dict[str, Any], cats: Sequence[str]) -> bool:
    if contest.kind is ContestKind.CHOICE:
        return any(option["by_category"][c] > 0 for c in cats)
    return any(option["by_category"][c]["count"] > 0 for c in cats)


def _ordered(score: Mapping[str, Fraction]) -> list[str]:
    """Best first; exactly equal results in the published tie-break order (the lower id)."""
    return sorted(score, key=lambda o: (-score[o], o))


def _key_in(per_channel: Mapping[Channel, Mapping[str, Fraction]], option: str) -> tuple[Any, ...]:
    return (*(-m[option] for m in per_channel.values()), option)


def _mark_ties(rows: list[dict[str, Any]], key: Any) -> None:
    """Mark each row whose exact result equals a neighbour's: the tie-break rule decided its
    place."""
    for a, b in itertools.pairwise(rows):
        if key(a) == key(b):
            a["tied"] = b["tied"] = True
    for r in rows:
        r.setdefault("tied", False)


def round_result(value: Fraction) -> float:
    """The one rounding: ``DECIMALS`` places, half up (반올림), of the exact value; the float
    returned is the one whose shortest form is that decimal."""
    scale = 10**DECIMALS
    return float(Fraction(math.floor(value * scale + Fraction(1, 2)), scale)) + 0.0


def count_test_ballots(package: ElectionPackage, blocks: Iterable[SignedBlock]) -> dict[str, Any]:
    """The logic-and-accuracy count a kiosk shows staff: its own test ballots, decrypted with the
    package's public test key. Official ballots are never touched (the kiosk cannot open them), and
    neither are checked (spoiled) ballots, which never count."""
    tally = Tally(package)
    tests = [b for b in blocks if b.block.kind is BlockKind.TEST_BALLOT]
    for position, signed in enumerate(tests):
        source = f"{signed.block.height}"
        try:
            ballot = _open_test_ballot(package, signed.block.body)
        except (BallotError, VerificationError) as e:
            tally.refuse(position, str(e), source)
        else:
            tally.add(ballot, position, source)
    return tally.results()


def _open_test_ballot(package: ElectionPackage, body: Mapping[str, Any]) -> Ballot:
    """A v2 test ballot decrypted with the package's public test secret: m·G = β − s·α per cell
    (exponential ElGamal), m by a small discrete logarithm, then the selections."""
    test_key = package.test_key
    if test_key is None:
        raise BallotError("this package has no test key")
    ballot = read_encrypted_ballot(body.get("ballot"), "test_ballot.ballot")
    if not ballot.test:
        raise BallotError("an official ballot in a test block")
    return decrypt_ballot(package, ballot, test_key.secret)


def decrypt_ballot(package: ElectionPackage, ballot: EncryptedBallot, secret: int) -> Ballot:
    """``ballot`` decrypted with the whole ``secret`` of the key it was encrypted to: the
    public test key's for a test ballot. (Nobody holds the election key's secret whole; a
    test that plays every trustee may, to recount what it cast.)"""
    selections: dict[ContestId, Selection] = {}
    for enc in ballot.contests:
        contest = next((c for c in package.contests if c.id == enc.id), None)
        if contest is None:
            raise BallotError(f"the package has no contest {enc.id!r}")
        bound = 1 if contest.kind is not ContestKind.SCORE else contest.max - contest.min + 1
        values = [
            discrete_log(decrypt_to_point(cell.ciphertext, secret), bound) for cell in enc.cells
        ]
        spots = tuple(cell.spot for cell in enc.cells)
        selections[ContestId(enc.id)] = selection_from_values(contest, spots, values)
    return plaintext_ballot(ballot, selections)


def count_plaintexts(package: ElectionPackage, ballots: Iterable[bytes]) -> dict[str, Any]:
    """Count opened ballots in the order given and return the results document."""
    tally = Tally(package)
    for position, raw in enumerate(ballots):
        tally.add_plaintext(raw, position)
    return tally.results()
