"""`ledger election letters` through the real command: a letter and a code for every online
member, the code's key on a new roll that `ledger election create` takes, a lost letter replaced
(the old code's ballots refused by the ledger's arrival check, the new one's taken), and every
refusal an official can run into. The letters are read back as a member would: the PDF's text,
and its QR code decoded from the printed page by a real decoder (zxing-cpp). Neither a letter
nor the mailing file names anything the public package holds: a letter carries a random
reference, which only the office's members list ties to the voter id (review F6)."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import pypdfium2  # type: ignore[import-untyped]
import pytest
import zxingcpp
from pypdf import PdfReader

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import ElectionPackage, verify_package
from kiosk.core.encoding import b64d, b64e
from kiosk.core.online_credential import credential_key
from kiosk.core.roll import add_staff, add_voter, empty_roll
from ledger.publish.credential_letters import election_check
from ledger.rules.ballot_arrival import KEY_NOT_ON_ROLL, BallotRefused, check_cast_ballot
from testkit.ceremony_results import simulated_ceremony_result
from testkit.elections import mixed_definition
from testkit.ledger_server import ledger_cli
from testkit.v2_blocks import cast_body, encrypt_for

ELECTION = "letters-review"
PLATFORM = "https://vote.example.org/"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "letters"


def _card(role: str, n: int) -> SigningKey:
    return SigningKey(sha256(f"letters/{role}/{n}".encode()))


AUTHORITY = _card("authority", 0).public_key  # what the letters' link and check vouch for


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The definition, the roll as enrolment writes it (residents and experts at kiosks, online
    members, an online test card, a manager) and the trustees' ceremony result."""
    tmp = tmp_path_factory.mktemp("letters-inputs")
    definition = mixed_definition(election_id=ELECTION)
    roll = empty_roll()
    n = 0
    for g in (1, 2):
        group = f"g{g:03d}"
        add_voter(roll, definition, _card("voter", n := n + 1).public_key, "resident", group,
                  [f"p{g:04d}-01"])  # fmt: skip
        add_voter(roll, definition, _card("voter", n := n + 1).public_key, "expert", group, [])
        for p in (2, 3):
            add_voter(roll, definition, _card("voter", n := n + 1).public_key, "online", group,
                      [f"p{g:04d}-{p:02d}"])  # fmt: skip
    add_voter(roll, definition, _card("test", 0).public_key, "online", "g001", [], test=True)
    add_staff(roll, _card("staff", 0).public_key, "election_manager", "김관리")
    paths = {name: tmp / f"{name}.json" for name in ("definition", "roll", "ceremony")}
    paths["definition"].write_text(json.dumps(definition, ensure_ascii=False), "utf-8")
    paths["roll"].write_text(json.dumps(roll), "utf-8")
    result, _ = simulated_ceremony_result(ELECTION)
    paths["ceremony"].write_text(json.dumps(result), "utf-8")
    return paths


def _letters(inputs: dict[str, Path], out: Path, *extra: str, roll: Path | None = None) -> Any:
    return ledger_cli(
        "election", "letters", "--definition", str(inputs["definition"]),
        "--roll", str(roll or inputs["roll"]), "--platform-url", PLATFORM,
        "--authority", b64e(AUTHORITY), "--out", str(out), *extra, data=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def issued(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("letters") / "letters"
    done = _letters(inputs, out, "--pdf", "--csv", "--contact", "02-555-0199")
    assert done.returncode == 0, done.stderr
    assert "mode 0600" in done.stdout and "5 letters: 4 online members, 1 test cards" in (
        done.stdout
    )
    return out


def _rows(out: Path, name: str = "letters.csv") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / name).read_text("utf-8"))))


def _members(out: Path) -> dict[str, dict[str, str]]:
    """The office's members list, by the reference printed on each letter."""
    return {m["reference"]: m for m in _rows(out, "members.csv")}


def _voter(out: Path, row: dict[str, str]) -> str:
    """The voter id of a mailing file's (or a letter's) reference, as the office finds it."""
    return _members(out)[row["reference"]]["voter"]


def _roll(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text("utf-8"))
    assert isinstance(value, dict)
    return value


def _entries(roll: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["voter"]: e for section in ("roll", "test_roll") for e in roll.get(section, [])}


def _page_texts(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf).pages]


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _qr_texts(pdf: Path, page: int, *, save: Path | None = None) -> list[str]:
    """The QR codes a camera finds on the printed ``page``, decoded by zxing-cpp from the page
    rendered at 150 dpi by PDFium (the PDF's own renderer in Chromium)."""
    image = pypdfium2.PdfDocument(pdf)[page].render(scale=150 / 72).to_pil()
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        image.save(save)
    return [found.text for found in zxingcpp.read_barcodes(image)]


# -- the letters ----------------------------------------------------------------------------------


def test_every_output_is_new_and_readable_by_its_owner_only(
    inputs: dict[str, Path], issued: Path
) -> None:
    for name in ("letters.pdf", "letters.csv", "members.csv", "roll.json"):
        assert stat.S_IMODE((issued / name).stat().st_mode) == 0o600, name
    enrolled = _roll(inputs["roll"])
    assert all("voter" not in e and "credential_keys" not in e for e in enrolled["roll"])


def test_each_online_member_gets_one_letter_with_their_code_in_korean_then_english(
    issued: Path,
) -> None:
    rows = _rows(issued)
    pages = _page_texts(issued / "letters.pdf")
    assert len(rows) == len(pages) == 5
    assert len({r["code"] for r in rows}) == 5
    for row, text in zip(rows, pages, strict=True):
        flat = _squeezed(text)
        assert _squeezed(row["code"]) in flat, "the letter prints its member's code"
        assert _reference_on(text) == row["reference"]
        assert "나의투표코드" in flat and "누구에게도알려주거나보여주지마세요" in flat
        assert "2017년11월25일(토)09:00전까지는새코드를보내드리고이전코드를막습니다" in flat
        assert "BeforeSaturday25November2017,09:00(Koreatime)theofficesendsyouanewcode" in flat
        assert "02-555-0199" in flat
        assert "2017년11월25일(토)09:00" in flat, "the voting period from the definition"
        assert text.index("투표 방법") < text.index("How to vote")
        assert ("시험용 코드" in text) == (row["test"] == "test")


def test_no_letter_nor_mailing_row_names_what_the_public_package_holds(issued: Path) -> None:
    """Voter ids, card keys and code keys are all in the public package, whose log shows
    whether, when and how often each voter id voted: none may be read off a letter."""
    public = []
    for entry in _entries(_roll(issued / "roll.json")).values():
        public += [entry["voter"], entry["card_key"], *entry.get("credential_keys", [])]
    document = pypdfium2.PdfDocument(issued / "letters.pdf")
    printed = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    printed += _page_texts(issued / "letters.pdf")  # a second extractor's reading
    mailing = (issued / "letters.csv").read_text("utf-8")
    for value in public:
        assert not any(value in _squeezed(text) for text in printed), value
        assert value not in mailing, value
    assert set(next(csv.reader(io.StringIO(mailing)))) == {
        "reference",
        "code",
        "url",
        "category",
        "group",
        "test",
    }


def test_each_letters_reference_leads_the_office_to_its_member(
    inputs: dict[str, Path], issued: Path
) -> None:
    """The reference on a letter, looked up in the office's members list, names the entry
    whose credential key is the key of the code printed beside it."""
    pages = _page_texts(issued / "letters.pdf")
    entries = _entries(_roll(issued / "roll.json"))
    members = _members(issued)
    assert len(members) == len(pages) == 5
    for text in pages:
        member = members[_reference_on(text)]
        key = credential_key(_code_on(text), ELECTION).public_key
        assert entries[member["voter"]]["credential_keys"] == [b64e(key)]
        assert entries[member["voter"]]["card_key"] == member["card_key"]
    assert not any(row["code"] in (issued / "members.csv").read_text("utf-8")
                   for row in _rows(issued)), "the members list holds no code"  # fmt: skip


def test_the_qr_code_opens_the_voting_page_with_the_code_and_the_authority_key_after_the_hash(
    issued: Path,
) -> None:
    """The link carries the authority's key and the election id, with which the voting page
    confirms the election itself instead of trusting the platform's answers (review F3)."""
    rows = _rows(issued)
    first = _qr_texts(issued / "letters.pdf", 0, save=SCREENSHOTS / "letter-page-1.png")
    link = f"https://vote.example.org/#code={rows[0]['code']}&k={b64e(AUTHORITY)}&e={ELECTION}"
    assert first == [link] == [rows[0]["url"]]
    assert _qr_texts(issued / "letters.pdf", 4) == [rows[4]["url"]]
    assert all(f"&k={b64e(AUTHORITY)}&e={ELECTION}" in row["url"] for row in rows)


def test_each_letter_prints_the_election_check_for_a_code_typed_by_hand(issued: Path) -> None:
    check = election_check(AUTHORITY, ELECTION)
    assert len(_squeezed(check).replace("-", "")) == 16
    assert check != election_check(AUTHORITY, ELECTION + "-other")
    assert check != election_check(_card("authority", 1).public_key, ELECTION)
    for text in _page_texts(issued / "letters.pdf"):
        flat = _squeezed(text)
        assert "선거확인" in flat and "Electioncheck" in flat
        assert check in flat


def test_the_new_roll_holds_each_printed_codes_key_and_nothing_else_changes(
    inputs: dict[str, Path], issued: Path
) -> None:
    new = _roll(issued / "roll.json")
    old = _roll(inputs["roll"])
    entries = _entries(new)
    for row in _rows(issued):
        entry = entries[_voter(issued, row)]
        assert entry["letter"] == row["reference"], "the office's roll keeps the reference"
        assert entry["credential_keys"] == [b64e(credential_key(row["code"], ELECTION).public_key)]
        member = _members(issued)[row["reference"]]
        assert entry["card_key"] == member["card_key"] and entry["category"] == "online"
    kiosk_voters = [e for e in new["roll"] if e["category"] != "online"]
    assert kiosk_voters and all("credential_keys" not in e for e in kiosk_voters)
    assert all(len(e["voter"]) == 32 for e in new["roll"] + new["test_roll"])
    assert new["staff"] == old["staff"]
    strip = [
        {k: v for k, v in e.items() if k not in ("voter", "credential_keys", "letter")}
        for e in new["roll"]
    ]
    assert strip == old["roll"]


def test_the_package_made_from_the_new_roll_lets_the_code_sign_for_its_member(
    inputs: dict[str, Path], issued: Path, tmp_path: Path
) -> None:
    package = _package(inputs, issued / "roll.json", tmp_path)
    published = (tmp_path / "signed.json").read_text("utf-8")
    members = _members(issued)
    for row in _rows(issued):
        key = credential_key(row["code"], ELECTION).public_key
        member = members[row["reference"]]
        entry = (package.test_entry_by_voter if row["test"] else package.roll_entry_by_voter)(
            bytes.fromhex(member["voter"])
        )
        assert entry is not None and entry.keys == (b64d(member["card_key"]), key)
        assert row["reference"] not in published, "the public package never holds a reference"
    row = next(r for r in _rows(issued) if not r["test"])
    check_cast_ballot(package, False, _ballot(package, row["code"]))  # taken: no exception


# -- a lost letter --------------------------------------------------------------------------------


def test_a_reissued_letter_replaces_the_old_code_which_the_ledger_then_refuses(
    inputs: dict[str, Path], issued: Path, tmp_path: Path
) -> None:
    lost = next(r for r in _rows(issued) if not r["test"])
    lost["voter"] = _voter(issued, lost)
    out = tmp_path / "reissue-1"
    # the member reads the reference off the letter (or the office finds it in members.csv)
    spoken = lost["reference"].lower().replace("-", " ")
    done = _letters(inputs, out, "--pdf", "--reissue", spoken, roll=issued / "roll.json")
    assert done.returncode == 0, done.stderr
    assert "--replaces" in done.stdout
    for name in ("letters.pdf", "members.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    (text,) = _page_texts(out / "letters.pdf")
    new_code, new_reference = _code_on(text), _reference_on(text)
    assert new_code != lost["code"] and new_reference != lost["reference"]
    assert _members(out)[new_reference]["voter"] == lost["voter"]
    assert lost["voter"] not in _squeezed(text)
    new_key = credential_key(new_code, ELECTION).public_key
    before, after = _entries(_roll(issued / "roll.json")), _entries(_roll(out / "roll.json"))
    assert after[lost["voter"]]["credential_keys"] == [b64e(new_key)]
    assert {v: e for v, e in after.items() if v != lost["voter"]} == {
        v: e for v, e in before.items() if v != lost["voter"]
    }, "every other member keeps their voter id and code"

    first = _package(inputs, issued / "roll.json", tmp_path / "first")
    second = _package(inputs, out / "roll.json", tmp_path / "second", replaces=tmp_path / "first")
    assert second.sequence == first.sequence + 1
    old_ballot = _ballot(second, lost["code"], voter=lost["voter"])
    with pytest.raises(BallotRefused) as refused:
        check_cast_ballot(second, False, old_ballot)
    assert refused.value.reason == KEY_NOT_ON_ROLL
    check_cast_ballot(first, False, old_ballot)  # the same ballot under the old package: taken
    check_cast_ballot(second, False, _ballot(second, new_code))


def test_a_lost_letter_can_be_named_by_the_voter_id_in_the_office_list(
    inputs: dict[str, Path], issued: Path, tmp_path: Path
) -> None:
    lost = next(m for m in _members(issued).values() if not m["test"])
    out = tmp_path / "by-voter"
    done = _letters(inputs, out, "--csv", "--reissue", lost["voter"], roll=issued / "roll.json")
    assert done.returncode == 0, done.stderr
    (row,) = _rows(out)
    assert row["reference"] != lost["reference"] and _voter(out, row) == lost["voter"]
    assert _entries(_roll(out / "roll.json"))[lost["voter"]]["letter"] == row["reference"]


# -- refusals -------------------------------------------------------------------------------------


def test_an_unknown_voter_or_a_kiosk_voter_is_not_reissued(
    inputs: dict[str, Path], issued: Path, tmp_path: Path
) -> None:
    unknown = _letters(inputs, tmp_path / "a", "--pdf", "--reissue", "ab" * 16,
                       roll=issued / "roll.json")  # fmt: skip
    assert unknown.returncode == 2 and f"{'ab' * 16} is not on this roll" in unknown.stderr
    resident = next(e for e in _roll(issued / "roll.json")["roll"] if e["category"] == "resident")
    kiosk = _letters(inputs, tmp_path / "b", "--pdf", "--reissue", resident["voter"],
                     roll=issued / "roll.json")  # fmt: skip
    assert kiosk.returncode == 2 and "at a kiosk: they have no letter" in kiosk.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_letters_are_not_made_twice_for_one_roll(
    inputs: dict[str, Path], issued: Path, tmp_path: Path
) -> None:
    again = _letters(inputs, tmp_path / "again", "--csv", roll=issued / "roll.json")
    assert again.returncode == 2
    assert "already hold credential keys" in again.stderr and "--reissue" in again.stderr


def test_existing_files_are_never_overwritten(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "letters.csv").write_text("earlier letters\n", "utf-8")
    done = _letters(inputs, out, "--pdf", "--csv")
    assert done.returncode == 2 and "refusing to overwrite" in done.stderr
    assert (out / "letters.csv").read_text("utf-8") == "earlier letters\n"
    assert sorted(p.name for p in out.iterdir()) == ["letters.csv"]


def test_a_roll_of_another_election_is_refused(inputs: dict[str, Path], tmp_path: Path) -> None:
    roll = _roll(inputs["roll"])
    roll["roll"][0]["group"] = "g099"
    other = tmp_path / "other-roll.json"
    other.write_text(json.dumps(roll), "utf-8")
    done = _letters(inputs, tmp_path / "out", "--pdf", roll=other)
    assert done.returncode == 2
    assert "group 'g099'" in done.stderr and "not of the same election" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_run_that_would_keep_the_codes_nowhere_or_send_them_in_clear_is_refused(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    nowhere = _letters(inputs, tmp_path / "a")
    assert nowhere.returncode == 2 and "give --pdf, --csv or both" in nowhere.stderr
    clear = ledger_cli(
        "election", "letters", "--definition", str(inputs["definition"]),
        "--roll", str(inputs["roll"]), "--platform-url", "http://vote.example.org",
        "--authority", b64e(AUTHORITY), "--out", str(tmp_path / "b"), "--csv", data=None,
    )  # fmt: skip
    assert clear.returncode == 2 and "must start with https://" in clear.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# -- helpers --------------------------------------------------------------------------------------


def _package(
    inputs: dict[str, Path], roll: Path, folder: Path, *, replaces: Path | None = None
) -> ElectionPackage:
    """`ledger election create --roll` then `sign` (``--replaces`` the package signed in
    ``replaces``), read back as kiosks and the ledger read it."""
    folder.mkdir(parents=True, exist_ok=True)
    made = ledger_cli(
        "election", "create", "--definition", str(inputs["definition"]), "--roll", str(roll),
        "--ceremony", str(inputs["ceremony"]), "--out", str(folder / "package.json"), data=None,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = _authority(folder.parent)
    extra = ["--replaces", str(replaces / "signed.json")] if replaces else []
    signed = ledger_cli(
        "election", "sign", str(folder / "package.json"), "--authority-key", str(key),
        "--out", str(folder / "signed.json"), *extra, data=None,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    # the authority signs the public part too (rolls by hash), which the voting page checks
    assert "public_signature" in _roll(folder / "signed.json")
    public = SigningKey(b64d(key.read_text("ascii").strip(), length=32, name="key")).public_key
    return verify_package(_roll(folder / "signed.json"), public)


def _authority(folder: Path) -> Path:
    key = folder / "authority.key"
    if not key.exists():
        made = ledger_cli("authority-key", "--out", str(key), data=None)
        assert made.returncode == 0, made.stderr
    return key


def _ballot(package: ElectionPackage, code: str, *, voter: str | None = None) -> dict[str, Any]:
    """A ballot for the code's member, signed with the code's key as the voting page signs."""
    signer = credential_key(code, ELECTION)
    member = package.voter_for_card(signer.public_key)
    if member is None:  # the code's key is no longer on this package: sign for ``voter``
        assert voter is not None
        entry = package.roll_entry_by_voter(bytes.fromhex(voter))
        assert entry is not None
        member = package.voter_for_card(entry.card_key)
    assert member is not None and member.voter_id is not None
    encrypted = encrypt_for(package, member)
    return cast_body(encrypted.ballot, member.voter_id, signer)


def _reference_on(text: str) -> str:
    """The reference a member reads off the letter's foot, after "Letter reference"."""
    return text.split("Letter reference", 1)[1].split()[0]


def _code_on(text: str) -> str:
    """The code a member reads off the letter: the four groups after "Your voting code"."""
    after = text.split("Your voting code", 1)[1]
    groups = [g for g in after.replace("-", " ").split() if len(g) == 5][:4]
    return "-".join(groups)
