"""Closing and counting on a real SQLite ledger: what blocks the close, waivers, the frozen log,
trustee shares refused or accepted, duplicates, test ballots, and results equal to a direct
count of the plaintext ballots."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import shamir_mnemonic

from kiosk.core.ballot import Ballot
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import Channel, Voter, sign_package
from kiosk.core.encoding import b64e
from kiosk.core.tally import count_plaintexts
from ledger.rules.errors import LedgerError
from ledger.rules.trustees import TrusteeError
from ledger.service.closing import close_election, unready_sources
from ledger.service.ledger import Ledger
from ledger.service.trustee_tally import run_tally
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from ledger.verify.bundle import Check, verify_bundle
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition

ORIGIN = "ledger.test/tally"
START = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    d = review_definition(4, 5, election_id="tally-ledger")
    d["tally"]["channels"] = {
        "kiosk": {"weight": 0.5, "winners": 5},
        "online": {"weight": 0.5, "winners": 3},
    }
    return build_election(d, seed="tally-ledger", experts_per_group=2, online_per_proposal=2)


@pytest.fixture(scope="module")
def shares(election: SyntheticElection) -> list[str]:
    """The synthetic ballot key split 3-of-5, as `ledger election create` splits a real one."""
    mnemonics: list[str] = shamir_mnemonic.generate_mnemonics(
        1, [(3, 5)], election.ballot_key.secret
    )[0]  # shamir_mnemonic ships no type hints
    return mnemonics


@dataclass
class Hall:
    ledger: Ledger
    writers: dict[str, ChainWriter]
    cast: list[Ballot]  # every official ballot that must count, in no particular order


def voters(election: SyntheticElection, category: str) -> list[Voter]:
    found = [election.package.voter_for_card(e.card_key) for e in election.package.roll]
    return [v for v in found if v is not None and v.category == category]


def new_ledger(tmp: Path, election: SyntheticElection) -> Ledger:
    engine = connect(f"sqlite:///{tmp / 'ledger.db'}")
    create_schema(engine)
    key = SigningKey.generate()
    signed = sign_package(election.package, election.authority).to_json()
    Ledger.initialise(engine, LogKey(ORIGIN, key), signed, election.authority.public_key)
    return Ledger(engine, key)


@pytest.fixture
def hall(tmp_path: Path, election: SyntheticElection) -> Iterator[Hall]:
    """Two hall kiosks and an online platform. Test ballots first; then every resident and
    expert votes in a hall and every online member online; two residents also vote online
    first, and one votes in both halls (in_person_wins: the first in-person ballot counts)."""
    package = election.package
    ledger = new_ledger(tmp_path, election)
    rng = random.Random(5)
    writers = {}
    for n, (name, channel) in enumerate(
        (("Hall A", Channel.KIOSK), ("Hall B", Channel.KIOSK), ("Online", Channel.ONLINE))
    ):
        key = SigningKey.generate()
        ledger.enrol(key.public_key, name, channel=channel)
        w = ChainWriter(package, key, START + timedelta(minutes=n), timedelta(minutes=3))
        w.mode(Mode.TEST)
        w.open_session()
        writers[name] = w
    residents, experts, online = (voters(election, c) for c in ("resident", "expert", "online"))
    for v in residents[:3]:  # test ballots never count
        writers["Hall A"].cast(v, random_ballot(package, v, rng))
    for w in writers.values():
        w.close_session()
        w.mode(Mode.OFFICIAL)
        w.open_session()
    counted: list[Ballot] = []

    def cast(where: str, voter: Voter, counts: bool) -> None:
        ballot = random_ballot(package, voter, rng)
        writers[where].cast(voter, ballot)
        if counts:
            counted.append(ballot)

    for v in residents[:2]:
        cast("Online", v, counts=False)  # then in person, which wins
    for i, v in enumerate(residents + experts):
        cast("Hall A" if i % 2 else "Hall B", v, counts=True)
    cast("Hall A", residents[0], counts=False)  # reaches the log after Hall B's (see deliver)
    for v in online:
        cast("Online", v, counts=True)
    yield Hall(ledger, writers, counted)
    ledger.engine.dispose()


def deliver(hall: Hall, *names: str) -> None:
    """Upload what each kiosk has not delivered yet; Hall B first, so that the resident who
    voted in both halls has Hall B's ballot first in the log, and that one counts."""
    for name in names or ("Hall B", "Hall A", "Online"):
        w = hall.writers[name]
        kiosk = kiosk_id_for(w.key.public_key)
        have = hall.ledger.head(kiosk)[0]
        result = hall.ledger.ingest(kiosk, [b.encode() for b in w.blocks[have + 1 :]])
        assert result.rejection is None, result.rejection


def test_the_close_names_each_kiosk_not_ready_and_waivers_are_recorded(hall: Hall) -> None:
    deliver(hall)  # every session is still open
    with pytest.raises(LedgerError, match="keep the election from closing") as refused:
        close_election(hall.ledger, {})
    assert refused.value.detail.count("is still open") == 3
    for name in ("Hall A", "Online"):
        hall.writers[name].close_session()
    deliver(hall)
    unready = unready_sources(hall.ledger)
    assert [u.name for u in unready] == ["Hall B"]
    hall_b = unready[0].kiosk
    with pytest.raises(LedgerError, match="needs a reason"):
        close_election(hall.ledger, {hall_b: "  "})
    done = close_election(hall.ledger, {hall_b: "its printer jammed; session closed on paper"})
    assert done.waivers == {hall_b: "its printer jammed; session closed on paper"}
    assert "waived" in done.statement and hall.ledger.key.origin in done.statement
    assert done.size == hall.ledger.log_size()

    # The log is frozen: Hall B's late close is refused, and the election cannot close twice.
    hall.writers["Hall B"].close_session()
    late = hall.ledger.ingest(hall_b, [hall.writers["Hall B"].blocks[-1].encode()])
    assert late.rejection is not None and late.rejection.reason == "election_closed"
    with pytest.raises(LedgerError, match="already closed"):
        close_election(hall.ledger, {})


def test_undelivered_blocks_block_the_close(hall: Hall) -> None:
    for w in hall.writers.values():
        w.close_session()
    deliver(hall, "Hall A", "Online")
    unready = {u.name: u.reason for u in unready_sources(hall.ledger)}
    assert set(unready) == {"Hall B"}
    assert "no blocks have arrived" in unready["Hall B"]


def closed(hall: Hall) -> None:
    for w in hall.writers.values():
        w.close_session()
    deliver(hall)
    close_election(hall.ledger, {})


def test_the_tally_refuses_before_the_close_and_with_bad_shares(
    hall: Hall, shares: list[str], tmp_path: Path, election: SyntheticElection
) -> None:
    with pytest.raises(LedgerError, match="not closed"):
        run_tally(hall.ledger, shares[:3], tmp_path / "early", progress=False)
    closed(hall)
    with pytest.raises(TrusteeError, match="do not combine"):
        run_tally(hall.ledger, shares[:2], tmp_path / "two", progress=False)
    other = shamir_mnemonic.generate_mnemonics(1, [(3, 5)], bytes(32))[0]
    with pytest.raises(TrusteeError, match="do not combine"):  # one share of another set
        run_tally(hall.ledger, [*shares[:2], other[0]], tmp_path / "mixed", progress=False)
    with pytest.raises(TrusteeError, match="not this election's ballot key"):
        run_tally(hall.ledger, other[:3], tmp_path / "other", progress=False)
    word = shares[0].split()
    word[5] = "academic" if word[5] != "academic" else "acid"  # a mistyped word
    with pytest.raises(TrusteeError, match="do not combine"):
        run_tally(hall.ledger, [" ".join(word), *shares[1:3]], tmp_path / "typo", progress=False)
    assert not any((tmp_path / d).exists() for d in ("two", "mixed", "other", "typo"))


def test_the_tally_equals_a_direct_count_of_the_plaintext_ballots(
    hall: Hall, shares: list[str], tmp_path: Path, election: SyntheticElection
) -> None:
    closed(hall)
    out = tmp_path / "results"
    output = run_tally(hall.ledger, [shares[4], shares[1], shares[2]], out, progress=False)
    expected = count_plaintexts(election.package, [b.plaintext() for b in hall.cast])
    results = output.results
    assert results["ballots"]["counted"] == len(hall.cast)
    assert results["contests"] == expected["contests"]
    assert results["ranking"] == expected["ranking"]
    assert results["invalid"] == []
    by_name = {s["name"]: s["ballots_counted"] for s in results["sources"]}
    assert sum(by_name.values()) == len(hall.cast)
    assert results["trustees"] == {"threshold": 3, "shares": 3}

    lines = (out / "ballots.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["n"] for r in records] == list(range(len(hall.cast)))
    assert sorted(json.dumps(r["ballot"], sort_keys=True) for r in records) == sorted(
        json.dumps(b.to_json(), sort_keys=True) for b in hall.cast
    )
    assert all(set(r) == {"n", "source", "ballot"} for r in records)  # nothing that links
    reconciliation = json.loads((out / "reconciliation.json").read_text())
    assert reconciliation["adds_up"] is True
    assert reconciliation["totals"]["ballots_counted"] == len(hall.cast)
    with pytest.raises(LedgerError, match="not empty"):
        run_tally(hall.ledger, shares[:3], out, progress=False)


def rewrite(bundle: Path, name: str, change: Callable[[bytes], bytes], out: Path) -> Path:
    """A copy of ``bundle`` with one member changed, as a tamperer would make it."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item.filename, change(data) if item.filename == name else data)
    return out


def statuses(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_the_bundle_verifies_and_tampering_is_caught(
    hall: Hall, shares: list[str], tmp_path: Path, election: SyntheticElection
) -> None:
    closed(hall)
    out = tmp_path / "results"
    run_tally(hall.ledger, shares[:3], out, progress=False)
    bundle = out / "bundle.zip"
    authority = b64e(election.authority.public_key)
    log_key = hall.ledger.key.verifier.vkey
    checks = verify_bundle(bundle, authority, log_key)
    assert [c.status for c in checks if c.status != "not checked"] == ["ok"] * 9, checks
    assert {c.name for c in checks if c.status == "not checked"} == {
        "the opened ballots are the sealed ballots of the log",
        "each ballot was cast by the card holder on the roll",
    }
    # With k shares (an auditor beside the trustees) it also opens every counted ballot.
    opened = statuses(verify_bundle(bundle, authority, log_key, shares[2:5]))
    assert opened["the opened ballots are the sealed ballots of the log"] == "ok"
    # Without pinned keys it still checks, and says what it trusted.
    unpinned = verify_bundle(bundle)
    assert statuses(unpinned)["keys pinned from an independent source"] == "not checked"

    def swap_a_choice(data: bytes) -> bytes:
        lines = data.decode().splitlines()
        for i, line in enumerate(lines):
            record = json.loads(line)
            if record["ballot"]["category"] == "online" and record["ballot"]["contests"]["likes"]:
                liked = record["ballot"]["contests"]["likes"]
                others = [
                    o.id for o in election.package.options_in_group(record["ballot"]["group"])
                ]
                liked[0] = next(o for o in others if o not in liked)
                lines[i] = json.dumps(record)
                break
        return ("\n".join(lines) + "\n").encode()

    forged_bundle = rewrite(bundle, "ballots.jsonl", swap_a_choice, tmp_path / "a.zip")
    forged = statuses(verify_bundle(forged_bundle, shares=shares[:3]))
    assert forged["the counts, recounted from the opened ballots"] == "FAILED"
    assert forged["the opened ballots are the sealed ballots of the log"] == "FAILED"

    def drop_last_block(data: bytes) -> bytes:
        return b"\n".join(data.splitlines()[:-1]) + b"\n"

    short = verify_bundle(rewrite(bundle, "log.jsonl", drop_last_block, tmp_path / "b.zip"))
    assert statuses(short)["Merkle root of every block equals the final checkpoint"] == "FAILED"

    def crown_a_loser(data: bytes) -> bytes:
        results = json.loads(data)
        loser = next(r for r in results["ranking"]["options"] if not r["winner"])
        loser["winner"] = True
        return json.dumps(results).encode()

    crowned = verify_bundle(rewrite(bundle, "results.json", crown_a_loser, tmp_path / "c.zip"))
    assert statuses(crowned)["the counts, recounted from the opened ballots"] == "FAILED"

    wrong_key = verify_bundle(bundle, b64e(SigningKey.generate().public_key), log_key)
    assert statuses(wrong_key)["election package signed by the authority"] == "FAILED"


# What `ledger verify-bundle` needs besides the standard library: the core's crypto (PyNaCl,
# and pysodium for protocol v2's group) and canonical JSON, and SLIP-39 for --share. Not
# SQLAlchemy, nor anything of the web stack.
VERIFIER_NEEDS = ("nacl", "_cffi_backend", "rfc8785", "pysodium", "shamir_mnemonic")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def python_without_sqlalchemy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment that holds only what the verifier needs, linked from this
    run's environment (no network): importing SQLAlchemy there fails as on a bare machine."""
    venv = tmp_path_factory.mktemp("verifier") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert site != sysconfig.get_path("purelib")
    for name in VERIFIER_NEEDS:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        where = Path(spec.origin)
        installed = where.parent if spec.submodule_search_locations else where
        (Path(site) / installed.name).symlink_to(installed)
    return python


def verify_bundle_command(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "ledger.cli", "verify-bundle", *args],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)},
        cwd=python.parents[2],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_verify_bundle_runs_where_sqlalchemy_is_not_installed(
    hall: Hall,
    shares: list[str],
    tmp_path: Path,
    election: SyntheticElection,
    python_without_sqlalchemy: Path,
) -> None:
    python = python_without_sqlalchemy
    missing = subprocess.run(
        [str(python), "-c", "import sqlalchemy"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1 and "No module named 'sqlalchemy'" in missing.stderr
    closed(hall)
    out = tmp_path / "results"
    run_tally(hall.ledger, shares[:3], out, progress=False)
    share_files = []
    for n, words in enumerate(shares[1:4], start=1):
        path = tmp_path / f"trustee-{n}.txt"
        path.write_text(f"# share {n}\n{words}\n")
        share_files += ["--share", str(path)]
    pinned = ["--authority", b64e(election.authority.public_key)]
    pinned += ["--log-key", hall.ledger.key.verifier.vkey]

    done = verify_bundle_command(python, str(out / "bundle.zip"), *pinned, *share_files)
    assert done.returncode == 0, done.stderr
    assert "every check passed; 1 thing(s) could not be checked from the bundle" in done.stdout
    assert "FAILED" not in done.stdout

    def drop_last_block(data: bytes) -> bytes:
        return b"\n".join(data.splitlines()[:-1]) + b"\n"

    short = rewrite(out / "bundle.zip", "log.jsonl", drop_last_block, tmp_path / "short.zip")
    refused = verify_bundle_command(python, str(short), *pinned)
    assert refused.returncode == 1
    assert "check(s) FAILED: do not trust these results" in refused.stderr
