"""The trustees' part of the count as they run it: five trustees make the key in five processes,
then, after the close, three of them shuffle the count's score columns in turn, each in a
process of their own with their own medium, and three decrypt; the combined sums and score
lists are what the test encrypted. A cheating shuffle is refused by the next trustee and by
the combination, naming its trustee; a wrong decryption share is named and replaced; nothing
is shuffled or decrypted before a valid close, too early, or from a changed count input."""

from __future__ import annotations

import json
import shutil
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
from testkit.count_dirs import (
    CountPlaintexts,
    cheat_shuffle,
    closure_for,
    key_section_from_result,
    v2_package,
    write_count_dir,
)
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
    return {"tmp": tmp, "media": media, "election": election}


def _count_dir(ceremony: dict[str, Any], name: str) -> tuple[Path, CountPlaintexts]:
    directory = Path(ceremony["tmp"]) / name
    election = ceremony["election"]
    plain = write_count_dir(directory, election.package, election.authority, LOG_KEY)
    return directory, plain


def _shuffle(medium: Path, directory: Path, *extra: str) -> Any:
    return trustee("shuffle", "--medium", medium, "--count", directory, "--workers", "1", *extra)


def _decrypt(medium: Path, directory: Path, *extra: str) -> Any:
    return trustee("decrypt", "--medium", medium, "--count", directory, *extra)


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
    directory, plain = _count_dir(ceremony, "honest")
    early = _decrypt(media[1], directory)  # nobody has shuffled yet
    assert early.returncode == 2 and "0 shuffles" in early.stderr and "섞어야" in early.stderr
    assert not list(directory.glob("decryption-*"))
    first = _shuffle(media[0], directory, "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "shuffle 1 written by trustee 1" in first.stdout
    again = _shuffle(media[0], directory)
    assert again.returncode == 2 and "한 번만" in again.stderr and "once" in again.stderr
    for n, medium in ((2, media[2]), (3, media[4])):
        done = _shuffle(medium, directory)
        assert done.returncode == 0, done.stderr
        assert f"shuffle {n} written" in done.stdout
    outs = in_parallel([["decrypt", "--medium", m, "--count", directory] for m in media[1:4]])
    assert all("shuffles (trustees 1, 3, 5)" in out for out in outs)
    result = _combine(ceremony, directory)
    assert list(result.sums) == plain.sums
    assert [Counter(c) for c in result.columns] == [Counter(c) for c in plain.columns]
    assert result.used == (2, 3, 4) and not result.bad_trustees
    # a shuffle after decryption began would make the shares useless: refused
    late = _shuffle(media[1], directory)
    assert late.returncode == 2 and "복호화가 이미 시작" in late.stderr


def test_a_cheating_shuffle_is_refused_and_names_its_trustee(ceremony: dict[str, Any]) -> None:
    media = ceremony["media"]
    directory, _ = _count_dir(ceremony, "cheat")
    assert _shuffle(media[0], directory).returncode == 0
    assert _shuffle(media[1], directory).returncode == 0
    honest = (directory / "shuffle-2.json").read_bytes()
    package = ceremony["election"].package
    for how in ("replace", "proof"):
        (directory / "shuffle-2.json").write_bytes(honest)
        cheat_shuffle(directory / "shuffle-2.json", package, medium_signing_key(media[1]), how)
        refused = _shuffle(media[2], directory)
        assert refused.returncode == 2
        assert "trustee 2: column 0" in refused.stderr and "shuffle-2.json" in refused.stderr
        assert not (directory / "shuffle-3.json").exists()
        decrypt = _decrypt(media[3], directory, "--min-shuffles", "1")
        assert decrypt.returncode == 2 and "trustee 2: column 0" in decrypt.stderr
        with pytest.raises(CountFileError) as caught:
            _combine(ceremony, directory)
        assert caught.value.trustee == 2 and caught.value.column == 0


def test_a_wrong_share_is_named_and_another_trustee_decrypts(ceremony: dict[str, Any]) -> None:
    media = ceremony["media"]
    directory, plain = _count_dir(ceremony, "bad-share")
    for medium in media[:3]:
        assert _shuffle(medium, directory).returncode == 0
    in_parallel([["decrypt", "--medium", m, "--count", directory] for m in media[:4]])
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
    directory, _ = _count_dir(ceremony, "guarded")
    close = (directory / "close.json").read_bytes()
    forged = closure_for(ELECTION, SigningKey(b"\x32" * 32))  # not the package's log key
    (directory / "close.json").write_bytes(canonical_json(forged))
    for done in (_shuffle(media[0], directory), _decrypt(media[0], directory)):
        assert done.returncode == 2
        assert "마감 확인서" in done.stderr and "close statement" in done.stderr
    (directory / "close.json").write_bytes(close)
    for medium in media[:3]:
        assert _shuffle(medium, directory).returncode == 0
    # the count input changed after the shuffles (an aggregate swapped for a chosen ciphertext):
    # the first shuffle no longer starts from it, so no trustee decrypts anything
    changed = Path(ceremony["tmp"]) / "changed"
    shutil.copytree(directory, changed)
    tally = json.loads((changed / "tally-input.json").read_bytes())
    package = ceremony["election"].package
    tally["aggregates"][0]["ct"] = encrypt(1, election_key(package).key)[0].to_json()
    (changed / "tally-input.json").write_bytes(canonical_json(tally))
    refused = _decrypt(media[0], changed)
    assert refused.returncode == 2 and "did not start from tally-input.json" in refused.stderr
    assert not list(changed.glob("decryption-*"))
    # a package that names another key than the trustee's own ceremony: refused
    other = v2_package(ELECTION, log_key=LOG_KEY)
    (changed / "other-package.json").write_text(
        json.dumps(other.package.to_json(), ensure_ascii=False), "utf-8"
    )
    done = _decrypt(media[0], changed, "--package", str(changed / "other-package.json"))
    assert done.returncode == 2 and "not this ceremony's" in done.stderr


def test_a_package_with_a_swapped_log_key_is_refused(ceremony: dict[str, Any]) -> None:
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
    refused = _shuffle(media[4], directory)
    assert refused.returncode == 2 and "check-package" in refused.stderr
    assert not (directory / "shuffle-1.json").exists()
