"""A hybrid election for the end-to-end test of issue 19: the online members' codes from the real
`ledger election letters` (its mailing file read back as a mailing service would), the package
`ledger election create` makes from the letters' roll, each online member's vote on the real
voting page in headless Chromium (the code from the letter's link, likes ticked, a Check before
the Cast when asked, the receipt's tracking code), and what the test keeps of it (never
published).

TESTS ONLY: the product never imports this."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser

from kiosk.core.ballot import Ballot
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ContestId, ElectionPackage, OptionId, RollEntry
from kiosk.core.encoding import b64e
from kiosk.core.online_credential import credential_key
from testkit.elections import SyntheticElection
from testkit.ledger_server import ledger_cli
from testkit.online_browser import VotingPage, voting_page
from testkit.v2_event import EventRoll

PLATFORM_URL = "https://vote.example.org/"  # printed in the letters; the test's page is local
LIKES = ContestId("likes")

# The page's Korean buttons (online/web/src/i18n.js), as a member reads them.
START, REVIEW, CHECK, CAST, AGAIN = (
    "시작하기",
    "내 투표 확인하기",
    "암호화 확인",
    "투표하기",
    "투표지 다시 만들기",
)


# -- the letters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One row of the letters' mailing file: whose, the code, the QR code's link, test or not."""

    voter: bytes
    code: str
    url: str
    test: bool

    @property
    def fragment(self) -> str:
        """The link's ``#code=…&k=…&e=…`` (never sent to a server), for the test's local
        platform: the code, and the authority key and election the page confirms."""
        fragment = urlsplit(self.url).fragment
        assert fragment.startswith(f"code={self.code}&k="), self.url
        return f"#{fragment}"


def issue_letters(
    out: Path, definition: Path, roll: Path, authority: bytes
) -> tuple[Path, dict[bytes, Letter]]:
    """`ledger election letters --csv`: the new roll file (the codes' keys on it) and each
    member's letter, by voter id."""
    done = ledger_cli(
        "election", "letters", "--definition", str(definition), "--roll", str(roll),
        "--platform-url", PLATFORM_URL, "--authority", b64e(authority), "--out", str(out),
        "--csv", data=None,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = csv.DictReader(io.StringIO((out / "letters.csv").read_text("utf-8")))
    # the mailing file names no voter: the office's members list ties its reference to one
    members = csv.DictReader(io.StringIO((out / "members.csv").read_text("utf-8")))
    voters = {m["reference"]: bytes.fromhex(m["voter"]) for m in members}
    letters = [Letter(voters[r["reference"]], r["code"], r["url"], bool(r["test"])) for r in rows]
    return out / "roll.json", {letter.voter: letter for letter in letters}


def coded_election(
    package: ElectionPackage, roll: EventRoll, letters: dict[bytes, Letter]
) -> SyntheticElection:
    """The package made from the letters' roll, with the card keys the test holds. Every
    online member (official and test) has a letter whose code's key is on their entry, beside
    their card's; nobody else has one."""
    entries = (*package.roll, *package.test_roll)
    keys = (*roll.voter_keys, *roll.test_card_keys)
    tests = (False,) * len(package.roll) + (True,) * len(package.test_roll)
    for entry, card, test in zip(entries, keys, tests, strict=True):
        _check_keys(package.id, entry, card, letters.get(entry.voter_id or b""), test)
    voters = {e.voter_id for e in entries}
    assert set(letters) <= voters, "a letter for somebody off the roll"
    return SyntheticElection(
        package, roll.authority, roll.voter_keys, roll.staff_keys, roll.test_card_keys
    )


def _check_keys(
    election_id: str, entry: RollEntry, card: SigningKey, letter: Letter | None, test: bool
) -> None:
    if entry.category != "online":
        assert letter is None and entry.keys == (card.public_key,)
        return
    assert letter is not None and letter.test == test, f"online member {entry.voter_id!r}"
    code_key = credential_key(letter.code, election_id).public_key
    assert entry.keys == (card.public_key, code_key)


def likes_ballot(package: ElectionPackage, voter: bytes, likes: Sequence[str]) -> Ballot:
    """The plaintext of an online member's likes, as the page encrypts it."""
    entry = package.roll_entry_by_voter(voter) or package.test_entry_by_voter(voter)
    assert entry is not None
    chosen = tuple(sorted(OptionId(o) for o in likes))
    return Ballot(package.id, entry.category, entry.group, {LIKES: chosen})


# -- the voting page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageVote:
    """What an online member's visit left: the tracking codes of their checked ballots and of
    the cast one, as the page showed them, and the cast ballot's fingerprint."""

    checked: tuple[str, ...]
    code: str
    fingerprint: str


def _sign_in(voter: VotingPage, letter: Letter) -> None:
    voter.open(letter.fragment)  # the letter's QR code opens the page with the code filled in
    assert voter.page.input_value("#code") == letter.code
    voter.page.get_by_role("button", name=START).click()


def _tick(voter: VotingPage, likes: Sequence[str], shown: Sequence[str]) -> None:
    page = voter.page
    offered = page.locator("input[type=checkbox]").evaluate_all("bs => bs.map(b => b.value)")
    assert offered == list(shown), f"the page offers {offered}, the roll says {list(shown)}"
    for option in likes:
        page.check(f'input[type=checkbox][value="{option}"]')


def _review(voter: VotingPage) -> str:
    voter.page.get_by_role("button", name=REVIEW).click()
    voter.wait_step("review")
    return voter.wait_fingerprint()


def vote_on_page(
    browser: Browser,
    origin: str,
    letter: Letter,
    likes: Sequence[str],
    offered: Sequence[str],
    *,
    checks: int = 0,
    size: str = "phone",
) -> PageVote:
    """The member opens their letter's link, signs in with the code, likes ``likes`` (the page
    must offer exactly ``offered``: their group's proposals but their own), checks the
    encryption ``checks`` times (each a fresh one, published opened) and casts."""
    with voting_page(browser, origin, size) as voter:
        page = voter.page
        _sign_in(voter, letter)
        voter.wait_step("ballot")
        _tick(voter, likes, offered)
        checked = []
        for _ in range(checks):
            sent = _review(voter)
            page.get_by_role("button", name=CHECK).click()
            voter.wait_step("checked")
            assert voter.wait_fingerprint("#checked-fingerprint") == sent
            code = page.get_attribute("#checked-tracking .fingerprint", "data-code")
            assert code is not None
            checked.append(code)
            page.get_by_role("button", name=AGAIN).click()
            voter.wait_step("ballot")
        fingerprint = _review(voter)
        page.get_by_role("button", name=CAST, exact=True).click()
        voter.wait_step("receipt")
        assert voter.wait_fingerprint("#receipt-fingerprint") == fingerprint
        code = page.get_attribute("#receipt-code .fingerprint", "data-code")
        assert code is not None
        _clean(voter)
        return PageVote(tuple(checked), code, fingerprint)


def refused_on_page(browser: Browser, origin: str, letter: Letter) -> tuple[str, str]:
    """The member signs in and is turned away: the page's error key and its words (a sign-in
    that lets them vote instead fails here at once, naming the step the page went to)."""
    with voting_page(browser, origin, "phone") as voter:
        _sign_in(voter, letter)
        voter.page.wait_for_function(
            """() => document.querySelector('#error')?.dataset.error
                  || document.querySelector('section[data-step="ballot"]')""",
            timeout=90_000,
        )
        assert voter.step() == "code", f"signed in: the page shows {voter.step()}"
        return str(voter.page.get_attribute("#error", "data-error")), voter.error()


def _clean(voter: VotingPage) -> None:
    assert voter.foreign_requests == [], "the page asked another origin"
    assert [r for r in voter.failed_responses if "/favicon.ico" not in r] == []
    assert [e for e in voter.console_errors if "Failed to load resource" not in e] == []
