"""What the public pages offer for download: only the record's own files, by name, each a
regular file really inside the published directory or its count directory."""

from __future__ import annotations

import os
from pathlib import Path

from ledger.web.published_files import PublishedFiles


def make(published: Path, names: list[str]) -> None:
    for name in names:
        path = published / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


V2_RECORD = [
    "ceremony.json",
    "bundle.zip",
    "results.csv",
    "nist-1500-101-events.json",
    "count/close.json",
    "count/selection.json",
    "count/tally-input.json",
    "count/shuffle-2.json",
    "count/shuffle-1.json",
    "count/shuffle-10.json",
    "count/decryption-3.json",
    "count/decryption-1.json",
    "count/results.json",
    "count/nist-1500-100-results.json",
]


def test_a_v2_record_is_listed_in_the_order_it_is_made(tmp_path: Path) -> None:
    published = tmp_path / "published"
    make(published, [*V2_RECORD, "count/package.json", "ledger.db", "count/notes.txt"])
    files = PublishedFiles(published)
    assert files.names() == [
        "count/close.json",
        "count/selection.json",
        "count/tally-input.json",
        "count/shuffle-1.json",
        "count/shuffle-2.json",
        "count/shuffle-10.json",
        "count/decryption-1.json",
        "count/decryption-3.json",
        "count/results.json",
        "count/nist-1500-100-results.json",
        "results.csv",
        "nist-1500-101-events.json",
        "ceremony.json",
        "bundle.zip",
    ]
    assert files.results == published / "count" / "results.json"
    described = files.describe("count/shuffle-10.json")
    assert described["text"].en == "One trustee's shuffle of the score columns, with its proof"


def test_nothing_else_is_served(tmp_path: Path) -> None:
    published = tmp_path / "published"
    make(published, V2_RECORD)
    (tmp_path / "log.key").write_text("secret")
    make(published, ["count/package.json", "ballots.jsonl", "count/shuffle-01.json"])
    files = PublishedFiles(published)
    for name in (
        "count/package.json",  # the count's copy; the package is served by /v1/election
        "ballots.jsonl",  # a v1 file: a v2 election never has opened ballots
        "count/shuffle-01.json",
        "count/../ceremony.json",
        "../log.key",
        "count/count/selection.json",
        "/etc/passwd",
        "count/",
        "",
    ):
        assert files.file(name) is None, name
    assert files.file("count/selection.json") == (published / "count/selection.json").resolve()


def test_links_out_of_the_directory_are_not_followed(tmp_path: Path) -> None:
    published = tmp_path / "published"
    make(published, ["ceremony.json"])
    secret = tmp_path / "log.key"
    secret.write_text("secret")
    outside = tmp_path / "elsewhere"
    make(outside, ["selection.json"])
    os.symlink(outside, published / "count")  # the count directory itself a link out
    os.symlink(secret, published / "results.csv")
    files = PublishedFiles(published)
    assert files.file("count/selection.json") is None
    assert files.file("results.csv") is None
    assert files.names() == ["ceremony.json"]
