"""What a simulated OpenPGP card remembers without power, and its JSON card file.

Also the pieces the card's APDU engine shares: status words, key slots and BER-TLV.
"""

from __future__ import annotations

import enum
import hashlib
import time
from dataclasses import dataclass, field
from functools import reduce
from operator import xor
from typing import Any

import nacl.bindings
import nacl.signing

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import EncodingError, HanpyoError
from kiosk.core.jsonreader import Reader

RID_PIX = bytes.fromhex("D27600012401")  # the FSF's registered id followed by "OpenPGP"
VERSION = bytes([3, 4])
TEST_MANUFACTURER = 0xFFFF  # reserved for test cards; GnuPG shows "test card"
ED25519 = bytes.fromhex("162B06010401DA470F01")  # EdDSA (22) with the Ed25519 OID
X25519 = bytes.fromhex("122B060104019755010501")  # ECDH (18) with the Curve25519 OID
# Category 00; card service data; capabilities: select by full or partial name, command
# chaining and extended Lc/Le (73 C0 01 C0); status 9000.
HISTORICAL_BYTES = bytes.fromhex("0031C573C001C0009000")
MAX_DATA = 0x0800  # longest command data (after chaining) and response, announced in 7F66
MAX_TRIES = 3
MAX_PIN = 127
CARD_FILE_FORMAT = "hanpyo-virtual-openpgp-card/1"
# A KDF-DO with iterated and salted S2K: enough for a kiosk to see and refuse it. The card
# still compares PINs as sent; it does not run the KDF itself.
KDF_DO = (
    bytes.fromhex("810103 820108 830400020000 8408") + bytes(8) + bytes.fromhex("8608") + bytes(8)
)

NAME, LANGUAGE, SEX, LOGIN, URL, CERTIFICATE, KDF = 0x5B, 0x5F2D, 0x5F35, 0x5E, 0x5F50, 0x7F21, 0xF9
# The variable-length DOs PUT DATA may write, with the longest value each may hold.
STORED_DOS = {NAME: 39, LANGUAGE: 8, SEX: 1, LOGIN: 255, URL: 255, CERTIFICATE: MAX_DATA, KDF: 255}
# DO 7F21 occurs once per key, chosen with SELECT DATA: AUT, DEC, SIG (spec 3.4, 7.2.5).
CERTIFICATE_OCCURRENCES = 3


def _atr(historical: bytes) -> bytes:
    """An ATR offering T=1 with ``historical`` bytes; TCK makes the XOR of T0..TCK zero."""
    interface = bytes([0xD0 | len(historical)]) + bytes.fromhex("18FF81B1FE751F03") + historical
    return b"\x3b" + interface + bytes([reduce(xor, interface, 0)])


ATR = _atr(HISTORICAL_BYTES)


class SimulatorError(HanpyoError):
    """Misuse of the card simulator: a bad card file, a busy reader, an unknown card."""

    user_message = (
        "카드 시뮬레이터를 사용할 수 없습니다. 설정을 확인해 주세요.",
        "The card simulator cannot do that. Please check its setup.",
    )


class CardFileError(SimulatorError):
    """A card file that is missing, unreadable or not in the card file format."""


class Sw(enum.IntEnum):
    """The status words this card answers with."""

    OK = 0x9000
    TERMINATED = 0x6285
    WRONG_LENGTH = 0x6700
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTHENTICATION_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    INCORRECT_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_P1_P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


class CardRefusal(Exception):
    """A command the card answers with status word ``sw`` and no data."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"status {sw:04X}")
        self.sw = sw


class WrongPinReply(enum.Enum):
    """How a card reports a wrong PIN: tokens disagree, and the kiosk must cope with each."""

    RETRIES_LEFT = "63Cx"
    SECURITY_STATUS = "6982"
    BLOCKED = "6983"


class Secret(enum.Enum):
    PW1 = "pw1"
    RC = "rc"  # the resetting code, which unblocks PW1 without the admin PIN
    PW3 = "pw3"


MIN_PIN = {Secret.PW1: 6, Secret.RC: 8, Secret.PW3: 8}


class Access(enum.IntEnum):
    """What a successful VERIFY grants, named by its P2."""

    PW1_SIGN = 0x81
    PW1 = 0x82
    PW3 = 0x83


class KeyRef(enum.Enum):
    """A key slot, named by its control reference template tag."""

    SIG = 0xB6
    DEC = 0xB8
    AUT = 0xA4

    @property
    def number(self) -> int:
        return list(KeyRef).index(self) + 1

    @property
    def default_attributes(self) -> bytes:
        return X25519 if self is KeyRef.DEC else ED25519


ORIGIN_NONE, ORIGIN_GENERATED, ORIGIN_IMPORTED = 0, 1, 2  # key information, DO DE


def tlv(tag: int, value: bytes) -> bytes:
    """BER-TLV with a definite length (one, two or three bytes)."""
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else b"\x82" + n.to_bytes(2)
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8)) + length + value


def read_header(buf: bytes, i: int) -> tuple[int, int, int]:
    """The tag and length at ``buf[i]`` and where the value starts; 6A80 if cut short."""
    try:
        tag = buf[i]
        i += 1
        if tag & 0x1F == 0x1F:  # a multi-byte tag: more bytes follow while bit 8 is set
            while True:
                tag, i = tag << 8 | buf[i], i + 1
                if not tag & 0x80:
                    break
        length, i = buf[i], i + 1
        if length & 0x80:
            count = length & 0x7F
            if count not in (1, 2) or i + count > len(buf):
                raise CardRefusal(Sw.INCORRECT_DATA)
            length, i = int.from_bytes(buf[i : i + count]), i + count
    except IndexError as e:
        raise CardRefusal(Sw.INCORRECT_DATA) from e
    return tag, length, i


def parse_tlvs(buf: bytes) -> list[tuple[int, bytes]]:
    """The top-level TLVs of ``buf``, in order; 6A80 if any runs past the end."""
    items, i = [], 0
    while i < len(buf):
        tag, length, i = read_header(buf, i)
        if i + length > len(buf):
            raise CardRefusal(Sw.INCORRECT_DATA)
        items.append((tag, buf[i : i + length]))
        i += length
    return items


def only(buf: bytes, tag: int) -> bytes:
    """The value of ``buf`` when it is exactly one TLV with ``tag``."""
    items = parse_tlvs(buf)
    if len(items) != 1 or items[0][0] != tag:
        raise CardRefusal(Sw.INCORRECT_DATA)
    return items[0][1]


def openpgp_fingerprint(attributes: bytes, public_key: bytes, created: int) -> bytes:
    """The OpenPGP v4 fingerprint GnuPG computes for this key, so ``--card-status`` matches."""
    algorithm, oid = attributes[0], attributes[1:].removesuffix(b"\xff")
    point = (263).to_bytes(2) + b"\x40" + public_key  # an MPI of the 0x40-prefixed native point
    body = b"\x04" + created.to_bytes(4) + bytes([algorithm, len(oid)]) + oid + point
    if algorithm == X25519[0]:
        body += bytes.fromhex("03010807")  # ECDH KDF parameters: SHA-256 and AES-128
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2) + body, usedforsecurity=False).digest()


def supported_attributes(ref: KeyRef, attributes: bytes) -> bool:
    # Only the curves the kiosk needs; FF marks the optional import format byte.
    return attributes.removesuffix(b"\xff") == ref.default_attributes


@dataclass(slots=True)
class KeySlot:
    """One of the card's three keys with its attributes, fingerprints and creation time."""

    attributes: bytes
    private: bytes | None = None
    fingerprint: bytes = bytes(20)
    ca_fingerprint: bytes = bytes(20)
    created: int = 0
    origin: int = ORIGIN_NONE

    def __repr__(self) -> str:  # never print key material
        return f"KeySlot(attributes={self.attributes.hex()}, origin={self.origin})"

    @property
    def is_ed25519(self) -> bool:
        return self.attributes.removesuffix(b"\xff") == ED25519

    def public_key(self) -> bytes:
        if self.private is None:
            raise CardRefusal(Sw.REFERENCED_DATA_NOT_FOUND)
        if self.is_ed25519:
            return bytes(nacl.signing.SigningKey(self.private).verify_key)
        return bytes(nacl.bindings.crypto_scalarmult_base(self.private))

    def install(self, private: bytes, origin: int) -> None:
        """Hold ``private`` from now on, with the fingerprint GnuPG would give it."""
        if len(private) != 32:
            raise CardRefusal(Sw.INCORRECT_DATA)
        self.private, self.origin, self.created = private, origin, int(time.time())
        self.fingerprint = openpgp_fingerprint(self.attributes, self.public_key(), self.created)

    def erase(self) -> None:
        self.private, self.origin, self.created, self.fingerprint = None, ORIGIN_NONE, 0, bytes(20)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": b64e(self.attributes),
            "fingerprint": b64e(self.fingerprint),
            "ca_fingerprint": b64e(self.ca_fingerprint),
            "created": self.created,
            "origin": self.origin,
        }
        if self.private is not None:
            out["private"] = b64e(self.private)
        return out

    @classmethod
    def from_json(cls, r: Reader, ref: KeyRef) -> KeySlot:
        slot = cls(
            attributes=r.binary("attributes"),
            fingerprint=r.binary("fingerprint", length=20),
            ca_fingerprint=r.binary("ca_fingerprint", length=20),
            created=r.integer("created", lo=0, hi=2**32 - 1),
            origin=r.integer("origin", lo=ORIGIN_NONE, hi=ORIGIN_IMPORTED),
        )
        if r.raw("private", optional=True) is not None:
            slot.private = r.binary("private", length=32)
        if not supported_attributes(ref, slot.attributes):
            r.fail("is not a supported algorithm for this key", "attributes")
        r.done()
        return slot


def _blank_keys() -> dict[KeyRef, KeySlot]:
    return {ref: KeySlot(ref.default_attributes) for ref in KeyRef}


@dataclass(slots=True)
class CardState:
    """Everything a card remembers without power: keys, PINs, counters, cardholder data."""

    serial: bytes
    manufacturer: int = TEST_MANUFACTURER
    pins: dict[Secret, bytes] = field(
        default_factory=lambda: {Secret.PW1: b"123456", Secret.RC: b"", Secret.PW3: b"12345678"}
    )
    tries: dict[Secret, int] = field(
        default_factory=lambda: {Secret.PW1: MAX_TRIES, Secret.RC: 0, Secret.PW3: MAX_TRIES}
    )
    pw1_for_several_signatures: bool = False
    signature_counter: int = 0
    dos: dict[int, bytes] = field(default_factory=dict)
    keys: dict[KeyRef, KeySlot] = field(default_factory=_blank_keys)
    wrong_pin_reply: WrongPinReply = WrongPinReply.RETRIES_LEFT
    terminated: bool = False
    certificates: list[bytes] = field(default_factory=lambda: [b""] * CERTIFICATE_OCCURRENCES)

    def __repr__(self) -> str:  # never print PINs or keys
        return f"CardState(serial={self.serial.hex().upper()})"

    @property
    def aid(self) -> bytes:
        return RID_PIX + VERSION + self.manufacturer.to_bytes(2) + self.serial + b"\0\0"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CARD_FILE_FORMAT,
            "serial": b64e(self.serial),
            "manufacturer": self.manufacturer,
            "pins": {s.value: b64e(pin) for s, pin in self.pins.items()},
            "tries": {s.value: n for s, n in self.tries.items()},
            "pw1_for_several_signatures": self.pw1_for_several_signatures,
            "signature_counter": self.signature_counter,
            "data_objects": {f"{tag:04X}": b64e(v) for tag, v in sorted(self.dos.items())},
            "keys": {ref.name.lower(): slot.to_json() for ref, slot in self.keys.items()},
            "wrong_pin_reply": self.wrong_pin_reply.value,
            "terminated": self.terminated,
            "certificates": [b64e(c) for c in self.certificates],
        }

    @classmethod
    def from_json(cls, value: Any, path: str = "") -> CardState:
        r = Reader(value, path, CardFileError)
        if r.text("format") != CARD_FILE_FORMAT:
            r.fail(f"is not {CARD_FILE_FORMAT!r}", "format")
        pins, tries, keys = r.obj("pins"), r.obj("tries"), r.obj("keys")
        state = cls(
            serial=r.binary("serial", length=4),
            manufacturer=r.integer("manufacturer", lo=0, hi=0xFFFF),
            pins={s: pins.binary(s.value) for s in Secret},
            tries={s: tries.integer(s.value, lo=0, hi=MAX_TRIES) for s in Secret},
            pw1_for_several_signatures=r.flag("pw1_for_several_signatures", default=False),
            signature_counter=r.integer("signature_counter", lo=0, hi=0xFFFFFF),
            dos=_dos_from_json(r),
            keys={ref: KeySlot.from_json(keys.obj(ref.name.lower()), ref) for ref in KeyRef},
            wrong_pin_reply=r.enum("wrong_pin_reply", WrongPinReply),
            terminated=r.flag("terminated", default=False),
            certificates=_certificates_from_json(r),
        )
        if CERTIFICATE in state.dos:  # a card file from before SELECT DATA: one certificate
            state.certificates[0] = state.dos.pop(CERTIFICATE)
        for reader in (pins, tries, keys, r):
            reader.done()
        return state


def _certificates_from_json(r: Reader) -> list[bytes]:
    items = r.items("certificates", optional=True, max_items=CERTIFICATE_OCCURRENCES)
    certificates = [b""] * CERTIFICATE_OCCURRENCES
    for i, item in enumerate(items):
        try:
            certificates[i] = b64d(item, name=f"certificates[{i}]")
        except (EncodingError, TypeError) as e:
            r.fail(str(e), "certificates")
        if len(certificates[i]) > MAX_DATA:
            r.fail(f"certificate {i} is longer than {MAX_DATA} bytes", "certificates")
    return certificates


def _dos_from_json(r: Reader) -> dict[int, bytes]:
    raw = r.raw("data_objects")
    if not isinstance(raw, dict):
        r.fail("must be an object", "data_objects")
    dos = {}
    for key, value in raw.items():
        tag = int(key, 16) if len(key) == 4 and all(c in "0123456789ABCDEF" for c in key) else -1
        if tag not in STORED_DOS:
            r.fail(f"{key!r} is not a data object a card file may hold", "data_objects")
        try:
            dos[tag] = b64d(value, name=f"data_objects.{key}")
        except EncodingError as e:
            r.fail(str(e), "data_objects")
        if len(dos[tag]) > STORED_DOS[tag]:
            r.fail(f"{key} is longer than {STORED_DOS[tag]} bytes", "data_objects")
    return dos


def personalised_state(
    seed: bytes,
    name: str,
    pin: str,
    admin_pin: str,
    serial: bytes | None,
    wrong_pin_reply: WrongPinReply,
    kdf: bool,
) -> CardState:
    """A card holding the Ed25519 authentication key of ``seed`` (VirtualCard.with_auth_key)."""
    try:
        public_key = SigningKey(seed).public_key
    except EncodingError as e:
        raise SimulatorError(str(e)) from e
    state = CardState(serial or hashlib.sha256(public_key).digest()[:4])
    if len(state.serial) != 4:
        raise SimulatorError(f"a card serial is 4 bytes, found {len(state.serial)}")
    for secret, value in ((Secret.PW1, pin), (Secret.PW3, admin_pin)):
        if not MIN_PIN[secret] <= len(value.encode()) <= MAX_PIN:
            raise SimulatorError(f"the {secret.value} must be {MIN_PIN[secret]} to 127 bytes")
        state.pins[secret] = value.encode()
    if len(name.encode()) > STORED_DOS[NAME]:
        raise SimulatorError(f"a cardholder name is at most 39 bytes, {name!r} is longer")
    state.dos[NAME] = name.encode()
    state.wrong_pin_reply = wrong_pin_reply
    if kdf:
        state.dos[KDF] = KDF_DO
    state.keys[KeyRef.AUT].install(seed, ORIGIN_IMPORTED)
    return state
