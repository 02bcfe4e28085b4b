"""A package's sequence number, under the authority's signature, and the kiosk's pins that
keep it from ever going back to an older package or silently to another election."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kiosk.core.election import (
    MAX_SEQUENCE,
    ElectionId,
    ElectionPackage,
    Text,
    read_package,
    sign_package,
    verify_package,
)
from kiosk.core.errors import ElectionPackageError
from kiosk.core.package_pin import PackageRefused, first_pins, read_pins
from testkit.elections import SyntheticElection


def numbered(package: ElectionPackage, sequence: int, title: str = "") -> ElectionPackage:
    """``package`` as the authority would sign it again: number ``sequence``, maybe changed."""
    changed = Text(package.title.ko + title, package.title.en + title)
    return dataclasses.replace(package, sequence=sequence, title=changed)


def test_the_sequence_is_in_the_signed_document_and_reads_back(
    election: SyntheticElection,
) -> None:
    second = numbered(election.package, 2)
    document = sign_package(second, election.authority).to_json()
    assert document["package"]["sequence"] == 2
    assert verify_package(document, election.authority.public_key) == second
    assert second.package_hash != election.package.package_hash


def test_a_definition_without_a_sequence_is_the_first_package(
    election: SyntheticElection,
) -> None:
    document = election.package.to_json()
    del document["sequence"]
    assert read_package(document).sequence == 1


def test_a_signed_package_must_carry_its_sequence(election: SyntheticElection) -> None:
    document = sign_package(election.package, election.authority).to_json()
    del document["package"]["sequence"]
    with pytest.raises(ElectionPackageError, match="sequence number"):
        verify_package(document, election.authority.public_key)


def test_a_sequence_changed_after_signing_is_refused(election: SyntheticElection) -> None:
    document = sign_package(election.package, election.authority).to_json()
    document["package"]["sequence"] = 7
    with pytest.raises(ElectionPackageError, match="not signed by the pinned authority"):
        verify_package(document, election.authority.public_key)


@pytest.mark.parametrize("value", [0, -1, True, 1.0, "2", MAX_SEQUENCE + 1])
def test_a_sequence_that_is_not_a_positive_whole_number_is_refused(
    election: SyntheticElection, value: Any
) -> None:
    document = election.package.to_json()
    document["sequence"] = value
    with pytest.raises(ElectionPackageError, match=r"\.sequence"):
        read_package(document)


# -- the kiosk's pins ---------------------------------------------------------------------------


def test_pins_refuse_an_older_package_and_a_changed_one_with_the_same_number(
    election: SyntheticElection,
) -> None:
    second = numbered(election.package, 2)
    pins = first_pins(second)
    pins.check(second)  # the same package again is fine
    pins.check(numbered(election.package, 3, " (corrected)"))
    with pytest.raises(PackageRefused, match="never goes back") as older:
        pins.check(election.package)
    assert "오래된" in older.value.user_message[0]
    with pytest.raises(PackageRefused, match="content differs"):
        pins.check(numbered(election.package, 2, " (edited)"))


def test_pins_refuse_another_election_unless_asked_and_remember_every_election(
    election: SyntheticElection,
) -> None:
    other = dataclasses.replace(election.package, id=ElectionId("next-vote"))
    pins = first_pins(numbered(election.package, 2))
    with pytest.raises(PackageRefused, match="--new-election") as refused:
        pins.check(other)
    assert "another election" in refused.value.user_message[1]
    pins.check(other, new_election=True)
    moved = pins.after(other)
    assert moved.current == "next-vote"
    # Back to the first election, on purpose: still never below the number it had.
    with pytest.raises(PackageRefused, match="never goes back"):
        moved.check(election.package, new_election=True)
    moved.check(numbered(election.package, 2), new_election=True)


def test_pins_read_back_equal_and_a_damaged_file_is_refused(election: SyntheticElection) -> None:
    pins = first_pins(numbered(election.package, 4)).after(
        dataclasses.replace(election.package, id=ElectionId("next-vote"))
    )
    again = read_pins(pins.encode())
    assert again.current == pins.current and dict(again.elections) == dict(pins.elections)
    with pytest.raises(ElectionPackageError, match="cannot be read"):
        read_pins(b"{not json")
    damaged = pins.encode().replace(b'"current":"next-vote"', b'"current":"elsewhere"')
    with pytest.raises(ElectionPackageError, match="no pin"):
        read_pins(damaged)
