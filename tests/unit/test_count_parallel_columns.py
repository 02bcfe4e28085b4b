"""The count's shuffles, decryption shares and combination spread over worker processes, whole
score columns (or slices of the decryption list) at a time (ledger/rules/count_columns.py,
count_decryption.py): what two workers make verifies, checking it on one or two workers gives
the same chain, the same decrypted values and the same named fault, and the values are the
plaintexts the ballots held. Real worker processes (a fork server), as the count starts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.core.crypto import SigningKey
from ledger.rules.count_decryption import (
    DECRYPTION_KIND,
    combine_count,
    decryption_name,
    make_decryption,
)
from ledger.rules.count_files import (
    SHUFFLE_KIND,
    CountFileError,
    CountInput,
    ShuffleChain,
    election_key,
    make_shuffle,
    read_count_input,
    signed_file,
    verify_shuffles,
)
from testkit.count_dirs import (
    CountElection,
    CountPlaintexts,
    multisets,
    v2_package,
    write_count_dir,
)

LOG_KEY = SigningKey(b"\x23" * 32)
Count = tuple[CountElection, CountInput, CountPlaintexts]


@pytest.fixture(scope="module")
def count(tmp_path_factory: pytest.TempPathFactory) -> Count:
    election = v2_package("count-parallel", log_key=LOG_KEY)
    directory = tmp_path_factory.mktemp("count")
    plain = write_count_dir(directory, election.package, election.authority, LOG_KEY)
    count_input = read_count_input((directory / "tally-input.json").read_bytes(), election.package)
    # more columns than the 2 workers' batches, so columns land in different processes
    assert len(count_input.columns) >= 8 and all(len(c) < 256 for c in count_input.columns)
    return election, count_input, plain


@pytest.fixture(scope="module")
def shuffled(count: Count) -> tuple[list[bytes], ShuffleChain]:
    """Three trustees' shuffles, each made on two worker processes."""
    election, count_input, _ = count
    files: list[bytes] = []
    for j in (2, 4, 1):
        chain = verify_shuffles(election.package, count_input, files, workers=2)
        files.append(
            make_shuffle(
                election.package,
                chain.columns,
                chain.last_hash,
                j,
                election.signing_keys[j],
                workers=2,
            )
        )
    return files, verify_shuffles(election.package, count_input, files, workers=2)


def _resign(raw: bytes, election: CountElection, change: object) -> bytes:
    """The file rewritten by ``change`` and signed again by its own trustee (a cheating tool)."""
    body = {k: v for k, v in json.loads(raw).items() if k != "signature"}
    change(body)  # type: ignore[operator]
    j = body["trustee"]
    kind = SHUFFLE_KIND if "columns" in body else DECRYPTION_KIND
    return signed_file(election_key(election.package), kind, j, body, election.signing_keys[j])


def test_shuffles_made_on_two_workers_check_alike_on_one_and_two(
    count: Count, shuffled: tuple[list[bytes], ShuffleChain]
) -> None:
    election, count_input, _ = count
    files, on_two = shuffled
    on_one = verify_shuffles(election.package, count_input, files, workers=1)
    assert on_one == on_two and on_one.trustees == (2, 4, 1)
    for before, after in zip(count_input.columns, on_one.columns, strict=True):
        assert len(after) == len(before) and not set(before) & set(after)


def test_shares_made_on_two_workers_decrypt_the_plaintexts_alike_on_one_and_two(
    count: Count, shuffled: tuple[list[bytes], ShuffleChain]
) -> None:
    election, count_input, plain = count
    chain = shuffled[1]
    files = [
        (
            decryption_name(j),
            make_decryption(
                election.package,
                count_input,
                chain,
                election.shares[j],
                election.signing_keys[j],
                workers=workers,
            ),
        )
        for j, workers in ((1, 2), (3, 1), (5, 2))
    ]
    one = combine_count(election.package, count_input, chain, files, workers=1)
    two = combine_count(election.package, count_input, chain, files, workers=2)
    assert one == two
    assert list(one.sums) == plain.sums
    assert multisets(one.columns) == multisets(plain.columns)
    assert one.used == (1, 3, 5) and not one.bad_trustees
    # every share is at its own ciphertext's index, whichever process made it
    shares = json.loads(files[0][1])["shares"]
    assert [s["index"] for s in shares] == list(range(len(shares)))


def test_a_cheating_shuffle_names_the_same_first_column_on_one_and_two_workers(
    count: Count, shuffled: tuple[list[bytes], ShuffleChain]
) -> None:
    election, count_input, _ = count
    files = shuffled[0]

    def swap_late_columns(body: dict[str, object]) -> None:
        columns = body["columns"]
        assert isinstance(columns, list)
        for c in (9, 5):  # two columns, in two different workers' batches: 5 is named
            cts = columns[c]["cts"]
            cts[0], cts[1] = cts[1], cts[0]

    cheated = _resign(files[1], election, swap_late_columns)
    faults = []
    for workers in (1, 2):
        with pytest.raises(CountFileError) as caught:
            verify_shuffles(election.package, count_input, [files[0], cheated], workers=workers)
        faults.append((caught.value.trustee, caught.value.column, str(caught.value)))
    assert faults[0] == faults[1]
    assert faults[0][:2] == (4, 5) and "shuffle-2.json: the shuffle fails" in faults[0][2]


def test_a_bad_share_far_in_the_list_is_named_alike_on_one_and_two_workers(
    count: Count, shuffled: tuple[list[bytes], ShuffleChain]
) -> None:
    election, count_input, plain = count
    chain = shuffled[1]
    files = [
        (
            decryption_name(j),
            make_decryption(
                election.package, count_input, chain, election.shares[j], election.signing_keys[j]
            ),
        )
        for j in (1, 2, 3, 4)
    ]
    last = len(json.loads(files[1][1])["shares"]) - 1

    def swap_shares(body: dict[str, object]) -> None:
        shares = body["shares"]
        assert isinstance(shares, list)
        shares[last]["share"], shares[last - 1]["share"] = (
            shares[last - 1]["share"],
            shares[last]["share"],
        )

    files[1] = (files[1][0], _resign(files[1][1], election, swap_shares))
    one = combine_count(election.package, count_input, chain, files, workers=1)
    two = combine_count(election.package, count_input, chain, files, workers=2)
    assert one == two
    assert set(one.bad_trustees) == {2} and f"ciphertext {last - 1}:" in one.bad_trustees[2]
    assert one.used == (1, 3, 4) and list(one.sums) == plain.sums


def test_workers_must_be_a_whole_number(count: Count, tmp_path: Path) -> None:
    election, count_input, _ = count
    chain = verify_shuffles(election.package, count_input, [])
    with pytest.raises(ValueError, match="at least 1"):
        make_decryption(
            election.package,
            count_input,
            chain,
            election.shares[1],
            election.signing_keys[1],
            workers=0,
        )
