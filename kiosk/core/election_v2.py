"""The sections of a protocol v2 package: the public test key, the roll by voter
id and signing keys, the test-card roll, the ledger's log key, the witnesses and the privacy
floor. Each with the reader that checks it and its JSON form; kiosk.core.election puts them
into the ElectionPackage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.cosignature import CosignerKey
from kiosk.core.crypto import is_valid_ed25519_point
from kiosk.core.election_key import read_election_key
from kiosk.core.election_parts import CategoryId, GroupId, OptionId, RollEntry, StaffEntry
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import ElectionPackageError, EncodingError
from kiosk.core.jsonreader import Reader
from kiosk.core.tls_pin import pin_fingerprint
from kiosk.core.verifiable.group import GroupError, Point, base_mul, scalar_bytes, scalar_from_hex

PROTOCOL_VERSIONS = (2,)  # verifiable (design/verifiable-election.md); v1 is refused
VOTER_ID_BYTES = 16  # random, so a voter id says nothing about its holder
MAX_VOTER_KEYS = 4  # the card's authentication key, an online credential key, and spares
DEFAULT_MIN_COLUMN = 10
MAX_MIN_COLUMN = 1_000_000
MAX_WITNESSES = 100


@dataclass(frozen=True, slots=True)
class TestKey:
    """The test election key, secret included: test ballots are public by design, so that the
    kiosk counts them for staff, and no voter card is ever taken in test mode."""

    __test__ = False  # a protocol value, not a pytest class

    key: Point
    secret: int

    def to_json(self) -> dict[str, str]:
        return {"key": self.key.hex(), "secret": scalar_bytes(self.secret).hex()}


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """Whose cosignatures a checkpoint needs (C2SP tlog-cosignature keys) and how many."""

    threshold: int
    keys: tuple[CosignerKey, ...]

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "keys": [k.vkey for k in self.keys]}


NO_WITNESSES = WitnessPolicy(0, ())


# -- reading -----------------------------------------------------------------------------------


def read_v2_parts(r: Reader) -> dict[str, Any]:
    """The v2 sections of a package, as ElectionPackage fields."""
    test_key = read_test_key(r.obj("keys"))
    ledger = r.obj("ledger")
    url, pin = read_ledger_address(ledger)
    log = read_log_key(ledger)
    ledger.done()
    return {
        "protocol": 2,
        "test_key": test_key,
        "election_key": read_election_key(r.obj("election_key")),
        "ledger_url": url,
        "ledger_tls_pin": pin,
        "log_key": None if log is None else log.public_key,
        "log_name": None if log is None else log.name,
        "roll": tuple(read_roll_entry_v2(e) for e in r.objects("roll")),
        "test_roll": tuple(read_roll_entry_v2(e) for e in r.objects("test_roll", optional=True)),
        "witnesses": read_witnesses(r),
        "min_column": read_min_column(r),
    }


def read_ledger_address(ledger: Reader) -> tuple[str, str | None]:
    """``ledger.url`` and ``ledger.tls_pin`` (the pin kept as written: the hash covers it)."""
    url, pin = ledger.text("url", max_len=500), ledger.text("tls_pin", optional=True, max_len=200)
    if pin is not None:
        try:
            pin_fingerprint(pin)
        except EncodingError as e:
            ledger.fail(str(e), "tls_pin")
    return url, pin


def read_test_key(keys: Reader) -> TestKey:
    """``keys.test``: a point and the scalar whose multiple of G it is."""
    t = keys.obj("test")
    key = _point(t, "key")
    secret = _scalar(t, "secret")
    t.done()
    keys.done()
    if base_mul(secret) != key:
        t.fail("secret times the generator is not key: the secret is not key's secret half")
    if key.is_identity():
        t.fail("is the identity element", "key")
    return TestKey(key, secret)


def read_log_key(ledger: Reader) -> NoteVerifier | None:
    """``ledger.log_key``: the note verifier key (``<name>+<key id>+<base64 key>``, as the
    ledger publishes it) the ledger signs checkpoints and close statements with, or null. The
    name comes with the key because a signed note names its key, and the key id binds both."""
    text = ledger.raw("log_key")
    if text is None:
        return None
    if not isinstance(text, str):
        ledger.fail("must be the log's verifier key <name>+<key id>+<base64 key>", "log_key")
    try:
        verifier = NoteVerifier.parse(text)
    except EncodingError as e:
        ledger.fail(str(e), "log_key")
    if verifier.vkey != text:  # one spelling per key, so the package hash has one value
        ledger.fail(f"must be written exactly as {verifier.vkey}", "log_key")
    return verifier


def read_witnesses(r: Reader) -> WitnessPolicy:
    if "witnesses" not in r.value:
        r.raw("witnesses", optional=True)
        return NO_WITNESSES
    w = r.obj("witnesses")
    texts = w.items("keys", max_items=MAX_WITNESSES)
    keys = tuple(_witness_key(w, i, text) for i, text in enumerate(texts))
    seen: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        if key.public_key in seen:
            w.fail(f"repeats keys[{seen[key.public_key]}]; each witness counts once", f"keys[{i}]")
        seen[key.public_key] = i
    threshold = w.integer("threshold", lo=0, hi=MAX_WITNESSES)
    if threshold > len(keys):
        w.fail(f"asks for {threshold} cosignatures but names {len(keys)} witness keys", "threshold")
    w.done()
    return WitnessPolicy(threshold, keys)


def _witness_key(w: Reader, i: int, text: Any) -> CosignerKey:
    where = f"keys[{i}]"
    if not isinstance(text, str):
        w.fail("must be a witness key <name>+<key id>+<base64 key>", where)
    try:
        key = CosignerKey.parse(text)
    except EncodingError as e:
        w.fail(str(e), where)
    if key.vkey != text:  # one spelling per key, so the package hash has one value
        w.fail(f"must be written exactly as {key.vkey}", where)
    return key


def read_min_column(r: Reader) -> int:
    if "privacy" not in r.value:
        r.raw("privacy", optional=True)
        return DEFAULT_MIN_COLUMN
    p = r.obj("privacy")
    value = int(p.integer("min_column", lo=1, hi=MAX_MIN_COLUMN))
    p.done()
    return value


def read_roll_entry_v2(r: Reader) -> RollEntry:
    """One v2 roll entry: a random voter id, the keys that may sign for them, and what they
    vote on. No names: who holds which card stays with the enrolment office."""
    voter_id = _hex(r, "voter", VOTER_ID_BYTES)
    items = r.items("keys", max_items=MAX_VOTER_KEYS)
    if not items:
        r.fail("must list at least one key", "keys")
    keys = tuple(_signing_key(r, i, item) for i, item in enumerate(items))
    category = CategoryId(r.ident("category"))
    group = r.raw("group", optional=True)
    if group is not None:
        group = GroupId(r.ident("group"))
    excluded = r.items("excluded", optional=True)
    if not all(isinstance(x, str) for x in excluded):
        r.fail("must list option ids", "excluded")
    r.done()
    return RollEntry(
        keys[0], category, group, frozenset(OptionId(x) for x in excluded), voter_id, keys
    )


def _signing_key(r: Reader, i: int, item: Any) -> bytes:
    try:
        key = b64d(item, length=32, name="key")
    except EncodingError as e:
        r.fail(str(e), f"keys[{i}]")
    if not is_valid_ed25519_point(key):
        r.fail("is not a valid Ed25519 public key", f"keys[{i}]")
    return key


def _hex(r: Reader, key: str, length: int) -> bytes:
    text = r.text(key, max_len=2 * length)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        r.fail(f"must be {length} bytes in lowercase hexadecimal", key)
    if len(data) != length or data.hex() != text:
        r.fail(f"must be {length} bytes in lowercase hexadecimal", key)
    return data


def _point(r: Reader, key: str) -> Point:
    try:
        return Point.from_hex(r.text(key, max_len=64), what="a ristretto255 point")
    except GroupError as e:
        r.fail(str(e), key)


def _scalar(r: Reader, key: str) -> int:
    try:
        return scalar_from_hex(r.text(key, max_len=64), what="a ristretto255 scalar")
    except GroupError as e:
        r.fail(str(e), key)


# -- checks across sections ----------------------------------------------------------------------


def check_holders(
    roll: Sequence[RollEntry], test_roll: Sequence[RollEntry], staff: Sequence[StaffEntry]
) -> None:
    """Every voter id names one voter and every key signs for one holder, across the roll, the
    test roll and the staff roster: a key in two places would let one card act as both."""
    ids: dict[bytes, str] = {}
    for path, entry in _entries(roll, test_roll):
        if entry.voter_id is None:
            raise ElectionPackageError(f"{path}: a v2 roll entry has a voter id")
        if entry.voter_id in ids:
            raise ElectionPackageError(
                f"{path}.voter and {ids[entry.voter_id]}: voter id {entry.voter_id.hex()} "
                "is given twice; each voter id names one voter"
            )
        ids[entry.voter_id] = f"{path}.voter"
    places: dict[bytes, str] = {}
    for path, key in _keys(roll, test_roll, staff):
        if key in places:
            raise ElectionPackageError(
                f"{places[key]} and {path}: card key {b64e(key)} is {_both(places[key], path)}; "
                "each key signs for one holder only"
            )
        places[key] = path


def _entries(
    roll: Sequence[RollEntry], test_roll: Sequence[RollEntry]
) -> Iterable[tuple[str, RollEntry]]:
    yield from ((f"roll[{i}]", e) for i, e in enumerate(roll))
    yield from ((f"test_roll[{i}]", e) for i, e in enumerate(test_roll))


def _keys(
    roll: Sequence[RollEntry], test_roll: Sequence[RollEntry], staff: Sequence[StaffEntry]
) -> Iterable[tuple[str, bytes]]:
    for path, entry in _entries(roll, test_roll):
        yield from ((f"{path}.keys[{k}]", key) for k, key in enumerate(entry.keys))
    yield from ((f"staff[{i}].card_key", s.card_key) for i, s in enumerate(staff))


_KIND = {"roll": "a voter card", "test_roll": "a test card", "staff": "a staff card"}


def _both(first: str, second: str) -> str:
    a, b = (_KIND[p.split("[", 1)[0]] for p in (first, second))
    return f"given twice as {a}" if a == b else f"both {a} and {b}"
