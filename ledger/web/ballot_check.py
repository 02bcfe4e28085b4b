"""What the check page shows of a protocol v2 ballot block.

A cast ballot shows its fingerprint, the one the kiosk's review screen showed and its receipt
printed, and never a choice: nobody holds the key to it. A ``spoiled`` ballot (the voter pressed
Check at the kiosk) carries its randomness, so the page opens it for anyone and shows the
choices it holds, contest by contest, to compare with what the voter chose (Benaloh's
challenge; ElectionGuard 2.1 §3.5 "challenged ballots"; verifiable-election.md, "The ballot at
the kiosk"). A spoiled ballot that does not open, or holds other choices than the kiosk printed
beside it, is the cheating kiosk's mark: the page says so in red and names what failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.ballot import Selection
from kiosk.core.ballot_crypto import open_spoiled, verify_ballot_proofs
from kiosk.core.election import Contest, ContestKind, ElectionPackage, Text
from kiosk.core.encrypted_ballot import EncryptedBallot, EncryptedContest, read_encrypted_ballot
from kiosk.core.errors import BallotError, HanpyoError
from ledger.publish.results_view import ANSWERS

SPOILED = "spoiled"  # the block kind of a checked ballot (kiosk/core/block.py BlockKind)
NOT_SCORED = Text("점수 없음", "not scored")
NOTHING_CHOSEN = Text("아무것도 고르지 않음", "nothing chosen")


@dataclass(frozen=True, slots=True)
class Line:
    """One thing a spoiled ballot holds: an option (or answer) and what it got."""

    label: Text
    value: Text | None  # a score, "not scored"; None for a chosen option or an answer
    criteria: tuple[tuple[Text, Text], ...] = ()  # per criterion, its score


@dataclass(frozen=True, slots=True)
class OpenedContest:
    title: Text
    kind: str
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Failure:
    """What failed when a spoiled ballot was opened or its proofs checked."""

    what: Text
    detail: str  # the check's own words, in English, for staff and observers


@dataclass(frozen=True, slots=True)
class BallotView:
    spoiled: bool
    test: bool
    fingerprint: str | None  # None when the ballot cannot even be read
    contests: tuple[OpenedContest, ...] = ()  # a spoiled ballot's choices, once it opened
    failures: tuple[Failure, ...] = ()


def ballot_view(package: ElectionPackage, kind: str, body: Mapping[str, Any]) -> BallotView | None:
    """The view of a ballot, test ballot or spoiled block; None for anything else (a kiosk
    record)."""
    if kind not in ("ballot", "test_ballot", SPOILED):
        return None
    spoiled = kind == SPOILED
    try:
        ballot = read_encrypted_ballot(body.get("ballot"), f"{kind}.ballot")
    except HanpyoError as e:
        unreadable = Failure(
            Text(
                "이 기록의 암호화된 투표지를 읽을 수 없습니다.",
                "The encrypted ballot cannot be read.",
            ),
            str(e),
        )
        return BallotView(spoiled, kind == "test_ballot", None, failures=(unreadable,))
    if not spoiled:
        return BallotView(False, ballot.test, ballot.fingerprint)
    return _opened(package, ballot, body)


def _opened(
    package: ElectionPackage, ballot: EncryptedBallot, body: Mapping[str, Any]
) -> BallotView:
    failures: list[Failure] = []
    contests: tuple[OpenedContest, ...] = ()
    try:
        opened = open_spoiled(package, body)
        contests = tuple(
            _contest_lines(package, enc, opened.plaintext.selections[enc.id])
            for enc in ballot.contests
        )
    except (HanpyoError, KeyError) as e:
        failures.append(Failure(_why_not_opened(str(e)), str(e)))
    try:
        verify_ballot_proofs(package, ballot)
    except (HanpyoError, ValueError) as e:
        failures.append(
            Failure(
                Text(
                    "투표지에 붙은 증명이 맞지 않습니다. "
                    "이렇게 만든 투표지는 제출해도 개표에서 빠집니다.",
                    "The ballot's proofs do not check out: a ballot made like this would be left "
                    "out of the count if it were cast.",
                ),
                str(e),
            )
        )
    return BallotView(True, ballot.test, ballot.fingerprint, contests, tuple(failures))


def _why_not_opened(detail: str) -> Text:
    # open_spoiled (kiosk/core/ballot_crypto.py) says in its message which step failed; the
    # tests of the check page make each case happen, so a changed message shows there.
    if "do not hold the choices" in detail:
        return Text(
            "단말기가 이 투표지에 인쇄한 선택과 암호문에 실제로 든 선택이 다릅니다.",
            "The choices the ciphertexts hold are not the ones the kiosk printed for this ballot.",
        )
    if "randomness does not make" in detail or "holds no value" in detail:
        return Text(
            "공개된 난수로 이 투표지를 열 수 없습니다. 난수가 이 암호문을 만든 것이 아닙니다.",
            "The published randomness does not open this ballot: it is not what made these "
            "ciphertexts.",
        )
    return Text("이 투표지를 열 수 없습니다.", "This ballot cannot be opened.")


def _contest(package: ElectionPackage, contest_id: str) -> Contest:
    found = next((c for c in package.contests if c.id == contest_id), None)
    if found is None:
        raise BallotError(f"the package has no contest {contest_id!r}")
    return found


def _contest_lines(
    package: ElectionPackage, enc: EncryptedContest, selection: Selection
) -> OpenedContest:
    contest = _contest(package, enc.id)
    match contest.kind:
        case ContestKind.CHOICE:
            chosen = selection if isinstance(selection, tuple) else ()
            lines = tuple(Line(_option_title(package, o), None) for o in chosen)
            lines = lines or (Line(NOTHING_CHOSEN, None),)
        case ContestKind.YESNO:
            answer = selection if isinstance(selection, str) else ""
            lines = (Line(ANSWERS.get(answer, Text(answer, answer)), None),)
        case _:
            lines = _score_lines(package, contest, enc, selection)
    return OpenedContest(contest.title, contest.kind.value, lines)


def _score_lines(
    package: ElectionPackage, contest: Contest, enc: EncryptedContest, selection: Selection
) -> tuple[Line, ...]:
    """Every option the ballot has cells for, scored or not, in the ballot's order: the voter
    compares the whole sheet, and an option the kiosk left unscored shows as such."""
    scores = {str(k): v for k, v in selection.items()} if isinstance(selection, Mapping) else {}
    criteria = {c.id: c.title for c in contest.criteria}
    lines = []
    for option in dict.fromkeys(cell.spot.option for cell in enc.cells):
        given = scores.get(option)
        if not contest.criteria:
            value = NOT_SCORED if given is None else _number(given)
            lines.append(Line(_option_title(package, option), value))
            continue
        per = given if isinstance(given, Mapping) else {}
        rows = tuple(
            (criteria[c], NOT_SCORED if per.get(c) is None else _number(per[c])) for c in criteria
        )
        lines.append(Line(_option_title(package, option), None, rows))
    return tuple(lines)


def _number(value: Any) -> Text:
    return Text(f"{value}점", f"{value} points" if value != 1 else "1 point")


def _option_title(package: ElectionPackage, option_id: str) -> Text:
    option = package.option(option_id)
    return option.title if option is not None else Text(option_id, option_id)
