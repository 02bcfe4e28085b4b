"""The plaintext ballot and the contest rules every cast ballot must satisfy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.election import (
    CategoryId,
    Contest,
    ContestId,
    ContestKind,
    ElectionId,
    ElectionPackage,
    GroupId,
    OptionId,
    Voter,
)
from kiosk.core.encoding import canonical_json, parse_json
from kiosk.core.errors import BallotError, EncodingError
from kiosk.core.jsonreader import Reader

BALLOT_VERSION = 1
YESNO_ANSWERS = ("yes", "no", "blank")

# A selection is, by contest kind: choice -> tuple of option ids; score -> option id to a
# score (or, with criteria, to a criterion->score mapping); yesno -> "yes" | "no" | "blank".
Selection = tuple[OptionId, ...] | Mapping[OptionId, int | Mapping[str, int]] | str


@dataclass(frozen=True, slots=True)
class Ballot:
    """What one voter chose, before it is encrypted: no name, no card key, no voter id.

    It carries the voter's category and group, which the tally needs for per-category
    scores and which are shared by many voters.
    """

    election: ElectionId
    category: CategoryId
    group: GroupId | None
    selections: Mapping[ContestId, Selection]

    def to_json(self) -> dict[str, Any]:
        contests: dict[str, Any] = {}
        for cid, sel in self.selections.items():
            if isinstance(sel, tuple):
                contests[cid] = sorted(sel)
            elif isinstance(sel, Mapping):
                contests[cid] = {
                    k: dict(v) if isinstance(v, Mapping) else v for k, v in sel.items()
                }
            else:
                contests[cid] = sel
        return {
            "v": BALLOT_VERSION,
            "election": self.election,
            "category": self.category,
            "group": self.group,
            "contests": contests,
        }

    def plaintext(self) -> bytes:
        """The canonical bytes: what a checked ballot's plaintext shows, and a recount reads."""
        return canonical_json(self.to_json())


def read_ballot(document: Any) -> Ballot:
    """Parse a ballot's JSON form (as opened by the trustees) into a ``Ballot``."""
    r = Reader(document, "ballot", BallotError)
    if r.integer("v") != BALLOT_VERSION:
        r.fail("unsupported ballot version", "v")
    election, category = ElectionId(r.ident("election")), CategoryId(r.ident("category"))
    group = None if r.raw("group", optional=True) is None else GroupId(r.ident("group"))
    contests = r.raw("contests")
    if not isinstance(contests, dict):
        r.fail("must be an object", "contests")
    selections: dict[ContestId, Selection] = {}
    for cid, sel in contests.items():
        if isinstance(sel, list):
            selections[ContestId(cid)] = tuple(OptionId(x) for x in sel)
        elif isinstance(sel, dict):
            selections[ContestId(cid)] = {OptionId(k): v for k, v in sel.items()}
        else:
            selections[ContestId(cid)] = sel
    r.done()
    return Ballot(election, category, group, selections)


def validate_ballot(package: ElectionPackage, voter: Voter, ballot: Ballot) -> None:
    """Raise ``BallotError`` naming the contest unless ``ballot`` obeys every rule for ``voter``.

    Checks the election, the voter's category and group, that exactly the voter's contests
    are answered, and per contest: eligible options only (own group, never the voter's own
    proposal), selection counts, score ranges and criteria.
    """
    if ballot.election != package.id:
        raise BallotError(f"ballot is for election {ballot.election!r}, not {package.id!r}")
    if ballot.category != voter.category or ballot.group != voter.group:
        raise BallotError("ballot category or group does not match the voter's roll entry")
    check_contests(package, ballot, voter.excluded)


def check_contests(
    package: ElectionPackage, ballot: Ballot, excluded: frozenset[OptionId] = frozenset()
) -> None:
    """The contest rules on their own, as the tally re-checks them (it does not know recusals)."""
    expected = {c.id for c in package.contests_for(ballot.category)}
    given = set(ballot.selections)
    if given != expected:
        missing, extra = sorted(expected - given), sorted(given - expected)
        raise BallotError(
            f"ballot must answer exactly this voter's contests "
            f"(missing: {missing}, not allowed: {extra})"
        )
    for contest in package.contests:
        if contest.id in given:
            _check_selection(package, contest, ballot, excluded)


def _check_selection(
    package: ElectionPackage, contest: Contest, ballot: Ballot, excluded: frozenset[OptionId]
) -> None:
    sel = ballot.selections[contest.id]
    allowed = {o.id for o in package.eligible_options(contest, ballot.group, excluded)}

    def fail(message: str) -> BallotError:
        return BallotError(f"contest {contest.id}: {message}", contest=contest.id)

    match contest.kind:
        case ContestKind.CHOICE:
            if not isinstance(sel, tuple) or not all(isinstance(o, str) for o in sel):
                raise fail("a choice is a list of option ids")
            if len(set(sel)) != len(sel):
                raise fail("an option is chosen twice")
            if not contest.min <= len(sel) <= contest.max:
                raise fail(f"choose between {contest.min} and {contest.max}, found {len(sel)}")
            _only_allowed(sel, allowed, fail)
        case ContestKind.SCORE:
            if not isinstance(sel, Mapping):
                raise fail("scores are a mapping from option id to score")
            _only_allowed(tuple(sel), allowed, fail)
            for option_id, score in sel.items():
                _check_score(contest, option_id, score, fail)
        case ContestKind.YESNO:
            if sel not in YESNO_ANSWERS:
                raise fail(f"the answer must be one of {', '.join(YESNO_ANSWERS)}")


def _only_allowed(chosen: tuple[str, ...], allowed: set[OptionId], fail: Any) -> None:
    for option_id in chosen:
        if option_id not in allowed:
            raise fail(
                f"option {option_id!r} is not on this voter's ballot "
                "(another group, or the voter's own proposal)"
            )


def _check_score(contest: Contest, option_id: str, score: Any, fail: Any) -> None:
    def in_range(value: Any, where: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise fail(f"{where}: a score is a whole number")
        if not contest.min <= value <= contest.max:
            raise fail(f"{where}: score {value} is outside {contest.min}..{contest.max}")

    if not contest.criteria:
        in_range(score, option_id)
        return
    if not isinstance(score, Mapping) or set(score) != {c.id for c in contest.criteria}:
        raise fail(
            f"{option_id}: give a score for each criterion "
            f"({', '.join(c.id for c in contest.criteria)})"
        )
    for criterion, value in score.items():
        in_range(value, f"{option_id}/{criterion}")


def ballot_from_plaintext(raw: bytes) -> Ballot:
    """Parse ballot bytes; they must be exactly the canonical form ``plaintext`` gives."""
    try:
        ballot = read_ballot(parse_json(raw))
        canonical = ballot.plaintext()
    except EncodingError as e:
        raise BallotError(f"opened ballot is not valid canonical JSON: {e}") from e
    if canonical != raw:
        raise BallotError("opened ballot is not in canonical form")
    return ballot
