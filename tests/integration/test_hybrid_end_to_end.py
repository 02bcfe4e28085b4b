"""A hybrid election end to end (issue 19, "Done means"): kiosks through real pcscd and online
members through the real voting page in headless Chromium, in one protocol v2 election, then the
close, the trustees' count and `verify-bundle` with no secret.

The reference event's shape scaled down: 2 groups of 4 proposals scored at kiosks by residents
and experts and liked online, 3 winners on site and 2 online by the quota rule. Four trustees
make the key in four processes; `ledger election letters` makes the online members' codes and
the roll `ledger election create --protocol 2` takes; a real ledger process; a real platform
process (`hanpyo-online`) enrolled with channel online, syncing to the ledger. Test ballots at a
kiosk (test cards) and online (a test letter's code) before the opening; then online members
vote on a phone-sized page (one checks the encryption first, one comes back and votes again: the
later online ballot counts), residents and experts vote at the hall kiosk with their cards, an
online member who voted online comes in person (the in-person ballot wins), and one who voted in
person tries online (refused). Then the close, `ledger count
prepare`, three trustees shuffling and decrypting in processes of their own, `count finish`,
`publish` and an observer's `verify-bundle`. The winners equal a recount of the plaintexts the
test kept (never published)."""

from __future__ import annotations

import json
import random
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser

from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import open_spoiled
from kiosk.core.block import BlockKind, SignedBlock, decode_signed_block
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.encoding import b64e
from kiosk.core.tally import count_plaintexts, count_test_ballots
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from testkit.elections import SyntheticElection, review_definition
from testkit.event_steps import ceremony, count_and_publish, run_ledger, sync, verify_bundle
from testkit.hybrid_event import (
    LIKES,
    Letter,
    PageVote,
    coded_election,
    issue_letters,
    likes_ballot,
    refused_on_page,
    vote_on_page,
)
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.online_browser import chromium
from testkit.online_platform import OnlinePlatform
from testkit.online_web import built_bundle
from testkit.v2_event import (
    CardVote,
    HallKiosk,
    Kept,
    counted_by_policy,
    event_roll,
    recount,
    roll_of,
)

# The whole event is the first test's setup; see the report for its wall time.
pytestmark = pytest.mark.timeout(600)

ELECTION = "hybrid-end-to-end"
SEED = "hybrid-end-to-end"
GROUPS, PER_GROUP = 2, 4
KIOSK_WINNERS, ONLINE_WINNERS = 3, 2
TRUSTEES, THRESHOLD = 4, 3
COUNTERS = (0, 1, 3)  # the media of trustees 1, 2 and 4 count; trustee 3 stays home
ONLINE_ONLY = 5  # online members 0-4 vote online only (member 0 checks first)
BOTH, IN_PERSON_FIRST = 5, 6  # online then in person; in person then online (refused)
REVOTER = 1  # votes online twice: the later online ballot counts (in_person_wins)


@dataclass
class Event:
    tmp: Path
    election: SyntheticElection
    server: LedgerServer
    letters: dict[bytes, Letter]
    card_votes: list[CardVote] = field(default_factory=list)
    test_votes: list[CardVote] = field(default_factory=list)
    test_tally: dict[str, Any] = field(default_factory=dict)  # the kiosk's own test tally
    page_votes: dict[bytes, PageVote] = field(default_factory=dict)  # by voter id, the latest
    replaced: tuple[PageVote, Ballot] | None = None  # REVOTER's first ballot and its plaintext
    page_plaintexts: dict[bytes, Ballot] = field(default_factory=dict)  # never published
    test_page_vote: PageVote | None = None
    refused: tuple[str, str] = ("", "")
    platform_status: dict[str, Any] = field(default_factory=dict)
    kept: list[Kept] = field(default_factory=list)  # every official ballot cast
    prepared: str = ""
    bundle: Path = Path()
    verified: str = ""
    verified_code: int = -1
    check_pages: dict[str, str] = field(default_factory=dict)  # tracking code: its page's text
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def package(self) -> ElectionPackage:
        return self.election.package

    @property
    def count(self) -> Path:
        return self.server.data / "published" / "count"

    def online(self, n: int) -> bytes:
        """Online member ``n``'s voter id."""
        voter = self.package.roll[roll_of(self.package, "online")[n]].voter_id
        assert voter is not None
        return voter

    def offered(self, voter: bytes) -> list[str]:
        """The proposals the page must offer ``voter``: their group's, never their own."""
        entry = self.package.roll_entry_by_voter(voter) or self.package.test_entry_by_voter(voter)
        assert entry is not None
        contest = next(c for c in self.package.contests if c.id == LIKES)
        return [o.id for o in self.package.eligible_options(contest, entry.group, entry.excluded)]


# -- the election, before the opening ----------------------------------------------------------


def make_package(
    tmp: Path, result: Path, log_vkey: str
) -> tuple[SyntheticElection, dict[bytes, Letter]]:
    """The definition, the enrolment office's roll file, `ledger election letters` (codes for
    the online members and the online test card) and `ledger election create` from its roll."""
    definition = review_definition(GROUPS, PER_GROUP, election_id=ELECTION)
    definition["tally"]["channels"] = {
        "kiosk": {"weight": 0.5, "winners": KIOSK_WINNERS},
        "online": {"weight": 0.5, "winners": ONLINE_WINNERS},
    }
    roll = event_roll(definition, SEED, experts_per_group=1, online_per_proposal=1)
    (tmp / "definition.json").write_text(json.dumps(definition, ensure_ascii=False), "utf-8")
    (tmp / "roll.json").write_text(json.dumps(roll.document), "utf-8")
    coded_roll, letters = issue_letters(
        tmp / "letters", tmp / "definition.json", tmp / "roll.json", roll.authority.public_key
    )
    out = run_ledger(
        "election", "create", "--protocol", "2",
        "--definition", str(tmp / "definition.json"), "--roll", str(coded_roll),
        "--ceremony", str(result), "--log-key", log_vkey, "--min-column", "2",
        "--out", str(tmp / "package.json"),
    )  # fmt: skip
    assert "(protocol 2) written" in out
    package = read_package(json.loads((tmp / "package.json").read_text("utf-8")))
    return coded_election(package, roll, letters), letters


def rehearse(event: Event, hall: HallKiosk, platform: OnlinePlatform, browser: Browser) -> None:
    """Before the opening: the hall kiosk in test mode with the test cards (its own test tally
    counts them), and the platform in test mode with the test letter's code."""
    hall.start(Mode.TEST)
    rng = random.Random(1)
    for key in event.election.test_card_keys:
        event.test_votes.append(hall.vote(key, rng))
    event.test_tally = count_test_ballots(event.package, hall.store.blocks())
    hall.box.close_session()
    (test_letter,) = [letter for letter in event.letters.values() if letter.test]
    platform.staff("open", "--mode", "test")
    offered = event.offered(test_letter.voter)
    event.test_page_vote = vote_on_page(browser, platform.url, test_letter, offered[:1], offered)
    platform.staff("close")


def vote_online(event: Event, platform: OnlinePlatform, browser: Browser) -> None:
    """Online members 0 to 5 on the page, each liking a few of the proposals offered; member 0
    checks the encryption once before casting; member 1 first likes other proposals, then
    comes back and votes their choice (the later ballot is the one that counts)."""
    platform.staff("open")
    rng = random.Random(2)
    for n in range(BOTH + 1):
        voter = event.online(n)
        offered = event.offered(voter)
        likes = sorted(rng.sample(offered, rng.randint(1, len(offered))))
        letter = event.letters[voter]
        if n == REVOTER:
            other = [o for o in offered if o not in likes] or offered[:1]
            first = vote_on_page(browser, platform.url, letter, other, offered)
            event.replaced = (first, likes_ballot(event.package, voter, other))
        vote = vote_on_page(browser, platform.url, letter, likes, offered, checks=int(n == 0))
        event.page_votes[voter] = vote
        event.page_plaintexts[voter] = likes_ballot(event.package, voter, likes)


def vote_in_the_hall(event: Event, hall: HallKiosk) -> None:
    """Residents and experts with their cards (the first resident checks once), then online
    member 5 (who voted online this morning) and online member 6 come in person."""
    hall.start(Mode.OFFICIAL)
    package, rng = event.package, random.Random(3)
    online = roll_of(package, "online")
    visitors = [*roll_of(package, "resident"), *roll_of(package, "expert")]
    visitors += [online[BOTH], online[IN_PERSON_FIRST]]
    for i, index in enumerate(visitors):
        vote = hall.vote(event.election.voter_keys[index], rng, checks=int(i == 0))
        event.card_votes.append(vote)
        event.kept.append(vote.kept)


def wait_synced(platform: OnlinePlatform) -> dict[str, Any]:
    """The platform's status once the ledger holds its whole chain (its worker syncs every
    half second)."""
    deadline = time.monotonic() + 60
    while True:
        status = platform.staff("status")
        if status["synced_height"] == status["height"]:
            return status
        assert time.monotonic() < deadline, platform.serve_log()
        time.sleep(0.3)


def keep_online_ballots(event: Event) -> None:
    """What the test keeps of each online ballot: its plaintext, with its block's source, time
    and height as the published log has them (the page showed the tracking code)."""
    blocks = log_blocks(event.bundle)
    for voter, vote in event.page_votes.items():
        block = blocks[vote.code].block
        assert block.kind is BlockKind.BALLOT
        plaintext = event.page_plaintexts[voter]
        event.kept.append(Kept(voter, block.kiosk, "online", block.time, block.height, plaintext))
    assert event.replaced is not None
    vote, plaintext = event.replaced
    block = blocks[vote.code].block
    kept = Kept(event.online(REVOTER), block.kiosk, "online", block.time, block.height, plaintext)
    event.kept.append(kept)


def log_blocks(bundle: Path) -> dict[str, SignedBlock]:
    with zipfile.ZipFile(bundle) as z:
        blocks = [decode_signed_block(line) for line in z.read("log.jsonl").splitlines()]
    return {b.tracking_code: b for b in blocks}


def read_check_pages(event: Event, browser: Browser, codes: list[str]) -> None:
    """The ledger's check page for each tracking code, as a member opens it from the receipt."""
    context = browser.new_context()
    try:
        page = context.new_page()
        for code in codes:
            page.goto(f"{event.server.url}/check?code={code}")
            event.check_pages[code] = page.inner_text("main")
    finally:
        context.close()


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory, pcscd_socket_dir: Path) -> Iterator[Event]:
    tmp = tmp_path_factory.mktemp("hybrid-event")
    clock = time.monotonic()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[name] = round(now - clock, 1)
        clock = now

    built_bundle()
    media, keys, result = ceremony(tmp, ELECTION, TRUSTEES, THRESHOLD)
    assert len(set(keys)) == 1  # every trustee computed the same key
    lap("key ceremony: 4 trustees")
    data = tmp / "ledger"
    data.mkdir()
    log_key = SigningKey(sha256(f"{SEED}/log".encode()))
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    election, letters = make_package(tmp, result, NoteVerifier(ORIGIN, log_key.public_key).vkey)
    server = LedgerServer(data, election)
    e = Event(tmp, election, server, letters, seconds=seconds)
    lap("letters and package")
    with ExitStack() as stack:
        stack.enter_context(server)
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        pcscd = stack.enter_context(
            PrivatePcscd(tmp / "pcscd", readers=1, socket_dir=pcscd_socket_dir)
        )
        monkeypatch.setenv("PCSCLITE_CSOCK_NAME", str(pcscd.socket))
        simulator = stack.enter_context(Simulator(pcscd.ports))
        hall_key = SigningKey(sha256(f"{SEED}/source/Hall A".encode()))
        enrol = server.cli(
            "kiosks", "enrol", f"--public-key={b64e(hall_key.public_key)}", "--name", "Hall A",
            "--channel", "kiosk", "--late-reason", "enrolled for the test",
        )  # fmt: skip
        assert enrol.returncode == 0, enrol.stderr
        hall = HallKiosk(tmp / "hall-a.db", hall_key, election, pcscd, simulator, 0)
        stack.callback(hall.store.close)
        platform = stack.enter_context(OnlinePlatform(tmp / "online", election, ledger=server))
        browser = stack.enter_context(chromium())
        lap("ledger, platform, pcscd and Chromium up")
        rehearse(e, hall, platform, browser)
        lap("test ballots: kiosk and page")
        vote_online(e, platform, browser)
        lap("online members on the page")
        vote_in_the_hall(e, hall)
        hall.box.close_session()
        sync(hall, server)
        lap("hall: cards through pcscd")
        e.refused = refused_on_page(browser, platform.url, letters[e.online(IN_PERSON_FIRST)])
        platform.staff("close")
        e.platform_status = wait_synced(platform)
        out = run_ledger("election", "close", data=data)
        assert "the log is frozen" in out
        lap("close")
        counting = {i + 1: media[i] for i in COUNTERS}
        e.prepared = count_and_publish(e.tmp, data, e.count, counting)
        lap("count: prepare, 3 trustees, finish, publish")
        e.bundle = tmp / "downloaded-bundle.zip"
        answer = requests.get(f"{server.url}/downloads/bundle.zip", timeout=60)
        assert answer.status_code == 200
        e.bundle.write_bytes(answer.content)
        verified = verify_bundle(e.bundle, b64e(election.authority.public_key), server.log_key)
        e.verified, e.verified_code = verified.stdout + verified.stderr, verified.returncode
        lap("verify-bundle")
        keep_online_ballots(e)
        first, both = e.page_votes[e.online(0)], e.page_votes[e.online(BOTH)]
        read_check_pages(e, browser, [*first.checked, first.code, both.code])
        lap("check pages")
        print(
            f"\nhybrid end to end, seconds per step: {seconds}, total {sum(seconds.values()):.1f}"
        )
        yield e


# -- what each party can see ---------------------------------------------------------------------


def test_every_online_member_and_the_test_card_got_a_letter(event: Event) -> None:
    online = roll_of(event.package, "online")
    official = [letter for letter in event.letters.values() if not letter.test]
    assert len(official) == len(online) == GROUPS * PER_GROUP
    assert len(event.letters) == len(online) + 1
    assert len({letter.code for letter in event.letters.values()}) == len(event.letters)


def test_test_ballots_are_taken_and_never_counted(event: Event) -> None:
    plaintexts = [v.kept.plaintext.plaintext() for v in event.test_votes]
    expected = count_plaintexts(event.package, plaintexts)
    assert event.test_tally["ballots"]["counted"] == 3
    assert event.test_tally["contests"] == expected["contests"]
    assert event.platform_status["test_ballots"] == 1
    selection = json.loads((event.count / "selection.json").read_bytes())
    reasons = Counter(x["reason"] for x in selection["left_out"])
    assert reasons["test_ballot"] == 3 + 1  # the kiosk's three test cards and the test code


def test_the_count_by_three_trustees_passes_verify_bundle_with_no_secret(event: Event) -> None:
    assert event.verified_code == 0, event.verified
    assert "every check passed" in event.verified and "FAILED" not in event.verified
    # what the count left out, and why, as prepare printed it and the selection lists it
    counted = counted_by_policy(event.kept, event.package.duplicate_policy.value)
    # superseded: member 5's online ballot (in person wins), member 1's first (the later counts)
    assert len(counted) == len(event.kept) - 2
    assert f"counted {len(counted)} ballots, left out {4 + 2 + 2}" in event.prepared
    selection = json.loads((event.count / "selection.json").read_bytes())
    reasons = Counter(x["reason"] for x in selection["left_out"])
    assert reasons == {"test_ballot": 4, "spoiled": 2, "superseded": 2}  # a check each channel
    results = json.loads((event.count / "results.json").read_bytes())
    assert results["trustees"]["shuffled"] == [c + 1 for c in COUNTERS]
    assert results["trustees"]["decrypted"] == [c + 1 for c in COUNTERS]
    assert results["trustees"]["bad"] == {} and results["invalid_cells"] == []


def test_the_quota_merge_picks_the_winners_of_an_independent_recount(event: Event) -> None:
    results = json.loads((event.count / "results.json").read_bytes())
    expected = recount(event.package, event.kept)
    for key in ("ballots", "contests", "ranking", "invalid"):
        assert results[key] == expected[key], key
    ranking = results["ranking"]
    assert ranking["winners"] == KIOSK_WINNERS + ONLINE_WINNERS
    winners = {r["option"]: r["won_by"] for r in ranking["options"] if r["winner"]}
    expected_winners = {
        r["option"]: r["won_by"] for r in expected["ranking"]["options"] if r["winner"]
    }
    assert winners == expected_winners
    assert Counter(winners.values()) == {"kiosk": KIOSK_WINNERS, "online": ONLINE_WINNERS}
    # The online channel decides: a proposal wins online over one the kiosks scored higher
    # (the test's choices are seeded, so this event always has such a pair).
    rows = ranking["options"]
    assert any(
        w["won_by"] == "online"
        and not o["winner"]
        and o["channels"]["kiosk"] > w["channels"]["kiosk"]
        for w in rows
        for o in rows
    ), rows
    # every card ballot counts at the hall: residents, experts and online members 5 and 6
    (hall,) = [s for s in results["sources"] if s["name"] == "Hall A"]
    assert hall["channel"] == "kiosk" and hall["ballots_counted"] == len(event.card_votes) == 12


def test_every_online_ballot_that_should_count_is_counted_in_channel_online(event: Event) -> None:
    status = event.platform_status
    source = status["source"]
    assert status["ballots"] == BOTH + 2  # members 0-5 and member 1 again; 6 was refused
    selection = json.loads((event.count / "selection.json").read_bytes())
    counted = {(c["source"], c["height"]) for c in selection["counted"]}
    blocks = log_blocks(event.bundle)
    for n in range(ONLINE_ONLY):
        block = blocks[event.page_votes[event.online(n)].code].block
        assert block.kiosk == source and (source, block.height) in counted, n
    assert event.replaced is not None
    first = blocks[event.replaced[0].code].block  # member 1's first ballot: replaced
    assert first.kiosk == source and (source, first.height) not in counted
    results = json.loads((event.count / "results.json").read_bytes())
    (online,) = [s for s in results["sources"] if s["kiosk"] == source]
    assert online["channel"] == "online" and online["ballots_counted"] == ONLINE_ONLY


def test_the_checked_ballot_opens_on_the_ledgers_check_page(event: Event) -> None:
    voter = event.online(0)
    vote, plaintext = event.page_votes[voter], event.page_plaintexts[voter]
    (checked,) = vote.checked
    block = log_blocks(event.bundle)[checked].block
    assert block.kind is BlockKind.SPOILED
    assert open_spoiled(event.package, block.body).plaintext == plaintext
    page = event.check_pages[checked]
    assert "✓ 확인한 투표지입니다. 개표하지 않습니다." in page  # and opened for anyone
    for option in plaintext.selections[LIKES]:
        title = event.package.option(option)
        assert title is not None and title.title.ko in page, option
    cast = event.check_pages[vote.code]
    assert vote.fingerprint in cast and "✓ 개표에 들어갔습니다." in cast


def test_online_then_in_person_counts_in_person_and_in_person_then_online_is_refused(
    event: Event,
) -> None:
    """The duplicate policy (in person wins): member 5's online ballot is left out as
    superseded by their kiosk ballot, which counts; member 6, who voted in person first, is
    turned away by the platform with the reason, and nothing is recorded for them online."""
    assert event.package.duplicate_policy.value == "in_person_wins"
    key, words = event.refused
    assert key == "err_already_voted", (key, words)
    assert "이미" in words
    assert event.online(IN_PERSON_FIRST) not in event.page_votes
    online_blocks = [
        b for b in log_blocks(event.bundle).values()
        if b.block.kiosk == event.platform_status["source"] and b.block.kind is BlockKind.BALLOT
    ]  # fmt: skip
    assert len(online_blocks) == BOTH + 2
    both = event.page_votes[event.online(BOTH)]
    selection = json.loads((event.count / "selection.json").read_bytes())
    left = {(x["source"], x["height"]): x["reason"] for x in selection["left_out"]}
    block = log_blocks(event.bundle)[both.code].block
    assert left[(block.kiosk, block.height)] == "superseded"
    assert Counter(left.values())["superseded"] == 2  # and member 1's first online ballot
    assert "중복 규칙에 따라" in event.check_pages[both.code]
    in_person = next(v for v in event.card_votes if v.kept.voter == event.online(BOTH))
    counted = {(c["source"], c["height"]) for c in selection["counted"]}
    assert (in_person.kept.source, in_person.kept.height) in counted
