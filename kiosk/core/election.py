"""The election package: what is decided, by whom, under which rules; signed by the authority.

The parts it is made of (ids, contests, options, the roll, the tally rules) live in
kiosk.core.election_parts; they are re-exported here, where the rest of the code imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.core.crypto import (
    NULLIFIER_SALT_BYTES,
    Domain,
    SealingKey,
    SigningKey,
    nullifier,
    sha256,
    verify_signature,
)
from kiosk.core.election_key import ElectionKey, read_election_key
from kiosk.core.election_parts import (
    TIE_BREAK,
    Category,
    CategoryId,
    Channel,
    Contest,
    ContestId,
    ContestKind,
    Criterion,
    DuplicatePolicy,
    ElectionId,
    Group,
    GroupId,
    Option,
    OptionId,
    RollEntry,
    Scope,
    StaffEntry,
    StaffRole,
    TallyMethod,
    TallyRules,
    Text,
    Voter,
    read_category,
    read_contest,
    read_group,
    read_option,
    read_roll_entry,
    read_staff_entry,
    read_tally,
)
from kiosk.core.encoding import b64e, canonical_json, crockford32, group4
from kiosk.core.errors import ElectionPackageError, EncodingError, VerificationError
from kiosk.core.jsonreader import Reader
from kiosk.core.tls_pin import pin_fingerprint

__all__ = [
    "MAX_SEQUENCE",
    "PACKAGE_VERSION",
    "TIE_BREAK",
    "Category",
    "CategoryId",
    "Channel",
    "Contest",
    "ContestId",
    "ContestKind",
    "Criterion",
    "DuplicatePolicy",
    "ElectionId",
    "ElectionPackage",
    "Group",
    "GroupId",
    "Option",
    "OptionId",
    "RollEntry",
    "Scope",
    "SignedPackage",
    "StaffEntry",
    "StaffRole",
    "TallyMethod",
    "TallyRules",
    "Text",
    "Voter",
    "read_package",
    "sign_package",
    "verify_package",
]

PACKAGE_VERSION = 1
# A package's sequence number: 1 for an election's first signed package, one more each time
# the authority signs a changed one. Kiosks never go back to a lower number (kiosk/app.py).
MAX_SEQUENCE = 2**31 - 1


@dataclass(frozen=True, slots=True)
class ElectionPackage:
    id: ElectionId
    title: Text
    opens: str
    closes: str
    ballot_key: bytes
    test_ballot_key: bytes
    # The test key is not secret: it is carried here so that staff can open and count test
    # ballots on the kiosk itself (a logic-and-accuracy test). Official ballots never use it.
    test_ballot_secret: bytes
    nullifier_salt: bytes
    ledger_url: str
    ledger_tls_pin: str | None
    categories: tuple[Category, ...]
    groups: tuple[Group, ...]
    options: tuple[Option, ...]
    contests: tuple[Contest, ...]
    roll: tuple[RollEntry, ...]
    staff: tuple[StaffEntry, ...]
    tally: TallyRules
    duplicate_policy: DuplicatePolicy
    sequence: int = 1
    # The key the trustees' ceremony made (protocol v2; kiosk/core/election_key.py). Ballots do
    # not use it yet: they are still sealed to ballot_key until v2's encrypted ballots land.
    election_key: ElectionKey | None = None
    _index: _Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _Index.build(self))
        _check_consistency(self)

    # -- look-ups ---------------------------------------------------------------------------
    def option(self, option_id: str) -> Option | None:
        return self._index.options.get(option_id)

    def category(self, category_id: str) -> Category | None:
        return self._index.categories.get(category_id)

    def options_in_group(self, group: str) -> tuple[Option, ...]:
        return self._index.by_group.get(group, ())

    def roll_entry(self, card_key: bytes) -> RollEntry | None:
        return self._index.roll.get(card_key)

    def staff_entry(self, card_key: bytes) -> StaffEntry | None:
        return self._index.staff.get(card_key)

    def voter_for_card(self, card_key: bytes) -> Voter | None:
        """The voter enrolled with ``card_key``, with their nullifier; None if not on the roll."""
        entry = self.roll_entry(card_key)
        if entry is None:
            return None
        return Voter(
            entry.card_key,
            entry.category,
            entry.group,
            entry.excluded,
            nullifier(self.nullifier_salt, entry.card_key),
        )

    def contests_for(self, category: str) -> tuple[Contest, ...]:
        return tuple(c for c in self.contests if category in c.categories)

    def eligible_options(
        self, contest: Contest, group: str | None, excluded: frozenset[OptionId]
    ) -> tuple[Option, ...]:
        """The options a voter of ``group`` may choose or score in ``contest``: never their own."""
        pool = self.options if contest.scope is Scope.ALL else self.options_in_group(group or "")
        return tuple(o for o in pool if o.id not in excluded)

    # -- encoding ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "v": PACKAGE_VERSION,
            "id": self.id,
            "sequence": self.sequence,
            "title": self.title.to_json(),
            "schedule": {"opens": self.opens, "closes": self.closes},
            "keys": {
                "ballot": b64e(self.ballot_key),
                "test_ballot": b64e(self.test_ballot_key),
                "test_ballot_secret": b64e(self.test_ballot_secret),
                "nullifier_salt": b64e(self.nullifier_salt),
            },
            "ledger": {"url": self.ledger_url, "tls_pin": self.ledger_tls_pin},
            "categories": [
                {
                    "id": c.id,
                    "title": c.title.to_json(),
                    "weight": c.weight,
                    "channel": c.channel.value,
                }
                for c in self.categories
            ],
            "groups": [{"id": g.id, "title": g.title.to_json()} for g in self.groups],
            "options": [o.to_json() for o in self.options],
            "contests": [c.to_json() for c in self.contests],
            "roll": [e.to_json() for e in self.roll],
            "staff": [
                {"card_key": b64e(s.card_key), "role": s.role.value, "name": s.name}
                for s in self.staff
            ],
            "tally": self.tally.to_json(),
            "duplicate_policy": self.duplicate_policy.value,
        } | ({"election_key": self.election_key.to_json()} if self.election_key else {})

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def package_hash(self) -> bytes:
        """SHA-256 of the canonical package: what genesis blocks and staff screens refer to."""
        return self._index.package_hash

    @property
    def short_hash(self) -> str:
        """The first 10 bytes of the package hash, for staff to compare with the printed copy."""
        return group4(crockford32(self.package_hash[:10]))


@dataclass(frozen=True, slots=True)
class _Index:
    options: dict[str, Option]
    categories: dict[str, Category]
    by_group: dict[str, tuple[Option, ...]]
    roll: dict[bytes, RollEntry]
    staff: dict[bytes, StaffEntry]
    package_hash: bytes

    @classmethod
    def build(cls, p: ElectionPackage) -> _Index:
        by_group: dict[str, list[Option]] = {}
        for o in p.options:
            by_group.setdefault(o.group, []).append(o)
        return cls(
            options=_unique("options", [(o.id, o) for o in p.options], str),
            categories=_unique("categories", [(c.id, c) for c in p.categories], str),
            by_group={g: tuple(os) for g, os in by_group.items()},
            roll=_unique("roll", [(e.card_key, e) for e in p.roll], _key_text),
            staff=_unique("staff", [(s.card_key, s) for s in p.staff], _key_text),
            package_hash=sha256(p.canonical()),
        )


def _unique(where: str, pairs: list[tuple[Any, Any]], show: Callable[[Any], str]) -> dict[Any, Any]:
    """Index ``pairs`` by key, naming the first repeated entry and where it stands."""
    out: dict[Any, Any] = {}
    first: dict[Any, int] = {}
    for i, (key, item) in enumerate(pairs):
        if key in out:
            raise ElectionPackageError(
                f"{where}[{i}]: {show(key)} repeats {where}[{first[key]}]; each must be unique"
            )
        out[key], first[key] = item, i
    return out


def _key_text(card_key: bytes) -> str:
    return f"card key {b64e(card_key)}"


def _check_consistency(p: ElectionPackage) -> None:
    """The cross-references a single field cannot check on its own."""
    fail = ElectionPackageError
    if len({g.id for g in p.groups}) != len(p.groups):
        raise fail("group ids must be unique")
    if len({c.id for c in p.contests}) != len(p.contests):
        raise fail("contest ids must be unique")
    groups = {g.id for g in p.groups}
    for o in p.options:
        if o.group not in groups:
            raise fail(f"option {o.id} names group {o.group!r}, which does not exist")
    for c in p.contests:
        for cat in c.categories:
            if p.category(cat) is None:
                raise fail(f"contest {c.id} names category {cat!r}, which does not exist")
    both = p._index.roll.keys() & p._index.staff.keys()
    if both:
        card = min(both)
        raise fail(
            f"roll[{[e.card_key for e in p.roll].index(card)}] and "
            f"staff[{[s.card_key for s in p.staff].index(card)}]: {_key_text(card)} is "
            "both a voter card and a staff card"
        )
    needs_group = {
        cat
        for c in p.contests
        if c.scope is Scope.GROUP and c.kind is not ContestKind.YESNO
        for cat in c.categories
    }
    for i, e in enumerate(p.roll):
        if p.category(e.category) is None:
            raise fail(f"roll[{i}]: category {e.category!r} does not exist")
        if e.group is not None and e.group not in groups:
            raise fail(f"roll[{i}]: group {e.group!r} does not exist")
        if e.group is None and e.category in needs_group:
            raise fail(
                f"roll[{i}]: category {e.category} votes on group contests, so a group is required"
            )
        for x in e.excluded:
            if p.option(x) is None:
                raise fail(f"roll[{i}]: excluded option {x!r} does not exist")
    if datetime.fromisoformat(p.opens) >= datetime.fromisoformat(p.closes):
        raise fail(f"the election must close after it opens ({p.opens} .. {p.closes})")
    if p.ballot_key == p.test_ballot_key:
        raise fail("the test ballot key must differ from the ballot key")
    if SealingKey(p.test_ballot_secret).public_key != p.test_ballot_key:
        raise fail("keys.test_ballot_secret is not the secret half of keys.test_ballot")


# -- reading -----------------------------------------------------------------------------------


def read_package(document: Any) -> ElectionPackage:
    """Build an ``ElectionPackage`` from parsed JSON, refusing anything off-schema with its path."""
    r = Reader(document, "", ElectionPackageError)
    if r.integer("v") != PACKAGE_VERSION:
        r.fail(f"unsupported package version {r.value['v']}", "v")
    schedule, keys, ledger = r.obj("schedule"), r.obj("keys"), r.obj("ledger")
    opens, closes = _timestamp(schedule, "opens"), _timestamp(schedule, "closes")
    schedule.done()
    ballot_key = keys.binary("ballot", length=32)
    test_key = keys.binary("test_ballot", length=32)
    test_secret = keys.binary("test_ballot_secret", length=32)
    salt = keys.binary("nullifier_salt", length=NULLIFIER_SALT_BYTES)
    keys.done()
    url, pin = ledger.text("url", max_len=500), ledger.text("tls_pin", optional=True, max_len=200)
    if pin is not None:
        try:
            pin_fingerprint(pin)  # kept as written: the package hash covers the text
        except EncodingError as e:
            ledger.fail(str(e), "tls_pin")
    ledger.done()
    package = ElectionPackage(
        id=ElectionId(r.ident("id")),
        title=Text.read(r, "title"),
        opens=opens,
        closes=closes,
        ballot_key=ballot_key,
        test_ballot_key=test_key,
        test_ballot_secret=test_secret,
        nullifier_salt=salt,
        ledger_url=url,
        ledger_tls_pin=pin,
        categories=tuple(read_category(c) for c in r.objects("categories")),
        groups=tuple(read_group(g) for g in r.objects("groups")),
        options=tuple(read_option(o) for o in r.objects("options")),
        contests=tuple(read_contest(c) for c in r.objects("contests")),
        roll=tuple(read_roll_entry(e) for e in r.objects("roll")),
        staff=tuple(read_staff_entry(s) for s in r.objects("staff")),
        tally=read_tally(r.obj("tally")),
        duplicate_policy=r.enum("duplicate_policy", DuplicatePolicy),
        # An unsigned definition may leave it out (its first package); a signed package may
        # not (verify_package), so every signature covers the number.
        sequence=r.integer("sequence", optional=True, lo=1, hi=MAX_SEQUENCE) or 1,
        election_key=(
            read_election_key(r.obj("election_key")) if "election_key" in r.value else None
        ),
    )
    r.done()
    return package


def _timestamp(r: Reader, key: str) -> str:
    text = r.text(key, max_len=40)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        r.fail(f"{text!r} is not an ISO 8601 date and time", key)
    if moment.tzinfo is None:
        r.fail("must include a time zone offset", key)
    return str(text)


# -- signing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedPackage:
    """A package with the authority's signature over its canonical form."""

    package: ElectionPackage
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package.to_json(), "signature": b64e(self.signature)}


def sign_package(package: ElectionPackage, authority: SigningKey) -> SignedPackage:
    return SignedPackage(package, authority.sign(Domain.ELECTION, package.canonical()))


def verify_package(document: Any, authority_key: bytes) -> ElectionPackage:
    """Read a signed package and check the authority's signature; raise if either fails."""
    r = Reader(document, "", ElectionPackageError)
    signature = r.binary("signature", length=64)
    inner = r.raw("package")
    if isinstance(inner, dict) and "sequence" not in inner:
        r.fail("a signed package must carry its sequence number", "package")
    package = read_package(inner)
    r.done()
    try:
        verify_signature(Domain.ELECTION, authority_key, package.canonical(), signature)
    except VerificationError as e:
        raise ElectionPackageError(
            f"the election package is not signed by the pinned authority key: {e}",
        ) from e
    return package
