"""A voter's whole visit through the real screens, card and store."""

from __future__ import annotations

from testkit.kiosk_screens import last_ballot
from testkit.ui_driver import Kiosk


def test_a_resident_scores_their_group_and_casts(kiosk: Kiosk) -> None:
    voter = kiosk.voter_card("resident", 0)
    entry = kiosk.election.package.voter_for_card(kiosk.election.voter_keys[0].public_key)
    assert entry is not None
    own = next(iter(entry.excluded))
    kiosk.sign_in(voter)
    kiosk.wait_screen("ballot")
    assert kiosk.text("progress") == "1 / 2 쪽"
    # Recusal: the resident's own proposal is not on their ballot.
    assert not kiosk.visible(f"option-{own}")
    options = [o.id for o in kiosk.election.package.options_in_group("g001") if o.id != own]
    for score, option in zip((7, 9, 3), options, strict=False):
        kiosk.tap(f"score-{option}-{score}")
    kiosk.tap("next")
    # One proposal is unscored: the voter is warned and may go back or go on.
    assert "1개" in kiosk.text("warningText")
    kiosk.tap("warningGoOn")
    assert kiosk.text("progress") == "2 / 2 쪽"
    kiosk.tap("answer-yes")
    kiosk.tap("next")
    kiosk.wait_screen("review")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    code = kiosk.text("trackingCode")
    assert len(code.replace("-", "")) == 16
    assert last_ballot(kiosk) == {
        "review": {options[0]: 7, options[1]: 9, options[2]: 3},
        "rules": "yes",
    }
    kiosk.qtbot.waitUntil(lambda: len(kiosk.printer.printed) == 1, timeout=5000)
    assert kiosk.printer.printed[0].code == code
    kiosk.remove()


def test_an_online_member_may_like_at_most_two(kiosk: Kiosk) -> None:
    kiosk.sign_in(kiosk.voter_card("online", 0))
    kiosk.wait_screen("ballot")
    entry = kiosk.election.package.voter_for_card(
        kiosk.election.voter_keys[_roll_index(kiosk, "online", 0)].public_key
    )
    assert entry is not None
    own = next(iter(entry.excluded))
    options = [o.id for o in kiosk.election.package.options_in_group("g001") if o.id != own]
    assert "2" in kiosk.text("contestHint")
    kiosk.tap(f"choose-{options[0]}")
    kiosk.tap(f"choose-{options[1]}")
    kiosk.tap(f"choose-{options[2]}")  # a third is one too many
    assert "2" in kiosk.text("warningText")
    kiosk.tap("warningBack")
    assert "2개 중 2개" in kiosk.text("contestHint")
    kiosk.tap(f"choose-{options[0]}")  # unchoose one, then the third fits
    kiosk.tap(f"choose-{options[2]}")
    kiosk.tap("next")
    kiosk.wait_screen("review")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    assert sorted(last_ballot(kiosk)["likes"]) == sorted([options[1], options[2]])


def test_an_expert_scores_each_criterion(kiosk: Kiosk) -> None:
    kiosk.sign_in(kiosk.voter_card("expert", 0))
    kiosk.wait_screen("ballot")
    options = [o.id for o in kiosk.election.package.options_in_group("g001")]
    for option in options:
        kiosk.tap(f"score-{option}-5")
    kiosk.tap("next")
    assert kiosk.text("progress") == "2 / 2 쪽"
    kiosk.tap(f"score-{options[0]}-impact-4")
    kiosk.tap("next")  # the first proposal has one criterion of two: must be finished
    assert kiosk.find("warningGoOn") is None
    kiosk.tap("warningBack")
    kiosk.tap(f"score-{options[0]}-feasibility-2")
    # 0 is a real score in this contest, not "no score".
    kiosk.tap(f"score-{options[1]}-impact-0")
    kiosk.tap(f"score-{options[1]}-feasibility-0")
    kiosk.tap("next")
    kiosk.tap("warningGoOn")  # the other proposals are unscored: allowed, after a warning
    kiosk.wait_screen("review")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    contests = last_ballot(kiosk)
    assert contests["review"] == {o: 5 for o in options}
    assert contests["expert-criteria"] == {
        options[0]: {"impact": 4, "feasibility": 2},
        options[1]: {"impact": 0, "feasibility": 0},
    }


def _roll_index(kiosk: Kiosk, category: str, n: int) -> int:
    return [i for i, e in enumerate(kiosk.election.package.roll) if e.category == category][n]
