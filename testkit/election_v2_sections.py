"""The protocol v2 sections of a synthetic election (testkit/elections.py builds the rest): the
election key from an in-process simulated ceremony, the public test key and both rolls with
voter ids, all derived from the seed but the ceremony's own randomness."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import TestKey
from kiosk.core.election_key import ElectionKey, KeyTrustee
from kiosk.core.encoding import b64e, canonical_json
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
    outcome, shares, setup = _ceremony(str(definition["id"]), n, k, seed)
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


_Ceremony = tuple[CeremonyOutcome, dict[int, TrusteeShare], CeremonySetup]


def _ceremony(election_id: str, n: int, k: int, seed: str) -> _Ceremony:
    """The ceremony of the synthetic election ``election_id`` of ``seed``: the same in every
    process of a test run. A ceremony draws its own randomness (keys, polynomials, proofs), so
    two processes rebuilding "the same" synthetic election (a test and the kiosk process it
    kills and restarts) would otherwise hold different packages. The first process to run it
    keeps it in a file that the others read; the file's name covers the code that made it."""
    folder = Path(tempfile.gettempdir()) / f"hanpyo-synthetic-ceremonies-{os.getuid()}"
    name = sha256(canonical_json([_CODE_HASH, election_id, n, k, seed])).hex()
    path = folder / f"{name}.pickle"
    if path.exists():
        return cast(_Ceremony, pickle.loads(path.read_bytes()))  # noqa: S301 - our own file
    made = _run_ceremony(election_id, n, k)
    folder.mkdir(mode=0o700, exist_ok=True)
    draft = folder / f"{name}.{os.getpid()}.draft"
    draft.write_bytes(pickle.dumps(made))
    try:
        os.link(draft, path)  # exclusive: if another process got there first, theirs stands
    except FileExistsError:
        made = cast(_Ceremony, pickle.loads(path.read_bytes()))  # noqa: S301 - our own file
    finally:
        draft.unlink()
    return made


def _code_hash() -> str:
    """A hash of the code a ceremony's objects come from, so a kept one never outlives it."""
    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "kiosk" / "core" / "verifiable").glob("*.py"))
    files.append(root / "testkit" / "simulated_trustees.py")
    return sha256(b"".join(f.read_bytes() for f in files)).hex()


_CODE_HASH = _code_hash()


def _run_ceremony(election_id: str, n: int, k: int) -> _Ceremony:
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
