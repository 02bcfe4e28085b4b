"""The authority's second signature, over the package's public part (the rolls by hash), which
the voting page checks without the national roll (review F3): what it covers, that a file whose
public signature does not verify is refused, and that it never passes for the package's own
signature nor the other way round."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.core.crypto import Domain, SigningKey, sha256, verify_signature
from kiosk.core.election import public_part, sign_package, verify_package
from kiosk.core.encoding import b64d, b64e, canonical_json
from kiosk.core.errors import ElectionPackageError, VerificationError
from kiosk.core.verifiable.group import base_mul
from testkit.elections import SyntheticElection


def _signed(election: SyntheticElection) -> dict[str, Any]:
    return sign_package(election.package, election.authority).to_json()


def _public_ok(part: dict[str, Any], signature: str, authority: bytes) -> bool:
    try:
        verify_signature(
            Domain.ELECTION_PUBLIC, authority, canonical_json(part), b64d(signature, length=64)
        )
    except VerificationError:
        return False
    return True


def test_the_public_part_is_the_package_with_each_roll_replaced_by_its_hash(
    election: SyntheticElection,
) -> None:
    package = election.package
    assert package.roll and package.test_roll  # both rolls are there to be hashed
    full = package.to_json()
    part = public_part(package)
    assert "roll" not in part and "test_roll" not in part
    assert part["roll_hash"] == sha256(canonical_json(full["roll"])).hex()
    assert part["test_roll_hash"] == sha256(canonical_json(full["test_roll"])).hex()
    rest = {k: v for k, v in part.items() if k not in ("roll_hash", "test_roll_hash")}
    assert rest == {k: v for k, v in full.items() if k not in ("roll", "test_roll")}


def test_signing_gives_both_signatures_and_both_verify(election: SyntheticElection) -> None:
    document = _signed(election)
    key = election.authority.public_key
    assert set(document) == {"package", "signature", "public_signature"}
    assert verify_package(document, key) == election.package
    assert _public_ok(public_part(election.package), document["public_signature"], key)


def test_the_package_signature_is_unchanged(election: SyntheticElection) -> None:
    """Kiosks, the ledger and verifiers keep checking the first signature as before."""
    document = _signed(election)
    assert b64d(document["signature"]) == election.authority.sign(
        Domain.ELECTION, election.package.canonical()
    )
    older = {"package": document["package"], "signature": document["signature"]}
    assert verify_package(older, election.authority.public_key) == election.package


def test_a_public_signature_that_does_not_verify_refuses_the_file(
    election: SyntheticElection,
) -> None:
    document = _signed(election)
    other = SigningKey(sha256(b"not the authority"))
    document["public_signature"] = b64e(
        other.sign(Domain.ELECTION_PUBLIC, canonical_json(public_part(election.package)))
    )
    with pytest.raises(ElectionPackageError) as refused:
        verify_package(document, election.authority.public_key)
    assert "public part" in str(refused.value)
    ko, en = refused.value.user_message
    assert "선거 관리자" in ko and "election office" in en


def test_a_changed_election_key_in_the_public_part_does_not_verify(
    election: SyntheticElection,
) -> None:
    """A platform serving its own election key K' = k'·G with the authority's public signature."""
    document = _signed(election)
    part = public_part(election.package)
    theirs = base_mul(123456789).hex()
    assert part["election_key"]["key"] != theirs
    forged = part | {"election_key": part["election_key"] | {"key": theirs}}
    assert not _public_ok(forged, document["public_signature"], election.authority.public_key)


@pytest.mark.parametrize("roll", ["roll_hash", "test_roll_hash"])
def test_a_changed_roll_hash_does_not_verify(election: SyntheticElection, roll: str) -> None:
    document = _signed(election)
    part = public_part(election.package)
    forged = part | {roll: sha256(b"another roll").hex()}
    assert not _public_ok(forged, document["public_signature"], election.authority.public_key)


def test_the_two_signatures_never_stand_for_each_other(election: SyntheticElection) -> None:
    """Domain separation: the public signature is not the package's, nor is it over the same
    message under another domain; swapping them refuses the file."""
    document = _signed(election)
    key = election.authority.public_key
    assert document["public_signature"] != document["signature"]
    assert not _public_ok(public_part(election.package), document["signature"], key)
    with pytest.raises(VerificationError):
        verify_signature(
            Domain.ELECTION,
            key,
            canonical_json(public_part(election.package)),
            b64d(document["public_signature"]),
        )
    swapped = document | {
        "signature": document["public_signature"],
        "public_signature": document["signature"],
    }
    with pytest.raises(ElectionPackageError):
        verify_package(swapped, key)
    assert len({d.value for d in Domain}) == len(Domain)  # no domain is another's
    assert Domain.ELECTION_PUBLIC.value == b"hanpyo/election-public/v2\n"
