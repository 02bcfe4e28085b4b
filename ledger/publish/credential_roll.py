"""Online credentials on the roll file: a new code for every online member, its public key added
to the member's roll entry, and a lost letter's key replaced (issue 19, the online channel).

The roll file is the one `kiosk cards enrol` writes; `ledger election letters` writes a new one
with two more fields, which `ledger election create --roll` carries into the package: ``voter``
on every voter entry (the voter id, fixed here so that a lost letter can be named later and a
package made again keeps everyone's id) and ``credential_keys`` on each online entry (the public
keys of the member's codes, signing beside the card's key), and one the package never gets:
``letter`` on each online entry, the reference printed on the member's current letter.

The reference is drawn at random for each letter, so nobody who sees a letter can find its
member's voter id in the public package and log (review F6: the log shows whether, when and how
often each voter id voted). Only the office's files tie the two: this roll file and the
members list that `ledger election letters` writes beside it (both owner-only).
`split_issued` leaves the reference out of what `ledger election create` reads. The codes
themselves are never put here: only the letters and the mailing file hold them.
"""

from __future__ import annotations

import copy
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.election_parts import Channel
from kiosk.core.election_v2 import VOTER_ID_BYTES
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.online_credential import ALPHABET, credential_key, new_code

SECTIONS = ("roll", "test_roll")  # staff cards never vote, so never get a letter
VOTER = "voter"
CREDENTIAL_KEYS = "credential_keys"
LETTER = "letter"
#: A letter's reference: 8 Crockford base-32 symbols (40 random bits), printed ``K7P3-QD9M``.
#: It only has to tell an office's letters apart and say nothing of the voter id; it is no
#: secret (it is printed beside the code) and grants nothing.
REFERENCE_SYMBOLS = 8
_VOTER_ID = re.compile(f"[0-9a-f]{{{2 * VOTER_ID_BYTES}}}")
_REFERENCE = re.compile(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")
# Crockford's decoding (crockford.com/base32.html): O reads as 0, I and L as 1.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class LettersError(HanpyoError):
    """The letters cannot be made as asked; nothing was written."""

    user_message = (
        "안내문을 만들지 않았습니다. 아무 파일도 쓰지 않았습니다.",
        "No letters were made; no file was written.",
    )


@dataclass(frozen=True, slots=True)
class Credential:
    """One member's letter: the code (here and in the letter only), its key, and where the
    member votes. ``test`` for a test card's entry: its code casts test ballots only."""

    voter: str
    reference: str
    code: str
    public_key: bytes
    card_key: str
    category: str
    group: str | None
    test: bool


@dataclass(frozen=True, slots=True)
class IssuedRoll:
    """The new roll file's content and the letters that go with it, in roll order."""

    roll: dict[str, Any]
    credentials: tuple[Credential, ...]


def issue_credentials(definition: Mapping[str, Any], roll: Mapping[str, Any]) -> IssuedRoll:
    """A code for every online entry of ``roll`` (test roll included), each entry given a voter
    id and its code's key. A roll that already holds credential keys is refused: a second
    letter beside the first would leave the first one working."""
    election, online = _online_categories(definition)
    new_roll = _checked_copy(definition, roll)
    held = [
        _where(s, i, e) for s, i, e in _online_entries(new_roll, online) if e.get(CREDENTIAL_KEYS)
    ]
    if held:
        raise LettersError(
            f"{_first(held)} already hold credential keys from an earlier "
            "`ledger election letters`: new letters beside them would leave the old ones "
            "working. Replace a lost letter with --reissue REFERENCE, or start from the roll "
            "that `kiosk cards enrol` wrote"
        )
    _fix_voter_ids(new_roll)
    entries = list(_online_entries(new_roll, online))
    # Argon2id takes a twentieth of a second a code: a few minutes for thousands of members
    taken = _references(new_roll)
    issued = [_issue(election, s, e, taken) for s, _, e in _progress(entries)]
    if not issued:
        raise LettersError(
            f"the roll has no member of an online category ({', '.join(sorted(online))}): "
            "there is nobody to write to"
        )
    return IssuedRoll(new_roll, tuple(issued))


def reissue_credentials(
    definition: Mapping[str, Any], roll: Mapping[str, Any], members: Sequence[str]
) -> IssuedRoll:
    """New codes for ``members`` only (lost letters), each named by the reference of their
    current letter or by their voter id: each one's old credential keys leave its entry, the
    new code's key takes their place and the new letter gets a new reference; every other
    entry stays as it was."""
    election, online = _online_categories(definition)
    new_roll = _checked_copy(definition, roll)
    entries = [(s, i, e) for s in SECTIONS for i, e in enumerate(new_roll.get(s, []))]
    by_name = {e.get(VOTER): (s, i, e) for s, i, e in entries}
    by_name |= {e[LETTER]: (s, i, e) for s, i, e in entries if e.get(LETTER)}
    taken = _references(new_roll)
    issued: list[Credential] = []
    named: set[tuple[str, int]] = set()
    for text in members:
        name = _reissue_name(text)
        if name not in by_name:
            raise LettersError(
                f"{name} is not on this roll: give the roll that `ledger election letters` "
                "wrote and the package was made from, and a reference or voter id from the "
                "members list written with it (a replaced letter's reference is gone)"
            )
        section, i, entry = by_name[name]
        if entry["category"] not in online:
            raise LettersError(
                f"voter {entry.get(VOTER)} ({_where(section, i, entry)}) votes in category "
                f"{entry['category']!r}, at a kiosk: they have no letter to replace"
            )
        if (section, i) in named:
            raise LettersError(f"voter {entry.get(VOTER)} is named twice in --reissue")
        named.add((section, i))
        issued.append(_issue(election, section, entry, taken))
    return IssuedRoll(new_roll, tuple(issued))


def split_issued(raw: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, list[Any]]:
    """A roll file entry as `ledger election create` reads it: the card's entry as enrolment
    wrote it, the voter id letters fixed (or None) and the credential keys letters added; the
    letter's reference is dropped."""
    # The letter's reference stays in the office: the package is public, and the reference is
    # worth keeping only while nothing public ties it to the voter id.
    card = {k: v for k, v in raw.items() if k not in (VOTER, CREDENTIAL_KEYS, LETTER)}
    keys = raw.get(CREDENTIAL_KEYS, [])
    return card, raw.get(VOTER), list(keys) if isinstance(keys, list) else [keys]


# -- the parts ----------------------------------------------------------------------------------


def _issue(election: str, section: str, entry: dict[str, Any], taken: set[str]) -> Credential:
    # One credential key beside the card's: two of the four keys an entry may hold
    # (MAX_VOTER_KEYS). A new letter never adds a second: issue refuses a roll that has one,
    # and reissue replaces it, so the lost code's key leaves the entry and that code stops.
    code = new_code()
    public = credential_key(code, election).public_key
    entry[CREDENTIAL_KEYS] = [b64e(public)]
    entry[LETTER] = _new_reference(taken)
    return Credential(
        entry[VOTER],
        entry[LETTER],
        code,
        public,
        entry["card_key"],
        entry["category"],
        entry.get("group"),
        section == "test_roll",
    )


def _new_reference(taken: set[str]) -> str:
    """A reference no letter of this roll has had in this run or holds now: 8 symbols from
    the operating system's generator, as the codes are drawn (new_code)."""
    while True:
        symbols = "".join(secrets.choice(ALPHABET) for _ in range(REFERENCE_SYMBOLS))
        reference = f"{symbols[:4]}-{symbols[4:]}"
        if reference not in taken:  # 2^-40 a pair: the loop only makes uniqueness plain
            taken.add(reference)
            return reference


def _references(roll: Mapping[str, Any]) -> set[str]:
    return {e[LETTER] for s in SECTIONS for e in roll.get(s, []) if e.get(LETTER)}


def _online_categories(definition: Mapping[str, Any]) -> tuple[str, set[str]]:
    election = definition.get("id")
    categories = definition.get("categories")
    if not isinstance(election, str) or not election or not isinstance(categories, list):
        raise LettersError("the definition has no election id or no categories list")
    online = {
        c.get("id")
        for c in categories
        if isinstance(c, dict) and c.get("channel") == Channel.ONLINE
    }
    if not online:
        raise LettersError(
            f"election {election!r} has no category voted online (channel 'online'): "
            "credential letters are for online members"
        )
    return election, {str(c) for c in online}


def _checked_copy(definition: Mapping[str, Any], roll: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``roll`` whose every voter entry fits ``definition``: its category,
    group and recusals exist there. A roll enrolled for another election is refused here."""
    if not isinstance(roll, Mapping) or not isinstance(roll.get("roll", []), list):
        raise LettersError("the roll file is not a roll: no 'roll' list")
    categories = {c.get("id") for c in definition.get("categories", []) if isinstance(c, dict)}
    groups = {g.get("id") for g in definition.get("groups", []) if isinstance(g, dict)}
    options = {o.get("id") for o in definition.get("options", []) if isinstance(o, dict)}
    for section in SECTIONS:
        for i, entry in enumerate(roll.get(section, [])):
            _check_entry(section, i, entry, categories, groups, options)
    return copy.deepcopy(dict(roll))


def _check_entry(
    section: str, i: int, entry: Any, categories: set[Any], groups: set[Any], options: set[Any]
) -> None:
    where = f"roll file {section}[{i}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("card_key"), str):
        raise LettersError(f"{where} is not a card's entry (no card_key)")
    problem = None
    if entry.get("category") not in categories:
        problem = f"category {entry.get('category')!r}"
    elif entry.get("group") is not None and entry.get("group") not in groups:
        problem = f"group {entry.get('group')!r}"
    elif not isinstance(excluded := entry.get("excluded") or [], list):
        problem = f"recusals {excluded!r}"
    elif not set(excluded) <= options:
        problem = f"recusals {sorted(set(excluded) - options)}"
    if problem is not None:
        raise LettersError(
            f"{where} names {problem}, which the definition does not have: the roll and the "
            "definition are not of the same election"
        )
    voter = entry.get(VOTER)
    if voter is not None and (not isinstance(voter, str) or not _VOTER_ID.fullmatch(voter)):
        raise LettersError(f"{where}: voter must be {VOTER_ID_BYTES} bytes in lowercase hex")
    letter = entry.get(LETTER)
    if letter is not None and (not isinstance(letter, str) or not _REFERENCE.fullmatch(letter)):
        raise LettersError(f"{where}: letter must be a reference such as K7P3-QD9M")


def _online_entries(
    roll: Mapping[str, Any], online: set[str]
) -> Iterable[tuple[str, int, dict[str, Any]]]:
    for section in SECTIONS:
        for i, entry in enumerate(roll.get(section, [])):
            if entry["category"] in online:
                yield section, i, entry


def _reissue_name(text: str) -> str:
    """A letter's reference (``K7P3-QD9M``, read as a person may read it out: any case, with
    or without the hyphen, O for 0 and I or L for 1) or a voter id (hex), in the roll's form."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    if _VOTER_ID.fullmatch(folded):
        return folded
    symbols = "".join(c for c in folded.upper() if c not in " -").translate(_ALIASES)
    reference = f"{symbols[:4]}-{symbols[4:]}"
    if _REFERENCE.fullmatch(reference):
        return reference
    raise LettersError(
        f"{text!r} is neither a letter's reference ({REFERENCE_SYMBOLS} symbols, as the letter "
        f"and the members list print it) nor a voter id ({VOTER_ID_BYTES} bytes in "
        "hexadecimal, as the members list prints it)"
    )


def _fix_voter_ids(roll: dict[str, Any]) -> None:
    """A voter id for every voter entry, drawn at random as `ledger election create` draws
    them (so it says nothing of its holder) but fixed here: the letter and the package name
    the same voter, and a package made again after a lost letter keeps everyone's id."""
    taken = {e[VOTER] for s in SECTIONS for e in roll.get(s, []) if VOTER in e}
    for section in SECTIONS:
        for entry in roll.get(section, []):
            if VOTER not in entry:
                while (voter := secrets.token_bytes(VOTER_ID_BYTES).hex()) in taken:
                    pass  # 2^-128 a draw; the loop only makes the uniqueness plain
                taken.add(voter)
                entry[VOTER] = voter


def _progress(
    entries: list[tuple[str, int, dict[str, Any]]],
) -> Iterable[tuple[str, int, dict[str, Any]]]:
    from tqdm import tqdm

    # disable=None: a bar on a terminal only, never in a log or a test's captured output
    bar: Iterable[tuple[str, int, dict[str, Any]]] = tqdm(
        entries, desc="deriving each code's key", unit="code", disable=None
    )
    return bar


def _where(section: str, i: int, entry: Mapping[str, Any]) -> str:
    return f"{section}[{i}] (card {entry.get('card_key')})"


def _first(places: list[str]) -> str:
    more = f" and {len(places) - 1} more" if len(places) > 1 else ""
    return f"{places[0]}{more}"
