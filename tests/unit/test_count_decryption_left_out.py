"""When too few trustees' decryption files verify, the refusal names every file it left out,
a file that nobody signed (changed after its trustee signed it) by its name: with exactly k
files, that name is all a reader of `ledger count finish` or `verify-bundle` has to go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.rules.count_decryption import combine_count
from ledger.rules.count_files import CountFileError, verify_shuffles
from testkit.count_dirs import CountElection, CountPlaintexts
from tests.unit.test_count_files import _decryptions, _input, _shuffles, count  # noqa: F401

Count = tuple[CountElection, Path, CountPlaintexts]


def test_an_unsigned_decryption_file_among_exactly_k_is_named(count: Count) -> None:  # noqa: F811
    election = count[0]
    count_input = _input(count)
    chain = verify_shuffles(election.package, count_input, _shuffles(count, (1, 2, 3)))
    files = _decryptions(count, chain, [1, 2, 3])
    changed = json.loads(files[2][1])
    changed["shares"][0]["share"] = changed["shares"][1]["share"]  # after trustee 3 signed
    files[2] = (files[2][0], json.dumps(changed).encode())
    with pytest.raises(CountFileError, match="verified shares are needed, found 2") as caught:
        combine_count(election.package, count_input, chain, files)
    assert "decryption-3.json" in str(caught.value)
    assert "left out" in str(caught.value)
