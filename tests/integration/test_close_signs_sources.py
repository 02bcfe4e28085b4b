"""The close statement signs the sources (id, key, name, channel, quarantined flag) and the
equivocation evidence as they stood at the close, and the trustees' tool checks the record's
lists against it before anything is shuffled: five trustees make the key in five processes; a
real ledger takes two halls' ballots and is closed; `ledger publish` writes the record's log
part and `ledger count prepare` the count directory (testkit/count_ledger.py). Then

- `ledger trustee shuffle --record` passes on the honest record, saying the lists are signed,
  and so does the next trustee from the ledger's data directory (`--ledger-data`);
- a record whose sources.json moves a hall to the online channel, with a count directory
  recomputed from it (so the sums and the quota are split by the moved channel, hashes and
  all), is refused naming sources.json, and so is a record that renames a hall;
- a fork a hall signs after the close is kept as evidence and quarantines the hall, but the
  record `ledger publish` writes again still shows the lists the close signed, and passes.

verify-bundle's side, and a dropped evidence entry, are tests/unit/test_close_signs_sources.py's."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.block import block_time, decode_signed_block, sign_block
from kiosk.core.crypto import SigningKey, kiosk_id_for, sha256
from kiosk.core.election import read_package
from ledger.rules.count_input import tally_input
from ledger.rules.selection import select, selection_bytes
from ledger.service.ledger import Ledger
from ledger.store.schema import connect
from ledger.verify.closed_log import read_closed_log
from ledger.verify.count_inputs import record_log
from testkit.count_dirs import key_section_from_result, v2_package
from testkit.count_ledger import LEDGER, CountLedger, ledger_count
from testkit.trustee_ceremony import in_parallel, ok, start, trustee

ELECTION = "sources-2026"
LOG_KEY = SigningKey(b"\x37" * 32)
NOT_SIGNED = "sources.json is not the list of sources the close statement signed"


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("sources-ceremony")
    media, setup_file, _ = start(tmp, election=ELECTION)
    where = ["--exchange", str(tmp / "exchange")]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    for step in ("round2", "check", "reveal", "finish"):
        in_parallel([[step, "--medium", m, *where] for m in media])
    result = tmp / "result.json"
    ok("collect", "--setup", setup_file, *where, "--out", result)
    section = key_section_from_result(json.loads(result.read_text("utf-8")))
    election = v2_package(ELECTION, section, log_key=LOG_KEY)
    count = ledger_count(tmp / "ledger", election, LOG_KEY, result)
    return {"tmp": tmp, "media": media, "election": election, "count": count}


def _shuffle(medium: Path, count: Path, record: Path) -> Any:
    return trustee(
        "shuffle", "--medium", medium, "--count", count, "--record", record, "--workers", "1"
    )


def _zip_files(record: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(record) as z:
        return {name: z.read(name) for name in z.namelist()}


def _forged_record(ceremony: dict[str, Any], name: str, sources: list[dict[str, Any]]) -> Path:
    files = _zip_files(ceremony["count"].record)
    files["sources.json"] = json.dumps(sources, ensure_ascii=False, indent=1).encode()
    out = Path(ceremony["tmp"]) / f"{name}.zip"
    with zipfile.ZipFile(out, "w") as z:
        for member, raw in files.items():
            z.writestr(member, raw)
    return out


def _sources(ceremony: dict[str, Any]) -> list[dict[str, Any]]:
    return list(json.loads(_zip_files(ceremony["count"].record)["sources.json"]))


def _recount(ceremony: dict[str, Any], record: Path, name: str) -> Path:
    """A copy of the count directory whose selection and tally input are recomputed from
    ``record`` (its sources' channels), as a dishonest count writer would make them."""
    count: CountLedger = ceremony["count"]
    forged = Path(ceremony["tmp"]) / name
    shutil.copytree(count.count, forged)
    package = read_package(json.loads((forged / "package.json").read_bytes())["package"])
    with record_log(record) as log:
        found = read_closed_log(package, log.blocks(), log.sources)
        selection = select(package, found.entries, log.closure.checkpoint)
    (forged / "selection.json").write_bytes(selection_bytes(selection))
    (forged / "tally-input.json").write_bytes(tally_input(package, selection).canonical())
    return forged


def test_a_hall_moved_to_the_online_channel_is_refused(ceremony: dict[str, Any]) -> None:
    sources = _sources(ceremony)
    assert {s["channel"] for s in sources} == {"kiosk"}
    next(s for s in sources if s["name"] == "Hall B")["channel"] = "online"
    record = _forged_record(ceremony, "moved", sources)
    forged = _recount(ceremony, record, "moved-count")
    tally = json.loads((forged / "tally-input.json").read_bytes())
    assert {a["channel"] for a in tally["aggregates"]} == {"kiosk", "online"}  # split anew
    done = _shuffle(ceremony["media"][0], forged, record)
    assert done.returncode == 2, done.stdout
    assert NOT_SIGNED in done.stderr and "moved.zip" in done.stderr
    assert not list(forged.glob("shuffle-*"))


def test_a_renamed_hall_is_refused(ceremony: dict[str, Any]) -> None:
    sources = _sources(ceremony)
    next(s for s in sources if s["name"] == "Hall B")["name"] = "Hall C"
    record = _forged_record(ceremony, "renamed", sources)
    forged = Path(ceremony["tmp"]) / "renamed-count"
    shutil.copytree(ceremony["count"].count, forged)
    done = _shuffle(ceremony["media"][0], forged, record)
    assert done.returncode == 2 and NOT_SIGNED in done.stderr
    assert not list(forged.glob("shuffle-*"))


def test_the_honest_record_passes_after_a_fork_that_came_after_the_close(
    ceremony: dict[str, Any],
) -> None:
    count: CountLedger = ceremony["count"]
    package = ceremony["election"].package
    # Hall A signs a second block at the height of its first, after the close: the ledger
    # keeps it as evidence and quarantines the hall, but the close signed the lists before it.
    first = decode_signed_block(_zip_files(count.record)["log.jsonl"].split(b"\n")[0])
    key = SigningKey(sha256(f"count-ledger/{package.id}/Hall A".encode()))  # testkit's key
    assert kiosk_id_for(key.public_key) == first.block.kiosk
    fork = sign_block(
        dataclasses.replace(first.block, time=block_time(datetime(2017, 1, 1, tzinfo=UTC))), key
    )
    engine = connect(f"sqlite:///{count.data / 'ledger.db'}")
    try:
        ingested = Ledger(engine, LOG_KEY).ingest(first.block.kiosk, [fork.encode()])
        assert ingested.rejection is not None and ingested.rejection.reason == "equivocation"
    finally:
        engine.dispose()
    published = subprocess.run(
        [
            *LEDGER,
            "publish",
            "--data",
            str(count.data),
            "--ceremony",
            str(count.data.parent / "package.ceremony.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert published.returncode == 0, published.stderr
    files = _zip_files(count.record)
    assert json.loads(files["evidence.json"]) == []  # the close's, not the later fork
    assert not any(s["quarantined"] for s in json.loads(files["sources.json"]))
    media = ceremony["media"]
    done = _shuffle(media[0], count.count, count.record)
    assert done.returncode == 0, done.stderr
    assert "sources.json (2 sources) and evidence.json (0 entries) are the lists" in done.stdout
    assert "every ballot's channel comes from that list" in done.stdout
    done = trustee(
        "shuffle", "--medium", media[1], "--count", count.count, "--ledger-data", count.data,
        "--workers", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "are the lists the close statement signed" in done.stdout
    assert sorted(p.name for p in count.count.glob("shuffle-*")) == [
        "shuffle-1.json",
        "shuffle-2.json",
    ]
