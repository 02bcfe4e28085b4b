"""The protocol v2 sections of a synthetic election (testkit/elections.py builds the rest): the
election key from an in-process simulated ceremony, the public test key and both rolls with
voter ids, all derived from the seed but the ceremony's own randomness."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import TestKey
from kiosk.core.election_key import ElectionKey, KeyTrustee
from kiosk.core.encoding import b64e
from kiosk.core.verifiable.ceremony import CeremonyOutcome, CeremonySetup, TrusteeShare, evaluate
from kiosk.core.verifiable.group import ORDER, base_mul
from testkit.simulated_trustees import simulated_ceremony

Person = tuple[str, str, list[str]]  # category, group, excluded proposals


@dataclass(frozen=True, slots=True)
class V2Sections:
    document: dict[str, Any]
    shares: dict[int, TrusteeShare]
    outcome: CeremonyOutcome


def v2_sections(
    definition: Mapping[str, Any],
    seed: str,
    people: list[Person],
    voter_keys: tuple[SigningKey, ...],
    test_card_keys: tuple[SigningKey, ...],
    trustees: tuple[int, int],
) -> V2Sections:
    """The v2 sections: the keys, the election key from a simulated ceremony, both rolls."""
    n, k = trustees
    outcome, shares, setup = _ceremony(str(definition["id"]), n, k)
    # The test key's secret is public by design; here it comes from the seed, so that a test
    # can make the same package twice.
    test_secret = int.from_bytes(hashlib.sha512(f"{seed}/test-key".encode()).digest(), "little")
    test_secret %= ORDER
    test_profiles = [people[i % len(people)] for i in range(len(test_card_keys))]
    document = {
        "v": 2,
        "keys": {"test": TestKey(base_mul(test_secret), test_secret).to_json()},
        "election_key": _election_key(outcome, setup).to_json(),
        "roll": _v2_roll(seed, "voter-id", people, voter_keys),
        "test_roll": [
            e | {"excluded": []}
            for e in _v2_roll(seed, "test-voter-id", test_profiles, test_card_keys)
        ],
    }
    return V2Sections(document, shares, outcome)


def synthetic_voter_id(seed: str, role: str, index: int) -> bytes:
    """The voter id of synthetic card ``index`` (16 bytes, as enrolment draws them)."""
    return sha256(f"hanpyo-synthetic/{seed}/{role}/{index}".encode())[:16]


def _v2_roll(
    seed: str, role: str, people: list[Person], keys: tuple[SigningKey, ...]
) -> list[dict[str, Any]]:
    return [
        {
            "voter": synthetic_voter_id(seed, role, i).hex(),
            "keys": [b64e(key.public_key)],
            "category": cat,
            "group": group,
            "excluded": ex,
        }
        for i, (key, (cat, group, ex)) in enumerate(zip(keys, people, strict=True))
    ]


def _ceremony(
    election_id: str, n: int, k: int
) -> tuple[CeremonyOutcome, dict[int, TrusteeShare], CeremonySetup]:
    """An honest ceremony for this election (simulated_trustees.honest_ceremony, but with the
    election's own id in its setup, as a real ceremony has)."""
    ceremony = simulated_ceremony(n, k, election_id)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    ceremony.open_all(commitments, shares)
    outcome = evaluate(ceremony.setup, [*commitments, *shares, *ceremony.verdicts()])
    return outcome, ceremony.trustee_shares(outcome), ceremony.setup


def _election_key(outcome: CeremonyOutcome, setup: CeremonySetup) -> ElectionKey:
    return ElectionKey(
        key=outcome.election_key,
        threshold=outcome.threshold,
        setup_hash=outcome.setup_hash,
        transcript_hash=outcome.transcript_hash,
        trustees=tuple(
            KeyTrustee(
                t.index,
                t.name,
                t.signing_key,
                t.box_key,
                outcome.verification_keys[t.index],
                t.index in outcome.qualified,
            )
            for t in setup.trustees
        ),
    )
