"""`verify-bundle` on a protocol v2 record: one byte altered anywhere in any file of the record
(inside a ciphertext, a proof, a decryption share, a result number, a block signature, and at
spread offsets of every file) makes it fail and name the file or the check that reads it; a
file taken away is a failure, never a silent pass.

The record is built by testkit/v2_record.py from the product's own functions, with the trustees'
shuffles and decryptions run in this process (their 3-process run is another test's)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.core.cosignature import CosignerKey
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import canonical_json
from ledger.publish.nist_results import nist_results
from ledger.rules.count_decryption import DECRYPTION_KIND
from ledger.rules.count_files import election_key, signed_file
from ledger.verify.bundle import BundleError, Check, verify_bundle
from ledger.verify.parallel import Where
from testkit.v2_record import V2Record, build_record, count_files

# The check that reads each file (a failure elsewhere too is fine, but this one must fail or
# name the file).
READER = {
    "package.json": "election package",
    "authority.txt": "election package",
    "log-key.txt": "final checkpoint",
    "sources.json": "chain",
    "log.jsonl": "root",
    "evidence.json": "equivocation",
    "close.json": "close statement",
    "ceremony.json": "ceremony",
    "count/selection.json": "selection",
    "count/tally-input.json": "tally-input",
    "count/shuffle-1.json": "shuffle",
    "count/shuffle-2.json": "shuffle",
    "count/decryption-1.json": "decryption",
    "count/decryption-2.json": "decryption",
    "count/decryption-3.json": "decryption",
    "count/results.json": "results",
    "count/nist-1500-100-results.json": "NIST",
}
# Places an attacker would aim at: the first occurrence of each marker in its file.
AIMED = [
    ("log.jsonl", b'"ct":["', "a ballot's ciphertext"),
    ("log.jsonl", b'"proof":{"c":"', "a ballot's proof"),
    ("log.jsonl", b'"sig":"', "a block's signature"),
    ("log.jsonl", b'"card_sig":"', "a card's signature"),
    ("count/tally-input.json", b'"ct":["', "a sum's ciphertext"),
    ("count/shuffle-1.json", b'"proof":{', "a shuffle proof"),
    ("count/shuffle-2.json", b'"cts":[["', "a shuffled ciphertext"),
    ("count/decryption-2.json", b'"share":"', "a decryption share"),
    ("count/decryption-3.json", b'"proof":{"c":"', "a share's proof"),
    ("count/results.json", b'"counted": ', "a result number"),
    ("count/results.json", b'"mean": ', "a mean"),
    ("count/nist-1500-100-results.json", b'"Count": ', "a NIST vote count"),
    ("ceremony.json", b'"signature":"', "a ceremony signature"),
    ("close.json", b'"statement":"', "the close statement"),
]


@pytest.fixture(scope="module")
def record() -> V2Record:
    return build_record()


def run(record: V2Record, files: dict[str, bytes], tmp_path: Path) -> list[Check]:
    path = record.zip(tmp_path / "record.zip", files)
    return verify_bundle(path, where=Where(1), nist=nist_results)


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == "FAILED"]


def flipped(data: bytes, offset: int) -> bytes:
    # XOR 1 never turns one JSON whitespace byte into another, nor a base64 digit into padding
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1 :]


def assert_named(checks: list[Check], name: str, what: str) -> None:
    bad = failed(checks)
    assert bad, f"{what}: every check passed"
    reader = READER[name]
    assert any(reader in c.name or name in c.detail for c in bad), (
        f"{what}: no failed check reads {name}: {[(c.name, c.detail[:120]) for c in bad]}"
    )


def test_the_honest_record_passes_every_check(record: V2Record, tmp_path: Path) -> None:
    checks = run(record, record.files, tmp_path)
    assert failed(checks) == []
    assert set(record.files) == set(READER)
    names = [c.name for c in checks]
    for reader in set(READER.values()):
        assert any(reader in n for n in names), reader


@pytest.mark.parametrize("name", sorted(READER))
def test_one_byte_altered_anywhere_in_a_file_fails_and_names_it(
    record: V2Record, name: str, tmp_path: Path
) -> None:
    data = record.files[name]
    offsets = sorted({0, len(data) // 5, len(data) // 3, len(data) // 2, 4 * len(data) // 5})
    offsets.append(len(data) - 1)
    for offset in offsets:
        files = record.files | {name: flipped(data, offset)}
        assert_named(run(record, files, tmp_path), name, f"{name} byte {offset}")


@pytest.mark.parametrize(("name", "marker", "what"), AIMED, ids=[a[2] for a in AIMED])
def test_one_byte_altered_where_an_attacker_aims(
    record: V2Record, name: str, marker: bytes, what: str, tmp_path: Path
) -> None:
    data = record.files[name]
    start = data.index(marker) + len(marker)
    for offset in (start, start + 1, start + 7):
        files = record.files | {name: flipped(data, offset)}
        assert_named(run(record, files, tmp_path), name, f"{what} ({name} byte {offset})")


@pytest.mark.parametrize("name", sorted(READER))
def test_a_missing_file_is_a_failure_naming_it(record: V2Record, name: str, tmp_path: Path) -> None:
    files = {k: v for k, v in record.files.items() if k != name}
    checks = run(record, files, tmp_path)
    assert_named(checks, name, f"without {name}")
    if name not in ("package.json", "authority.txt", "count/decryption-3.json"):
        assert any(name in c.detail for c in failed(checks)), name


def test_an_extra_file_is_named(record: V2Record, tmp_path: Path) -> None:
    files = record.files | {"count/notes.txt": b"trust me\n"}
    bad = failed(run(record, files, tmp_path))
    assert [c.name for c in bad] == ["no file in the record that the verifier does not know"]
    assert "count/notes.txt" in bad[0].detail


def _with_trustee_tool(record: V2Record, tool: Callable[[int, bytes], bytes]) -> dict[str, bytes]:
    sources = json.loads(record.files["sources.json"])
    return record.files | count_files(
        record.election,
        record.selection,
        record.shares,
        record.trustee_keys,
        sources,
        record.files["close.json"],
        tool,
    )


def test_a_decryption_file_the_count_left_out_and_named_passes(
    record: V2Record, tmp_path: Path
) -> None:
    """Trustee 3's file is not signed by them (a damaged copy): the count names it and uses 1
    and 2; the verifier finds the same and says so."""

    def unsigned(j: int, raw: bytes) -> bytes:
        if j != 3:
            return raw
        value = json.loads(raw)
        value["signature"] = "00" * 64
        return canonical_json(value)

    files = _with_trustee_tool(record, unsigned)
    results = json.loads(files["count/results.json"])
    assert results["trustees"]["decrypted"] == [1, 2]
    assert list(results["trustees"]["not_signed"]) == ["decryption-3.json"]
    checks = run(record, files, tmp_path)
    assert failed(checks) == []
    (shares,) = [c for c in checks if "decryption shares" in c.name]
    assert "decryption-3.json" in shares.detail and "as count/results.json says" in shares.detail


def test_a_bad_share_the_results_do_not_name_fails(record: V2Record, tmp_path: Path) -> None:
    """Trustee 2's tool swaps two shares and signs the file; results.json is then replaced by
    one that hides it (as if every trustee's file had verified)."""

    def swapped(j: int, raw: bytes) -> bytes:
        if j != 2:
            return raw
        value = json.loads(raw)
        body = {k: v for k, v in value.items() if k != "signature"}
        body["shares"][0]["share"], body["shares"][1]["share"] = (
            body["shares"][1]["share"],
            body["shares"][0]["share"],
        )
        key = election_key(record.election.package)
        return signed_file(key, DECRYPTION_KIND, 2, body, record.trustee_keys[2])

    files = _with_trustee_tool(record, swapped)
    assert "2" in json.loads(files["count/results.json"])["trustees"]["bad"]
    files["count/results.json"] = record.files["count/results.json"]  # hides trustee 2's fault
    bad = {c.name: c for c in failed(run(record, files, tmp_path))}
    shares = bad["every trustee's decryption shares, and their combination"]
    assert "trustee 2: ciphertext 0" in shares.detail


def test_a_damaged_zip_fails_or_holds_the_same_record(record: V2Record, tmp_path: Path) -> None:
    """A byte of the zip container itself (compressed data, headers, directory): the verifier
    refuses the file or fails a check, and never crashes; a flip it passes changed no file of
    the record (a header's date, say)."""
    data = record.zip(tmp_path / "whole.zip").read_bytes()
    damaged = tmp_path / "damaged.zip"
    offsets = set(range(0, len(data), max(1, len(data) // 60)))
    entry = data.find(b"PK\x01\x02")  # each central directory entry: its flags and method
    while entry != -1:
        offsets |= {entry + 8, entry + 10}  # "encrypted" and "deflate64" after one flip
        entry = data.find(b"PK\x01\x02", entry + 1)
    for offset in sorted(offsets):
        damaged.write_bytes(flipped(data, offset))
        try:
            checks = verify_bundle(damaged, where=Where(1), nist=nist_results)
        except BundleError:
            continue
        if failed(checks):
            continue
        with zipfile.ZipFile(damaged) as z:
            assert {n: z.read(n) for n in z.namelist()} == record.files, offset


def test_a_protocol_1_package_in_a_record_fails_its_check_saying_so(
    record: V2Record, tmp_path: Path
) -> None:
    files = dict(record.files)
    signed = json.loads(files["package.json"])
    signed["package"]["v"] = 1
    files["package.json"] = json.dumps(signed).encode()
    checks = run(record, files, tmp_path)
    (package,) = [c for c in checks if c.name.startswith("election package")]
    assert package.status == "FAILED" and "protocol 1 package" in package.detail


def test_witnesses_the_package_asks_for_fail_without_their_cosignatures(tmp_path: Path) -> None:
    # (the cosigned cases are tests/unit/test_bundle_v2_witnesses.py's)
    witness = CosignerKey("witness.test/a", SigningKey(bytes(32)).public_key).vkey
    record = build_record(witnesses=(1, (witness,)))
    checks = run(record, record.files, tmp_path)
    (line,) = failed(checks)
    assert "witnesses" in line.name and "final-checkpoint.txt" in line.detail
