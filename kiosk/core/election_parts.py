"""The parts of an election package (ids, categories, groups, options, contests, the roll, staff
and the tally rules), each with the reader that checks it and its JSON form."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NewType

from kiosk.core.crypto import is_valid_ed25519_point
from kiosk.core.encoding import b64e
from kiosk.core.errors import ElectionPackageError
from kiosk.core.jsonreader import Reader

ElectionId = NewType("ElectionId", str)
OptionId = NewType("OptionId", str)
GroupId = NewType("GroupId", str)
CategoryId = NewType("CategoryId", str)
ContestId = NewType("ContestId", str)

STAFF_NAME_MAX = 200  # characters in a staff member's name, on the roll and in the package


class Channel(enum.StrEnum):
    KIOSK = "kiosk"
    ONLINE = "online"


class ContestKind(enum.StrEnum):
    CHOICE = "choice"  # pick min..max options: plurality, approval or capped "likes"
    SCORE = "score"  # score each option from min to max, optionally on several criteria
    YESNO = "yesno"  # one question: yes, no or blank


class Scope(enum.StrEnum):
    GROUP = "group"  # the options of the voter's own group
    ALL = "all"  # every option of the election


class StaffRole(enum.StrEnum):
    POLL_WORKER = "poll_worker"
    ELECTION_MANAGER = "election_manager"


class DuplicatePolicy(enum.StrEnum):
    FIRST = "first"
    LAST = "last"
    IN_PERSON_WINS = "in_person_wins"


# The one published tie-break rule the tally applies: equal results rank the lower option id
# first. The package states it so that it is announced before the vote.
TIE_BREAK = "lowest option id"


class TallyMethod(enum.StrEnum):
    WEIGHTED_SUM = "weighted_sum"  # e.g. 70% online + 30% committee
    QUOTA = "quota"  # e.g. 250 winners on site and 200 online


@dataclass(frozen=True, slots=True)
class Text:
    """A label in Korean (shown first) and English."""

    ko: str
    en: str

    @classmethod
    def read(cls, r: Reader, key: str) -> Text:
        t = r.obj(key)
        value = cls(t.text("ko", max_len=2000), t.text("en", max_len=2000))
        t.done()
        return value

    def to_json(self) -> dict[str, str]:
        return {"ko": self.ko, "en": self.en}


@dataclass(frozen=True, slots=True)
class Option:
    id: OptionId
    group: GroupId
    title: Text
    summary: Text
    image: str | None = None
    budget: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "group": self.group,
            "title": self.title.to_json(),
            "summary": self.summary.to_json(),
        }
        if self.image is not None:
            out["image"] = self.image
        if self.budget is not None:
            out["budget"] = self.budget
        return out


@dataclass(frozen=True, slots=True)
class Group:
    id: GroupId
    title: Text


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of voter (resident representative, expert, online member) and its weight."""

    id: CategoryId
    title: Text
    weight: float
    channel: Channel


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    title: Text
    weight: float


@dataclass(frozen=True, slots=True)
class Contest:
    id: ContestId
    kind: ContestKind
    title: Text
    categories: tuple[CategoryId, ...]
    scope: Scope = Scope.GROUP
    min: int = 0
    max: int = 1
    criteria: tuple[Criterion, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "title": self.title.to_json(),
            "categories": list(self.categories),
        }
        if self.kind is not ContestKind.YESNO:
            out |= {"scope": self.scope.value, "min": self.min, "max": self.max}
        if self.criteria:
            out["criteria"] = [
                {"id": c.id, "title": c.title.to_json(), "weight": c.weight} for c in self.criteria
            ]
        return out


@dataclass(frozen=True, slots=True)
class RollEntry:
    """One enrolled voter: only their public keys are trusted, never names on the card.

    A package's entry (kiosk/core/election_v2.py) is a random voter id and the keys that may
    sign for that voter, the card's authentication key first; ``card_key`` is then ``keys[0]``.
    An entry of the roll file enrolment writes (read_roll_entry) has one card key and no voter
    id yet: `ledger election create` draws the id.
    """

    card_key: bytes
    category: CategoryId
    group: GroupId | None
    excluded: frozenset[OptionId] = frozenset()
    voter_id: bytes | None = None
    keys: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not self.keys:
            object.__setattr__(self, "keys", (self.card_key,))
        if self.keys[0] != self.card_key:
            raise ElectionPackageError("a roll entry's card key is the first of its keys")

    def to_json(self) -> dict[str, Any]:
        if self.voter_id is not None:
            return {
                "voter": self.voter_id.hex(),
                "keys": [b64e(k) for k in self.keys],
                "category": self.category,
                "group": self.group,
                "excluded": sorted(self.excluded),
            }
        return {
            "card_key": b64e(self.card_key),
            "category": self.category,
            "group": self.group,
            "excluded": sorted(self.excluded),
        }


@dataclass(frozen=True, slots=True)
class StaffEntry:
    card_key: bytes
    role: StaffRole
    name: str


@dataclass(frozen=True, slots=True)
class TallyRules:
    method: TallyMethod
    channel_weights: Mapping[Channel, float]
    channel_winners: Mapping[Channel, int]
    drop_extremes: bool = False
    tie_break: str = TIE_BREAK

    def to_json(self) -> dict[str, Any]:
        channels = {
            c.value: {"weight": self.channel_weights[c], "winners": self.channel_winners[c]}
            for c in sorted(self.channel_weights)
        }
        return {
            "method": self.method.value,
            "channels": channels,
            "drop_extremes": self.drop_extremes,
            "tie_break": self.tie_break,
        }


@dataclass(frozen=True, slots=True)
class Voter:
    """An authenticated voter as the kiosk knows them: their roll entry's public parts.

    ``card_key`` is the key the card presented (any of the entry's keys), ``voter_id`` the roll
    entry's voter id (the identity "has this voter voted" and the duplicate policy work on) and
    ``test`` whether they are on the test roll.
    """

    card_key: bytes
    category: CategoryId
    group: GroupId | None
    excluded: frozenset[OptionId]
    voter_id: bytes
    test: bool = False


# -- reading: one reader per part; the package reader (kiosk.core.election) calls them ----


def read_category(r: Reader) -> Category:
    c = Category(
        CategoryId(r.ident("id")),
        Text.read(r, "title"),
        r.number("weight", lo=0.0, hi=1e6),
        r.enum("channel", Channel),
    )
    if c.weight <= 0:
        r.fail("must be greater than zero", "weight")
    r.done()
    return c


def read_group(r: Reader) -> Group:
    g = Group(GroupId(r.ident("id")), Text.read(r, "title"))
    r.done()
    return g


def read_option(r: Reader) -> Option:
    o = Option(
        OptionId(r.ident("id")),
        GroupId(r.ident("group")),
        Text.read(r, "title"),
        Text.read(r, "summary"),
        r.text("image", optional=True, max_len=500),
        r.integer("budget", optional=True, lo=0, hi=10**15),
    )
    r.done()
    return o


def read_contest(r: Reader) -> Contest:
    cid, kind, title = ContestId(r.ident("id")), r.enum("kind", ContestKind), Text.read(r, "title")
    categories = tuple(CategoryId(c) for c in r.items("categories"))
    if not categories or not all(isinstance(c, str) for c in categories):
        r.fail("must list at least one category id", "categories")
    if len(set(categories)) != len(categories):
        r.fail("lists a category twice", "categories")
    if kind is ContestKind.YESNO:
        r.done()
        return Contest(cid, kind, title, categories)
    scope = r.enum("scope", Scope)
    lo, hi = r.integer("min", lo=0, hi=1000), r.integer("max", lo=0, hi=1000)
    criteria = tuple(_criterion(c) for c in r.objects("criteria", optional=True))
    if kind is ContestKind.CHOICE and (lo > hi or hi < 1):
        r.fail(f"a choice contest needs 0 <= min <= max and max >= 1, found {lo}..{hi}")
    if kind is ContestKind.SCORE and lo >= hi:
        r.fail(f"a score contest needs min < max, found {lo}..{hi}")
    if criteria and kind is not ContestKind.SCORE:
        r.fail("only score contests have criteria", "criteria")
    if len({c.id for c in criteria}) != len(criteria):
        r.fail("criterion ids must be unique", "criteria")
    r.done()
    return Contest(cid, kind, title, categories, scope, lo, hi, criteria)


def _criterion(r: Reader) -> Criterion:
    c = Criterion(r.ident("id"), Text.read(r, "title"), r.number("weight", lo=1e-9, hi=1e6))
    r.done()
    return c


def _card_key(r: Reader) -> bytes:
    key = r.binary("card_key", length=32)
    if not is_valid_ed25519_point(key):
        r.fail("is not a valid Ed25519 public key", "card_key")
    return key


def read_roll_entry(r: Reader) -> RollEntry:
    key, category = _card_key(r), CategoryId(r.ident("category"))
    group = r.raw("group", optional=True)
    if group is not None:
        group = GroupId(r.ident("group"))
    excluded = r.items("excluded", optional=True)
    if not all(isinstance(x, str) for x in excluded):
        r.fail("must list option ids", "excluded")
    r.done()
    return RollEntry(key, category, group, frozenset(OptionId(x) for x in excluded))


def read_staff_entry(r: Reader) -> StaffEntry:
    s = StaffEntry(_card_key(r), r.enum("role", StaffRole), r.text("name", max_len=STAFF_NAME_MAX))
    r.done()
    return s


def read_tally(r: Reader) -> TallyRules:
    method = r.enum("method", TallyMethod)
    channels = r.obj("channels")
    weights: dict[Channel, float] = {}
    winners: dict[Channel, int] = {}
    for name in list(channels.value):
        try:
            channel = Channel(name)
        except ValueError:
            channels.fail(f"{name!r} is not a channel (kiosk, online)")
        entry = channels.obj(name)
        weights[channel] = entry.number("weight", lo=0.0, hi=1.0)
        winners[channel] = entry.integer("winners", lo=0, hi=10**7)
        entry.done()
    if not weights:
        channels.fail("must name at least one channel")
    if method is TallyMethod.WEIGHTED_SUM and abs(sum(weights.values()) - 1.0) > 1e-9:
        channels.fail(f"channel weights must add up to 1, found {sum(weights.values())}")
    tie_break = r.text("tie_break", max_len=200)
    if tie_break != TIE_BREAK:
        r.fail(f"the tally breaks ties by {TIE_BREAK!r}; no other rule is supported", "tie_break")
    rules = TallyRules(method, weights, winners, r.flag("drop_extremes", default=False), tie_break)
    r.done()
    return rules
