"""Shuffling the count's columns and decrypting them keeps each column's multiset of values and
each sum, whoever shuffles in which order and whichever k trustees decrypt: the shuffles move
values only within their own column, and lose or add none."""

from __future__ import annotations

import functools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.crypto import SigningKey
from kiosk.core.encrypted_ballot import base_hash
from kiosk.core.verifiable.elgamal import encrypt
from ledger.rules.count_decryption import combine_count, decryption_name, make_decryption
from ledger.rules.count_files import (
    CountInput,
    election_key,
    make_shuffle,
    verify_shuffles,
)
from testkit.count_dirs import CountElection, v2_package


@functools.cache
def _election() -> CountElection:
    return v2_package("count-property", log_key=SigningKey(b"\x41" * 32))


def _count_input(sums: list[int], columns: list[list[int]]) -> CountInput:
    package = _election().package
    key = election_key(package).key
    return CountInput(
        election=package.id,
        base_hash=base_hash(package, test=False).hex(),
        selection_hash="00" * 32,
        aggregates=tuple(encrypt(v, key)[0] for v in sums),
        aggregate_labels=tuple({} for _ in sums),
        columns=tuple(tuple(encrypt(v, key)[0] for v in column) for column in columns),
        column_labels=tuple({} for _ in columns),
        digest="11" * 32,
    )


@settings(max_examples=8, deadline=None)
@given(
    sums=st.lists(st.integers(0, 50), max_size=3),
    columns=st.lists(st.lists(st.integers(0, 11), max_size=5), min_size=1, max_size=3),
    shufflers=st.permutations([1, 2, 3, 4, 5]).map(lambda p: tuple(p[:3])),
    deciders=st.permutations([1, 2, 3, 4, 5]).map(lambda p: sorted(p[:3])),
)
def test_shuffle_then_decrypt_keeps_each_columns_values(
    sums: list[int],
    columns: list[list[int]],
    shufflers: tuple[int, ...],
    deciders: list[int],
) -> None:
    election = _election()
    package, count_input = election.package, _count_input(sums, columns)
    files: list[bytes] = []
    for j in shufflers:
        chain = verify_shuffles(package, count_input, files)
        files.append(
            make_shuffle(package, chain.columns, chain.last_hash, j, election.signing_keys[j])
        )
    chain = verify_shuffles(package, count_input, files)
    assert chain.trustees == shufflers
    decryptions = [
        (
            decryption_name(j),
            make_decryption(
                package, count_input, chain, election.shares[j], election.signing_keys[j]
            ),
        )
        for j in deciders
    ]
    done = combine_count(package, count_input, chain, decryptions)
    assert list(done.sums) == sums
    assert [Counter(c) for c in done.columns] == [Counter(c) for c in columns]
    assert done.used == tuple(deciders)
