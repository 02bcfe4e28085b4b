"""The package's election_key section: what the trustees' ceremony made, signed with the package,
and refused when its keys do not fit together."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.core.election import read_package, sign_package, verify_package
from kiosk.core.errors import ElectionPackageError
from kiosk.core.verifiable.group import G, base_mul
from testkit.elections import build_election, mixed_definition
from testkit.simulated_trustees import honest_ceremony


def _section(n: int = 5, k: int = 3) -> dict[str, Any]:
    ceremony, outcome, _ = honest_ceremony(n, k)
    return {
        "key": outcome.election_key.hex(),
        "threshold": k,
        "setup_hash": outcome.setup_hash.hex(),
        "transcript_hash": outcome.transcript_hash.hex(),
        "trustees": [
            t.identity().to_json()
            | {"verification_key": outcome.verification_keys[i].hex(), "qualified": True}
            for i, t in sorted(ceremony.trustees.items())
        ],
    }


@pytest.fixture(scope="module")
def section() -> dict[str, Any]:
    return _section()


def _document(section: dict[str, Any] | None) -> dict[str, Any]:
    document = build_election(mixed_definition(), seed="key").package.to_json()
    if section is None:
        del document["election_key"]
    else:
        document["election_key"] = section
    return document


def test_a_package_carries_the_ceremony_key_under_the_authority_signature(
    section: dict[str, Any],
) -> None:
    package = read_package(_document(section))
    assert package.election_key is not None
    assert package.election_key.key.hex() == section["key"]
    assert package.election_key.trustee(2) is not None
    authority = SigningKey.generate()
    signed = sign_package(package, authority).to_json()
    assert verify_package(signed, authority.public_key) == package
    swapped = copy.deepcopy(signed)
    other = _section()
    swapped["package"]["election_key"] = other  # another ceremony's key, same signature
    with pytest.raises(ElectionPackageError, match="not signed by the pinned authority"):
        verify_package(swapped, authority.public_key)


def test_a_package_without_the_section_is_refused() -> None:
    with pytest.raises(ElectionPackageError, match="election_key: is missing"):
        read_package(_document(None))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(key=base_mul(7).hex()), "the election key K does not lie"),
        (
            lambda s: s["trustees"][4].update(verification_key=G.hex()),
            "trustee 5's verification key does not lie",
        ),
        (lambda s: s.update(threshold=6), "needs at least that many trustees"),
        (lambda s: s.update(threshold=1), "any single trustee"),
        (lambda s: s["trustees"][1].update(index=7), "numbered 1..n"),
        (lambda s: s.update(key="00" * 32), "identity"),
        (lambda s: s.update(key="ff" * 32), "not a canonical ristretto255 encoding"),
        (lambda s: s.update(transcript_hash="AB" * 32), "lowercase hexadecimal"),
        (lambda s: s["trustees"][0].update(extra=1), "unknown field"),
        (
            lambda s: [t.update(qualified=False) for t in s["trustees"][:3]],
            "fewer trustees are qualified",
        ),
        (
            lambda s: s["trustees"][1].update(signing_key=s["trustees"][0]["signing_key"]),
            "same signing key",
        ),
    ],
)
def test_keys_that_do_not_fit_together_are_refused(
    section: dict[str, Any], change: Any, message: str
) -> None:
    bad = copy.deepcopy(section)
    change(bad)
    with pytest.raises(ElectionPackageError, match=message):
        read_package(_document(bad))
