"""The protocol v2 count on a real SQLite ledger: v2 ballot chains from a hall kiosk and an online
platform (test ballots, a checked ballot, a voter who voted online and then in person) are
delivered and closed; `ledger count prepare` (a real process, proofs checked by two worker
processes) writes the count directory; the trustees' shuffles and decryptions are made in this
process with the simulated ceremony's shares (TEST ONLY: real trustees run `ledger trustee
shuffle` and `ledger trustee decrypt` on their own machines); one trustee's decryption file is
wrong and is named; `ledger count finish` verifies everything and writes results equal to a v1
recount of the plaintexts the test kept (never published), and NIST 1500-100 results valid
against NIST's schema."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.ballot import Ballot
from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for, sha256
from kiosk.core.election import Channel, ElectionPackage, read_package, sign_package
from kiosk.core.encoding import b64e
from kiosk.core.tally import count_plaintexts
from kiosk.core.verifiable.ceremony_outcome import TrusteeShare
from ledger.publish.standard_exports import NIST_RESULTS
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
from ledger.rules.errors import LedgerError
from ledger.rules.selection import proofs_here
from ledger.service.closing import close_election
from ledger.service.count import CountError, finish_count, prepare_count, proofs_in_pool
from ledger.service.ledger import Ledger
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.nist_schemas import RESULTS_SCHEMA, validate
from testkit.v2_ballots import CastBallot, cast_ballot, spoiled

ORIGIN = "ledger.test/count-v2"
START = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)
LOG_KEY = SigningKey(sha256(b"count-v2/log"))


@dataclass(frozen=True)
class Election:
    synthetic: SyntheticElection
    package: ElectionPackage
    signing_keys: dict[int, SigningKey]  # the trustees' (test only)
    shares: dict[int, TrusteeShare]  # the trustees' shares of the key (test only)


@pytest.fixture(scope="module")
def election() -> Election:
    """Two groups of four proposals scored 1-10 with dropped extremes, likes online, a yes/no
    question; three trustees, any two decrypt. The trustees sign with keys the test holds."""
    d = mixed_definition(groups=2, per_group=4, election_id="count-v2")
    d["contests"] = [c for c in d["contests"] if not c.get("criteria")]
    d["tally"]["channels"] = {
        "kiosk": {"weight": 0.5, "winners": 3},
        "online": {"weight": 0.5, "winners": 2},
    }
    synthetic = build_election(
        d,
        protocol=2,
        seed="count-v2",
        test_cards=2,
        trustees=(3, 2),
        log_key=LogKey(ORIGIN, LOG_KEY).verifier.vkey,
        online_per_proposal=1,
        min_column=1,
    )
    document = synthetic.package.to_json()
    keys = {}
    for t in document["election_key"]["trustees"]:
        keys[t["index"]] = SigningKey(sha256(f"count-v2/trustee/{t['index']}".encode()))
        t["signing_key"] = keys[t["index"]].public_key.hex()
    return Election(synthetic, read_package(document), keys, dict(synthetic.trustee_shares))


@dataclass
class Hall:
    data: Path
    ledger: Ledger
    writers: dict[str, ChainWriter]
    counted: list[Ballot] = field(default_factory=list)  # kept by the test, never published


def new_ledger(data: Path, e: Election) -> Ledger:
    data.mkdir()
    (data / "log.key").write_text(b64e(LOG_KEY.seed) + "\n")
    engine = connect(f"sqlite:///{data / 'ledger.db'}")
    create_schema(engine)
    signed = sign_package(e.package, e.synthetic.authority).to_json()
    Ledger.initialise(engine, LogKey(ORIGIN, LOG_KEY), signed, e.synthetic.authority.public_key)
    return Ledger(engine, LOG_KEY)


def roll_of(e: Election, category: str) -> list[int]:
    return [i for i, r in enumerate(e.package.roll) if r.category == category]


@pytest.fixture
def hall(tmp_path: Path, election: Election) -> Iterator[Hall]:
    """A hall kiosk and an online platform. Test ballots with test cards first; then every
    resident and expert votes in the hall and every online member online. One resident votes
    online first (in_person_wins: the hall ballot counts); one checks a ballot (spoiled, and
    published opened) and then casts another."""
    synthetic = replace(election.synthetic, package=election.package)
    ledger = new_ledger(tmp_path / "data", election)
    rng = random.Random(17)
    writers = {}
    for n, (name, channel) in enumerate((("Hall", Channel.KIOSK), ("Online", Channel.ONLINE))):
        key = SigningKey(sha256(f"count-v2/source/{n}".encode()))
        ledger.enrol(key.public_key, name, channel=channel)
        w = ChainWriter(election.package, key, START + timedelta(minutes=n), timedelta(minutes=2))
        w.mode(Mode.TEST)
        w.open_session()
        writers[name] = w
    h = Hall(tmp_path / "data", ledger, writers)
    for card in range(2):
        put(h, "Hall", BlockKind.TEST_BALLOT, cast_ballot(synthetic, card, rng, test=True).body)
    for w in writers.values():
        w.close_session()
        w.mode(Mode.OFFICIAL)
        w.open_session()
    residents = roll_of(election, "resident")
    put(h, "Online", BlockKind.BALLOT, cast_ballot(synthetic, residents[0], rng).body)
    checked = cast_ballot(synthetic, residents[1], rng)
    put(h, "Hall", BlockKind.SPOILED, spoiled(checked))
    for i in residents + roll_of(election, "expert"):
        counts(h, "Hall", cast_ballot(synthetic, i, rng))
    for i in roll_of(election, "online"):
        counts(h, "Online", cast_ballot(synthetic, i, rng))
    for w in writers.values():
        w.close_session()
    deliver(h)
    yield h
    ledger.engine.dispose()


def put(h: Hall, where: str, kind: BlockKind, body: dict[str, Any]) -> None:
    w = h.writers[where]
    w.now += w.step
    w.append(kind, body)


def counts(h: Hall, where: str, c: CastBallot) -> None:
    put(h, where, BlockKind.BALLOT, c.body)
    h.counted.append(c.plaintext)


def deliver(h: Hall) -> None:
    for w in h.writers.values():
        kiosk = kiosk_id_for(w.key.public_key)
        have = h.ledger.head(kiosk)[0]
        result = h.ledger.ingest(kiosk, [b.encode() for b in w.blocks[have + 1 :]])
        assert result.rejection is None, result.rejection


def ledger_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args], capture_output=True, text=True, timeout=600
    )


# -- the trustees, simulated in this process (TEST ONLY) -----------------------------------------


def trustee_shuffles(e: Election, count: Path, j: int) -> None:
    """Trustee j verifies every earlier shuffle and adds theirs as the next file."""
    count_input = read_count_input((count / COUNT_INPUT).read_bytes(), e.package)
    earlier = sorted(count.glob("shuffle-*.json"))
    chain = verify_shuffles(e.package, count_input, [p.read_bytes() for p in earlier])
    raw = make_shuffle(e.package, chain.columns, chain.last_hash, j, e.signing_keys[j])
    (count / shuffle_name(len(earlier) + 1)).write_bytes(raw)


def trustee_decrypts(e: Election, count: Path, j: int) -> bytes:
    count_input = read_count_input((count / COUNT_INPUT).read_bytes(), e.package)
    shuffles = sorted(count.glob("shuffle-*.json"))
    chain = verify_shuffles(e.package, count_input, [p.read_bytes() for p in shuffles])
    raw = make_decryption(e.package, count_input, chain, e.shares[j], e.signing_keys[j])
    (count / decryption_name(j)).write_bytes(raw)
    return raw


def forge_one_share(e: Election, count: Path, j: int) -> None:
    """Trustee j's tool swaps two of its shares and signs the file: a bad share of trustee j."""
    value = json.loads((count / decryption_name(j)).read_bytes())
    body = {k: v for k, v in value.items() if k != "signature"}
    shares = body["shares"]
    shares[0]["share"], shares[1]["share"] = shares[1]["share"], shares[0]["share"]
    raw = signed_file(election_key(e.package), DECRYPTION_KIND, j, body, e.signing_keys[j])
    (count / decryption_name(j)).write_bytes(raw)


# -- the tests -----------------------------------------------------------------------------------


def test_prepare_refuses_before_the_close(hall: Hall, tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="not closed"):
        prepare_count(hall.ledger, tmp_path / "early")
    assert not (tmp_path / "early").exists() or not any((tmp_path / "early").iterdir())


def test_prepare_shuffle_decrypt_finish(hall: Hall, election: Election, tmp_path: Path) -> None:
    close_election(hall.ledger, {})
    count = tmp_path / "count"
    data = str(hall.data)
    prepared = ledger_cli("count", "prepare", "--data", data, "--out", str(count), "--workers", "2")
    assert prepared.returncode == 0, prepared.stderr
    assert f"counted {len(hall.counted)} ballots, left out 4" in prepared.stdout
    for line in ("test_ballot: 2", "spoiled: 1", "superseded: 1"):
        assert line in prepared.stdout
    assert "fewer than the package's" not in prepared.stdout  # min_column is 1 here
    selection = json.loads((count / "selection.json").read_bytes())
    assert {x["reason"] for x in selection["left_out"]} == {"test_ballot", "spoiled", "superseded"}
    # no plaintext and no randomness of a counted ballot in the count directory
    tally_input = (count / COUNT_INPUT).read_text()
    assert "plaintext" not in tally_input and "nonces" not in tally_input

    # finish refuses while too few trustees have shuffled, and writes nothing
    trustee_shuffles(election, count, 2)
    for j in (1, 2):
        trustee_decrypts(election, count, j)
    with pytest.raises(CountError, match="threshold asks for 2"):
        finish_count(hall.ledger, count, workers=1)
    assert not (count / "results.json").exists()
    for j in (1, 2):
        (count / decryption_name(j)).unlink()

    trustee_shuffles(election, count, 3)
    for j in (1, 2, 3):
        trustee_decrypts(election, count, j)
    forge_one_share(election, count, 1)
    finished = ledger_cli("count", "finish", "--data", data, "--count", str(count))
    assert finished.returncode == 0, finished.stderr
    assert "trustee 1's decryption file was not used" in finished.stdout
    results = json.loads((count / "results.json").read_text())
    assert results["trustees"]["decrypted"] == [2, 3]
    assert results["trustees"]["shuffled"] == [2, 3]
    assert "1" in results["trustees"]["bad"]

    recount = count_plaintexts(election.package, [b.plaintext() for b in hall.counted])
    for key in ("ballots", "contests", "ranking", "invalid"):
        assert results[key] == recount[key], key
    assert results["invalid_cells"] == []
    assert any(r["winner"] for r in results["ranking"]["options"])
    validate(json.loads((count / NIST_RESULTS).read_text()), RESULTS_SCHEMA)


def test_finish_refuses_a_count_directory_that_is_not_the_logs(
    hall: Hall, election: Election, tmp_path: Path
) -> None:
    close_election(hall.ledger, {})
    count = tmp_path / "count"
    prepare_count(hall.ledger, count, workers=1)
    selection = json.loads((count / "selection.json").read_bytes())
    selection["counted"] = selection["counted"][1:]  # a ballot dropped from the count
    (count / "selection.json").write_text(json.dumps(selection))
    with pytest.raises(CountError, match=r"selection\.json"):
        finish_count(hall.ledger, count, workers=1)
    assert not (count / "results.json").exists()
    with pytest.raises(LedgerError, match="not empty"):
        prepare_count(hall.ledger, count, workers=1)


def test_proofs_checked_in_worker_processes_agree_with_one_process(election: Election) -> None:
    """The pool answers ballot by ballot in order, a bad proof named where it is."""
    synthetic = replace(election.synthetic, package=election.package)
    rng = random.Random(3)
    ballots = [cast_ballot(synthetic, i, rng).body["ballot"] for i in range(9)]
    cell = ballots[4]["contests"][0]["cells"]
    cell[0]["proof"], cell[1]["proof"] = cell[1]["proof"], cell[0]["proof"]
    here = proofs_here(election.package)(ballots)
    pooled = proofs_in_pool(election.package, 2)(ballots)
    assert pooled == here
    assert [i for i, fault in enumerate(pooled) if fault] == [4]
