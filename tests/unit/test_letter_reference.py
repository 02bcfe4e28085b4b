"""A credential letter names its member by a random reference, never by anything the public
package holds (the voter id, the card's key, the code's key), and tells the truth about a lost
code: replaced before the opening, and after it what the election's duplicate policy leaves the
member (review F6, F8, H5; ledger/publish/credential_roll.py, credential_letters.py)."""

from __future__ import annotations

import copy
import csv
import io
import re
from typing import Any

import pytest

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.encoding import b64e
from kiosk.core.roll import add_voter, empty_roll
from ledger.publish.credential_letters import (
    LetterSetting,
    letters_csv,
    members_csv,
    render_letters_html,
)
from ledger.publish.credential_roll import (
    IssuedRoll,
    LettersError,
    issue_credentials,
    reissue_credentials,
    split_issued,
)
from testkit.elections import mixed_definition

AUTHORITY = SigningKey(sha256(b"letters/authority")).public_key

ELECTION = "unit-letter-reference"
REFERENCE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")  # Crockford base-32


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return mixed_definition(groups=2, per_group=2, election_id=ELECTION)


@pytest.fixture(scope="module")
def issued(definition: dict[str, Any]) -> IssuedRoll:
    """A resident at a kiosk, three online members and an online test card, with letters."""
    roll = empty_roll()
    keys = (SigningKey(sha256(f"{ELECTION}/{i}".encode())).public_key for i in range(10))
    add_voter(roll, definition, next(keys), "resident", "g001", [])
    for group in ("g001", "g002", "g002"):
        add_voter(roll, definition, next(keys), "online", group, [])
    add_voter(roll, definition, next(keys), "online", "g001", [], test=True)
    return issue_credentials(definition, roll)


def _entries(roll: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for section in ("roll", "test_roll") for e in roll.get(section, [])]


def _public(issued: IssuedRoll) -> list[str]:
    """Everything of the members that the package publishes: voter ids and signing keys."""
    found = []
    for entry in _entries(issued.roll):
        found += [entry["voter"], entry["card_key"], *entry.get("credential_keys", [])]
    return found


def test_each_letter_has_its_own_random_reference_kept_on_the_roll_file_only(
    issued: IssuedRoll,
) -> None:
    references = [c.reference for c in issued.credentials]
    assert all(REFERENCE.fullmatch(r) for r in references)
    assert len(set(references)) == len(references) == 4
    by_voter = {e["voter"]: e for e in _entries(issued.roll)}
    for c in issued.credentials:
        assert by_voter[c.voter]["letter"] == c.reference
        card, voter, keys = split_issued(by_voter[c.voter])
        assert "letter" not in card and voter == c.voter and keys == [b64e(c.public_key)]
        assert c.reference not in str(card), "the package is made without the reference"
    resident = issued.roll["roll"][0]
    assert "letter" not in resident


def test_the_mailing_file_and_the_letters_name_nothing_the_package_publishes(
    definition: dict[str, Any], issued: IssuedRoll
) -> None:
    setting = LetterSetting(definition, "https://vote.example.org", None, AUTHORITY)
    mailing = letters_csv(setting, issued.credentials)
    html = render_letters_html(setting, issued.credentials)
    for public in _public(issued):
        assert public not in mailing and public not in html
        assert public.lower() not in html.lower()
    rows = list(csv.DictReader(io.StringIO(mailing)))
    assert [r["reference"] for r in rows] == [c.reference for c in issued.credentials]
    for c in issued.credentials:
        assert f'<span class="reference">{c.reference}</span>' in html


def test_the_members_list_ties_each_reference_to_its_voter_and_card_and_holds_no_code(
    issued: IssuedRoll,
) -> None:
    text = members_csv(issued.credentials)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["reference"], r["voter"], r["card_key"]) for r in rows] == [
        (c.reference, c.voter, c.card_key) for c in issued.credentials
    ]
    assert [r["test"] for r in rows] == ["", "", "", "test"]
    assert not any(c.code in text for c in issued.credentials)


@pytest.mark.parametrize("spoken", [str.lower, lambda r: r.replace("-", " "), lambda r: r])
def test_a_lost_letter_is_named_by_its_reference_as_the_member_reads_it_out(
    definition: dict[str, Any], issued: IssuedRoll, spoken: Any
) -> None:
    lost = issued.credentials[1]
    again = reissue_credentials(definition, issued.roll, [spoken(lost.reference)])
    (new,) = again.credentials
    assert new.voter == lost.voter and new.code != lost.code
    assert new.reference != lost.reference and REFERENCE.fullmatch(new.reference)
    letters = [e.get("letter") for e in _entries(again.roll)]
    assert new.reference in letters and lost.reference not in letters
    assert set(letters) - {new.reference} == {
        c.reference for c in issued.credentials if c is not lost
    } | {None}


def test_crockford_misreadings_of_a_reference_find_the_same_letter(
    definition: dict[str, Any], issued: IssuedRoll
) -> None:
    lost = issued.credentials[0]
    misread = lost.reference.replace("0", "o").replace("1", "l")
    (new,) = reissue_credentials(definition, issued.roll, [misread]).credentials
    assert new.voter == lost.voter


def test_a_reissue_by_voter_id_still_works_and_one_member_named_twice_is_refused(
    definition: dict[str, Any], issued: IssuedRoll
) -> None:
    lost = issued.credentials[2]
    (new,) = reissue_credentials(definition, issued.roll, [lost.voter]).credentials
    assert new.voter == lost.voter
    with pytest.raises(LettersError, match="named twice"):
        reissue_credentials(definition, issued.roll, [lost.reference, lost.voter])
    with pytest.raises(LettersError, match="is not on this roll"):
        reissue_credentials(definition, issued.roll, ["ZZZZ-ZZZZ"])


def test_a_roll_file_with_a_malformed_reference_is_refused(
    definition: dict[str, Any], issued: IssuedRoll
) -> None:
    broken = copy.deepcopy(issued.roll)
    broken["roll"][1]["letter"] = "not a reference"
    with pytest.raises(LettersError, match="letter must be a reference"):
        reissue_credentials(definition, broken, [issued.credentials[0].voter])


def _lost_paragraphs(html: str) -> list[str]:
    found = re.findall(r'<p class="lost">(.*?)</p>', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", p) for p in found]


@pytest.mark.parametrize(
    ("policy", "ko", "en"),
    [
        ("first", "먼저 한 투표가 집계되므로", "the first vote counts"),
        ("last", "마지막 투표가 집계됩니다", "the last vote counts"),
        ("in_person_wins", "투표소의 투표가 온라인 투표보다 우선합니다", "counts over any online"),
    ],
)
def test_the_letter_promises_a_new_code_only_before_the_opening(
    definition: dict[str, Any], issued: IssuedRoll, policy: str, ko: str, en: str
) -> None:
    d = copy.deepcopy(definition)
    d["duplicate_policy"] = policy
    d["schedule"]["opens"] = "2026-03-02T09:00:00+09:00"
    html = render_letters_html(
        LetterSetting(d, "https://vote.example.org", None, AUTHORITY), issued.credentials[:1]
    )
    korean, english = _lost_paragraphs(html)
    assert "2026년 3월 2일 (월) 09:00 전까지" in korean and "이전 코드를 막을 수 없습니다" in korean
    assert "Before Monday 2 March 2026, 09:00 (Korea time)" in english
    assert "can no longer be stopped" in english
    assert ko in korean and en in english
    assert "stops working" not in html, "the old, unconditional promise is gone"


def test_the_letter_advises_the_camera_app_over_a_scanner_app(
    definition: dict[str, Any], issued: IssuedRoll
) -> None:
    html = render_letters_html(
        LetterSetting(definition, "https://vote.example.org", None, AUTHORITY),
        issued.credentials[:1],
    )
    assert "기본 카메라 앱" in html and "QR 스캐너 앱은 찍은 주소를 기록에 남기니" in html
    assert "own camera app" in html and "keep a history of the addresses" in html
