"""Fixtures the property tests share: the recorded kiosk chains under attack."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import SigningKey
from testkit.elections import (
    SyntheticElection,
    build_election,
    mixed_definition,
)
from testkit.tampering import (
    Chains,
    record,
)


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory, election: SyntheticElection) -> Chains:
    root = tmp_path_factory.mktemp("chains")
    definition = mixed_definition() | {"id": "test-review-other"}
    elsewhere = build_election(
        definition, seed="elsewhere", experts_per_group=1, online_per_proposal=1
    )
    key = SigningKey.generate()
    return Chains(
        own=record(root / "own.db", key, election, 1),
        other_kiosk=record(root / "kiosk.db", SigningKey.generate(), election, 2),
        other_election=record(root / "election.db", key, elsewhere, 3),
    )
