"""`ledger verify-bundle` on the record a real ledger publishes for a protocol v2 election, run
as an observer would: a process of its own, with no secret, on every core, on two local worker
processes and on a real Dask cluster (a LocalCluster of two worker processes on loopback), with
the same answer each time; and an altered byte of the downloaded record fails it, naming the
check.

The election: test ballots, a voter online and again in the hall (the hall's ballot counts),
two voters who check a ballot first, a ballot with a bad proof and a checked ballot cast
afterwards (both pass the ledger's cheap arrival checks: only the count's proofs and replay
rules catch them), and a trustee whose decryption file holds a bad share. The close, `ledger
count prepare` and `ledger count finish` are the real ones (the last two as commands); the
trustees' shuffles and decryptions run in this process through the functions `ledger trustee
shuffle|decrypt --count` call (TEST ONLY: their one-process-per-trustee run is
tests/integration/test_trustee_count*.py's)."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import Channel, sign_package
from kiosk.core.encoding import b64e
from kiosk.core.verifiable.ceremony import TrusteeShare
from ledger.publish.v2_record import publish_v2_record
from ledger.rules.count_decryption import DECRYPTION_KIND, decryption_name, make_decryption
from ledger.rules.count_files import (
    COUNT_INPUT,
    election_key,
    make_shuffle,
    read_count_input,
    shuffle_name,
    signed_file,
    verify_shuffles,
)
from ledger.service.closing import close_election
from ledger.service.ledger import Ledger
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection
from testkit.v2_ballots import cast_ballot, signed_body, spoiled
from testkit.v2_record import LOG_ORIGIN, record_election

SHUFFLERS = (2, 3)  # k = 2 trustees shuffle
DECRYPTERS = (1, 2, 3)  # trustee 1's file holds a bad share: 2 and 3 decrypt


@dataclass(frozen=True)
class Record:
    bundle: Path
    authority: str
    log_key: str


def _ledger(data: Path, election: SyntheticElection, log_key: SigningKey) -> Ledger:
    data.mkdir()
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    engine = connect(f"sqlite:///{data / 'ledger.db'}")
    create_schema(engine)
    signed = sign_package(election.package, election.authority).to_json()
    key = LogKey(LOG_ORIGIN, log_key)
    Ledger.initialise(engine, key, signed, election.authority.public_key)
    return Ledger(engine, log_key)


def _vote(election: SyntheticElection, ledger: Ledger) -> None:
    rng = random.Random(2026)
    start = datetime.now(UTC) - timedelta(hours=2)
    writers = {}
    for n, (name, channel) in enumerate((("Hall", Channel.KIOSK), ("Online", Channel.ONLINE))):
        key = SigningKey(sha256(f"verify-v2/source/{n}".encode()))
        ledger.enrol(key.public_key, name, channel=channel)
        writers[name] = ChainWriter(election.package, key, start, timedelta(minutes=1))
    hall, online = writers["Hall"], writers["Online"]
    hall.mode(Mode.TEST)
    hall.open_session()
    for card in range(len(election.package.test_roll)):
        _put(hall, BlockKind.TEST_BALLOT, cast_ballot(election, card, rng, test=True).body)
    hall.close_session()
    for w in writers.values():
        w.mode(Mode.OFFICIAL)
        w.open_session()
    _put(online, BlockKind.BALLOT, cast_ballot(election, 5, rng).body)  # then at the hall
    checked = {}
    for i in (1, 7):  # these two check a ballot first
        checked[i] = cast_ballot(election, i, rng)
        _put(hall, BlockKind.SPOILED, spoiled(checked[i]))
    for i in (0, 1, 2, 3, 5, 6, 8):
        _put(hall, BlockKind.BALLOT, cast_ballot(election, i, rng).body)
    _put(hall, BlockKind.BALLOT, _bad_proof(election, 4, rng))
    # voter 7's card made to sign the ballot they checked (public now), sent online
    voter_7 = election.package.roll[7].voter_id
    assert voter_7 is not None
    _put(
        online,
        BlockKind.BALLOT,
        signed_body(voter_7, checked[7].encrypted, election.voter_keys[7]),
    )
    for w in writers.values():
        w.close_session()
        result = ledger.ingest(w.kiosk_id, [b.encode() for b in w.blocks])
        assert result.rejection is None, result.rejection


def _put(w: ChainWriter, kind: BlockKind, body: dict[str, Any]) -> None:
    w.now += w.step
    w.append(kind, body)


def _bad_proof(election: SyntheticElection, index: int, rng: random.Random) -> dict[str, Any]:
    honest = cast_ballot(election, index, rng).encrypted
    contest = honest.contests[0]
    c0, c1, *more = contest.cells
    cells = (replace(c0, proof=c1.proof), c1, *more)
    bad = replace(honest, contests=(replace(contest, cells=cells), *honest.contests[1:]))
    voter = election.package.roll[index].voter_id
    assert voter is not None
    return signed_body(voter, bad, election.voter_keys[index])


def _trustees(
    election: SyntheticElection,
    count: Path,
    shares: dict[int, TrusteeShare],
    keys: dict[int, SigningKey],
) -> None:
    """The trustees' part, in this process (TEST ONLY): two shuffle in turn, three decrypt,
    and trustee 1's tool swaps two of its shares before signing (a bad share, named)."""
    package = election.package
    count_input = read_count_input((count / COUNT_INPUT).read_bytes(), package)
    for n, j in enumerate(SHUFFLERS, start=1):
        earlier = [(count / shuffle_name(i)).read_bytes() for i in range(1, n)]
        chain = verify_shuffles(package, count_input, earlier)
        raw = make_shuffle(package, chain.columns, chain.last_hash, j, keys[j])
        (count / shuffle_name(n)).write_bytes(raw)
    shuffles = [(count / shuffle_name(n)).read_bytes() for n in range(1, len(SHUFFLERS) + 1)]
    chain = verify_shuffles(package, count_input, shuffles)
    for j in DECRYPTERS:
        raw = make_decryption(package, count_input, chain, shares[j], keys[j])
        (count / decryption_name(j)).write_bytes(raw)
    value = json.loads((count / decryption_name(1)).read_bytes())
    body = {k: v for k, v in value.items() if k != "signature"}
    body["shares"][0]["share"], body["shares"][1]["share"] = (
        body["shares"][1]["share"],
        body["shares"][0]["share"],
    )
    forged = signed_file(election_key(package), DECRYPTION_KIND, 1, body, keys[1])
    (count / decryption_name(1)).write_bytes(forged)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Record:
    election, ceremony, shares, trustee_keys, log_key = record_election("verify-v2", "verify-v2")
    data = tmp_path_factory.mktemp("verify-v2") / "ledger"
    ledger = _ledger(data, election, log_key)
    _vote(election, ledger)
    close_election(ledger, {})
    published = data / "published"
    count = published / "count"
    prepared = _cli("count", "prepare", "--data", str(data), "--out", str(count))
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    _trustees(election, count, shares, trustee_keys)
    finished = _cli("count", "finish", "--data", str(data), "--count", str(count))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    (published / "ceremony.json").write_text(json.dumps(ceremony, ensure_ascii=False, indent=1))
    publish_v2_record(ledger, published)
    vkey = ledger.key.verifier.vkey
    ledger.engine.dispose()
    return Record(published / "bundle.zip", b64e(election.authority.public_key), vkey)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    import distributed

    local_cluster: Any = distributed.LocalCluster  # an untyped library
    with local_cluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        # a dashboard on a free loopback port: None means the default, 8787, which another
        # cluster on this machine (a bench, a second test run) may hold
        dashboard_address="127.0.0.1:0",
    ) as local:
        yield str(local.scheduler_address)


def verify(record: Record, *options: str, bundle: Path | None = None) -> tuple[int, list[str]]:
    done = _cli(
        "verify-bundle",
        str(bundle or record.bundle),
        f"--authority={record.authority}",
        f"--log-key={record.log_key}",
        *options,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.splitlines()


def _where_free(lines: list[str]) -> list[str]:
    """The lines with the place the proofs ran on taken out (the one thing that differs)."""
    place = re.compile(r"ballot proofs on .*?\) equals")
    found = [place.sub("ballot proofs on …) equals", line) for line in lines]
    return [" ".join(line.split()) for line in found]  # the column width follows the names


def test_the_published_record_verifies_with_no_secret_and_says_what_it_checked(
    record: Record,
) -> None:
    code, lines = verify(record)
    assert code == 0, "\n".join(lines)
    text = "\n".join(lines)
    assert "FAILED" not in text
    assert "every check passed" in lines[-1]
    for check in (
        "election package signed by the authority, protocol v2",
        "key ceremony transcript gives the package's K",
        "every source's chain",
        "every block hashes to the final checkpoint's root",
        "selection recomputed from the log",
        "tally-input.json recomputed from the selection",
        "every shuffle of the score columns, in order",
        "every trustee's decryption shares, and their combination",
        "results recomputed from the decrypted values equal results.json",
        "NIST SP 1500-100 results export equals the results",
    ):
        assert any(check in line and line.lstrip().startswith("ok") for line in lines), check
    (selection,) = [line for line in lines if "selection recomputed" in line]
    assert "7 ballots counted" in selection  # 0, 1, 2, 3, 5, 6, 8
    for reason in ("2 test_ballot", "2 spoiled", "1 bad_proof", "1 replayed_ballot"):
        assert reason in selection
    assert "1 superseded" in selection
    (shares,) = [line for line in lines if "decryption shares" in line]
    assert "trustees 2, 3" in shares and "trustee 1:" in shares  # the bad share, named


def test_every_core_two_processes_and_a_dask_cluster_give_the_same_answer(
    record: Record, cluster: str
) -> None:
    answers = {}
    for name, options in (
        ("every core", ()),
        ("two processes", ("--workers", "2")),
        ("one process", ("--workers", "1")),
        ("dask", ("--scheduler", cluster)),
    ):
        code, lines = verify(record, *options)
        assert code == 0, (name, lines)
        answers[name] = _where_free(lines)
    first = answers["one process"]
    for name, lines in answers.items():
        assert lines == first, (name, set(lines) ^ set(first))
    code, lines = verify(record, "--scheduler", cluster)
    assert any(f"the Dask cluster at {cluster}" in line for line in lines)


def test_an_unreachable_cluster_fails_the_selection_never_passes_it(record: Record) -> None:
    code, lines = verify(record, "--scheduler", "tcp://127.0.0.1:9")
    assert code == 1
    (selection,) = [line for line in lines if "selection recomputed" in line]
    assert "FAILED" in selection and "Dask" in selection


def test_an_altered_result_in_the_downloaded_record_fails_naming_it(
    record: Record, tmp_path: Path
) -> None:
    with zipfile.ZipFile(record.bundle) as z:
        files = {n: z.read(n) for n in z.namelist()}
    results = json.loads(files["count/results.json"])
    results["ballots"]["counted"] += 1
    files["count/results.json"] = json.dumps(results, ensure_ascii=False, indent=1).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    altered = tmp_path / "altered.zip"
    altered.write_bytes(buffer.getvalue())
    code, lines = verify(record, "--workers", "1", bundle=altered)
    assert code == 1
    (failed,) = [line for line in lines if "FAILED" in line and "results recomputed" in line]
    assert "results.ballots.counted" in failed
