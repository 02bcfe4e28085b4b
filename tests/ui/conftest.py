"""The kiosk as it runs: real QML offscreen, a real SQLCipher store, a private pcscd with
the card simulator behind vpcd, and a memory receipt printer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from kiosk.app import KioskConfig
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from testkit.elections import SyntheticElection, build_election
from testkit.kiosk_config import make_config
from testkit.kiosk_screens import ui_definition
from testkit.ui_driver import Kiosk, KioskFactory, kiosks_for


@pytest.fixture(scope="session")
def ui_election() -> SyntheticElection:
    """The screens' election. Eight test cards, the roll's first eight people: residents of
    group 1 first, the seventh and eighth its online members, so that a test-mode kiosk is
    walked through every contest kind with test cards."""
    return build_election(
        ui_definition(), seed="ui", experts_per_group=1, online_per_proposal=1, test_cards=8
    )


@pytest.fixture
def ui_config(tmp_path: Path, ui_election: SyntheticElection) -> Callable[..., KioskConfig]:
    """``make_config`` for this test's folder: ``ui_config(**overrides)``."""
    return lambda **overrides: make_config(tmp_path, ui_election, **overrides)


@pytest.fixture
def kiosk_factory(
    qtbot: QtBot, pcscd: PrivatePcscd, tmp_path: Path, ui_election: SyntheticElection
) -> Iterator[KioskFactory]:
    """Builds a kiosk window; ``mode``/``session`` prepare the chain as staff would have."""
    yield from kiosks_for(qtbot, pcscd, tmp_path, ui_election)


@pytest.fixture
def kiosk(kiosk_factory: KioskFactory) -> Kiosk:
    """A kiosk in official mode with a session open, waiting for a card."""
    return kiosk_factory()


@pytest.fixture(scope="session")
def ui_election_v2() -> SyntheticElection:
    """Another election of the same definition, with two test cards."""
    return build_election(
        ui_definition(),
        seed="ui-v2",
        experts_per_group=1,
        online_per_proposal=1,
        protocol=2,
        test_cards=2,
    )


@pytest.fixture
def v2_kiosk_factory(
    qtbot: QtBot, pcscd: PrivatePcscd, tmp_path: Path, ui_election_v2: SyntheticElection
) -> Iterator[KioskFactory]:
    """``kiosk_factory`` for the protocol v2 election."""
    yield from kiosks_for(qtbot, pcscd, tmp_path, ui_election_v2)
