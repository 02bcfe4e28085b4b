"""The online voting page in real headless Chromium (the system's, through Playwright) against a
real platform process serving the real bundle: a member's whole path on a phone and a desktop,
in Korean and English, keyboard only, a wrong code, Check then Cast, a test ballot, a lapsed
sign-in, and the ballot in the platform's chain. Screenshots of every step land in
test-output/online/ (looked at by people, not compared by the test)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, Route

from kiosk.core.online_credential import new_code
from testkit.elections import mixed_definition
from testkit.ledger_server import LedgerServer, free_port
from testkit.online_browser import SHOTS, VotingPage, chromium, voting_page
from testkit.online_codes import CodedElection, OnlineMember, coded_election
from testkit.online_platform import OnlinePlatform
from testkit.online_web import built_bundle

KO = {
    "start": "시작하기",
    "review": "내 투표 확인하기",
    "check": "암호화 확인",
    "cast": "투표하기",
    "again": "투표지 다시 만들기",
    "switch": "English",
    "max": "최대 6개까지 고를 수 있습니다",
    "not_counted": "집계되지 않습니다",
}
EN = {
    "start": "Start",
    "review": "Review my vote",
    "check": "Check the encryption",
    "cast": "Cast my vote",
    "again": "Make my ballot again",
    "switch": "한국어",
    "max": "You may choose up to 6",
    "not_counted": "will not be counted",
}
WORDS = {"ko": KO, "en": EN}


@pytest.fixture(scope="module", autouse=True)
def bundle() -> Path:
    """The page as `npm run build` makes it, rebuilt when its sources changed."""
    return built_bundle()


@pytest.fixture(scope="module")
def coded() -> CodedElection:
    return coded_election()


@pytest.fixture(scope="module")
def platform(
    coded: CodedElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OnlinePlatform]:
    with OnlinePlatform(tmp_path_factory.mktemp("online"), coded.election) as running:
        running.staff("open", "--mode", "official")
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def members(coded: CodedElection) -> Iterator[OnlineMember]:
    """Each test votes as a member nobody else in this module used."""
    return iter(coded.members)


def audited(voter: VotingPage, name: str) -> None:
    """The step's screenshot, and no accessibility problem the checks can find on it."""
    voter.shot(name)
    problems = {k: v for k, v in voter.audit().items() if v}
    assert not problems, f"{name} ({voter.size}): {problems}"


def clean(voter: VotingPage) -> None:
    assert voter.foreign_requests == [], "the page asked another origin"
    assert [r for r in voter.failed_responses if "/favicon.ico" not in r] == []
    assert [e for e in voter.console_errors if "Failed to load resource" not in e] == []


def sign_in(voter: VotingPage, member: OnlineMember, words: dict[str, str]) -> None:
    voter.open(member.link)
    voter.page.get_by_role("button", name=words["start"]).click()
    voter.wait_step("ballot")


@pytest.mark.parametrize(
    ("size", "lang"), [("phone", "ko"), ("desktop", "en"), ("phone", "en"), ("desktop", "ko")]
)
def test_a_member_checks_then_casts(
    browser: Browser,
    platform: OnlinePlatform,
    coded: CodedElection,
    members: Iterator[OnlineMember],
    size: str,
    lang: str,
) -> None:
    member, words = next(members), WORDS[lang]
    before = platform.staff("status")["ballots"]
    with voting_page(browser, platform.url, size) as voter:
        voter.open(member.link)
        page = voter.page
        # The letter's link fills the code in, and the code leaves the address bar and history.
        assert page.input_value("#code") == member.code
        assert page.evaluate("location.href") == f"{platform.url}/"
        if lang == "en":
            page.get_by_role("button", name="Switch to English").click()
            assert page.evaluate("document.documentElement.lang") == "en"
            assert voter.step() == "code"
            assert page.input_value("#code") == member.code
        audited(voter, f"1-code-{lang}")
        page.get_by_role("button", name=words["start"]).click()
        voter.wait_step("ballot")

        # The member's group's proposals, never their own.
        shown = page.locator(".option-title").all_inner_texts()
        assert shown == coded.option_titles(member, lang)
        own = coded.election.package.option(member.excluded[0])
        assert own is not None and getattr(own.title, lang) not in shown
        audited(voter, f"2-ballot-{lang}")

        boxes = page.get_by_role("checkbox")
        for n in range(6):
            boxes.nth(n).check()
        boxes.nth(6).click()  # a seventh like: refused, with what to do
        refusal = page.get_by_role("alert").filter(has_text=words["max"])
        assert refusal.is_visible()  # said under the option tried, where the voter looks
        after = page.locator(".option").nth(6).evaluate("o => o.nextElementSibling.className")
        assert after == "error refusal"
        assert not boxes.nth(6).is_checked()
        voter.shot(f"2-ballot-at-most-6-{lang}")
        for n in range(2, 6):
            boxes.nth(n).uncheck()
        chosen = shown[:2]

        page.get_by_role("button", name=words["review"]).click()
        voter.wait_step("review")
        checked_fingerprint = voter.wait_fingerprint()
        assert page.locator(".review-contest li").all_inner_texts() == chosen
        audited(voter, f"3-review-{lang}")

        page.get_by_role("button", name=words["check"]).click()
        voter.wait_step("checked")
        assert voter.wait_fingerprint("#checked-fingerprint") == checked_fingerprint
        assert words["not_counted"] in voter.heading()
        tracking = page.get_attribute("#checked-tracking .fingerprint", "data-code")
        link = page.get_attribute("a[data-code]", "href")
        assert link == f"{coded.election.package.ledger_url}/check?code={tracking}"
        audited(voter, f"4-checked-{lang}")

        page.get_by_role("button", name=words["again"]).click()
        voter.wait_step("ballot")
        assert [boxes.nth(n).is_checked() for n in range(3)] == [True, True, False]
        page.get_by_role("button", name=words["review"]).click()
        voter.wait_step("review")
        cast_fingerprint = voter.wait_fingerprint()
        assert cast_fingerprint != checked_fingerprint  # a fresh encryption, never the checked one

        page.get_by_role("button", name=words["cast"], exact=True).click()
        voter.wait_step("receipt")
        assert voter.wait_fingerprint("#receipt-fingerprint") == cast_fingerprint
        tracking = page.get_attribute("#receipt-code .fingerprint", "data-code")
        assert tracking and tracking != cast_fingerprint
        link = page.get_attribute("a[data-code]", "href")
        assert link == f"{coded.election.package.ledger_url}/check?code={tracking}"
        audited(voter, f"5-receipt-{lang}")
        clean(voter)
    assert platform.staff("status")["ballots"] == before + 1  # in the platform's chain


def test_the_language_switch_keeps_the_step_and_the_choices(
    browser: Browser, platform: OnlinePlatform, members: Iterator[OnlineMember]
) -> None:
    with voting_page(browser, platform.url, "phone") as voter:
        sign_in(voter, next(members), KO)
        page = voter.page
        page.get_by_role("checkbox").nth(1).check()
        page.get_by_role("button", name="Switch to English").click()
        assert voter.step() == "ballot"
        assert voter.heading() == "Your ballot"
        assert page.get_by_role("checkbox").nth(1).is_checked()
        assert page.evaluate("document.activeElement.id") == "language"
        page.get_by_role("button", name="한국어로 보기").click()
        assert voter.heading() == "투표하기"
        clean(voter)


def test_keyboard_only(
    browser: Browser,
    platform: OnlinePlatform,
    coded: CodedElection,
    members: Iterator[OnlineMember],
) -> None:
    """Tab, Space and Enter only, from the code (typed by hand, with the letter's election
    check) to the receipt, with a ring on every stop."""
    member = next(members)
    with voting_page(browser, platform.url, "desktop") as voter:
        voter.open()
        keys = voter.page.keyboard
        voter.tab_to("^투표 코드$")
        keys.type(member.code)
        voter.tab_to("^선거 확인$")
        keys.type(coded.check)
        voter.tab_to("^시작하기$")
        keys.press("Enter")
        voter.wait_step("ballot")
        seen = []
        for _ in range(2):
            seen.append(voter.tab_to(r"예산"))
            ring = voter.focus_ring()
            assert ring["style"] != "none" and ring["width"] >= 2, ring
            keys.press("Space")
        assert voter.page.locator("input:checked").count() == 2
        voter.shot("keyboard-ballot-focus")
        voter.tab_to("^내 투표 확인하기$")
        assert voter.focus_ring()["width"] >= 2
        keys.press("Enter")
        voter.wait_step("review")
        voter.wait_fingerprint()
        voter.shot("keyboard-review")
        # No trap: Tab goes through every control of the review and comes round again.
        stops = [voter.tab_to(".") for _ in range(12)]
        assert "투표하기" in stops and "Switch to English" in stops
        voter.tab_to("^투표하기$")
        keys.press("Enter")
        voter.wait_step("receipt")
        clean(voter)


def test_wrong_codes_are_explained(
    browser: Browser, platform: OnlinePlatform, coded: CodedElection
) -> None:
    with voting_page(browser, platform.url, "phone") as voter:
        voter.open()
        page = voter.page
        page.fill("#code", "7K3QD-1M2XA")
        page.get_by_role("button", name="시작하기").click()
        assert "20자" in voter.wait_error()
        assert voter.page.evaluate("document.activeElement.id") == "code"

        page.fill("#code", new_code())  # well formed, on nobody's letter
        page.fill("#election-check", coded.check)
        page.get_by_role("button", name="시작하기").click()
        page.wait_for_selector("#error[data-error=err_unknown_code]")
        assert voter.step() == "code"
        audited(voter, "1-code-wrong-ko")
        page.get_by_role("button", name="Switch to English").click()
        assert "code" in voter.error() and voter.step() == "code"
        voter.shot("1-code-wrong-en")
        clean_errors = [e for e in voter.console_errors if "401" not in e]
        assert [e for e in clean_errors if "Failed to load resource" not in e] == []


def test_a_member_who_voted_may_vote_again_and_is_told_so(
    browser: Browser, platform: OnlinePlatform, members: Iterator[OnlineMember]
) -> None:
    """A member who voted here signs in again with the same code: the election counts a later
    online ballot (in_person_wins with no ballot in person), so the ballot screen warns that a
    new ballot replaces the earlier one, and casting records a second ballot. (Where revoting
    is off, the used code is refused: test_online_platform's first-ballot test, and the
    hybrid test for a member who voted in person.)"""
    member = next(members)
    with voting_page(browser, platform.url, "phone") as voter:
        sign_in(voter, member, KO)
        assert voter.page.locator(".notice.warn").count() == 0  # a first visit: no warning
        voter.page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        voter.page.get_by_role("button", name="투표하기", exact=True).click()
        voter.wait_step("receipt")
        first_code = voter.page.get_attribute("#receipt-code .fingerprint", "data-code")
        assert first_code
    ballots = platform.staff("status")["ballots"]
    with voting_page(browser, platform.url, "phone") as voter:
        sign_in(voter, member, KO)
        warning = voter.page.locator(".notice.warn")
        assert "앞선 투표를 대신합니다" in warning.inner_text()
        audited(voter, "2-ballot-revote-ko")
        voter.page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        voter.page.get_by_role("button", name="투표하기", exact=True).click()
        voter.wait_step("receipt")
        again = voter.page.get_attribute("#receipt-code .fingerprint", "data-code")
        assert again and again != first_code
    assert platform.staff("status")["ballots"] == ballots + 1


def test_a_test_ballot_says_so(browser: Browser, coded: CodedElection, tmp_path: Path) -> None:
    with OnlinePlatform(tmp_path / "online", coded.election) as platform:
        platform.staff("open", "--mode", "test")
        with voting_page(browser, platform.url, "phone") as voter:
            sign_in(voter, coded.test_members[0], KO)
            banner = voter.page.locator("#test-banner")
            assert banner.is_visible() and "TEST" in banner.inner_text()
            audited(voter, "2-ballot-test-ko")
            voter.page.get_by_role("button", name="내 투표 확인하기").click()
            voter.wait_step("review")
            voter.page.get_by_role("button", name="투표하기", exact=True).click()
            voter.wait_step("receipt")
            assert "시험 투표입니다" in voter.page.inner_text("main")
            audited(voter, "5-receipt-test-ko")
        status = platform.staff("status")
    assert (status["test_ballots"], status["ballots"]) == (1, 0)


def test_a_lapsed_sign_in_is_renewed_without_the_code(
    browser: Browser, coded: CodedElection, tmp_path: Path
) -> None:
    """The sign-in lapses while the member reviews (here: the platform restarted, which keeps
    no session); Cast says so, "Sign in again" renews it from the key the page holds (no code
    retyped, the choices kept) and the ballot is cast."""
    with OnlinePlatform(tmp_path / "online", coded.election) as platform:
        platform.staff("open", "--mode", "official")
        with voting_page(browser, platform.url, "desktop") as voter:
            sign_in(voter, coded.members[-1], KO)
            page = voter.page
            page.get_by_role("checkbox").first.check()
            page.get_by_role("button", name="내 투표 확인하기").click()
            voter.wait_step("review")
            fingerprint = voter.wait_fingerprint()
            platform.stop()
            platform.start()
            page.get_by_role("button", name="투표하기", exact=True).click()
            assert "다시 들어가기" in voter.wait_error()
            voter.shot("3-review-session-expired-ko")
            page.get_by_role("button", name="다시 들어가기").click()
            page.wait_for_function("() => document.activeElement.id === 'cast'")
            assert voter.error() == "" and voter.wait_fingerprint() == fingerprint
            page.get_by_role("button", name="투표하기", exact=True).click()
            voter.wait_step("receipt")
        assert platform.staff("status")["ballots"] == 1


def wait_in_ledger(ledger: LedgerServer, tracking_code: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = requests.get(
            f"{ledger.url}/v1/proofs/inclusion", params={"tracking_code": tracking_code}, timeout=10
        )
        if answer.status_code == 200:
            return
        time.sleep(0.3)
    raise AssertionError(f"the ledger never received the block {tracking_code}")


def follow_link(voter: VotingPage) -> Page:
    """The check page the step's link opens in a new tab, loaded."""
    with voter.page.context.expect_page() as opened:
        voter.page.locator("a[data-code]").click()
    check = opened.value
    check.wait_for_load_state()
    return check


def test_the_links_open_the_ledgers_check_page(
    browser: Browser, coded: CodedElection, tmp_path: Path
) -> None:
    """Synced to a real ledger: the checked ballot's link shows its choices opened, the cast
    ballot's shows the fingerprint the review and the receipt showed. The links go to the
    ledger the signed package names (never an address of the platform's answer)."""
    port = free_port()
    address = f"http://127.0.0.1:{port}"
    package = dataclasses.replace(coded.election.package, ledger_url=address)
    election = dataclasses.replace(coded.election, package=package)
    ledger = LedgerServer(tmp_path / "ledger", election)
    ledger.port, ledger.url = port, address  # serve where the package says the ledger is
    with ledger:
        platform = OnlinePlatform(tmp_path / "online", election, ledger=ledger)
        with platform, voting_page(browser, platform.url, "phone") as voter:
            platform.staff("open", "--mode", "official")
            sign_in(voter, coded.members[0], KO)
            page = voter.page
            first = page.locator(".option-title").first.inner_text()
            page.get_by_role("checkbox").first.check()
            page.get_by_role("button", name="내 투표 확인하기").click()
            voter.wait_step("review")
            voter.wait_fingerprint()
            page.get_by_role("button", name="암호화 확인").click()
            voter.wait_step("checked")
            tracking = page.get_attribute("#checked-tracking .fingerprint", "data-code")
            assert tracking is not None
            wait_in_ledger(ledger, tracking)
            check = follow_link(voter)
            assert first in check.inner_text("main")  # the checked ballot, opened
            check.screenshot(
                path=str(SHOTS / "ledger-check-page-checked-phone.png"), full_page=True
            )
            check.close()

            page.get_by_role("button", name="투표지 다시 만들기").click()
            voter.wait_step("ballot")
            page.get_by_role("button", name="내 투표 확인하기").click()
            voter.wait_step("review")
            fingerprint = voter.wait_fingerprint()
            page.get_by_role("button", name="투표하기", exact=True).click()
            voter.wait_step("receipt")
            tracking = page.get_attribute("#receipt-code .fingerprint", "data-code")
            assert tracking is not None
            wait_in_ledger(ledger, tracking)
            check = follow_link(voter)
            assert fingerprint in check.inner_text("main")
            assert first not in check.inner_text("main")  # a cast ballot shows no choice
            check.screenshot(path=str(SHOTS / "ledger-check-page-cast-phone.png"), full_page=True)


def test_before_the_opening_the_page_says_so(
    browser: Browser, coded: CodedElection, tmp_path: Path
) -> None:
    platform = OnlinePlatform(tmp_path / "online", coded.election)  # never opened
    with platform, voting_page(browser, platform.url, "phone") as voter:
        voter.open(coded.members[1].link)
        # the schedule opened long ago; the platform's session did not
        assert "지금은 투표를 받지 않습니다" in voter.page.inner_text(".notice")
        voter.page.get_by_role("button", name="시작하기").click()
        voter.page.wait_for_selector("#error[data-error=err_not_open]")
        assert voter.step() == "code"
        audited(voter, "1-code-not-open-ko")


def test_a_check_whose_answer_is_lost_is_never_cast(
    browser: Browser, platform: OnlinePlatform, members: Iterator[OnlineMember]
) -> None:
    """The platform publishes the checked ballot but its answer never reaches the phone: the
    page says to try again and casts a fresh encryption, never the one whose randomness left."""
    with voting_page(browser, platform.url, "phone") as voter:
        sign_in(voter, next(members), KO)
        page = voter.page
        page.get_by_role("checkbox").first.check()
        page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        sent = voter.wait_fingerprint()

        def delivered_then_lost(route: Route) -> None:
            answer = route.fetch()  # the platform records the checked ballot…
            assert answer.status == 201
            route.abort("connectionreset")  # …and the phone never hears so

        page.route("**/api/spoiled", delivered_then_lost)
        page.get_by_role("button", name="암호화 확인").click()
        page.wait_for_selector("#error[data-error=err_network]")
        page.unroute("**/api/spoiled")
        fresh = voter.wait_fingerprint()
        assert fresh != sent
        page.get_by_role("button", name="투표하기", exact=True).click()
        voter.wait_step("receipt")
        assert voter.wait_fingerprint("#receipt-fingerprint") == fresh


def every_kind_online() -> CodedElection:
    """Online members answer every contest kind: likes, a score, scores by criterion (from
    0, so "not scored" is not a score) and a yes/no question."""
    definition = mixed_definition(groups=1, per_group=4, election_id="online-kinds")
    for contest in definition["contests"]:
        if contest["id"] in ("review", "expert-criteria", "rules"):
            contest["categories"].append("online")
    return coded_election(definition, seed="online-kinds", test_cards=0)


def test_scores_by_criterion_and_a_question(browser: Browser, tmp_path: Path) -> None:
    """The platform opens the checked ballot against the plaintext the page wrote beside it,
    so a wrong plaintext for scores, criteria or an answer is refused there."""
    coded = every_kind_online()
    platform = OnlinePlatform(tmp_path / "online", coded.election)
    with platform, voting_page(browser, platform.url, "phone") as voter:
        platform.staff("open", "--mode", "official")
        sign_in(voter, coded.members[0], KO)
        page = voter.page
        review = page.locator("fieldset", has=page.locator("#contest-review"))
        review.get_by_role("radio", name="7", exact=True).first.check()
        criteria = page.locator("fieldset", has=page.locator("#contest-expert-criteria"))
        criteria.get_by_role("radio", name="3", exact=True).first.check()  # impact, 1st option
        page.get_by_role("button", name="내 투표 확인하기").click()
        assert "모든 항목에 점수를" in voter.wait_error()  # feasibility not scored
        criteria.get_by_role("radio", name="0", exact=True).nth(1).check()  # feasibility 0
        page.get_by_role("button", name="내 투표 확인하기").click()
        page.wait_for_selector("#error[data-error=refused]")
        assert "답해 주세요" in voter.error()  # the question
        page.get_by_role("radio", name="찬성").check()
        audited(voter, "2-ballot-every-kind-ko")
        page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        lines = page.locator(".review-contest li").all_inner_texts()
        assert "찬성" in lines and any(line.endswith(": 7점") for line in lines)
        assert any("효과 3, 실현 가능성 0" in line for line in lines)
        audited(voter, "3-review-every-kind-ko")
        page.get_by_role("button", name="암호화 확인").click()
        voter.wait_step("checked")  # the platform opened it and found these choices
        page.get_by_role("button", name="투표지 다시 만들기").click()
        voter.wait_step("ballot")
        page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        page.get_by_role("button", name="투표하기", exact=True).click()
        voter.wait_step("receipt")
        clean(voter)
        assert platform.staff("status")["ballots"] == 1
