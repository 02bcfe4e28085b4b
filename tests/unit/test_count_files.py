"""The trustees' count files without any secret to check them (ledger/rules/count_files.py and
count_decryption.py): shuffles chained from tally-input.json and each proof checked, a
cheating shuffle named by its trustee and column, decryption files named when wrong and
replaced by another trustee's, and nothing accepted before the close or from another count."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kiosk.core.crypto import SigningKey
from ledger.rules.count_decryption import (
    combine_count,
    decryption_list,
    decryption_name,
    make_decryption,
)
from ledger.rules.count_files import (
    CountFileError,
    CountInput,
    ShuffleChain,
    check_selection,
    make_shuffle,
    read_closure,
    read_count_input,
    required_shuffles,
    shuffle_name,
    shuffle_number,
    verify_close,
    verify_shuffles,
)
from testkit.count_dirs import (
    CountElection,
    CountPlaintexts,
    cheat_shuffle,
    closure_for,
    v2_package,
    write_count_dir,
)

LOG_KEY = SigningKey(b"\x21" * 32)


@pytest.fixture(scope="module")
def count(tmp_path_factory: pytest.TempPathFactory) -> tuple[CountElection, Path, CountPlaintexts]:
    election = v2_package("count-unit", log_key=LOG_KEY)
    directory = tmp_path_factory.mktemp("count")
    plain = write_count_dir(directory, election.package, election.authority, LOG_KEY)
    return election, directory, plain


def _input(count: tuple[CountElection, Path, CountPlaintexts]) -> CountInput:
    election, directory, _ = count
    return read_count_input((directory / "tally-input.json").read_bytes(), election.package)


def _shuffles(
    count: tuple[CountElection, Path, CountPlaintexts], trustees: tuple[int, ...]
) -> list[bytes]:
    election, _, _ = count
    count_input, files = _input(count), list[bytes]()
    for j in trustees:
        chain = verify_shuffles(election.package, count_input, files)
        files.append(
            make_shuffle(
                election.package, chain.columns, chain.last_hash, j, election.signing_keys[j]
            )
        )
    return files


def _decryptions(
    count: tuple[CountElection, Path, CountPlaintexts], chain: ShuffleChain, trustees: list[int]
) -> list[tuple[str, bytes]]:
    election = count[0]
    return [
        (
            decryption_name(j),
            make_decryption(
                election.package,
                _input(count),
                chain,
                election.shares[j],
                election.signing_keys[j],
            ),
        )
        for j in trustees
    ]


def test_three_shuffles_then_any_three_decrypt_the_plaintexts(
    count: tuple[CountElection, Path, CountPlaintexts],
) -> None:
    election, directory, plain = count
    count_input = _input(count)
    closure = read_closure((directory / "close.json").read_bytes())
    verify_close(election.package, closure)
    check_selection(
        count_input, (directory / "selection.json").read_bytes(), closure, election.package
    )
    assert required_shuffles(election.package, count_input) == 3
    chain = verify_shuffles(election.package, count_input, _shuffles(count, (4, 1, 2)))
    assert chain.trustees == (4, 1, 2)
    # every column's ciphertexts are new: nobody can match an output to its input
    for before, after in zip(count_input.columns, chain.columns, strict=True):
        assert not set(before) & set(after)
    done = combine_count(
        election.package, count_input, chain, _decryptions(count, chain, [1, 3, 5])
    )
    assert list(done.sums) == plain.sums
    assert [Counter(c) for c in done.columns] == [Counter(c) for c in plain.columns]
    assert done.used == (1, 3, 5) and not done.bad_trustees


@pytest.mark.parametrize("how", ["replace", "proof"])
def test_a_cheating_shuffle_names_its_trustee_and_column(
    count: tuple[CountElection, Path, CountPlaintexts], tmp_path: Path, how: str
) -> None:
    election = count[0]
    files = _shuffles(count, (3, 5))
    path = tmp_path / shuffle_name(2)
    path.write_bytes(files[1])
    cheat_shuffle(path, election.package, election.signing_keys[5], how)
    with pytest.raises(CountFileError) as caught:
        verify_shuffles(election.package, _input(count), [files[0], path.read_bytes()])
    assert caught.value.trustee == 5 and caught.value.column == 0
    assert "trustee 5: column 0" in str(caught.value)


def test_a_file_not_signed_by_its_trustee_blames_nobody(
    count: tuple[CountElection, Path, CountPlaintexts], tmp_path: Path
) -> None:
    election = count[0]
    files = _shuffles(count, (3,))
    path = tmp_path / shuffle_name(1)
    path.write_bytes(files[0])
    cheat_shuffle(path, election.package, election.signing_keys[1], "replace")  # not 3's key
    with pytest.raises(CountFileError) as caught:
        verify_shuffles(election.package, _input(count), [path.read_bytes()])
    assert caught.value.trustee is None and "counts for nobody" in str(caught.value)


def test_a_trustee_shuffles_once_and_the_chain_holds_its_order(
    count: tuple[CountElection, Path, CountPlaintexts],
) -> None:
    election = count[0]
    files = _shuffles(count, (1, 2))
    alone = _shuffles(count, (2,))  # trustee 2 shuffled tally-input.json, not shuffle-1.json
    with pytest.raises(CountFileError, match=r"did not start from shuffle-1\.json") as caught:
        verify_shuffles(election.package, _input(count), [files[0], alone[0]])
    assert caught.value.trustee == 2
    with pytest.raises(CountFileError, match=r"did not start from tally-input\.json"):
        verify_shuffles(election.package, _input(count), [files[1], files[0]])
    count_input, chain = _input(count), verify_shuffles(election.package, _input(count), files)
    again = make_shuffle(
        election.package, chain.columns, chain.last_hash, 1, election.signing_keys[1]
    )
    with pytest.raises(CountFileError, match="a second shuffle by the same trustee"):
        verify_shuffles(election.package, count_input, [*files, again])


def test_a_wrong_share_is_named_and_another_trustees_used(
    count: tuple[CountElection, Path, CountPlaintexts],
) -> None:
    election, _, plain = count
    count_input = _input(count)
    chain = verify_shuffles(election.package, count_input, _shuffles(count, (1, 2, 3)))
    files = _decryptions(count, chain, [1, 2, 3, 4])
    bad = json.loads(files[1][1])
    bad["shares"][0]["share"], bad["shares"][1]["share"] = (
        bad["shares"][1]["share"],
        bad["shares"][0]["share"],
    )
    from ledger.rules.count_decryption import DECRYPTION_KIND
    from ledger.rules.count_files import election_key, signed_file

    body = {k: v for k, v in bad.items() if k != "signature"}
    key = election_key(election.package)
    files[1] = (files[1][0], signed_file(key, DECRYPTION_KIND, 2, body, election.signing_keys[2]))
    done = combine_count(election.package, count_input, chain, files)
    assert set(done.bad_trustees) == {2} and "ciphertext" in done.bad_trustees[2]
    assert done.used == (1, 3, 4)
    assert list(done.sums) == plain.sums
    with pytest.raises(CountFileError, match="3 trustees' verified shares are needed") as caught:
        combine_count(election.package, count_input, chain, files[:3])
    assert "trustee 2" in str(caught.value)


def test_shares_made_before_the_last_shuffle_do_not_count(
    count: tuple[CountElection, Path, CountPlaintexts],
) -> None:
    election = count[0]
    count_input = _input(count)
    files = _shuffles(count, (1, 2, 3))
    early = verify_shuffles(election.package, count_input, files[:2])
    final = verify_shuffles(election.package, count_input, files)
    stale = _decryptions(count, early, [4])
    done_files = _decryptions(count, final, [1, 2, 3]) + stale
    done = combine_count(election.package, count_input, final, done_files)
    assert done.bad_trustees == {4: "trustee 4: the shares answer another last shuffle"}
    assert len(decryption_list(count_input, final)) == len(count_input.aggregates) + sum(
        len(c) for c in final.columns
    )


def test_nothing_before_a_valid_close_or_from_another_count(
    count: tuple[CountElection, Path, CountPlaintexts],
) -> None:
    election, directory, _ = count
    other = read_closure(json.dumps(closure_for("count-unit", SigningKey(b"\x22" * 32))).encode())
    with pytest.raises(CountFileError, match="no valid close statement"):
        verify_close(election.package, other)
    another = v2_package("count-other", log_key=LOG_KEY)
    with pytest.raises(CountFileError, match="is for 'count-unit', not 'count-other'"):
        read_count_input((directory / "tally-input.json").read_bytes(), another.package)
    closure = read_closure((directory / "close.json").read_bytes())
    selection = json.loads((directory / "selection.json").read_bytes())
    with pytest.raises(CountFileError, match=r"was not made from this selection\.json"):
        check_selection(_input(count), json.dumps(selection).encode(), closure, election.package)


def test_shuffle_file_names() -> None:
    assert shuffle_number(shuffle_name(12)) == 12
    assert shuffle_number("shuffle-0.json") is None and shuffle_number("shuffle-01.json") is None


def test_worker_processes_shuffle_and_check_as_one_process_does(
    count: tuple[CountElection, Path, CountPlaintexts], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.rules.count_files as count_files

    monkeypatch.setattr(count_files, "POOL_FROM", 1)  # the count's columns are small
    election = count[0]
    count_input = _input(count)
    raw = make_shuffle(
        election.package,
        count_input.columns,
        count_input.digest,
        2,
        election.signing_keys[2],
        workers=2,
    )
    one = verify_shuffles(election.package, count_input, [raw])
    two = verify_shuffles(election.package, count_input, [raw], workers=2)
    assert one == two and one.trustees == (2,)


def test_a_damaged_decryption_file_of_a_trustee_names_them(
    count: tuple[CountElection, Path, CountPlaintexts],
) -> None:
    from ledger.rules.count_decryption import DECRYPTION_KIND
    from ledger.rules.count_files import election_key, signed_file

    election = count[0]
    count_input = _input(count)
    chain = verify_shuffles(election.package, count_input, _shuffles(count, (1, 2, 3)))
    files = _decryptions(count, chain, [1, 2, 3, 5])
    damaged = json.loads(files[3][1])
    damaged["shares"][2]["share"] = 12
    body = {k: v for k, v in damaged.items() if k != "signature"}
    key = election_key(election.package)
    files[3] = (files[3][0], signed_file(key, DECRYPTION_KIND, 5, body, election.signing_keys[5]))
    files.append(("stray.json", b"not json"))
    done = combine_count(election.package, count_input, chain, files)
    assert list(done.bad_trustees) == [5] and done.used == (1, 2, 3)
    assert list(done.unsigned_files) == ["stray.json"]
