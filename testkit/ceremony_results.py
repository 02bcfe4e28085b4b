"""A trustees' ceremony result file (what `ledger trustee collect` writes) made in one process by
simulated trustees: for tests and benchmarks of what is made from a result, not of the ceremony
itself (tests/integration/test_trustee_ceremony.py runs that with one process per trustee)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.core.crypto import SigningKey
from kiosk.core.election import read_package
from kiosk.core.verifiable.ceremony import (
    CeremonyOutcome,
    TrusteeShare,
    evaluate,
    result_message,
)
from ledger.service.ceremony_result import ceremony_section, collect_result
from testkit.elections import SyntheticElection
from testkit.simulated_trustees import simulated_ceremony

# The trustee fields of a ceremony section that the package's election_key section carries.
_PACKAGE_TRUSTEE_FIELDS = (
    "index",
    "name",
    "signing_key",
    "box_key",
    "verification_key",
    "qualified",
)


@dataclass(frozen=True)
class SimulatedResult:
    """An honest ceremony's collected result and what no real ceremony puts in one place: every
    trustee's z_j and signing key."""

    record: dict[str, Any]  # the collected result file
    section: dict[str, Any]  # its summary, as the record states it (ceremony_section)
    outcome: CeremonyOutcome
    shares: dict[int, TrusteeShare]
    signing_keys: dict[int, SigningKey]


def simulated_result(election_id: str, n: int = 5, k: int = 3) -> SimulatedResult:
    """The collected result of an honest ceremony of ``n`` trustees, any ``k`` decrypting."""
    ceremony = simulated_ceremony(n, k, election_id)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    ceremony.open_all(commitments, shares)
    transcript = [*commitments, *shares, *ceremony.verdicts()]
    outcome = evaluate(ceremony.setup, transcript)
    results = [
        result_message(i, outcome, t.signing_key, ceremony.setup)
        for i, t in ceremony.trustees.items()
    ]
    record, verified = collect_result(ceremony.setup, [*transcript, *results])
    return SimulatedResult(
        record,
        ceremony_section(verified),
        outcome,
        ceremony.trustee_shares(outcome),
        {i: t.signing_key for i, t in ceremony.trustees.items()},
    )


def simulated_ceremony_result(
    election_id: str, n: int = 5, k: int = 3
) -> tuple[dict[str, Any], dict[int, TrusteeShare]]:
    """The collected result of an honest ceremony for ``election_id``, and each trustee's z_j."""
    result = simulated_result(election_id, n, k)
    return result.record, result.shares


def with_ceremony_key(synthetic: SyntheticElection, result: SimulatedResult) -> SyntheticElection:
    """``synthetic``'s v2 election with the election key of ``result`` in its package, as
    `ledger election create --ceremony` puts it there, and the trustees' shares beside it."""
    section = result.section
    key = {
        "key": section["election_key"],
        "threshold": section["threshold"],
        "setup_hash": section["setup_hash"],
        "transcript_hash": section["transcript_hash"],
        "trustees": [{n: t[n] for n in _PACKAGE_TRUSTEE_FIELDS} for t in section["trustees"]],
    }
    return SyntheticElection(
        read_package(synthetic.package.to_json() | {"election_key": key}),
        synthetic.authority,
        synthetic.voter_keys,
        synthetic.staff_keys,
        synthetic.test_card_keys,
        dict(result.shares),
        result.outcome,
    )
