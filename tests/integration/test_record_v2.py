"""The published record of a protocol v2 election, through a real ledger on loopback: what the
bundle holds, the standard exports (no plaintext cast vote record can exist), and the privacy
test of issue 17's "Done means": every byte the ledger serves and every file it publishes is
searched for each cast ballot's plaintext and each cell's randomness, and none is found. The
checked (spoiled) ballots are published opened by design: the same search finds them, which
shows that it works."""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import BallotSecrets
from kiosk.core.block import BlockKind, decode_signed_block
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.encoding import b64d, b64e, canonical_json
from kiosk.core.verifiable.ceremony import TrusteeShare
from kiosk.core.verifiable.group import scalar_bytes
from ledger.publish.log_publisher import publish_latest
from ledger.rules.count_decryption import decryption_name, make_decryption
from ledger.rules.count_files import (
    COUNT_INPUT,
    make_shuffle,
    read_count_input,
    shuffle_name,
    verify_shuffles,
)
from ledger.service.closing import close_election
from ledger.service.count import finish_count, prepare_count
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.browser import screenshot
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection
from testkit.ledger_server import LedgerServer
from testkit.nist_schemas import EVENTS_SCHEMA, RESULTS_SCHEMA, validate
from testkit.v2_ballots import CastBallot, cast_ballot, spoiled
from testkit.v2_record import LOG_ORIGIN, record_election

SCREENSHOTS = Path(os.environ.get("HANPYO_SCREENSHOTS", "test-output/screenshots")) / "ledger"
TRUSTEES = (1, 3)  # any two of the three decrypt; trustee 2 stays home


@dataclass
class Published:
    server: LedgerServer
    data: Path
    election: SyntheticElection
    cast: list[CastBallot] = field(default_factory=list)  # kept by the test, never published
    checked: list[CastBallot] = field(default_factory=list)  # published opened, by design
    test_cast: list[CastBallot] = field(default_factory=list)
    codes: dict[int, str] = field(default_factory=dict)  # id() of a ballot -> tracking code
    twice: tuple[str, str] = ("", "")  # one voter's two ballots' tracking codes

    @property
    def published(self) -> Path:
        return self.data / "published"


def _vote(election: SyntheticElection, writer: ChainWriter, rec: Published) -> None:
    """Test cards first, in test mode; then every voter casts, and two check a ballot first."""
    rng = random.Random(2017)
    package = election.package
    writer.mode(Mode.TEST)
    writer.open_session()
    for card in range(len(package.test_roll)):
        test_ballot = cast_ballot(election, card, rng, test=True)
        block = writer.append(BlockKind.TEST_BALLOT, test_ballot.body)
        rec.test_cast.append(test_ballot)
        rec.codes[id(test_ballot)] = block.tracking_code
    writer.close_session()
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    for index in range(len(package.roll)):
        if index in (0, len(package.roll) - 1):  # a resident and an expert check first
            checked = cast_ballot(election, index, rng)
            writer.append(BlockKind.SPOILED, spoiled(checked))
            rec.checked.append(checked)
        ballot = cast_ballot(election, index, rng)
        rec.codes[id(ballot)] = writer.append(BlockKind.BALLOT, ballot.body).tracking_code
        rec.cast.append(ballot)
    writer.close_session()


def _vote_again(election: SyntheticElection, writer: ChainWriter, rec: Published) -> None:
    """Voter 1 votes again at another kiosk: the duplicate rule decides which ballot counts."""
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    again = cast_ballot(election, 1, random.Random(1))
    rec.codes[id(again)] = writer.append(BlockKind.BALLOT, again.body).tracking_code
    rec.cast.append(again)
    rec.twice = (rec.codes[id(rec.cast[1])], rec.codes[id(again)])
    writer.close_session()


def _trustees_count(
    election: SyntheticElection,
    count: Path,
    shares: dict[int, TrusteeShare],
    keys: dict[int, SigningKey],
) -> None:
    """The trustees' part, in this process (TEST ONLY; the real one runs `ledger trustee`)."""
    package = election.package
    count_input = read_count_input((count / COUNT_INPUT).read_bytes(), package)
    for n, j in enumerate(TRUSTEES, start=1):
        earlier = [(count / shuffle_name(i)).read_bytes() for i in range(1, n)]
        chain = verify_shuffles(package, count_input, earlier)
        raw = make_shuffle(package, chain.columns, chain.last_hash, j, keys[j])
        (count / shuffle_name(n)).write_bytes(raw)
    shuffles = [(count / shuffle_name(n)).read_bytes() for n in range(1, len(TRUSTEES) + 1)]
    chain = verify_shuffles(package, count_input, shuffles)
    for j in TRUSTEES:
        raw = make_decryption(package, count_input, chain, shares[j], keys[j])
        (count / decryption_name(j)).write_bytes(raw)


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    """A v2 election voted, closed, counted by two trustees and published by a real ledger."""
    election, ceremony, shares, trustee_keys, log_key = record_election(
        "record-privacy", "record-privacy"
    )
    data = tmp_path_factory.mktemp("record-v2") / "ledger"
    data.mkdir()
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    server = LedgerServer(data, election, origin=LOG_ORIGIN)
    rec = Published(server, data, election)
    ledger = Ledger(db.connect(db.database_url(None, data / "ledger.db")), log_key)
    start = datetime.now(UTC) - timedelta(hours=1)
    writers = []
    for name in ("Hall A", "Hall B"):
        kiosk_key = SigningKey(sha256(f"record-privacy/{name}".encode()))
        ledger.enrol(kiosk_key.public_key, name, "")
        writers.append(ChainWriter(election.package, kiosk_key, start, timedelta(seconds=20)))
    _vote(election, writers[0], rec)
    _vote_again(election, writers[1], rec)
    for writer in writers:
        result = ledger.ingest(writer.kiosk_id, [b.encode() for b in writer.blocks])
        assert result.rejection is None, result.rejection
    close_election(ledger, {})
    count = rec.published / "count"
    prepare_count(ledger, count, workers=1)
    _trustees_count(election, count, shares, trustee_keys)
    finish_count(ledger, count, workers=1)
    # the tiles the ledger serves at /tiles/, as its publisher writes them
    published_tiles = publish_latest(ledger.engine, None, data / "tiles").tiles
    assert published_tiles is not None
    ledger.engine.dispose()
    # The election office publishes the record, with the ceremony transcript from beside the
    # package, as `ledger serve` will show it.
    transcript = data.parent / "package.ceremony.json"
    transcript.write_text(json.dumps(ceremony, ensure_ascii=False))
    published = ledger_cli("publish", "--data", str(data), "--ceremony", str(transcript))
    assert published.returncode == 0, published.stderr
    assert "the key ceremony's transcript checks out" in published.stdout
    with server:
        yield rec


# -- what a crawler gets ------------------------------------------------------------------------


def ledger_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args], capture_output=True, text=True, timeout=600
    )


def _get(url: str, headers: dict[str, str] | None = None) -> bytes:
    answer = requests.get(url, headers=headers or {}, timeout=60)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    return answer.content


def served_bytes(rec: Published) -> dict[str, bytes]:
    """Every page, API answer, download and tile the ledger serves for this election."""
    url, package = rec.server.url, rec.election.package
    got: dict[str, bytes] = {}
    for path in ("/", "/results", "/checkpoint", "/check", "/downloads"):
        got[path] = _get(url + path)
    for path in ("/v1/election", "/v1/checkpoint", "/v1/log/key", "/tiles/checkpoint"):
        got[path] = _get(url + path)
    downloads = got["/downloads"].decode()
    names = [n for n in _links(downloads, "/downloads/")]
    assert names, "the downloads page lists no file"
    for name in names:
        got[f"/downloads/{name}"] = _get(f"{url}/downloads/{quote(name)}")
    size = int(got["/v1/checkpoint"].decode().splitlines()[1])
    got["/v1/proofs/inclusion-range"] = _get(
        f"{url}/v1/proofs/inclusion-range?first=0&count={size}&size={size}"
    )
    got["/v1/proofs/consistency"] = _get(f"{url}/v1/proofs/consistency?old=1&new={size}")
    kiosks = set()
    for index in range(size):
        answer = _get(f"{url}/v1/proofs/inclusion?leaf_index={index}")
        got[f"/v1/proofs/inclusion?leaf_index={index}"] = answer
        block = decode_signed_block(b64d(json.loads(answer)["block"]))
        kiosks.add(block.block.kiosk)
        code = block.tracking_code
        got[f"/check?code={code}"] = _get(f"{url}/check?code={code}")
    for kiosk in kiosks:
        got[f"/v1/kiosks/{kiosk}/head"] = _get(f"{url}/v1/kiosks/{kiosk}/head")
    admin = rec.server.admin()  # what the admins see is searched too
    for path in ("kiosks", "fleet", "duplicates", "reconciliation", "log"):
        got[f"/v1/admin/{path}"] = _get(f"{url}/v1/admin/{path}", admin)
    for tile in sorted((rec.data / "tiles").rglob("*")):
        if tile.is_file() and tile.name != "checkpoint":
            relative = tile.relative_to(rec.data / "tiles").as_posix()
            got[f"/tiles/{relative}"] = _get(f"{url}/tiles/{relative}")
    assert package.id.encode() in got["/v1/election"]
    return got


def _links(html: str, prefix: str) -> list[str]:
    found = []
    for part in html.split(f'href="{prefix}')[1:]:
        found.append(part.split('"', 1)[0])
    return found


def published_bytes(rec: Published) -> dict[str, bytes]:
    """Every file in the ledger's published directory and its tiles."""
    return {
        str(p.relative_to(rec.data)): p.read_bytes()
        for root in (rec.published, rec.data / "tiles")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def unpacked(blobs: dict[str, bytes]) -> dict[str, bytes]:
    """The blobs, every zip's members, and every base64 string inside any JSON (the API sends
    blocks as base64), so nothing hides in an encoding."""
    out: dict[str, bytes] = {}
    pending = list(blobs.items())
    while pending:
        name, raw = pending.pop()
        out[name] = raw
        if raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                pending += [(f"{name}!{m}", z.read(m)) for m in z.namelist()]
            continue
        for n, text in enumerate(_json_strings(raw)):
            pending += [(f"{name}#b64-{n}-{i}", d) for i, d in enumerate(_base64(text))]
    return out


def _json_strings(raw: bytes) -> Iterator[str]:
    documents: list[Any] = []
    try:
        documents = [json.loads(raw)]
    except ValueError:
        try:
            documents = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except ValueError:
            return
    stack = documents
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
        elif isinstance(value, str) and len(value) >= 16:
            yield value


def _base64(text: str) -> list[bytes]:
    """``text`` decoded as base64 and as base64url (the project's own, unpadded), if it is."""
    out = []
    padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            out.append(decode(padded))
        except (binascii.Error, ValueError):
            continue
    return out


# -- what must never be found -------------------------------------------------------------------


def plaintext_forms(ballot: Ballot) -> list[bytes]:
    """The ballot's plaintext encoding, its canonical selections, and each score sheet of two or
    more scores (a sheet that specific names one voter's ballot)."""
    contests = ballot.to_json()["contests"]
    forms = [ballot.plaintext(), canonical_json(contests)]
    forms += [base64.b64encode(ballot.plaintext()), b64e(ballot.plaintext()).encode()]
    forms += [canonical_json(s) for s in contests.values() if isinstance(s, dict) and len(s) > 1]
    return forms


def randomness_forms(secrets: BallotSecrets) -> list[bytes]:
    """Each cell's randomness as 64 hex digits, as the scalar's little-endian bytes, in base64
    and unpadded base64url, as big-endian hex and in decimal."""
    forms = []
    for contest in secrets.nonces:
        for nonce in contest:
            raw = scalar_bytes(nonce)
            forms += [raw.hex().encode(), raw, base64.b64encode(raw), b64e(raw).encode()]
            forms += [nonce.to_bytes(32, "big").hex().encode(), str(nonce).encode()]
    return forms


def where_found(corpus: dict[str, bytes], needles: list[bytes]) -> list[str]:
    return [name for name, raw in corpus.items() for needle in needles if needle in raw]


def test_no_cast_ballot_can_be_found_in_anything_the_ledger_serves_or_publishes(
    record: Published,
) -> None:
    corpus = unpacked(served_bytes(record) | published_bytes(record))
    assert len(corpus) > 100
    # The search works: the checked ballots, published opened on purpose, are found, both
    # their plaintext and every cell's randomness, in the log and on their check pages.
    for checked in record.checked:
        assert where_found(corpus, [checked.plaintext.plaintext()])
        for needle in randomness_forms(checked.secrets)[::6]:
            assert where_found(corpus, [needle]), "a checked ballot's randomness is published"
    # No cast ballot's plaintext or randomness is anywhere, test ballots included.
    for ballot in [*record.cast, *record.test_cast]:
        assert not where_found(corpus, plaintext_forms(ballot.plaintext)), ballot.plaintext
        assert not where_found(corpus, randomness_forms(ballot.secrets))
    # And the record was really there to search: the count and its results are served.
    assert any(name.startswith("/downloads/count/decryption-") for name in corpus)
    assert "/downloads/count/results.json" in corpus


# -- the record ---------------------------------------------------------------------------------


def test_the_bundle_holds_the_whole_record(record: Published, tmp_path: Path) -> None:
    raw = _get(f"{record.server.url}/downloads/bundle.zip")
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        names = set(z.namelist())
        members = {n: z.read(n) for n in names}
    count = [f"count/shuffle-{n}.json" for n in (1, 2)]
    count += [f"count/decryption-{j}.json" for j in TRUSTEES]
    count += [f"count/{n}" for n in ("selection.json", "tally-input.json", "results.json")]
    top = {"package.json", "ceremony.json", "authority.txt", "log-key.txt", "sources.json"}
    top |= {"log.jsonl", "evidence.json", "close.json", "final-checkpoint.txt"}
    assert names == top | set(count) | {"count/nist-1500-100-results.json"}
    published = record.published
    assert members["final-checkpoint.txt"] == (published / "final-checkpoint.txt").read_bytes()
    for name in count:
        assert members[name] == (published / name).read_bytes(), name
    assert members["close.json"] == (published / "count" / "close.json").read_bytes()
    assert members["ceremony.json"] == (published / "ceremony.json").read_bytes()
    package = json.loads(members["package.json"])
    assert package == json.loads(_get(f"{record.server.url}/v1/election"))
    blocks = members["log.jsonl"].splitlines()
    size = int(_get(f"{record.server.url}/v1/checkpoint").decode().splitlines()[1])
    assert len(blocks) == size
    kinds = [decode_signed_block(b).block.kind for b in blocks]
    assert kinds.count(BlockKind.SPOILED) == len(record.checked)
    assert kinds.count(BlockKind.BALLOT) == len(record.cast)
    # An observer's verifier, in a process of its own, checks the downloaded record.
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(raw)
    authority = b64e(record.election.authority.public_key)
    log_key = _get(f"{record.server.url}/v1/log/key").decode().strip()
    keys = [f"--authority={authority}", f"--log-key={log_key}"]
    verified = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify-bundle", str(bundle), *keys, "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "every check passed" in verified.stdout
    assert "FAILED" not in verified.stdout


def test_the_exports_stay_valid_and_no_cast_vote_record_is_made(record: Published) -> None:
    url, published = record.server.url, record.published
    downloads = unescape(_get(f"{url}/downloads").decode())
    assert "nist-1500-103" not in downloads and not list(published.rglob("*1500-103*"))
    assert "ballots.jsonl" not in downloads and not list(published.rglob("ballots.jsonl"))
    validate(json.loads(_get(f"{url}/downloads/count/nist-1500-100-results.json")), RESULTS_SCHEMA)
    events = json.loads(_get(f"{url}/downloads/nist-1500-101-events.json"))
    validate(events, EVENTS_SCHEMA)
    logged = [e["Type"] for d in events["Device"] for e in d["Event"]]
    assert logged.count("spoiled") == len(record.checked)
    assert logged.count("ballot") == len(record.cast)
    # Every count file is listed with what it holds, Korean first.
    for text in ("개표한 투표지와 빠진 투표지", "One trustee's shuffle of the score columns"):
        assert text in downloads
    for name in ("count/selection.json", "count/shuffle-2.json", "ceremony.json", "bundle.zip"):
        assert f'href="/downloads/{name}"' in downloads
    # The results page reads the count's results.
    page = _get(f"{url}/results").decode()
    assert record.election.package.title.en in page and "not published yet" not in page


def test_the_check_page_says_what_the_count_did_with_a_ballot(record: Published) -> None:
    def page(code: str) -> str:
        html = _get(f"{record.server.url}/check?code={code}").decode()
        return unescape(html.split("<main>", 1)[1])

    once = [b for b in record.cast if record.codes[id(b)] not in record.twice]
    for ballot in once:
        text = page(record.codes[id(ballot)])
        assert "✓ 개표에 들어갔습니다." in text and "✓ This ballot was counted." in text
        assert "Left out of the count" not in text
    pages = [page(code) for code in record.twice]
    counted = [p for p in pages if "✓ This ballot was counted." in p]
    superseded = [p for p in pages if "Another ballot of the same voter counts" in p]
    assert len(counted) == 1 and len(superseded) == 1
    assert "개표에서 빠졌습니다:" in superseded[0]
    for test_ballot in record.test_cast:
        text = page(record.codes[id(test_ballot)])
        assert "Left out of the count:" in text and "Test ballots are never counted." in text


def test_a_transcript_that_is_not_the_ceremony_is_refused(
    record: Published, tmp_path: Path
) -> None:
    before = (record.published / "ceremony.json").read_bytes()
    bundle = (record.published / "bundle.zip").stat().st_mtime_ns
    other = tmp_path / "other.ceremony.json"
    other.write_text(json.dumps(json.loads(before) | {"messages": []}))
    refused = ledger_cli("publish", "--data", str(record.data), "--ceremony", str(other))
    assert refused.returncode != 0
    assert "other.ceremony.json" in refused.stderr
    assert (record.published / "ceremony.json").read_bytes() == before
    assert (record.published / "bundle.zip").stat().st_mtime_ns == bundle


def test_a_bundle_is_not_written_without_the_ceremony_transcript(
    record: Published, tmp_path: Path
) -> None:
    from ledger.publish.bundle_writer import RecordNotReady, write_bundle

    copy = tmp_path / "published"
    shutil.copytree(record.published / "count", copy / "count")
    ledger = Ledger(
        db.connect(db.database_url(None, record.data / "ledger.db")),
        SigningKey(b64d((record.data / "log.key").read_text().strip())),
    )
    try:
        with pytest.raises(RecordNotReady, match="ceremony"):
            write_bundle(ledger, copy, copy / "bundle.zip")
        assert not (copy / "bundle.zip").exists()
        (copy / "count" / "close.json").unlink()
        (copy / "ceremony.json").write_bytes((record.published / "ceremony.json").read_bytes())
        with pytest.raises(RecordNotReady, match="close"):
            write_bundle(ledger, copy, copy / "bundle.zip")
    finally:
        ledger.engine.dispose()


def test_screenshots_of_the_v2_record_pages(record: Published) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = record.server.url
    counted = next(
        c for c in record.twice if "was counted" in _get(f"{url}/check?code={c}").decode()
    )
    left_out = next(c for c in record.twice if c != counted)
    pages = {
        "downloads-v2": f"{url}/downloads",
        "results-v2": f"{url}/results",
        "check-v2-counted": f"{url}/check?code={counted}",
        "check-v2-superseded": f"{url}/check?code={left_out}",
    }
    with ThreadPoolExecutor(2) as browser:
        shots = [
            browser.submit(screenshot, page, SCREENSHOTS / f"{name}{suffix}.png", width, 2600)
            for name, page in pages.items()
            for suffix, width in (("", 1280), ("-phone", 360))
        ]
        for shot in shots:
            assert shot.result().stat().st_size > 10_000
