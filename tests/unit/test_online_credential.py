"""The online voter's credential code and the key the voting page derives from it: what a voter
may type, the errors they read, and the key (the same in libsodium and in the page's
JavaScript, pinned by tests/data/online_vectors.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.online_credential import (
    ALPHABET,
    CredentialError,
    credential_key,
    credential_salt,
    credential_seed,
    new_code,
    normalize_code,
)

VECTORS = Path(__file__).parents[1] / "data" / "online_vectors.json"
CODE = "7K3QD-4F8ZX-1M2N3-P4Q5R"
ELECTION = "hanpyo-2026-online"


def test_a_new_code_is_four_groups_of_five_crockford_symbols() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [5, 5, 5, 5]
        assert set("".join(groups)) <= set(ALPHABET)
        assert normalize_code(code) == "".join(groups)
    # 200 codes of 20 symbols use the whole alphabet: every symbol is drawn, none left out
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "7K3QD-4F8ZX-1M2N3-P4Q5R",
        "7k3qd4f8zx1m2n3p4q5r",
        " 7K3QD 4F8ZX 1M2N3 P4Q5R ",
        "7K3QD-4F8ZX-IM2N3-P4Q5R",  # I read as 1
        "7K3QD-4F8ZX-lM2N3-P4Q5R",  # l read as 1
        "７Ｋ３ＱＤ－４Ｆ８ＺＸ－１Ｍ２Ｎ３－Ｐ４Ｑ５Ｒ",  # full-width, from a Korean keyboard
        "7K3QD\u30004F8ZX\u00a01M2N3\tP4Q5R",  # ideographic and no-break spaces
    ],
)
def test_a_code_is_read_as_a_person_types_it(typed: str) -> None:
    assert normalize_code(typed) == "7K3QD4F8ZX1M2N3P4Q5R"


def test_the_letter_o_reads_as_zero() -> None:
    assert normalize_code("oOooo-00000-00000-00000") == "0" * 20


def test_a_short_code_says_how_many_symbols_were_typed() -> None:
    with pytest.raises(CredentialError, match="20 symbols; found 19") as caught:
        normalize_code("7K3QD-4F8ZX-1M2N3-P4Q5")
    ko, en = caught.value.user_message
    assert "20자" in ko and "19자" in ko
    assert "20 characters" in en and "you entered 19" in en


def test_a_long_code_is_refused() -> None:
    with pytest.raises(CredentialError, match="found 21"):
        normalize_code(CODE + "0")


@pytest.mark.parametrize("symbol", ["U", "*", "가", "!"])
def test_a_symbol_outside_the_alphabet_is_named(symbol: str) -> None:
    with pytest.raises(CredentialError, match="found") as caught:
        normalize_code("7K3QD-4F8ZX-1M2N3-P4Q5" + symbol)
    ko, en = caught.value.user_message
    assert "글자" in ko
    assert "character that is not used" in en


def test_the_key_is_the_same_however_the_code_is_typed() -> None:
    key = credential_key(CODE, ELECTION)
    assert credential_key("7k3qd 4f8zx lm2n3 p4q5r", ELECTION).public_key == key.public_key
    assert len(credential_seed(CODE, ELECTION)) == 32


def test_another_election_or_another_code_gives_another_key() -> None:
    key = credential_key(CODE, ELECTION).public_key
    assert credential_key(CODE, ELECTION + "-2").public_key != key
    assert credential_key("7K3QD-4F8ZX-1M2N3-P4Q5S", ELECTION).public_key != key
    assert credential_salt(ELECTION) != credential_salt(ELECTION + "-2")


def test_the_derived_key_signs_as_a_card_does() -> None:
    key = credential_key(CODE, ELECTION)
    signature = key.sign(Domain.BALLOT, b"message")
    verify_signature(Domain.BALLOT, key.public_key, b"message", signature)


def test_a_known_answer() -> None:
    # Computed by libsodium here and by @noble/hashes' argon2id (an independent implementation)
    # in the voting page: both must give exactly these bytes.
    assert (
        credential_seed(CODE, ELECTION).hex()
        == "04edbff8e0a93296a474cd1d0325de34549564ce6b3b400fc1f3bef1945dfa60"
    )
    assert (
        credential_key(CODE, ELECTION).public_key.hex()
        == "7cc7422ddf82a62c62b3802606c902ea95a17e2d6e9d3dc08158d61fb4e97862"
    )


def test_the_shared_vector_file_holds_for_python() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))["credentials"]
    assert vectors
    for v in vectors:
        assert normalize_code(v["typed"]) == v["normalized"]
        assert credential_salt(v["election"]).hex() == v["salt"]
        assert credential_seed(v["typed"], v["election"]).hex() == v["seed"]
        assert credential_key(v["typed"], v["election"]).public_key.hex() == v["public_key"]
