"""A picture of every screen, in Korean and English, at the default and the largest text size.

They are saved to test-output/screenshots/kiosk (or $HANPYO_SCREENSHOTS/kiosk) for people to
look at; the test itself checks that each screen rendered and that nothing needed to read
it is pushed off the screen.
"""

from __future__ import annotations

import pytest

from kiosk.core.chain import Mode
from tests.ui.driver import SCREENSHOTS, Kiosk, layout_problems


def settings(kiosk: Kiosk, language: str, size: int) -> None:
    """What the voter does on the waiting screen before inserting the card."""
    kiosk.wait_screen("waiting")
    kiosk.tap("langEn" if language == "en" else "langKo")
    if size:
        kiosk.tap("accessButton")
        kiosk.tap(f"textSize{size}")


@pytest.mark.parametrize(("language", "size"), [("ko", 0), ("en", 0), ("ko", 3), ("en", 3)])
def test_every_screen(kiosk_factory, language: str, size: int) -> None:
    kiosk = kiosk_factory(mode=Mode.TEST)
    tag = f"{language}-size{size + 1}"
    shots = []

    def shot(name: str) -> None:
        shots.append(kiosk.screenshot(f"{name}-{tag}"))
        problems = layout_problems(kiosk)
        assert not problems, f"{name} ({tag}): {problems}"

    settings(kiosk, language, size)
    shot("01-waiting")

    resident = kiosk.voter_card("resident", 0)
    kiosk.insert(resident)
    kiosk.wait_screen("pin")
    for digit in "000000":
        kiosk.tap(f"pin{digit}")
    kiosk.tap("pinOk")
    kiosk.wait_for("pinWrong")
    for digit in "12":
        kiosk.tap(f"pin{digit}")
    shot("02-pin-after-a-mistake")
    kiosk.tap("pinBack")
    kiosk.tap("pinBack")
    kiosk.type_pin()
    kiosk.wait_screen("ballot")
    options = [o for o in kiosk.election.package.options_in_group("g001")]
    kiosk.tap(f"score-{options[1].id}-8")
    shot("03-ballot-score")
    kiosk.tap(f"detail-{options[1].id}")
    shot("04-proposal-detail")
    kiosk.tap("closeDetail")
    kiosk.tap("next")
    shot("05-warning-unscored")
    kiosk.tap("warningGoOn")
    kiosk.tap("answer-yes")
    shot("06-ballot-yes-no")
    kiosk.tap("next")
    kiosk.wait_screen("review")
    shot("07-review")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    shot("08-receipt")
    kiosk.remove()

    settings(kiosk, language, size)
    kiosk.sign_in(kiosk.voter_card("online", 0))
    kiosk.wait_screen("ballot")
    shot("09-ballot-choice")
    kiosk.remove()

    settings(kiosk, language, size)
    kiosk.sign_in(resident)
    kiosk.wait_screen("message")
    shot("10-refused-already-voted")
    kiosk.remove()

    settings(kiosk, language, size)
    kiosk.sign_in(kiosk.staff_card("election_manager"))
    kiosk.wait_screen("staff")
    shot("11-staff-manager")
    kiosk.remove()

    for path in shots:
        assert path.stat().st_size > 5_000, f"{path} looks empty"
    assert (SCREENSHOTS / f"08-receipt-{tag}.png").exists()
