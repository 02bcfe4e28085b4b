"""The trustees' part of the count as they run it: five trustees make the key in five processes;
a real ledger takes the voters' ballots and is closed, `ledger publish` writes the record's log
part, `ledger count prepare` the count directory; then three trustees shuffle the count's score
columns in turn, each in a process of their own with their own medium and the record (one of
them from the ledger's data directory instead), and three decrypt; the combined sums and score
lists are what the test encrypted. Before anything, each trustee's tool recomputes the
selection and the count input from the closed log: a count directory whose "aggregates" are
one voter's ballot (made consistent, hashes and all) is refused, naming the ballots that
differ, and so is a record whose blocks do not hash to the close's root. A cheating shuffle is
refused by the next trustee and by the combination, naming its trustee; a wrong decryption
share is named and replaced; nothing is shuffled or decrypted before a valid close, too early,
or from a changed count input."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import canonical_json
from kiosk.core.verifiable.elgamal import encrypt
from ledger.rules.count_decryption import DECRYPTION_KIND, combine_count
from ledger.rules.count_files import (
    CountFileError,
    election_key,
    read_count_input,
    signed_file,
    verify_shuffles,
)
from ledger.rules.selection import selection_bytes
from ledger.verify.count_inputs import record_log
from testkit.count_dirs import (
    cheat_shuffle,
    closure_for,
    key_section_from_result,
    v2_package,
    write_count_dir,
)
from testkit.count_ledger import CountLedger, ledger_count, one_ballot_count, swap_log_lines
from testkit.decryption_files import medium_signing_key
from testkit.trustee_ceremony import in_parallel, ok, start, trustee

ELECTION = "review-2026"
LOG_KEY = SigningKey(b"\x31" * 32)


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("count-ceremony")
    media, setup_file, _ = start(tmp, election=ELECTION)
    where = ["--exchange", str(tmp / "exchange")]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    for step in ("round2", "check", "reveal", "finish"):
        in_parallel([[step, "--medium", m, *where] for m in media])
    result = tmp / "result.json"
    ok("collect", "--setup", setup_file, *where, "--out", result)
    section = key_section_from_result(json.loads(result.read_text("utf-8")))
    election = v2_package(ELECTION, section, log_key=LOG_KEY)
    return {"tmp": tmp, "media": media, "election": election, "result": result}


def _count_dir(ceremony: dict[str, Any], name: str) -> CountLedger:
    """Vote on a real ledger, close, publish the record's log part, prepare the count."""
    tmp = Path(ceremony["tmp"]) / name
    return ledger_count(tmp, ceremony["election"], LOG_KEY, ceremony["result"])


def _shuffle(medium: Path, count: CountLedger, *extra: str | Path) -> Any:
    return trustee("shuffle", "--medium", medium, *_where(count), "--workers", "1", *extra)


def _decrypt(medium: Path, count: CountLedger, *extra: str | Path) -> Any:
    return trustee("decrypt", "--medium", medium, *_where(count), "--workers", "1", *extra)


def _where(count: CountLedger) -> list[str | Path]:
    """--count DIR and the closed log: the record the ledger published after the close."""
    return ["--count", count.count, "--record", count.record]


@pytest.fixture(scope="module")
def spare(ceremony: dict[str, Any]) -> CountLedger:
    """A count whose directory and record the tests below only read (or copy)."""
    return _count_dir(ceremony, "spare")


def _files(directory: Path, pattern: str) -> list[tuple[str, bytes]]:
    found = sorted(directory.glob(pattern), key=lambda p: int(p.stem.split("-")[1]))
    return [(p.name, p.read_bytes()) for p in found]


def _combine(ceremony: dict[str, Any], directory: Path) -> Any:
    package = ceremony["election"].package
    count_input = read_count_input((directory / "tally-input.json").read_bytes(), package)
    shuffles = [raw for _, raw in _files(directory, "shuffle-*.json")]
    chain = verify_shuffles(package, count_input, shuffles)
    return combine_count(package, count_input, chain, _files(directory, "decryption-*.json"))


def test_three_trustees_shuffle_in_turn_and_three_decrypt(ceremony: dict[str, Any]) -> None:
    media = ceremony["media"]
    count = _count_dir(ceremony, "honest")
    directory, plain = count.count, count.plain
    with zipfile.ZipFile(count.record) as z:  # published before the count existed
        assert "log.jsonl" in z.namelist() and "close.json" in z.namelist()
        assert not [n for n in z.namelist() if n.startswith("count/")]
    early = _decrypt(media[1], count)  # nobody has shuffled yet
    assert early.returncode == 2 and "0 shuffles" in early.stderr and "섞어야" in early.stderr
    assert not list(directory.glob("decryption-*"))
    first = _shuffle(media[0], count, "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "shuffle 1 written by trustee 1" in first.stdout
    assert "the closed log, from the record bundle.zip, checked with no secret" in first.stdout
    assert "2 chains of" in first.stdout and "root of the final checkpoint" in first.stdout
    assert "selection.json and tally-input.json are byte for byte" in first.stdout
    assert "로그에서 다시 계산한 것과 같습니다" in first.stdout
    again = _shuffle(media[0], count)
    assert again.returncode == 2 and "한 번만" in again.stderr and "once" in again.stderr
    # the second trustee works at the ledger's own machine: its data directory, read only
    second = trustee(
        "shuffle", "--medium", media[2], "--count", directory, "--ledger-data", count.data
    )
    assert second.returncode == 0, second.stderr
    assert "shuffle 2 written" in second.stdout and f"the ledger's data in {count.data}" in (
        second.stdout
    )
    third = _shuffle(media[4], count)
    assert third.returncode == 0, third.stderr
    assert "shuffle 3 written" in third.stdout
    outs = in_parallel(
        [["decrypt", "--medium", m, *_where(count), "--workers", "1"] for m in media[1:4]]
    )
    assert all("shuffles (trustees 1, 3, 5)" in out for out in outs)
    assert all("byte for byte the recomputed ones" in out for out in outs)
    result = _combine(ceremony, directory)
    assert list(result.sums) == plain.sums
    assert [Counter(c) for c in result.columns] == [Counter(c) for c in plain.columns]
    assert result.used == (2, 3, 4) and not result.bad_trustees
    # a shuffle after decryption began would make the shares useless: refused
    late = _shuffle(media[1], count)
    assert late.returncode == 2 and "복호화가 이미 시작" in late.stderr


def test_a_cheating_shuffle_is_refused_and_names_its_trustee(ceremony: dict[str, Any]) -> None:
    media = ceremony["media"]
    count = _count_dir(ceremony, "cheat")
    directory = count.count
    assert _shuffle(media[0], count).returncode == 0
    assert _shuffle(media[1], count).returncode == 0
    honest = (directory / "shuffle-2.json").read_bytes()
    package = ceremony["election"].package
    for how in ("replace", "proof"):
        (directory / "shuffle-2.json").write_bytes(honest)
        cheat_shuffle(directory / "shuffle-2.json", package, medium_signing_key(media[1]), how)
        refused = _shuffle(media[2], count)
        assert refused.returncode == 2
        assert "trustee 2: column 0" in refused.stderr and "shuffle-2.json" in refused.stderr
        assert not (directory / "shuffle-3.json").exists()
        decrypt = _decrypt(media[3], count, "--min-shuffles", "1")
        assert decrypt.returncode == 2 and "trustee 2: column 0" in decrypt.stderr
        with pytest.raises(CountFileError) as caught:
            _combine(ceremony, directory)
        assert caught.value.trustee == 2 and caught.value.column == 0


def test_a_wrong_share_is_named_and_another_trustee_decrypts(ceremony: dict[str, Any]) -> None:
    media = ceremony["media"]
    count = _count_dir(ceremony, "bad-share")
    directory, plain = count.count, count.plain
    for medium in media[:3]:
        assert _shuffle(medium, count).returncode == 0
    in_parallel([["decrypt", "--medium", m, *_where(count)] for m in media[:4]])
    path = directory / "decryption-3.json"
    value = json.loads(path.read_bytes())
    value["shares"][0]["share"], value["shares"][1]["share"] = (
        value["shares"][1]["share"],
        value["shares"][0]["share"],
    )
    body = {k: v for k, v in value.items() if k != "signature"}
    key = election_key(ceremony["election"].package)
    path.write_bytes(signed_file(key, DECRYPTION_KIND, 3, body, medium_signing_key(media[2])))
    result = _combine(ceremony, directory)
    assert list(result.bad_trustees) == [3] and "ciphertext 0" in result.bad_trustees[3]
    assert result.used == (1, 2, 4)
    assert list(result.sums) == plain.sums
    assert [Counter(c) for c in result.columns] == [Counter(c) for c in plain.columns]


def test_nothing_before_a_valid_close_nor_from_a_changed_count_input(
    ceremony: dict[str, Any],
) -> None:
    media = ceremony["media"]
    count = _count_dir(ceremony, "guarded")
    directory = count.count
    close = (directory / "close.json").read_bytes()
    forged = closure_for(ELECTION, SigningKey(b"\x32" * 32))  # not the package's log key
    (directory / "close.json").write_bytes(canonical_json(forged))
    for done in (_shuffle(media[0], count), _decrypt(media[0], count)):
        assert done.returncode == 2
        assert "마감 확인서" in done.stderr and "close statement" in done.stderr
    (directory / "close.json").write_bytes(close)
    for medium in media[:3]:
        assert _shuffle(medium, count).returncode == 0
    # the count input changed after the shuffles (an aggregate swapped for a chosen ciphertext):
    # the first shuffle no longer starts from it, so no trustee decrypts anything
    changed = Path(ceremony["tmp"]) / "changed"
    shutil.copytree(directory, changed)
    tally = json.loads((changed / "tally-input.json").read_bytes())
    package = ceremony["election"].package
    tally["aggregates"][0]["ct"] = encrypt(1, election_key(package).key)[0].to_json()
    (changed / "tally-input.json").write_bytes(canonical_json(tally))
    refused = trustee("decrypt", "--medium", media[0], "--count", changed, "--record", count.record)
    assert refused.returncode == 2 and "tally-input.json differs" in refused.stderr
    assert "tally-input.aggregates[0].ct" in refused.stderr
    assert not list(changed.glob("decryption-*"))
    # a package that names another key than the trustee's own ceremony: refused
    other = v2_package(ELECTION, log_key=LOG_KEY)
    (changed / "other-package.json").write_text(
        json.dumps(other.package.to_json(), ensure_ascii=False), "utf-8"
    )
    done = trustee(
        "decrypt", "--medium", media[0], "--count", changed, "--record", count.record,
        "--package", changed / "other-package.json",
    )  # fmt: skip
    assert done.returncode == 2 and "not this ceremony's" in done.stderr


def test_a_package_with_a_swapped_log_key_is_refused(
    ceremony: dict[str, Any], spare: CountLedger
) -> None:
    """The election key is the ceremony's, but the log key is someone else's, who signed a
    close statement of their own: the trustee who checked the real package is not fooled."""
    media = ceremony["media"]
    real = Path(ceremony["tmp"]) / "real-package.json"
    election = ceremony["election"]
    real.write_bytes(canonical_json(election.package.to_json()))
    checked = ok("check-package", "--medium", media[4], "--package", real)
    assert "ledger log key" in checked
    impostor = SigningKey(b"\x33" * 32)
    key_section = election.package.to_json()["election_key"]
    swapped = v2_package(ELECTION, key_section, log_key=impostor)
    directory = Path(ceremony["tmp"]) / "swapped"
    write_count_dir(directory, swapped.package, swapped.authority, impostor)
    refused = trustee(
        "shuffle", "--medium", media[4], "--count", directory, "--record", spare.record
    )
    assert refused.returncode == 2 and "check-package" in refused.stderr
    assert not (directory / "shuffle-1.json").exists()


def test_a_count_directory_that_opens_one_ballot_is_refused(
    ceremony: dict[str, Any], spare: CountLedger
) -> None:
    """Whoever writes the count directory makes selection.json count one ballot and
    tally-input.json sum that one ballot (its hash names the new selection, so every check of
    the directory alone passes): decrypting the "sums" would open that voter's ballot. Each
    trustee's tool recomputes both from the closed log and refuses, naming the ballots."""
    media = ceremony["media"]
    forged = Path(ceremony["tmp"]) / "one-ballot"
    shutil.copytree(spare.count, forged)
    package = ceremony["election"].package
    selection = _selection(spare)
    position = one_ballot_count(forged, package, selection)
    tally = json.loads((forged / "tally-input.json").read_bytes())
    assert all(a["ballots"] == 1 for a in tally["aggregates"])  # one voter's choices
    count = CountLedger(spare.data, spare.record, forged, spare.plain)
    for done in (_shuffle(media[0], count), _decrypt(media[0], count, "--min-shuffles", "1")):
        assert done.returncode == 2
        assert "count/selection.json differs from the recomputed selection" in done.stderr
        other = selection.counted[1]
        assert f"log position {other.position} ({other.source}@{other.height})" in done.stderr
        assert "the record says no such ballot; recomputed: counted" in done.stderr
        assert f"log position {position} (" not in done.stderr  # that one is counted either way
        assert "다시 계산한 것과 다릅니다" in done.stderr and "not what it gives" in done.stderr
    assert not list(forged.glob("shuffle-*")) and not list(forged.glob("decryption-*"))
    # the same from the ledger's own data directory
    done = trustee("shuffle", "--medium", media[1], "--count", forged, "--ledger-data", spare.data)
    assert done.returncode == 2 and "differs from the recomputed selection" in done.stderr
    # the honest selection with one aggregate swapped for one voter's cell: named by its path
    shutil.copy(spare.count / "selection.json", forged / "selection.json")
    honest = json.loads((spare.count / "tally-input.json").read_bytes())
    one_cell = selection.counted[0].ballot.contests[0].cells[0].ciphertext
    honest["aggregates"][0] |= {"ct": one_cell.to_json(), "ballots": 1}
    (forged / "tally-input.json").write_bytes(canonical_json(honest))
    done = _decrypt(media[0], count, "--min-shuffles", "1")
    assert done.returncode == 2 and "tally-input.json differs" in done.stderr
    assert "tally-input.aggregates[0].ct" in done.stderr
    assert not list(forged.glob("decryption-*"))


def test_a_record_whose_log_is_not_the_closed_one_is_refused(
    ceremony: dict[str, Any], spare: CountLedger
) -> None:
    """The same blocks in another order (each hall's chain still valid): they do not hash to
    the root of the final checkpoint the log key signed, so nothing is recomputed from them."""
    media = ceremony["media"]
    lines = _record_lines(spare.record)
    boundary = next(n for n in range(len(lines) - 1) if _source(lines[n]) != _source(lines[n + 1]))
    reordered = Path(ceremony["tmp"]) / "reordered.zip"
    swap_log_lines(spare.record, reordered, boundary)
    count = CountLedger(spare.data, reordered, spare.count, spare.plain)
    for done in (_shuffle(media[0], count), _decrypt(media[0], count, "--min-shuffles", "1")):
        assert done.returncode == 2
        assert "the log's root" in done.stderr
        assert "do not hash to the final checkpoint's root" in done.stderr
    assert not list(spare.count.glob("shuffle-*"))
    refused = trustee("shuffle", "--medium", media[0], "--count", spare.count)
    assert refused.returncode == 2 and "--record" in refused.stderr  # the log is required


def _selection(count: CountLedger) -> Any:
    """The selection the ledger prepared, read back with its ballots (from the record)."""
    from ledger.rules.selection import select
    from ledger.verify.closed_log import read_closed_log

    package = read_package_of(count)
    with record_log(count.record) as log:
        found = read_closed_log(package, log.blocks(), log.sources)
        selection = select(package, found.entries, log.closure.checkpoint)
    assert selection_bytes(selection) == (count.count / "selection.json").read_bytes()
    return selection


def read_package_of(count: CountLedger) -> Any:
    from kiosk.core.election import read_package

    return read_package(json.loads((count.count / "package.json").read_bytes())["package"])


def _record_lines(record: Path) -> list[bytes]:
    with zipfile.ZipFile(record) as z:
        return z.read("log.jsonl").split(b"\n")[:-1]


def _source(line: bytes) -> str:
    return str(json.loads(line)["kiosk"])
