"""The count: contest results worked out by hand, invalid ballots, order and ranking rules."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kiosk.core.ballot import Ballot
from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.election import (
    CategoryId,
    ContestId,
    ElectionId,
    ElectionPackage,
    GroupId,
    OptionId,
)
from kiosk.core.tally import Tally, count_plaintexts, count_test_ballots
from testkit.chain_writer import ChainWriter
from testkit.elections import build_election, card_of, mixed_definition, test_voter
from testkit.v2_blocks import cast_body, encrypt_for, test_card

P1, P2, P3 = OptionId("p0001-01"), OptionId("p0001-02"), OptionId("p0001-03")
Q1, Q2, Q3 = OptionId("p0002-01"), OptionId("p0002-02"), OptionId("p0002-03")


def make_package(**tally: Any) -> ElectionPackage:
    d = mixed_definition(groups=2, per_group=3, election_id="tally-test")
    d["tally"] |= tally
    return build_election(d, seed="tally", experts_per_group=1, online_per_proposal=1).package


def ballot(package: ElectionPackage, category: str, group: str, **contests: Any) -> Ballot:
    return Ballot(
        package.id,
        CategoryId(category),
        GroupId(group),
        {ContestId(k.replace("_", "-")): v for k, v in contests.items()},
    )


def resident(
    package: ElectionPackage, group: str, scores: dict[OptionId, int], rules: str | None = "yes"
) -> Ballot:
    if rules is None:  # an election without the yes/no question
        return ballot(package, "resident", group, review=scores)
    return ballot(package, "resident", group, review=scores, rules=rules)


def online(package: ElectionPackage, group: str, *likes: str) -> Ballot:
    return ballot(package, "online", group, likes=tuple(likes))


def expert(
    package: ElectionPackage,
    group: str,
    scores: dict[OptionId, int],
    criteria: dict[OptionId, dict[str, int]],
) -> Ballot:
    return ballot(package, "expert", group, review=scores, expert_criteria=criteria)


def results_of(package: ElectionPackage, ballots: list[Ballot]) -> dict[str, Any]:
    results = count_plaintexts(package, [b.plaintext() for b in ballots])
    assert results["invalid"] == []
    return results


def contest(results: dict[str, Any], contest_id: str) -> dict[str, Any]:
    return next(c for c in results["contests"] if c["id"] == contest_id)


def option(contest_result: dict[str, Any], option_id: str) -> dict[str, Any]:
    return next(o for o in contest_result["options"] if o["id"] == option_id)


@pytest.fixture(scope="module")
def hall() -> tuple[ElectionPackage, list[Ballot]]:
    """Four residents and an expert of group 1, two online members; worked out by hand below."""
    package = make_package(drop_extremes=True)
    ballots = [
        resident(package, "g001", {P1: 10, P2: 6}),
        resident(package, "g001", {P1: 8, P2: 4}, rules="no"),
        resident(package, "g001", {P1: 2, P2: 9}, rules="blank"),
        resident(package, "g001", {P1: 9}),
        expert(
            package,
            "g001",
            {P1: 5, P2: 7, P3: 3},
            {
                P1: {"impact": 5, "feasibility": 0},
                P2: {"impact": 1, "feasibility": 4},
                P3: {"impact": 2, "feasibility": 2},
            },
        ),
        online(package, "g001", P1, P3),
        online(package, "g001", P1),
    ]
    return package, ballots


def test_score_contest_sums_means_and_drops_the_extremes(hall: Any) -> None:
    package, ballots = hall
    review = contest(results_of(package, ballots), "review")
    p1 = option(review, P1)["by_category"]
    # residents gave 10, 8, 2, 9: the 10 and the 2 are dropped, (8 + 9) / 2 = 8.5
    assert p1["resident"] == {
        "count": 4,
        "sum": 29.0,
        "dropped": {"high": 10.0, "low": 2.0},
        "mean": 8.5,
    }
    assert p1["expert"] == {"count": 1, "sum": 5.0, "mean": 5.0}  # one score: nothing dropped
    assert option(review, P2)["by_category"]["resident"]["mean"] == 6.0  # 6, 4, 9 -> 6
    assert option(review, P3)["by_category"]["resident"] == {"count": 0, "sum": 0.0, "mean": None}
    assert review["ballots"] == 5


def test_criteria_are_weighted_per_voter_and_summed_per_criterion(hall: Any) -> None:
    package, ballots = hall
    criteria = contest(results_of(package, ballots), "expert-criteria")
    p2 = option(criteria, P2)
    assert p2["criteria"] == {"impact": 1, "feasibility": 4}
    assert p2["by_category"]["expert"]["mean"] == pytest.approx(0.6 * 1 + 0.4 * 4)


def test_choice_and_yes_no_are_counted(hall: Any) -> None:
    package, ballots = hall
    results = results_of(package, ballots)
    likes = contest(results, "likes")
    assert [option(likes, o)["votes"] for o in (P1, P2, P3, Q1)] == [2, 0, 1, 0]
    assert likes["ballots"] == 2
    rules = contest(results, "rules")
    assert (rules["yes"], rules["no"], rules["blank"]) == (2, 1, 1)
    assert results["ballots"] == {
        "counted": 7,
        "invalid": 0,
        "by_category": {"expert": 1, "online": 2, "resident": 4},
    }


def test_invalid_ballots_are_counted_as_invalid_with_a_reason(hall: Any) -> None:
    package, ballots = hall
    bad = [
        b'{"v":1}',  # not a ballot
        b"not json at all",
        resident(package, "g001", {P1: 11}).plaintext(),  # above the maximum
        resident(package, "g001", {Q1: 5}).plaintext(),  # another group's proposal
        online(package, "g001", P1, P1).plaintext(),  # the same option twice
        Ballot(ElectionId("another-vote"), CategoryId("resident"), GroupId("g001"), {}).plaintext(),
        b'{"category":"resident","contests":{},"election":"tally-test","group":"g001","v":1} ',
    ]
    good = [b.plaintext() for b in ballots]
    results = count_plaintexts(package, good[:3] + bad + good[3:])
    assert results["ballots"]["counted"] == len(good)
    assert results["ballots"]["invalid"] == len(bad)
    reasons = [i["reason"] for i in results["invalid"]]
    assert [i["position"] for i in results["invalid"]] == list(range(3, 3 + len(bad)))
    assert "outside 1..10" in reasons[2]
    assert "not on this voter's ballot" in reasons[3]
    assert "chosen twice" in reasons[4]
    assert "election" in reasons[5]
    assert "canonical" in reasons[6]
    assert results["invalid"][2]["contest"] == "review"
    # the valid ballots are counted exactly as without the invalid ones
    assert results["contests"] == results_of(package, ballots)["contests"]


def test_the_count_does_not_depend_on_order_or_on_how_it_was_split(hall: Any) -> None:
    package, ballots = hall
    expected = results_of(package, ballots)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = ballots[:]
        rng.shuffle(shuffled)
        cut = rng.randrange(len(shuffled))
        first, second = Tally(package), Tally(package)
        for i, b in enumerate(shuffled[:cut]):
            first.add(b, i)
        for i, b in enumerate(shuffled[cut:]):
            second.add(b, cut + i)
        first.merge(second)
        assert first.results() == expected


def ranking_ballots(package: ElectionPackage) -> list[Ballot]:
    """On site: P1 and Q1 both average 9 (a tie), P2 5. Online: P1 3 likes, P3 and Q2 2."""
    return [
        resident(package, "g001", {P1: 9, P2: 5}, rules=None),
        resident(package, "g002", {Q1: 9}, rules=None),
        online(package, "g001", P1, P3),
        online(package, "g001", P1, P3),
        online(package, "g001", P1),
        online(package, "g002", Q2),
        online(package, "g002", Q2),
    ]


def ranking_package(**tally: Any) -> ElectionPackage:
    d = mixed_definition(groups=2, per_group=3, election_id="tally-test")
    d["contests"] = [c for c in d["contests"] if c["id"] in ("review", "likes")]
    d["tally"] |= tally
    return build_election(d, seed="tally", experts_per_group=1, online_per_proposal=1).package


def test_quota_each_channel_picks_its_own_winners_and_ties_go_to_the_lower_id() -> None:
    package = ranking_package(
        method="quota",
        channels={"kiosk": {"weight": 0.5, "winners": 2}, "online": {"weight": 0.5, "winners": 1}},
        drop_extremes=False,
    )
    ranking = results_of(package, ranking_ballots(package))["ranking"]
    rows = {r["option"]: r for r in ranking["options"]}
    # on site: P1 and Q1 tie at 9 and both win; online: P1 already won, so the next best,
    # P3 and Q2 with 2 likes each, tie and the lower id (P3) takes the one online place
    assert [r["option"] for r in ranking["options"] if r["winner"]] == [P1, Q1, P3]
    assert (rows[P1]["won_by"], rows[Q1]["won_by"], rows[P3]["won_by"]) == (
        "kiosk",
        "kiosk",
        "online",
    )
    assert rows[P1]["tied"] is False and rows[P3]["tied"] is False
    assert rows[Q2]["winner"] is False
    assert rows[Q3]["winner"] is False  # no vote anywhere: it cannot win a place
    assert ranking["winners"] == 3
    assert rows[Q2]["channels"] == {"kiosk": 0.0, "online": pytest.approx(2 / 3, abs=1e-6)}


def test_quota_ties_are_marked_where_the_rule_decides() -> None:
    package = ranking_package(
        method="quota",
        channels={"kiosk": {"weight": 0.5, "winners": 1}, "online": {"weight": 0.5, "winners": 0}},
        drop_extremes=False,
    )
    ranking = results_of(package, ranking_ballots(package))["ranking"]
    first, second = ranking["options"][:2]
    assert (first["option"], first["winner"], second["option"], second["winner"]) == (
        P1,
        True,
        Q1,
        False,
    )
    assert first["channels"]["kiosk"] == second["channels"]["kiosk"] == 1.0


def test_weighted_sum_combines_each_channel_scaled_to_its_best() -> None:
    package = ranking_package(
        method="weighted_sum",
        channels={"kiosk": {"weight": 0.3, "winners": 2}, "online": {"weight": 0.7, "winners": 0}},
        drop_extremes=False,
    )
    ranking = results_of(package, ranking_ballots(package))["ranking"]
    order = [(r["option"], r["result"], r["winner"], r["tied"]) for r in ranking["options"]]
    assert order == [
        (P1, 1.0, True, False),  # 0.3 x 9/9 + 0.7 x 3/3
        (P3, pytest.approx(0.466667), True, True),  # 0.7 x 2/3, tied with Q2: lower id first
        (Q2, pytest.approx(0.466667), False, True),
        (Q1, 0.3, False, False),
        (P2, pytest.approx(0.166667), False, False),  # 0.3 x 5/9
        (Q3, 0.0, False, False),
    ]


def test_nothing_cast_gives_an_empty_but_complete_result() -> None:
    package = ranking_package()
    results = results_of(package, [])
    assert results["ballots"]["counted"] == 0
    assert all(o["votes"] == 0 for o in contest(results, "likes")["options"])
    assert results["ranking"]["winners"] == 0


def test_a_kiosk_test_tally_opens_only_test_ballots() -> None:
    """The logic-and-accuracy count: test ballots decrypt with the package's public test key;
    official ballots in the same chain are never opened (nobody holds that key whole)."""
    election = build_election(
        mixed_definition(groups=2, per_group=3, election_id="tally-test"),
        seed="tally",
        experts_per_group=1,
        online_per_proposal=1,
    )
    package = election.package
    writer = ChainWriter(
        package, SigningKey.generate(), datetime(2026, 11, 22, tzinfo=UTC), timedelta(minutes=1)
    )
    residents = [v for e in package.roll if (v := package.voter_for_card(e.card_key))]
    residents = [v for v in residents if v.category == "resident" and v.group == "g001"]
    testers = [test_voter(election, 0), test_voter(election, 1)]
    assert all(t.category == "resident" and t.group == "g001" for t in testers)
    writer.mode(Mode.TEST)
    writer.open_session()
    writer.cast(testers[0], resident(package, "g001", {P2: 7}), card_of(election, testers[0]))
    writer.cast(
        testers[1], resident(package, "g001", {P2: 9}, rules="no"), card_of(election, testers[1])
    )
    writer.close_session()
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    writer.cast(residents[0], resident(package, "g001", {P2: 1}), card_of(election, residents[0]))
    results = count_test_ballots(package, writer.blocks)
    assert results["ballots"]["counted"] == 2
    assert option(contest(results, "review"), P2)["by_category"]["resident"]["sum"] == 16.0
    assert contest(results, "rules")["no"] == 1


def test_a_test_ballot_that_does_not_open_is_reported_not_dropped() -> None:
    election = build_election(
        mixed_definition(groups=2, per_group=3, election_id="tally-test"),
        seed="tally",
        experts_per_group=1,
        online_per_proposal=1,
    )
    package = election.package
    writer = ChainWriter(
        package, SigningKey.generate(), datetime(2026, 11, 22, tzinfo=UTC), timedelta(minutes=1)
    )
    writer.mode(Mode.TEST)
    writer.open_session()
    card = test_card(election)
    # Marked a test ballot but encrypted to the election key: the test key cannot open it.
    official = encrypt_for(package, card.voter, test=False).ballot
    mislabelled = dataclasses.replace(official, test=True)
    writer.append(BlockKind.TEST_BALLOT, cast_body(mislabelled, card.voter.voter_id, card.key))
    results = count_test_ballots(package, writer.blocks)
    assert results["ballots"] == {"counted": 0, "invalid": 1, "by_category": {}}
    assert results["invalid"][0]["reason"]
