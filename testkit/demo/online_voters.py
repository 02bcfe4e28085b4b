"""The demo's online members in headless Chromium (Debian's, through Playwright, as the voting
page's tests drive it): each opens the link of their letter (`<platform>/#code=…`), starts,
likes a few proposals of their group, reviews (the page encrypts and proves the ballot in the
browser), and casts (the credential key derived from the code signs it). The first checks the
encryption first, on a phone; the second votes on a desktop in English; a member who already
voted at the kiosk is refused by the duplicate policy. Every step is saved as a PNG beside the
kiosk's screenshots."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from testkit.demo.ceremony import say
from testkit.online_browser import VotingPage, chromium, voting_page

WORDS = {
    "ko": {"start": "시작하기", "review": "내 투표 확인하기", "check": "암호화 확인",
           "again": "투표지 다시 만들기", "cast": "투표하기"},
    "en": {"start": "Start", "review": "Review my vote", "check": "Check the encryption",
           "again": "Make my ballot again", "cast": "Cast my vote"},
}  # fmt: skip


@dataclass(frozen=True)
class Letter:
    """A member's row of letters.csv (what the mailing service prints), with the voter id and
    card key the office's members.csv gives its reference."""

    voter: str
    code: str
    url: str
    group: str
    card_key: str


@dataclass(frozen=True)
class OnlineCast:
    """An online ballot: the member's voter id, its tracking code and fingerprint, and the
    ballot checked before it (tracking code, fingerprint)."""

    voter: str
    code: str
    fingerprint: str
    checked: tuple[str, str] | None = None


def read_letters(folder: Path) -> list[Letter]:
    """The official online members' letters (test cards' letters apart)."""
    with (folder / "letters.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # the mailing file names no voter: the office's members list ties its reference to one
    with (folder / "members.csv").open(encoding="utf-8", newline="") as handle:
        members = {m["reference"]: m for m in csv.DictReader(handle)}
    return [
        Letter(
            members[r["reference"]]["voter"],
            r["code"],
            r["url"],
            r["group"],
            members[r["reference"]]["card_key"],
        )
        for r in rows
        if r["category"] == "online" and not r["test"]
    ]


class Shots:
    """Numbered screenshots of the voting page in the demo's screenshots folder."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.number = folder, 0

    def __call__(self, voter: VotingPage, name: str) -> None:
        self.number += 1
        path = self.folder / f"online-{self.number:02d}-{name}-{voter.size}.png"
        voter.page.screenshot(path=str(path), full_page=True)


def _review(voter: VotingPage, words: dict[str, str]) -> str:
    voter.page.get_by_role("button", name=words["review"]).click()
    voter.wait_step("review")
    return voter.wait_fingerprint()


def _vote(
    voter: VotingPage, letter: Letter, shots: Shots, *, likes: int, check: bool, lang: str
) -> OnlineCast:
    """One member's whole path on the page, a screenshot at each step."""
    page, words = voter.page, WORDS[lang]
    voter.open(letter.url.removeprefix(voter.origin + "/"))
    if lang == "en":
        page.get_by_role("button", name="Switch to English").click()
    shots(voter, "code")
    page.get_by_role("button", name=words["start"]).click()  # derives the key from the code
    voter.wait_step("ballot")
    boxes = page.get_by_role("checkbox")
    for n in range(likes):
        boxes.nth(n).check()
    shots(voter, "ballot")
    fingerprint = _review(voter, words)
    shots(voter, "review")
    checked = None
    if check:
        page.get_by_role("button", name=words["check"]).click()
        voter.wait_step("checked")
        voter.wait_fingerprint("#checked-fingerprint")
        tracking = page.get_attribute("#checked-tracking .fingerprint", "data-code")
        checked = (str(tracking), fingerprint)
        shots(voter, "checked")
        page.get_by_role("button", name=words["again"]).click()
        voter.wait_step("ballot")
        fingerprint = _review(voter, words)  # a fresh encryption, never the checked one
    page.get_by_role("button", name=words["cast"], exact=True).click()
    voter.wait_step("receipt")
    voter.wait_fingerprint("#receipt-fingerprint")
    shots(voter, "receipt")
    code = page.get_attribute("#receipt-code .fingerprint", "data-code")
    return OnlineCast(letter.voter, str(code), fingerprint, checked)


def _refused(voter: VotingPage, letter: Letter, shots: Shots) -> str:
    """A member who voted at the kiosk signs in: the page's words of the refusal."""
    voter.open(letter.url.removeprefix(voter.origin + "/"))
    voter.page.get_by_role("button", name=WORDS["ko"]["start"]).click()
    said = voter.wait_error()
    shots(voter, "refused-voted-in-person")
    return said


def vote_online(
    origin: str, members: list[Letter], voted_at_kiosk: Letter | None, shots: Path
) -> list[OnlineCast]:
    """``members`` vote (the first checks first, on a phone; the second on a desktop in
    English); ``voted_at_kiosk`` tries and is refused. Said as it goes; the ballots cast."""
    take = Shots(shots)
    plans = [("phone", "ko", 2, True), ("desktop", "en", 3, False), ("phone", "ko", 1, False)]
    casts = []
    with chromium() as browser:
        for letter, (size, lang, likes, check) in zip(members, plans, strict=False):
            with voting_page(browser, origin, size) as voter:
                cast = _vote(voter, letter, take, likes=likes, check=check, lang=lang)
            if cast.checked is not None:
                say(f"   member {letter.voter[:8]}… ({size}, {lang}) checks first: ballot "
                    f"{cast.checked[1]} opened by the platform, tracking code {cast.checked[0]}; "
                    "then a fresh encryption")  # fmt: skip
            say(f"   member {letter.voter[:8]}… ({size}, {lang}) likes {likes} → fingerprint "
                f"{cast.fingerprint}, signed in the browser, tracking code "
                f"{cast.code}")  # fmt: skip
            casts.append(cast)
        if voted_at_kiosk is not None:
            with voting_page(browser, origin, "phone") as voter:
                said = _refused(voter, voted_at_kiosk, take)
            say(f"   member {voted_at_kiosk.voter[:8]}…, who voted at the kiosk → {said}")
    return casts
