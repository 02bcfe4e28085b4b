"""Credential letters without the command: which roll entries get a code, what the new roll
holds, what a reissue changes, the voting page's address, the printed dates, the mailing file
and the letter's HTML (ledger/publish/credential_roll.py, credential_letters.py)."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.encoding import b64e
from kiosk.core.online_credential import credential_key, normalize_code
from kiosk.core.roll import add_voter, empty_roll
from ledger.publish.credential_letters import (
    CSV_COLUMNS,
    LetterSetting,
    code_url,
    letters_csv,
    platform_address,
    render_letters_html,
)
from ledger.publish.credential_roll import (
    LettersError,
    issue_credentials,
    reissue_credentials,
    split_issued,
)
from testkit.elections import mixed_definition

AUTHORITY = SigningKey(sha256(b"letters/authority")).public_key

ELECTION = "unit-letters"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return mixed_definition(groups=2, per_group=2, election_id=ELECTION)


@pytest.fixture(scope="module")
def roll(definition: dict[str, Any]) -> dict[str, Any]:
    """Two residents at kiosks, two online members and an online test card."""
    roll = empty_roll()
    keys = (SigningKey(sha256(f"unit-letters/{i}".encode())).public_key for i in range(10))
    add_voter(roll, definition, next(keys), "resident", "g001", ["p0001-01"])
    add_voter(roll, definition, next(keys), "online", "g001", ["p0001-02"])
    add_voter(roll, definition, next(keys), "resident", "g002", [])
    add_voter(roll, definition, next(keys), "online", "g002", [])
    add_voter(roll, definition, next(keys), "online", "g001", [], test=True)
    return roll


def test_every_online_entry_gets_a_code_whose_key_joins_its_entry(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    before = copy.deepcopy(roll)
    issued = issue_credentials(definition, roll)
    assert roll == before, "the input roll is never changed"
    assert [(c.category, c.group, c.test) for c in issued.credentials] == [
        ("online", "g001", False),
        ("online", "g002", False),
        ("online", "g001", True),
    ]
    entries = {e["voter"]: e for s in ("roll", "test_roll") for e in issued.roll[s]}
    assert len(entries) == 5, "every voter entry gets a distinct voter id"
    for c in issued.credentials:
        assert len(normalize_code(c.code)) == 20
        assert c.public_key == credential_key(c.code, ELECTION).public_key
        assert entries[c.voter]["credential_keys"] == [b64e(c.public_key)]
        assert entries[c.voter]["card_key"] == c.card_key
    residents = [e for e in issued.roll["roll"] if e["category"] == "resident"]
    assert all("credential_keys" not in e for e in residents)


def test_a_reissue_replaces_one_members_key_and_keeps_everyone_elses(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    first = issue_credentials(definition, roll)
    lost = first.credentials[1]
    again = reissue_credentials(definition, first.roll, [lost.voter.upper()])
    (new,) = again.credentials
    assert new.voter == lost.voter and new.code != lost.code
    changed = [
        (s, i) for s in ("roll", "test_roll") for i, e in enumerate(first.roll[s])
        if again.roll[s][i] != e
    ]  # fmt: skip
    assert changed == [("roll", 3)]
    assert again.roll["roll"][3]["credential_keys"] == [b64e(new.public_key)]
    assert b64e(lost.public_key) not in str(again.roll)


@pytest.mark.parametrize(
    ("voters", "message"),
    [
        (["xyz"], "is neither a letter.s reference"),
        (["00" * 16], "is not on this roll"),
        (["RESIDENT"], "at a kiosk"),
        (["ONLINE", "ONLINE"], "named twice"),
    ],
)
def test_a_reissue_names_online_members_of_this_roll(
    definition: dict[str, Any], roll: dict[str, Any], voters: list[str], message: str
) -> None:
    issued = issue_credentials(definition, roll)
    names = {"RESIDENT": issued.roll["roll"][0]["voter"], "ONLINE": issued.credentials[0].voter}
    with pytest.raises(LettersError, match=message):
        reissue_credentials(definition, issued.roll, [names.get(v, v) for v in voters])


def test_a_roll_that_does_not_fit_the_definition_is_refused(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    for field, value, named in (
        ("category", "visitor", "category 'visitor'"),
        ("group", "g077", "group 'g077'"),
        ("excluded", ["p9999-01"], "recusals ['p9999-01']"),
        ("voter", "not-hex", "voter must be 16 bytes"),
    ):
        broken = copy.deepcopy(roll)
        broken["roll"][1][field] = value
        with pytest.raises(LettersError, match=named.replace("[", r"\[").replace("]", r"\]")):
            issue_credentials(definition, broken)


def test_letters_need_an_online_category_and_an_online_member(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    kiosk_only = copy.deepcopy(definition)
    for c in kiosk_only["categories"]:
        c["channel"] = "kiosk"
    with pytest.raises(LettersError, match="no category voted online"):
        issue_credentials(kiosk_only, roll)
    nobody = {"roll": [e for e in roll["roll"] if e["category"] != "online"], "staff": []}
    with pytest.raises(LettersError, match="nobody to write to"):
        issue_credentials(definition, nobody)


def test_a_roll_with_credential_keys_gets_no_second_round_of_letters(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    issued = issue_credentials(definition, roll)
    with pytest.raises(LettersError, match="leave the old ones working"):
        issue_credentials(definition, issued.roll)


def test_create_reads_the_card_entry_apart_from_what_letters_added() -> None:
    raw = {"card_key": "K", "category": "online", "voter": "ab" * 16, "credential_keys": ["C"]}
    assert split_issued(raw) == ({"card_key": "K", "category": "online"}, "ab" * 16, ["C"])
    assert split_issued({"card_key": "K"}) == ({"card_key": "K"}, None, [])


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://vote.example.org/", "https://vote.example.org"),
        ("https://example.org/vote/", "https://example.org/vote"),
        ("http://127.0.0.1:8600", "http://127.0.0.1:8600"),
    ],
)
def test_the_voting_page_address(url: str, address: str) -> None:
    assert platform_address(url) == address
    setting = LetterSetting({"id": "e 1"}, address, None, AUTHORITY)
    key = b64e(AUTHORITY)
    assert code_url(setting, "AAAAA-BBBBB") == f"{address}/#code=AAAAA-BBBBB&k={key}&e=e%201"


@pytest.mark.parametrize(
    "url",
    ["http://vote.example.org", "ftp://vote.example.org", "https://", "https://a.org/?x=1",
     "https://a.org/#code=X", "vote.example.org"],
)  # fmt: skip
def test_an_address_members_should_not_type_a_code_into_is_refused(url: str) -> None:
    with pytest.raises(LettersError):
        platform_address(url)


def _setting(definition: dict[str, Any], contact: str | None = None) -> LetterSetting:
    return LetterSetting(definition, "https://vote.example.org", contact, AUTHORITY)


def test_the_mailing_file_has_a_row_per_letter(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    issued = issue_credentials(definition, roll)
    rows = list(csv.DictReader(io.StringIO(letters_csv(_setting(definition), issued.credentials))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["code"] for r in rows] == [c.code for c in issued.credentials]
    assert rows[0]["url"] == (
        f"https://vote.example.org/#code={rows[0]['code']}&k={b64e(AUTHORITY)}&e={ELECTION}"
    )
    assert [r["test"] for r in rows] == ["", "", "test"]


def test_the_letter_is_korean_first_with_the_schedule_and_escapes_what_it_is_given(
    definition: dict[str, Any], roll: dict[str, Any]
) -> None:
    issued = issue_credentials(definition, roll)
    d = copy.deepcopy(definition)
    d["schedule"] = {"opens": "2026-03-02T09:00:00+09:00", "closes": "2026-03-06T18:30:00+01:00"}
    html = render_letters_html(_setting(d, "<b>02-1</b>"), issued.credentials[:1])
    assert html.index("투표 방법") < html.index("How to vote")
    assert "2026년 3월 2일 (월) 09:00" in html and "Monday 2 March 2026, 09:00 (Korea time)" in html
    assert "2026년 3월 6일 (금) 18:30 (UTC+01:00)" in html
    assert "&lt;b&gt;02-1&lt;/b&gt;" in html and "<b>02-1" not in html
    assert html.count("<svg") == 1 and "시험용" not in html
    for group in issued.credentials[0].code.split("-"):
        assert f'<span class="group">{group}</span>' in html
