"""A picture of every screen, in Korean and English, at the default and the largest text size.

They are saved to test-output/screenshots/kiosk (or $HANPYO_SCREENSHOTS/kiosk) for people to
look at; the test itself checks that each screen rendered and that nothing needed to read
it is pushed off the screen.
"""

from __future__ import annotations

import pytest

from kiosk.core.chain import Mode
from testkit.ui_driver import SCREENSHOTS, KioskFactory, layout_problems, visit_every_screen


@pytest.mark.parametrize(("language", "size"), [("ko", 0), ("en", 0), ("ko", 3), ("en", 3)])
def test_every_screen(kiosk_factory: KioskFactory, language: str, size: int) -> None:
    kiosk = kiosk_factory(mode=Mode.TEST)
    tag = f"{language}-size{size + 1}"
    shots = []

    def shot(name: str) -> None:
        shots.append(kiosk.screenshot(f"{name}-{tag}"))
        problems = layout_problems(kiosk)
        assert not problems, f"{name} ({tag}): {problems}"

    assert len(visit_every_screen(kiosk, language, size, False, shot)) == 11
    for path in shots:
        assert path.stat().st_size > 5_000, f"{path} looks empty"
    assert (SCREENSHOTS / f"08-receipt-{tag}.png").exists()
