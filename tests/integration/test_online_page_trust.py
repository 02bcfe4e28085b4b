"""The voting page does not take the platform's word for the election (review F3), in real
headless Chromium against a real platform process, the platform's answers altered on the way
by Playwright's request interception as a hostile platform would send them:
- an election key other than the one the authority signed: the page stops at "could not
  confirm the election" and never asks to sign in nor sends a ballot;
- a public part the platform signed with a key of its own: refused with the letter's link, and
  a code typed by hand goes nowhere unless the letter's election check matches that key;
- a sign-in answer calling an official code a test one (test ballots are encrypted under a
  key whose secret is public): the page stops before it encrypts;
- a check link pointing elsewhere: the page links the signed package's ledger instead;
- a 201 naming another fingerprint: no receipt, the page's own fingerprint and an alarm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Request, Route

from kiosk.core.crypto import Domain, SigningKey, sha256
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.verifiable.group import base_mul
from testkit.online_browser import VotingPage, chromium, voting_page
from testkit.online_codes import CodedElection, coded_election
from testkit.online_platform import OnlinePlatform
from testkit.online_web import built_bundle

UNTRUSTED_KO = "이 페이지는 선거를 확인하지 못했습니다"


@pytest.fixture(scope="module", autouse=True)
def bundle() -> Path:
    return built_bundle()


@pytest.fixture(scope="module")
def coded() -> CodedElection:
    return coded_election(seed="online-page-trust")


@pytest.fixture(scope="module")
def platform(
    coded: CodedElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OnlinePlatform]:
    with OnlinePlatform(tmp_path_factory.mktemp("online-trust"), coded.election) as running:
        running.staff("open", "--mode", "official")
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def posts(voter: VotingPage) -> list[str]:
    """Every POST the page makes, by path, from now on."""
    sent: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.url.removeprefix(voter.origin))

    voter.page.on("request", seen)
    return sent


def altered(route: Route, change: Any) -> None:
    """The platform's real answer, passed through ``change`` (a hostile platform's edit)."""
    answer = route.fetch()
    route.fulfill(response=answer, json=change(answer.json()))


def wait_untrusted(voter: VotingPage) -> str:
    voter.wait_step("untrusted")
    assert UNTRUSTED_KO in voter.heading()
    assert "선거 관리자에게 알려 주세요" in voter.error()
    return str(voter.page.get_attribute("#untrusted-reason", "data-reason"))


def their_election_key(doc: dict[str, Any]) -> dict[str, Any]:
    """/api/election with the platform's own election key K' = k'·G."""
    part = doc["public"]
    part["election_key"] = part["election_key"] | {"key": base_mul(987654321).hex()}
    return doc


def test_a_platform_serving_its_own_election_key_is_refused(
    browser: Browser, platform: OnlinePlatform, coded: CodedElection
) -> None:
    with voting_page(browser, platform.url, "phone") as voter:
        voter.page.route("**/api/election", lambda r: altered(r, their_election_key))
        sent = posts(voter)
        voter.page.goto(f"{platform.url}/{coded.members[0].link}")
        assert wait_untrusted(voter) == "untrustedPackage"
        assert voter.page.locator("#code").count() == 0  # nowhere to type the code
        assert voter.page.locator("button:not(#language)").count() == 0  # nothing goes on
        voter.shot("0-untrusted-election-ko")
        voter.page.get_by_role("button", name="Switch to English").click()
        assert voter.heading() == "This page could not confirm the election"
        assert "Do not vote here" in voter.error()
        voter.shot("0-untrusted-election-en")
    assert sent == []  # no challenge, no sign-in, no ballot


def signed_by_them(doc: dict[str, Any]) -> dict[str, Any]:
    """/api/election as a platform would make it with an authority key of its own: its own
    election key, signed correctly, and its own key named as the authority's."""
    theirs = SigningKey(sha256(b"the platform's own authority"))
    doc = their_election_key(doc)
    signature = theirs.sign(Domain.ELECTION_PUBLIC, canonical_json(doc["public"]))
    return doc | {"public_signature": b64e(signature), "authority": b64e(theirs.public_key)}


def test_a_public_part_the_platform_signed_itself_is_refused_link_or_typed(
    browser: Browser, platform: OnlinePlatform, coded: CodedElection
) -> None:
    member = coded.members[1]
    with voting_page(browser, platform.url, "phone") as voter:
        voter.page.route("**/api/election", lambda r: altered(r, signed_by_them))
        sent = posts(voter)
        voter.page.goto(f"{platform.url}/{member.link}")  # the letter's key is not theirs
        assert wait_untrusted(voter) == "untrustedPackage"

        voter.open()  # typed by hand: the page asks for the letter's election check
        page = voter.page
        assert page.locator("#election-check").is_visible()
        page.fill("#code", member.code)
        page.get_by_role("button", name="시작하기").click()
        page.wait_for_selector("#error[data-error=checkMalformed]")
        page.fill("#election-check", coded.check.lower().replace("-", " "))
        page.get_by_role("button", name="시작하기").click()
        page.wait_for_selector("#error[data-error=checkMismatch]")
        assert "여기서 투표하지 말고" in voter.error() and voter.step() == "code"
        voter.shot("1-code-check-mismatch-ko")
    assert sent == []


def test_the_page_decides_itself_whether_a_code_is_a_test_one(
    browser: Browser, platform: OnlinePlatform, coded: CodedElection
) -> None:
    """An official member's sign-in answered "test": the ballot would go under the public test
    key. The page finds the key off the signed test roll and stops before it encrypts."""
    with voting_page(browser, platform.url, "phone") as voter:
        voter.page.route("**/api/session", lambda r: altered(r, lambda d: d | {"test": True}))
        sent = posts(voter)
        voter.open(coded.members[2].link)
        voter.page.get_by_role("button", name="시작하기").click()
        assert wait_untrusted(voter) == "untrustedSession"
        assert not voter.page.locator("#test-banner").is_visible()
    assert sent == ["/api/session/challenge", "/api/session"]  # no ballot


def test_check_links_are_the_signed_ledgers_and_a_receipt_is_the_pages_own(
    browser: Browser, platform: OnlinePlatform, coded: CodedElection
) -> None:
    """The platform names a look-alike check page and, for the cast, another ballot's
    fingerprint: the checked ballot's link goes to the signed package's ledger, and the cast
    shows an alarm with the page's own fingerprint instead of a receipt."""
    ledger = coded.election.package.ledger_url.rstrip("/")
    elsewhere = "https://check.example.net/check?code=AAAA"
    with voting_page(browser, platform.url, "phone") as voter:
        page = voter.page
        page.route("**/api/spoiled", lambda r: altered(r, lambda d: d | {"check_url": elsewhere}))
        other = {"fingerprint": "AAAA-BBBB-CCCC-DDDD", "check_url": elsewhere}
        page.route("**/api/ballots", lambda r: altered(r, lambda d: d | other))
        voter.open(coded.members[3].link)
        page.get_by_role("button", name="시작하기").click()
        voter.wait_step("ballot")
        page.get_by_role("checkbox").first.check()
        page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        voter.wait_fingerprint()
        page.get_by_role("button", name="암호화 확인").click()
        voter.wait_step("checked")
        tracking = page.get_attribute("#checked-tracking .fingerprint", "data-code")
        href = page.get_attribute("a[data-code]", "href")
        assert href == f"{ledger}/check?code={tracking}", href

        page.get_by_role("button", name="투표지 다시 만들기").click()
        voter.wait_step("ballot")
        page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        fingerprint = voter.wait_fingerprint()
        page.get_by_role("button", name="투표하기", exact=True).click()
        assert wait_untrusted(voter) == "untrustedAnswer"
        assert voter.page.locator("section[data-step=receipt]").count() == 0
        shown = page.get_attribute("#untrusted-fingerprint .fingerprint", "data-code")
        assert shown == fingerprint != other["fingerprint"]
        assert "AAAA" not in page.inner_text("main")
        voter.shot("5-receipt-mismatch-ko")
