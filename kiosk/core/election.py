"""The election package: what is decided, by whom, under which rules; signed by the authority.

The parts it is made of (ids, contests, options, the roll, the tally rules) live in
kiosk.core.election_parts; they are re-exported here, where the rest of the code imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.crypto import Domain, SigningKey, sha256, verify_signature
from kiosk.core.election_checks import check_consistency, check_protocol
from kiosk.core.election_key import ElectionKey
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
    read_staff_entry,
    read_tally,
)
from kiosk.core.election_v2 import (
    DEFAULT_MIN_COLUMN,
    NO_WITNESSES,
    PROTOCOL_VERSIONS,
    TestKey,
    WitnessPolicy,
    check_holders,
    read_v2_parts,
)
from kiosk.core.encoding import b64d, b64e, canonical_json, crockford32, group4, parse_json
from kiosk.core.errors import ElectionPackageError, HanpyoError, VerificationError
from kiosk.core.jsonreader import Reader

__all__ = [
    "MAX_SEQUENCE",
    "PACKAGE_VERSION",
    "PROTOCOL_VERSIONS",
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
    "TestKey",
    "Text",
    "Voter",
    "WitnessPolicy",
    "public_part",
    "read_package",
    "sign_package",
    "verify_package",
    "verify_public_signature",
]

PACKAGE_VERSION = 2  # the only version there is: protocol v2 (design/verifiable-election.md)
# A package's sequence number: 1 for an election's first signed package, one more each time
# the authority signs a changed one. Kiosks never go back to a lower number (kiosk/app.py).
MAX_SEQUENCE = 2**31 - 1
OLD_PROTOCOL_MESSAGE = (
    "이전 방식(프로토콜 1)의 선거 정보 파일이라 더는 받지 않습니다. "
    "`ledger election create --protocol 2`로 다시 만들어 주세요.",
    "This election file is of an older protocol (1) that is no longer accepted. "
    "Make it again with `ledger election create --protocol 2`.",
)
PUBLIC_SIGNATURE_MESSAGE = (
    "선거 정보 파일의 공개 부분 서명이 맞지 않습니다. 이 파일을 쓰지 말고 선거 관리자에게 "
    "알려 주세요.",
    "The signature over the election file's public part does not verify. Do not use this "
    "file; tell the election office.",
)


@dataclass(frozen=True, slots=True)
class ElectionPackage:
    id: ElectionId
    title: Text
    opens: str
    closes: str
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
    # The key the trustees' ceremony made (kiosk/core/election_key.py): ballots are encrypted to
    # it. Required (check_protocol); typed optional only so the dataclass keeps its field order.
    election_key: ElectionKey | None = None
    protocol: int = PACKAGE_VERSION  # always 2: v1 packages are refused (read_package)
    # kiosk/core/election_v2.py: the public test key, the test-card roll, the key the ledger
    # signs checkpoints with, the witnesses' policy and the smallest count column.
    test_key: TestKey | None = None
    test_roll: tuple[RollEntry, ...] = ()
    log_key: bytes | None = None  # the ledger's Ed25519 note key ...
    log_name: str | None = None  # ... and its name: together the log's verifier key
    witnesses: WitnessPolicy = NO_WITNESSES
    min_column: int = DEFAULT_MIN_COLUMN
    _index: _Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_protocol(self)
        object.__setattr__(self, "_index", _Index.build(self))
        check_consistency(self)

    # -- look-ups ---------------------------------------------------------------------------
    def option(self, option_id: str) -> Option | None:
        return self._index.options.get(option_id)

    def category(self, category_id: str) -> Category | None:
        return self._index.categories.get(category_id)

    def options_in_group(self, group: str) -> tuple[Option, ...]:
        return self._index.by_group.get(group, ())

    def roll_entry(self, card_key: bytes) -> RollEntry | None:
        """The official roll's entry for ``card_key``: in v2, any of an entry's keys."""
        return self._index.roll.get(card_key)

    def staff_entry(self, card_key: bytes) -> StaffEntry | None:
        return self._index.staff.get(card_key)

    def voter_for_card(self, card_key: bytes) -> Voter | None:
        """The voter enrolled with ``card_key`` (any of their entry's keys); None if not on the
        roll."""
        entry = self.roll_entry(card_key)
        return None if entry is None else _voter(entry, card_key, test=False)

    def enrols_card_key(self, card_key: bytes) -> bool:
        """Whether the official or the test roll enrols ``card_key`` (the package reader
        checked every such key is a valid Ed25519 point)."""
        return card_key in self._index.roll or card_key in self._index.test_roll

    def test_voter_for_card(self, card_key: bytes) -> Voter | None:
        """The test-card holder enrolled with ``card_key``; None if not on the test roll."""
        entry = self._index.test_roll.get(card_key)
        return None if entry is None else _voter(entry, card_key, test=True)

    def roll_entry_by_voter(self, voter_id: bytes) -> RollEntry | None:
        """The official roll's entry with this voter id; None if there is none."""
        return self._index.by_voter.get(voter_id)

    def test_entry_by_voter(self, voter_id: bytes) -> RollEntry | None:
        """The test roll's entry with this voter id; None if there is none."""
        return self._index.test_by_voter.get(voter_id)

    @property
    def log_verifier(self) -> NoteVerifier | None:
        """The key checkpoints and close statements are checked with (None if unnamed)."""
        if self.log_key is None or self.log_name is None:
            return None
        return NoteVerifier(self.log_name, self.log_key)

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
        common = {
            "id": self.id,
            "sequence": self.sequence,
            "title": self.title.to_json(),
            "schedule": {"opens": self.opens, "closes": self.closes},
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
        }
        return common | self._v2_json()

    def _v2_json(self) -> dict[str, Any]:
        if self.test_key is None or self.election_key is None:
            raise ElectionPackageError("a v2 package has a test key and an election key")
        return {
            "v": 2,
            "keys": {"test": self.test_key.to_json()},
            "election_key": self.election_key.to_json(),
            "ledger": {
                "url": self.ledger_url,
                "tls_pin": self.ledger_tls_pin,
                "log_key": None if self.log_verifier is None else self.log_verifier.vkey,
            },
            "test_roll": [e.to_json() for e in self.test_roll],
            "witnesses": self.witnesses.to_json(),
            "privacy": {"min_column": self.min_column},
        }

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
    roll: dict[bytes, RollEntry]  # by each of an entry's keys
    staff: dict[bytes, StaffEntry]
    package_hash: bytes
    test_roll: dict[bytes, RollEntry] = field(default_factory=dict)
    by_voter: dict[bytes, RollEntry] = field(default_factory=dict)
    test_by_voter: dict[bytes, RollEntry] = field(default_factory=dict)

    @classmethod
    def build(cls, p: ElectionPackage) -> _Index:
        by_group: dict[str, list[Option]] = {}
        for o in p.options:
            by_group.setdefault(o.group, []).append(o)
        options = _unique("options", [(o.id, o) for o in p.options], str)
        categories = _unique("categories", [(c.id, c) for c in p.categories], str)
        groups = {g: tuple(os) for g, os in by_group.items()}
        package_hash = sha256(p.canonical())
        check_holders(p.roll, p.test_roll, p.staff)  # so the dicts below lose nothing
        return cls(
            options,
            categories,
            groups,
            roll={k: e for e in p.roll for k in e.keys},
            staff={s.card_key: s for s in p.staff},
            package_hash=package_hash,
            test_roll={k: e for e in p.test_roll for k in e.keys},
            by_voter={e.voter_id: e for e in p.roll if e.voter_id is not None},
            test_by_voter={e.voter_id: e for e in p.test_roll if e.voter_id is not None},
        )


def _voter(entry: RollEntry, card_key: bytes, *, test: bool) -> Voter:
    if entry.voter_id is None:
        raise ElectionPackageError("a package's roll entry has a voter id")
    # The public voter id is the identity "has this voter voted" and the duplicate policy use.
    return Voter(card_key, entry.category, entry.group, entry.excluded, entry.voter_id, test=test)


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


# -- reading -----------------------------------------------------------------------------------


def read_package(document: Any) -> ElectionPackage:
    """Build an ``ElectionPackage`` from parsed JSON, refusing anything off-schema with its path.

    Only ``"v": 2``, the verifiable package (election_v2.py), is read: a v1 package (sealed-box
    ballots) is refused with a message that says how to make it again."""
    r = Reader(document, "", ElectionPackageError)
    version = r.integer("v")
    if version == 1:
        raise ElectionPackageError(
            "v: this is a protocol 1 package (sealed-box ballots), which is no longer accepted; "
            "make it again with `ledger election create --protocol 2 --ceremony ...`",
            user_message=OLD_PROTOCOL_MESSAGE,
        )
    if version not in PROTOCOL_VERSIONS:
        r.fail(f"unsupported package version {version}", "v")
    schedule = r.obj("schedule")
    opens, closes = _timestamp(schedule, "opens"), _timestamp(schedule, "closes")
    schedule.done()
    parts = read_v2_parts(r)
    package = ElectionPackage(
        id=ElectionId(r.ident("id")),
        title=Text.read(r, "title"),
        opens=opens,
        closes=closes,
        categories=tuple(read_category(c) for c in r.objects("categories")),
        groups=tuple(read_group(g) for g in r.objects("groups")),
        options=tuple(read_option(o) for o in r.objects("options")),
        contests=tuple(read_contest(c) for c in r.objects("contests")),
        staff=tuple(read_staff_entry(s) for s in r.objects("staff")),
        tally=read_tally(r.obj("tally")),
        duplicate_policy=r.enum("duplicate_policy", DuplicatePolicy),
        # An unsigned definition may leave it out (its first package); a signed package may
        # not (verify_package), so every signature covers the number.
        sequence=r.integer("sequence", optional=True, lo=1, hi=MAX_SEQUENCE) or 1,
        **parts,
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
    """A package with the authority's two signatures: over its canonical form (what kiosks, the
    ledger and verifiers check) and over its public part (``public_part``: the rolls by hash,
    what the voting page checks without the national roll)."""

    package: ElectionPackage
    signature: bytes
    public_signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "package": self.package.to_json(),
            "signature": b64e(self.signature),
            "public_signature": b64e(self.public_signature),
        }


def public_part(package: ElectionPackage) -> dict[str, Any]:
    """The package with each roll replaced by its hash (docs/spec/record.md §2.1): ``roll`` and
    ``test_roll`` become ``roll_hash`` and ``test_roll_hash``, the lowercase hex SHA-256 of the
    canonical JSON of that list. Everything else is the package's own JSON, unchanged."""
    document = package.to_json()
    rolls = {"roll": "roll_hash", "test_roll": "test_roll_hash"}
    for key, hashed in rolls.items():
        document[hashed] = sha256(canonical_json(document.pop(key))).hex()
    return document


def sign_package(package: ElectionPackage, authority: SigningKey) -> SignedPackage:
    public = canonical_json(public_part(package))
    return SignedPackage(
        package,
        authority.sign(Domain.ELECTION, package.canonical()),
        authority.sign(Domain.ELECTION_PUBLIC, public),
    )


def verify_package(document: Any, authority_key: bytes) -> ElectionPackage:
    """Read a signed package and check the authority's signature, and its signature over the
    public part when the file carries one; raise if any fails."""
    return verify_signatures(document, authority_key)[0]


def verify_signatures(document: Any, authority_key: bytes) -> tuple[ElectionPackage, bytes | None]:
    """``verify_package``, also giving the public part's signature it checked (None when the
    file carries none): what the online platform serves to the page."""
    r = Reader(document, "", ElectionPackageError)
    signature = r.binary("signature", length=64)
    public_signature = (
        r.binary("public_signature", length=64)
        if isinstance(document, dict) and "public_signature" in document
        else None
    )
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
    if public_signature is not None:
        verify_public_signature(package, authority_key, public_signature)
    return package, public_signature


def verify_public_signature(
    package: ElectionPackage, authority_key: bytes, signature: bytes
) -> None:
    """Check the authority's signature over ``public_part(package)``."""
    try:
        public = canonical_json(public_part(package))
        verify_signature(Domain.ELECTION_PUBLIC, authority_key, public, signature)
    except VerificationError as e:
        raise ElectionPackageError(
            f"the election package's public part is not signed by the pinned authority key: {e}",
            user_message=PUBLIC_SIGNATURE_MESSAGE,
        ) from e


def read_signed_package(raw: bytes, authority: bytes) -> ElectionPackage:
    """Parse a signed package file and verify it against the pinned authority key (what a kiosk
    and the online platform load)."""
    return read_signatures(raw, authority)[0]


def read_signatures(raw: bytes, authority: bytes) -> tuple[ElectionPackage, bytes | None]:
    """``read_signed_package``, also giving the public part's signature (``verify_signatures``)."""
    try:
        document = parse_json(raw)
    except HanpyoError as e:
        raise HanpyoError(f"the election file is not valid JSON: {e}") from e
    return verify_signatures(document, authority)


def authority_key(text: str) -> bytes:
    """The authority's public key as given on a command line (base64url, 32 bytes)."""
    key = b64d(text.strip())
    if len(key) != 32:
        raise HanpyoError("the authority key is 32 bytes in base64url")
    return key
