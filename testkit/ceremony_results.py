"""A trustees' ceremony result file (what `ledger trustee collect` writes) made in one process by
simulated trustees: for tests of what is made from a result, not of the ceremony itself
(tests/integration/test_trustee_ceremony.py runs that with one process per trustee)."""

from __future__ import annotations

from typing import Any

from kiosk.core.verifiable.ceremony import TrusteeShare, evaluate, result_message
from ledger.service.ceremony_result import collect_result
from testkit.simulated_trustees import simulated_ceremony


def simulated_ceremony_result(
    election_id: str, n: int = 5, k: int = 3
) -> tuple[dict[str, Any], dict[int, TrusteeShare]]:
    """The collected result of an honest ceremony for ``election_id``, and each trustee's z_j
    (which a real ceremony never puts in one place)."""
    ceremony = simulated_ceremony(n, k, election_id)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    ceremony.open_all(commitments, shares)
    transcript = [*commitments, *shares, *ceremony.verdicts()]
    outcome = evaluate(ceremony.setup, transcript)
    results = [
        result_message(i, outcome, t.signing_key, ceremony.setup)
        for i, t in ceremony.trustees.items()
    ]
    record, _ = collect_result(ceremony.setup, [*transcript, *results])
    return record, ceremony.trustee_shares(outcome)
