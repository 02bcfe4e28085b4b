"""Election package v2: it reads back equal to itself and verifies under the authority's
signature; voters are found by any of their keys and by voter id, test cards only on the test
roll; every bad section is refused naming its path; v1 packages read exactly as before."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.cosignature import CosignerKey
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import ElectionPackage, read_package, sign_package, verify_package
from kiosk.core.encoding import b64e, parse_json
from kiosk.core.errors import ElectionPackageError
from kiosk.core.verifiable.group import ORDER, base_mul
from testkit.elections import (
    SyntheticElection,
    build_election,
    mixed_definition,
)

Mutation = Callable[[dict[str, Any]], object]

LOG_KEY = SigningKey(sha256(b"hanpyo-test/log-key"))
LOG_VERIFIER = NoteVerifier("ledger.test/log", LOG_KEY.public_key)
WITNESS_KEYS = tuple(
    CosignerKey(f"witness-{i}.example", SigningKey(sha256(f"w{i}".encode())).public_key).vkey
    for i in range(3)
)


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    return build_election(
        mixed_definition(),
        seed="v2",
        protocol=2,
        test_cards=3,
        log_key=LOG_VERIFIER.vkey,
        witnesses=(2, WITNESS_KEYS),
        min_column=5,
    )


@pytest.fixture
def document(v2: SyntheticElection) -> dict[str, Any]:
    return copy.deepcopy(v2.package.to_json())


# -- round trip and signature ------------------------------------------------------------------


def test_a_v2_package_reads_back_equal_to_itself_from_its_canonical_bytes(
    v2: SyntheticElection,
) -> None:
    package = v2.package
    again = read_package(parse_json(package.canonical()))
    assert again == package
    assert again.canonical() == package.canonical()
    assert again.package_hash == package.package_hash


def test_a_v2_package_carries_what_the_design_lists(v2: SyntheticElection) -> None:
    p = v2.package
    assert p.protocol == 2
    assert p.election_key is not None and p.election_key.threshold == 3
    assert len(p.election_key.trustees) == 5
    assert p.test_key is not None and base_mul(p.test_key.secret) == p.test_key.key
    assert p.log_key == LOG_KEY.public_key
    assert p.log_verifier == LOG_VERIFIER
    assert document_has(p, "ledger", "log_key", LOG_VERIFIER.vkey)
    assert p.witnesses.threshold == 2
    assert [k.vkey for k in p.witnesses.keys] == list(WITNESS_KEYS)
    assert p.min_column == 5
    assert len(p.test_roll) == 3
    document = p.to_json()
    assert document["v"] == 2
    assert "nullifier_salt" not in json.dumps(document)
    assert all(
        set(e) == {"voter", "keys", "category", "group", "excluded"} for e in document["roll"]
    )


def test_the_trustee_shares_open_what_is_encrypted_to_the_election_key(
    v2: SyntheticElection,
) -> None:
    # any three of the five shares interpolate to K's secret: the package's K is the ceremony's
    assert v2.package.election_key is not None
    assert base_mul(_secret_of_k(v2)) == v2.package.election_key.key


def test_a_signed_v2_package_verifies_and_a_changed_one_does_not(v2: SyntheticElection) -> None:
    signed = json.loads(json.dumps(v2.signed().to_json()))
    assert verify_package(signed, v2.authority.public_key) == v2.package
    signed["package"]["privacy"]["min_column"] = 1
    with pytest.raises(ElectionPackageError, match="not signed by the pinned authority key"):
        verify_package(signed, v2.authority.public_key)


def test_the_same_seed_gives_the_same_voter_ids_and_cards() -> None:
    one, two = (
        build_election(mixed_definition(), seed="same", protocol=2, test_cards=1) for _ in "ab"
    )
    assert [e.voter_id for e in one.package.roll] == [e.voter_id for e in two.package.roll]
    assert [e.keys for e in one.package.test_roll] == [e.keys for e in two.package.test_roll]
    assert one.package.test_key == two.package.test_key


def document_has(p: ElectionPackage, section: str, key: str, value: object) -> bool:
    return bool(p.to_json()[section][key] == value)


# -- look-ups ----------------------------------------------------------------------------------


def test_a_voter_card_is_found_on_the_roll_and_not_among_test_cards(v2: SyntheticElection) -> None:
    p, key = v2.package, v2.voter_keys[4].public_key
    voter = p.voter_for_card(key)
    assert voter is not None and not voter.test
    assert voter.voter_id == p.roll[4].voter_id
    assert voter.card_key == key
    assert p.test_voter_for_card(key) is None
    assert voter.voter_id is not None and p.roll_entry_by_voter(voter.voter_id) == p.roll[4]
    assert p.test_entry_by_voter(voter.voter_id) is None


def test_a_test_card_is_found_on_the_test_roll_only(v2: SyntheticElection) -> None:
    p, key = v2.package, v2.test_card_keys[1].public_key
    assert p.voter_for_card(key) is None
    assert p.roll_entry(key) is None
    voter = p.test_voter_for_card(key)
    assert voter is not None and voter.test
    assert voter.voter_id == p.test_roll[1].voter_id
    assert voter.voter_id is not None and p.test_entry_by_voter(voter.voter_id) == p.test_roll[1]
    assert p.roll_entry_by_voter(voter.voter_id) is None


def test_any_key_of_an_entry_finds_its_voter(document: dict[str, Any]) -> None:
    credential = SigningKey(sha256(b"online credential")).public_key
    document["roll"][2]["keys"].append(b64e(credential))
    p = read_package(document)
    by_card = p.voter_for_card(p.roll[2].keys[0])
    by_credential = p.voter_for_card(credential)
    assert by_card is not None and by_credential is not None
    assert by_credential.voter_id == by_card.voter_id == p.roll[2].voter_id
    assert by_credential.card_key == credential  # the key that will sign
    assert p.roll[2].card_key == p.roll[2].keys[0]


# -- protocol 1 ---------------------------------------------------------------------------------


def test_a_protocol_1_package_is_refused_saying_how_to_make_it_again(
    v2: SyntheticElection,
) -> None:
    document = v2.package.to_json() | {"v": 1}
    with pytest.raises(ElectionPackageError) as refused:
        read_package(document)
    assert "no longer accepted" in str(refused.value)
    ko, en = refused.value.user_message
    assert "ledger election create --protocol 2" in ko and "프로토콜 1" in ko
    assert "older protocol" in en and "ledger election create --protocol 2" in en


# -- refusals ----------------------------------------------------------------------------------


def _secret_of_k(v2: SyntheticElection) -> int:
    """K's secret, by Lagrange interpolation at 0 of trustees 1..3's shares (tests only)."""
    indices = [1, 2, 3]
    total = 0
    for i in indices:
        weight = 1
        for j in indices:
            if j != i:
                weight = weight * j * pow(j - i, -1, ORDER) % ORDER
        total += weight * v2.trustee_shares[i].secret
    return total % ORDER


def _set(*path: str | int, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target: Any = d
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _drop(*path: str | int) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target: Any = d
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


def _copy(source: tuple[str | int, ...], target: tuple[str | int, ...]) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        value: Any = d
        for step in source:
            value = value[step]
        _set(*target, value=copy.deepcopy(value))(d)

    return mutate


def _secret_plus_one(d: dict[str, Any]) -> None:
    secret = int.from_bytes(bytes.fromhex(d["keys"]["test"]["secret"]), "little")
    d["keys"]["test"]["secret"] = ((secret + 1) % ORDER).to_bytes(32, "little").hex()


def _add_key(section: str, index: int, key: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        d[section][index]["keys"].append(key)

    return mutate


def _five_keys(d: dict[str, Any]) -> None:
    d["roll"][0]["keys"] += [b64e(SigningKey(sha256(bytes([i]))).public_key) for i in range(4)]


NOT_A_POINT = b64e(b"\x01" * 32)
OFF_CURVE_HEX = "ff" * 32


REFUSALS = [
    pytest.param(_set("keys", "test", "key", value="AB" * 32), "keys.test.key", id="hex-case"),
    pytest.param(_set("keys", "test", "key", value="zz" * 32), "keys.test.key", id="not-hex"),
    pytest.param(
        _set("keys", "test", "key", value=OFF_CURVE_HEX), "keys.test.key", id="not-a-point"
    ),
    pytest.param(_secret_plus_one, "keys.test: secret times the generator", id="wrong-secret"),
    pytest.param(
        _set("keys", "test", "secret", value="ff" * 32), "keys.test.secret", id="secret-not-reduced"
    ),
    pytest.param(_drop("keys", "test"), "keys.test: is missing", id="no-test-key"),
    pytest.param(
        _set("keys", "ballot", value=b64e(b"\x02" * 32)),
        "keys: unknown field(s): ballot",
        id="v1-key",
    ),
    pytest.param(
        _set("nullifier_salt", value=b64e(b"\x02" * 32)),
        "unknown field(s): nullifier_salt",
        id="salt",
    ),
    pytest.param(_drop("election_key"), "election_key: is missing", id="no-election-key"),
    pytest.param(_set("roll", 0, "voter", value="AB" * 16), "roll[0].voter", id="voter-id-case"),
    pytest.param(_set("roll", 0, "voter", value="ab" * 15), "roll[0].voter", id="voter-id-short"),
    pytest.param(
        _copy(("roll", 0, "voter"), ("roll", 3, "voter")),
        "roll[3].voter and roll[0].voter",
        id="voter-id-twice",
    ),
    pytest.param(
        _copy(("roll", 5, "voter"), ("test_roll", 1, "voter")),
        "test_roll[1].voter and roll[5].voter",
        id="voter-id-in-both-rolls",
    ),
    pytest.param(_set("roll", 0, "keys", value=[]), "roll[0].keys: must list", id="no-keys"),
    pytest.param(_five_keys, "roll[0].keys: has more than 4 items", id="five-keys"),
    pytest.param(
        _set("roll", 1, "keys", 0, value=NOT_A_POINT), "roll[1].keys[0]", id="key-not-a-point"
    ),
    pytest.param(_set("roll", 1, "keys", 0, value=42), "roll[1].keys[0]", id="key-not-text"),
    pytest.param(
        _copy(("roll", 2, "keys", 0), ("test_roll", 0, "keys", 0)),
        "roll[2].keys[0] and test_roll[0].keys[0]",
        id="voter-card-is-test-card",
    ),
    pytest.param(
        _copy(("roll", 2, "keys", 0), ("staff", 1, "card_key")),
        "roll[2].keys[0] and staff[1].card_key: card key",
        id="voter-card-is-staff-card",
    ),
    pytest.param(
        _copy(("roll", 2, "keys", 0), ("roll", 6, "keys", 0)),
        "roll[2].keys[0] and roll[6].keys[0]",
        id="two-voters-one-card",
    ),
    pytest.param(_drop("roll", 0, "voter"), "roll[0].voter: is missing", id="v1-roll-entry-shape"),
    pytest.param(
        _set("test_roll", 0, "category", value="nobody"),
        "test_roll[0]: category 'nobody' does not exist",
        id="test-card-category",
    ),
    pytest.param(
        _set("ledger", "log_key", value=NOT_A_POINT), "ledger.log_key", id="log-key-not-a-vkey"
    ),
    pytest.param(
        _set("ledger", "log_key", value=b64e(LOG_KEY.public_key)),
        "ledger.log_key: a verifier key is <name>+<key id>+<key>",
        id="log-key-bare",
    ),
    pytest.param(
        _set("ledger", "log_key", value="other.log+" + LOG_VERIFIER.vkey.split("+", 1)[1]),
        "does not match its name and key",
        id="log-key-renamed",
    ),
    pytest.param(_drop("ledger", "log_key"), "ledger.log_key: is missing", id="log-key-missing"),
    pytest.param(
        _set("witnesses", "keys", 1, value="witness+00000000+AAAA"),
        "witnesses.keys[1]",
        id="witness-key-unparsable",
    ),
    pytest.param(
        _set("witnesses", "keys", 0, value=WITNESS_KEYS[0] + " "),
        "witnesses.keys[0]: must be written exactly",
        id="witness-key-respelled",
    ),
    pytest.param(
        _set("witnesses", "keys", 2, value=WITNESS_KEYS[0]),
        "witnesses.keys[2]: repeats keys[0]",
        id="witness-twice",
    ),
    pytest.param(
        _set("witnesses", "threshold", value=4),
        "witnesses.threshold: asks for 4 cosignatures but names 3",
        id="threshold-above-keys",
    ),
    pytest.param(
        _set("witnesses", "threshold", value=-1), "witnesses.threshold", id="threshold-negative"
    ),
    pytest.param(
        _set("privacy", "min_column", value=0), "privacy.min_column", id="min-column-zero"
    ),
    pytest.param(_set("privacy", "k", value=1), "privacy: unknown field(s): k", id="privacy-typo"),
    pytest.param(_set("v", value=3), "v: unsupported package version 3", id="version-3"),
]


@pytest.mark.parametrize(("mutate", "where"), REFUSALS)
def test_a_bad_v2_package_is_refused_naming_where(
    document: dict[str, Any], mutate: Mutation, where: str
) -> None:
    mutate(document)
    with pytest.raises(ElectionPackageError) as refused:
        read_package(document)
    assert where in str(refused.value)


def test_a_test_key_equal_to_the_election_key_is_refused(
    v2: SyntheticElection, document: dict[str, Any]
) -> None:
    secret = _secret_of_k(v2)
    document["keys"]["test"] = {
        "key": base_mul(secret).hex(),
        "secret": secret.to_bytes(32, "little").hex(),
    }
    with pytest.raises(ElectionPackageError, match=r"keys\.test\.key: the test key must differ"):
        read_package(document)


def test_witnesses_and_privacy_may_be_left_out_of_a_definition(
    document: dict[str, Any],
) -> None:
    del document["witnesses"], document["privacy"], document["test_roll"]
    p = read_package(document)
    assert (p.witnesses.threshold, p.witnesses.keys, p.min_column, p.test_roll) == (0, (), 10, ())
    assert read_package(p.to_json()) == p


def test_a_v2_package_signed_as_v1_is_another_package(v2: SyntheticElection) -> None:
    # the version is under the signature: the same bytes with "v": 1 are not what was signed
    signed = sign_package(v2.package, v2.authority).to_json()
    signed["package"]["v"] = 1
    with pytest.raises(ElectionPackageError):
        verify_package(signed, v2.authority.public_key)


def test_the_package_type_needs_an_election_key(v2: SyntheticElection) -> None:
    import dataclasses

    with pytest.raises(ElectionPackageError, match="election_key: is missing"):
        dataclasses.replace(v2.package, election_key=None)
    assert isinstance(v2.package, ElectionPackage)
