"""The ballot a voter is filling in, page by page, before it is cast. Pure Python, no Qt.

The form knows only the voter's own contests and, in each, only the options the voter may
choose or score: their own group's proposals, never their own. It turns into a ``Ballot``
that ``validate_ballot`` accepts, and it says what is worth a warning before the voter
moves on (an unscored proposal, an empty contest) and what must be fixed first.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace

from kiosk.core.ballot import Ballot, Selection, validate_ballot
from kiosk.core.election import (
    Contest,
    ContestId,
    ContestKind,
    ElectionPackage,
    Option,
    OptionId,
    Voter,
)


class Problem(enum.StrEnum):
    """What is not finished in a contest. Warnings may be passed; errors must be fixed."""

    UNSCORED = "unscored"  # warning: some proposals have no score
    EMPTY = "empty"  # warning: nothing chosen, nothing scored, no answer
    PARTIAL = "partial"  # error: a proposal has scores for some criteria but not all
    TOO_FEW = "too_few"  # error: fewer choices than the contest's minimum

    @property
    def blocks_casting(self) -> bool:
        return self in (Problem.PARTIAL, Problem.TOO_FEW)


@dataclass(frozen=True, slots=True)
class Finding:
    problem: Problem
    options: tuple[str, ...] = ()  # the proposals concerned, where there are any
    needed: int = 0  # for TOO_FEW: the contest's minimum

    @property
    def count(self) -> int:
        """The number the voter is told: proposals concerned, or choices needed."""
        return self.needed or len(self.options)


@dataclass(frozen=True, slots=True)
class BallotForm:
    """One voter's unfinished ballot, as a value: every change returns a new form (the old
    one is never touched, so the flow's states stay values). Thrown away whole when the
    voter leaves."""

    package: ElectionPackage
    voter: Voter
    contests: tuple[Contest, ...]
    _options: Mapping[str, tuple[Option, ...]]
    _scores: Mapping[str, Mapping[str, Mapping[str, int]]]
    _choices: Mapping[str, tuple[str, ...]]
    _answers: Mapping[str, str]

    @classmethod
    def start(cls, package: ElectionPackage, voter: Voter) -> BallotForm:
        """An empty ballot with the voter's own contests and eligible options."""
        contests = package.contests_for(voter.category)
        return cls(
            package,
            voter,
            contests,
            {c.id: package.eligible_options(c, voter.group, voter.excluded) for c in contests},
            {c.id: {} for c in contests},
            {c.id: () for c in contests},
            {},
        )

    # -- reading -----------------------------------------------------------------------------
    def contest(self, index: int) -> Contest:
        return self.contests[index]

    def options(self, contest_id: str) -> tuple[Option, ...]:
        return self._options[contest_id]

    def score(self, contest_id: str, option_id: str, criterion: str = "") -> int | None:
        return self._scores[contest_id].get(option_id, {}).get(criterion)

    def chosen(self, contest_id: str) -> tuple[str, ...]:
        return self._choices[contest_id]

    def answer(self, contest_id: str) -> str | None:
        return self._answers.get(contest_id)

    def scored_count(self, contest_id: str) -> int:
        contest = self._by_id(contest_id)
        return sum(1 for o in self.options(contest_id) if self._complete(contest, o.id))

    # -- changing (each returns a new form) -------------------------------------------------
    def set_score(
        self, contest_id: str, option_id: str, score: int, criterion: str = ""
    ) -> BallotForm:
        contest = self._by_id(contest_id)
        if contest.kind is not ContestKind.SCORE:
            raise ValueError(f"contest {contest_id} is not scored")
        self._check_option(contest_id, option_id)
        names = {c.id for c in contest.criteria} or {""}
        if criterion not in names:
            raise ValueError(f"contest {contest_id} has no criterion {criterion!r}")
        if not contest.min <= score <= contest.max:
            raise ValueError(f"score {score} is outside {contest.min}..{contest.max}")
        given = dict(self._scores[contest_id])
        given[option_id] = {**given.get(option_id, {}), criterion: score}
        return replace(self, _scores={**self._scores, contest_id: given})

    def clear_score(self, contest_id: str, option_id: str) -> BallotForm:
        given = {k: v for k, v in self._scores[contest_id].items() if k != option_id}
        return replace(self, _scores={**self._scores, contest_id: given})

    def toggle_choice(self, contest_id: str, option_id: str) -> BallotForm | None:
        """Choose or unchoose; None when the contest's limit is reached."""
        contest = self._by_id(contest_id)
        self._check_option(contest_id, option_id)
        chosen = self._choices[contest_id]
        if option_id in chosen:
            chosen = tuple(c for c in chosen if c != option_id)
        elif len(chosen) >= contest.max:
            return None
        else:
            chosen = (*chosen, option_id)
        return replace(self, _choices={**self._choices, contest_id: chosen})

    def set_answer(self, contest_id: str, answer: str) -> BallotForm:
        if answer not in ("yes", "no", "blank"):
            raise ValueError(f"no such answer {answer!r}")
        return replace(self, _answers={**self._answers, contest_id: answer})

    # -- checking ----------------------------------------------------------------------------
    def findings(self, contest_id: str) -> list[Finding]:
        """What is unfinished in one contest, errors first."""
        contest = self._by_id(contest_id)
        options = self.options(contest_id)
        match contest.kind:
            case ContestKind.SCORE:
                given = self._scores[contest_id]
                partial = tuple(
                    o.id for o in options if given.get(o.id) and not self._complete(contest, o.id)
                )
                unscored = tuple(o.id for o in options if not given.get(o.id))
                out = [Finding(Problem.PARTIAL, partial)] if partial else []
                if options and len(unscored) == len(options):
                    out.append(Finding(Problem.EMPTY))
                elif unscored:
                    out.append(Finding(Problem.UNSCORED, unscored))
                return out
            case ContestKind.CHOICE:
                count = len(self._choices[contest_id])
                if count < contest.min:
                    return [Finding(Problem.TOO_FEW, needed=contest.min)]
                return [Finding(Problem.EMPTY)] if count == 0 else []
            case ContestKind.YESNO:
                return [] if contest_id in self._answers else [Finding(Problem.EMPTY)]

    def can_cast(self) -> bool:
        return not any(f.problem.blocks_casting for c in self.contests for f in self.findings(c.id))

    def ballot(self) -> Ballot:
        """The ballot as it will be encrypted; ``BallotError`` if it breaks a contest rule."""
        selections: dict[ContestId, Selection] = {}
        for contest in self.contests:
            match contest.kind:
                case ContestKind.SCORE:
                    selections[contest.id] = self._score_selection(contest)
                case ContestKind.CHOICE:
                    selections[contest.id] = tuple(OptionId(o) for o in self._choices[contest.id])
                case ContestKind.YESNO:
                    selections[contest.id] = self._answers.get(contest.id, "blank")
        ballot = Ballot(self.package.id, self.voter.category, self.voter.group, selections)
        validate_ballot(self.package, self.voter, ballot)
        return ballot

    # -- inside ------------------------------------------------------------------------------
    def _score_selection(self, contest: Contest) -> Mapping[OptionId, int | Mapping[str, int]]:
        out: dict[OptionId, int | Mapping[str, int]] = {}
        for option_id, given in self._scores[contest.id].items():
            if contest.criteria:
                out[OptionId(option_id)] = dict(given)
            elif "" in given:
                out[OptionId(option_id)] = given[""]
        return out

    def _complete(self, contest: Contest, option_id: str) -> bool:
        given = self._scores[contest.id].get(option_id, {})
        names = {c.id for c in contest.criteria} or {""}
        return set(given) == names

    def _by_id(self, contest_id: str) -> Contest:
        for contest in self.contests:
            if contest.id == contest_id:
                return contest
        raise KeyError(f"contest {contest_id} is not on this voter's ballot")

    def _check_option(self, contest_id: str, option_id: str) -> None:
        if all(o.id != option_id for o in self.options(contest_id)):
            raise ValueError(f"option {option_id} is not on this voter's ballot")
