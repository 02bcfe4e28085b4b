"""A protocol v2 election in the reference event's shape, from the trustees' key ceremony to a
record anyone verifies with no secret (issue 17, "Done means": the end-to-end test), through the
real commands as separate processes and a real ledger on a loopback port.

Five trustees make the election key in five processes; `ledger election create --protocol 2`
makes the package (groups of 12 proposals scored 1-10 with dropped extremes, resident and
expert categories, online members liking proposals through a second source, quota per channel);
a hall kiosk's real store takes test ballots from test cards and then voters' cards through
real pcscd and the card simulator (a Check before a Cast), and syncs with the kiosk's own sync
worker; a second hall and the online platform send the bulk of the ballots as signed blocks;
voters vote twice across sources; a hall that never came online is waived at the close. Then
`ledger count prepare`, three trustees shuffling in turn and decrypting, each in a process of
their own with their own medium, `ledger count finish`, `ledger publish` and `ledger
verify-bundle` in a process of its own. The published numbers equal a recount of the
plaintexts the test kept (never published); one altered byte of the record fails verify-bundle
naming the place."""

from __future__ import annotations

import io
import json
import random
import subprocess
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.core.ballot_crypto import open_spoiled
from kiosk.core.block import BlockKind, decode_signed_block
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import read_package
from kiosk.core.encoding import b64e
from kiosk.core.tally import count_plaintexts, count_test_ballots
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, proposal_id, review_definition
from testkit.event_steps import ceremony, count_and_publish, run_ledger, sync, verify_bundle
from testkit.ledger_requests import LATE_REASON, upload
from testkit.ledger_server import ORIGIN, LedgerServer, ledger_cli
from testkit.nist_schemas import RESULTS_SCHEMA, validate
from testkit.v2_ballots import cast_ballot
from testkit.v2_event import (
    CardVote,
    HallKiosk,
    Kept,
    counted_by_policy,
    election_of,
    event_roll,
    recount,
    roll_of,
    tying,
)
from testkit.v2_record import rezip

# The whole event is the first test's setup: about 70 s on two busy cores; room to spare.
pytestmark = pytest.mark.timeout(600)

ELECTION = "review-v2-end-to-end"
SEED = "v2-end-to-end"
GROUPS, PER_GROUP = 3, 12
KIOSK_WINNERS, ONLINE_WINNERS = 6, 4
COUNTERS = (0, 2, 4)  # the media of trustees 1, 3 and 5: they count; 2 and 4 stay home
TIED = (proposal_id(3, 1), proposal_id(3, 2))  # every voter gives both the same: a tie
CHOOSE = tying(TIED, 7)


@dataclass
class Event:
    tmp: Path
    election: SyntheticElection
    server: LedgerServer
    ceremony_keys: list[str]  # "election key K ..." as each trustee's finish printed it
    ceremony_result: Path
    test_votes: list[CardVote] = field(default_factory=list)
    test_tally: dict[str, Any] = field(default_factory=dict)  # the kiosk's own test tally
    card_votes: list[CardVote] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)  # every official ballot cast: never published
    prepared: str = ""
    bundle: Path = Path()
    verified: subprocess.CompletedProcess[str] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def package(self) -> Any:
        return self.election.package

    @property
    def count(self) -> Path:
        return self.server.data / "published" / "count"


# -- the event, step by step -------------------------------------------------------------------


def create_package(tmp: Path, result: Path, log_vkey: str) -> SyntheticElection:
    """`ledger election create --protocol 2` from the definition and the enrolment office's
    roll file, with the ceremony's result and the ledger's log key."""
    definition = review_definition(GROUPS, PER_GROUP, election_id=ELECTION)
    definition["tally"]["channels"] = {
        "kiosk": {"weight": 0.5, "winners": KIOSK_WINNERS},
        "online": {"weight": 0.5, "winners": ONLINE_WINNERS},
    }
    roll = event_roll(definition, SEED, experts_per_group=2, online_per_proposal=1)
    (tmp / "definition.json").write_text(json.dumps(definition, ensure_ascii=False), "utf-8")
    (tmp / "roll.json").write_text(json.dumps(roll.document), "utf-8")
    out = run_ledger(
        "election", "create", "--protocol", "2",
        "--definition", str(tmp / "definition.json"), "--roll", str(tmp / "roll.json"),
        "--ceremony", str(result), "--log-key", log_vkey, "--min-column", "2",
        "--out", str(tmp / "package.json"),
    )  # fmt: skip
    assert "(protocol 2) written" in out
    package = read_package(json.loads((tmp / "package.json").read_text("utf-8")))
    return election_of(package, roll)


def enrol_source(server: LedgerServer, key: SigningKey, name: str, channel: str) -> str:
    answer = requests.post(
        f"{server.url}/v1/admin/kiosks",
        headers=server.admin(),
        json={
            "public_key": b64e(key.public_key),
            "name": name,
            "channel": channel,
            "late_reason": LATE_REASON,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["kiosk"])


def send(server: LedgerServer, writer: ChainWriter) -> None:
    """A source's chain uploaded over HTTP in batches, as its sync client sends it."""
    for first in range(0, len(writer.blocks), 16):
        answer = upload(server, writer.key, writer.blocks[first : first + 16])
        assert answer.status_code == 200, answer.text
        assert answer.json()["rejected"] is None


class Source:
    """A hall or platform whose blocks testkit writes and signs (the bulk of the ballots)."""

    def __init__(self, event: Event, name: str, channel: str, start: datetime) -> None:
        self.event, self.channel = event, channel
        key = SigningKey(sha256(f"{SEED}/source/{name}".encode()))
        enrol_source(event.server, key, name, channel)
        self.writer = ChainWriter(event.package, key, start, timedelta(minutes=1))
        self.writer.mode(Mode.OFFICIAL)
        self.writer.open_session()

    def vote(self, index: int, rng: random.Random) -> None:
        package = self.event.package
        voter = package.voter_for_card(package.roll[index].keys[0])
        assert voter is not None
        cast = cast_ballot(self.event.election, index, rng, CHOOSE(package, voter, rng))
        self.writer.now += self.writer.step
        block = self.writer.append(BlockKind.BALLOT, cast.body).block
        voter = self.event.package.roll[index].voter_id
        assert voter is not None
        kept = Kept(voter, block.kiosk, self.channel, block.time, block.height, cast.plaintext)
        self.event.kept.append(kept)

    def close_and_send(self) -> None:
        self.writer.close_session()
        send(self.event.server, self.writer)


def vote_in_hall_a(event: Event, hall: HallKiosk) -> None:
    """Test mode with the test cards (the kiosk's own test tally counts them), then official
    mode: a resident checks a ballot and then casts, an expert casts, an online member who
    voted online comes in person, and a resident who voted in Hall B votes again."""
    package, rng = event.package, random.Random(1)
    hall.start(Mode.TEST)
    for key in event.election.test_card_keys:
        event.test_votes.append(hall.vote(key, rng))
    event.test_tally = count_test_ballots(package, hall.store.blocks())
    hall.box.close_session()
    hall.start(Mode.OFFICIAL)
    residents, experts = roll_of(package, "resident"), roll_of(package, "expert")
    online = roll_of(package, "online")
    for index, checks in ((residents[0], 1), (experts[0], 0), (online[0], 0), (residents[1], 0)):
        vote = hall.vote(event.election.voter_keys[index], rng, checks=checks, choose=CHOOSE)
        event.card_votes.append(vote)
        event.kept.append(vote.kept)


def vote_elsewhere(event: Event) -> None:
    """The online platform (every online member, and a resident who later votes in a hall)
    in the morning; Hall B (every other resident and expert, and two who vote again: one in
    Hall A afterwards, one who voted online before)."""
    package, rng = event.package, random.Random(2)
    residents, experts = roll_of(package, "resident"), roll_of(package, "expert")
    online = roll_of(package, "online")
    now = datetime.now(UTC)
    platform = Source(event, "Online platform", "online", now - timedelta(hours=3))
    for index in [online[0], residents[2], *online[1:]]:
        platform.vote(index, rng)
    platform.close_and_send()
    hall_b = Source(event, "Hall B", "kiosk", now - timedelta(hours=2))
    for index in [*residents[1:], *experts[1:]]:
        hall_b.vote(index, rng)
    hall_b.close_and_send()


def observe(bundle: Path, event: Event, workers: int) -> subprocess.CompletedProcess[str]:
    """An observer's `ledger verify-bundle` of this event's bundle, with the public keys only."""
    authority = b64e(event.election.authority.public_key)
    return verify_bundle(bundle, authority, event.server.log_key, workers)


def close(event: Event, hall_c: str) -> None:
    """Every source closed and delivered, but Hall C, which never reached the network: the
    close names it until it is waived with a reason."""
    refused = ledger_cli("election", "close", data=event.server.data)
    assert refused.returncode != 0 and "Hall C" in refused.stdout + refused.stderr
    out = run_ledger(
        "election", "close", "--waive", hall_c, "its kiosk broke before opening",
        data=event.server.data,
    )  # fmt: skip
    assert "the log is frozen" in out


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory, pcscd_socket_dir: Path) -> Iterator[Event]:
    tmp = tmp_path_factory.mktemp("v2-event")
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        e.seconds[name] = round(now - clock, 1)
        clock = now

    media, key_lines, result = ceremony(tmp, ELECTION, 5, 3)
    data = tmp / "ledger"
    data.mkdir()
    log_key = SigningKey(sha256(f"{SEED}/log".encode()))
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    election = create_package(tmp, result, NoteVerifier(ORIGIN, log_key.public_key).vkey)
    server = LedgerServer(data, election)
    e = Event(tmp, election, server, key_lines, result)
    lap("ceremony and package")
    with ExitStack() as stack:
        stack.enter_context(server)
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        pcscd = stack.enter_context(
            PrivatePcscd(tmp / "pcscd", readers=1, socket_dir=pcscd_socket_dir)
        )
        monkeypatch.setenv("PCSCLITE_CSOCK_NAME", str(pcscd.socket))
        simulator = stack.enter_context(Simulator(pcscd.ports))
        hall_key = SigningKey(sha256(f"{SEED}/source/Hall A".encode()))
        enrol_source(server, hall_key, "Hall A", "kiosk")
        hall = HallKiosk(tmp / "hall-a.db", hall_key, election, pcscd, simulator, 0)
        stack.callback(hall.store.close)
        vote_in_hall_a(e, hall)
        sync(hall, server)
        hall_c = enrol_source(server, SigningKey(sha256(b"hall c")), "Hall C", "kiosk")
        lap("hall A: cards through pcscd")
        vote_elsewhere(e)
        hall.box.close_session()
        sync(hall, server)
        lap("hall B and online: blocks over HTTP")
        close(e, hall_c)
        counting = {i + 1: media[i] for i in COUNTERS}
        e.prepared = count_and_publish(tmp, server.data, e.count, counting)
        lap("close, count, 3 trustees, publish")
        e.bundle = tmp / "downloaded-bundle.zip"
        answer = requests.get(f"{server.url}/downloads/bundle.zip", timeout=60)
        assert answer.status_code == 200
        e.bundle.write_bytes(answer.content)
        e.verified = observe(e.bundle, e, workers=2)
        lap("verify-bundle")
        print(f"\nv2 end to end, seconds per step: {e.seconds}")
        yield e


# -- what each party can see ---------------------------------------------------------------------


def test_five_trustees_made_the_key_the_package_names(event: Event) -> None:
    assert len(set(event.ceremony_keys)) == 1  # all five computed the same K
    section = json.loads((event.tmp / "package.ceremony.json").read_text("utf-8"))["record"]
    key = event.package.election_key
    assert key is not None and key.key.hex() == section["election_key"]
    assert key.threshold == 3 and len(key.trustees) == 5
    package = event.package
    assert package.log_verifier is not None and package.log_verifier.vkey == event.server.log_key
    # the roll: a voter id per card and per online member's credential key, test cards apart
    assert len(package.test_roll) == 3 and len({e.voter_id for e in package.roll}) == len(
        package.roll
    )
    assert {e.category for e in package.roll} == {"resident", "expert", "online"}


def test_the_kiosks_test_tally_counts_the_test_ballots(event: Event) -> None:
    plaintexts = [v.kept.plaintext.plaintext() for v in event.test_votes]
    expected = count_plaintexts(event.package, plaintexts)
    assert event.test_tally["ballots"] == expected["ballots"]
    assert event.test_tally["ballots"]["counted"] == 3
    assert event.test_tally["contests"] == expected["contests"]


def test_the_count_by_three_trustees_passes_verify_bundle_with_no_secret(event: Event) -> None:
    verified = event.verified
    assert verified is not None
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "every check passed" in verified.stdout and "FAILED" not in verified.stdout
    # what the count left out, and why, as prepare printed it and the selection lists it
    counted = counted_by_policy(event.kept, event.package.duplicate_policy.value)
    left = len(event.kept) - len(counted)
    assert left == 3  # an online member and a resident who came in person, a second hall
    checked = sum(len(v.checked) for v in event.card_votes)
    assert f"counted {len(counted)} ballots, left out {left + 3 + checked}" in event.prepared
    selection = json.loads((event.count / "selection.json").read_bytes())
    reasons = Counter(x["reason"] for x in selection["left_out"])
    assert reasons == {"test_ballot": 3, "spoiled": checked, "superseded": left}
    results = json.loads((event.count / "results.json").read_bytes())
    assert results["trustees"]["shuffled"] == [1, 3, 5]
    assert results["trustees"]["decrypted"] == [1, 3, 5]
    assert results["trustees"]["bad"] == {} and results["invalid_cells"] == []


def test_the_published_results_equal_an_independent_recount(event: Event) -> None:
    results = json.loads((event.count / "results.json").read_bytes())
    expected = recount(event.package, event.kept)
    for key in ("ballots", "contests", "ranking", "invalid"):
        assert results[key] == expected[key], key
    ranking = results["ranking"]
    assert ranking["winners"] == KIOSK_WINNERS + ONLINE_WINNERS and ranking["drop_extremes"]
    picked = Counter(r["won_by"] for r in ranking["options"] if r["winner"])
    assert picked == {"kiosk": KIOSK_WINNERS, "online": ONLINE_WINNERS}, picked
    # per source, as the ledger counted them: the card ballots that count, Hall B's, online
    per_source = {s["name"]: s["ballots_counted"] for s in results["sources"]}
    counted = counted_by_policy(event.kept, event.package.duplicate_policy.value)
    assert sum(per_source.values()) == len(counted) and per_source["Hall C"] == 0
    assert per_source["Hall A"] == 3  # the resident who voted in Hall B first is superseded
    # the two proposals every voter treated alike tie, and the published tie-break orders them
    rows = {r["option"]: r for r in ranking["options"]}
    first, second = (rows[o] for o in TIED)
    assert first["tied"] and second["tied"] and second["rank"] == first["rank"] + 1
    assert first["channels"] == second["channels"]
    validate(json.loads((event.count / "nist-1500-100-results.json").read_text()), RESULTS_SCHEMA)


def test_a_checked_ballot_opens_from_the_record_to_what_the_voter_chose(event: Event) -> None:
    """Cast as intended: the resident's checked ballot is in the published log with its
    randomness; anyone opens it to the choices the voter then cast, encrypted afresh."""
    with zipfile.ZipFile(event.bundle) as z:
        blocks = [decode_signed_block(line) for line in z.read("log.jsonl").splitlines()]
    by_code = {b.tracking_code: b.block for b in blocks}
    vote = event.card_votes[0]
    (code,) = vote.checked
    checked = by_code[code]
    assert checked.kind is BlockKind.SPOILED
    opened = open_spoiled(event.package, checked.body)
    assert opened.plaintext == vote.kept.plaintext
    cast = by_code[vote.code]
    assert cast.kind is BlockKind.BALLOT and cast.body["ballot"] != checked.body["ballot"]
    selection = json.loads((event.count / "selection.json").read_bytes())
    counted = {(c["source"], c["height"]) for c in selection["counted"]}
    assert (cast.kiosk, cast.height) in counted
    assert (checked.kiosk, checked.height) not in counted


# -- one altered byte --------------------------------------------------------------------------

# (file in the bundle, marker after which a byte is flipped, the byte's offset after it, what it
# is, words the failure must name). In log.jsonl, inside the first official ballot's block.
ALTERED = [
    ("log.jsonl", b'"ct":["', 2, "a ballot's ciphertext", ("log.jsonl",)),
    ("log.jsonl", b'"proof":{"c":"', 2, "a ballot's proof", ("log.jsonl",)),
    ("count/shuffle-2.json", b'"proof":{', 9, "a shuffle proof", ("shuffle-2.json",)),
    ("count/decryption-3.json", b'"share":"', 2, "a decryption share", ("decryption-3.json",)),
    ("count/results.json", b'"counted": ', 0, "a result number", ("results.json",)),
]


def flip_after(data: bytes, marker: bytes, offset: int, name: str) -> bytes:
    start = data.index(b'"kind":"ballot"') if name == "log.jsonl" else 0
    start = data.rindex(b"\n", 0, start) + 1 if start else 0
    at = data.index(marker, start) + len(marker) + offset
    # XOR 1 keeps a digit a digit, and hex or base64 text still text: the file still reads
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("name", "marker", "offset", "what", "named"), ALTERED, ids=[a[3] for a in ALTERED]
)
def test_one_altered_byte_fails_verify_bundle_naming_the_place(
    event: Event,
    name: str,
    marker: bytes,
    offset: int,
    what: str,
    named: tuple[str, ...],
    tmp_path: Path,
) -> None:
    with zipfile.ZipFile(io.BytesIO(event.bundle.read_bytes())) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files[name] = flip_after(files[name], marker, offset, name)
    altered = tmp_path / "altered.zip"
    altered.write_bytes(rezip(files))
    done = observe(altered, event, workers=1)
    assert done.returncode != 0, f"{what}: {done.stdout}"
    failed = [line for line in done.stdout.splitlines() if line.lstrip().startswith("FAILED")]
    assert failed, f"{what}: nothing failed: {done.stdout}{done.stderr}"
    assert any(w in line for line in failed for w in named), f"{what}: {failed}"
