"""Which ledger refusals make an online platform stop telling voters "recorded": the ones no
later pass gets past without staff acting, never a passing fault."""

from __future__ import annotations

import pytest

from kiosk.sync.errors import LedgerRefused, LedgerUnreachable, SyncError
from kiosk.sync.worker import lasting_refusal


@pytest.mark.parametrize(
    ("error", "lasting"),
    [
        (LedgerRefused("election_closed", "block 9: frozen", 422), "election_closed"),
        (LedgerRefused("quarantined", "fork", 403), "quarantined"),
        (LedgerRefused("wrong_election", "another package", 422), "wrong_election"),
        (LedgerRefused("not_held", "signed head is 8", 422), None),
        (LedgerRefused("concurrent_upload", "again", 409), None),
        (LedgerRefused("rate_limited", "slow down", 429), None),
        (LedgerRefused("unexpected", "<html>", 400), None),
        (LedgerUnreachable("connection refused"), None),
        (SyncError("no JSON"), None),
    ],
)
def test_only_refusals_that_last_stop_the_platform(error: SyncError, lasting: str | None) -> None:
    assert lasting_refusal(error) == lasting
