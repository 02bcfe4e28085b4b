"""The OpenPGP card protocol (specification 3.4) over any CardConnection; no pyscard here."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import Protocol

from kiosk.hardware.card.errors import (
    ApduError,
    CardBlockedError,
    CardError,
    MalformedResponseError,
    NotOpenPGPCardError,
    UnsupportedCardError,
    WrongPinError,
)
from kiosk.hardware.card.tlv import encode_tlv, find

OPENPGP_AID = bytes.fromhex("D27600012401")
ED25519_OID = bytes.fromhex("2B06010401DA470F01")
EDDSA = 0x16
SW_OK = 0x9000
MAX_GET_RESPONSE = 64  # a card that keeps saying "more data" past this is faulty
CHUNK = 255


class CardConnection(Protocol):
    """One card in one reader: send an APDU, get the response data and the status word."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...


class KeyRef(enum.Enum):
    """Control reference templates naming the card's three keys."""

    SIG = bytes.fromhex("B600")
    DEC = bytes.fromhex("B800")
    AUT = bytes.fromhex("A400")


class Pin(enum.IntEnum):
    PW1_SIGN = 0x81
    PW1 = 0x82  # the user PIN for everything but signing: what the kiosk verifies
    PW3 = 0x83  # the admin PIN, for enrolment


@dataclass(frozen=True, slots=True)
class Aid:
    version: tuple[int, int]
    manufacturer: int
    serial: str

    @classmethod
    def parse(cls, aid: bytes) -> Aid:
        if len(aid) != 16 or not aid.startswith(OPENPGP_AID):
            raise MalformedResponseError(f"AID {aid.hex()} is not an OpenPGP application id")
        return cls((aid[6], aid[7]), int.from_bytes(aid[8:10], "big"), aid[10:14].hex().upper())


@dataclass(frozen=True, slots=True)
class PinStatus:
    """DO C4: maximum PIN lengths and the tries left for PW1, the resetting code and PW3."""

    pw1_max: int
    pw3_max: int
    pw1_tries: int
    rc_tries: int
    pw3_tries: int

    @classmethod
    def parse(cls, c4: bytes) -> PinStatus:
        if len(c4) < 7:
            raise MalformedResponseError(f"PW status bytes (C4) are {len(c4)} bytes, not 7")
        return cls(c4[1] & 0x7F, c4[3] & 0x7F, c4[4], c4[5], c4[6])


@dataclass(frozen=True, slots=True)
class AlgorithmAttributes:
    algorithm: int
    oid: bytes

    @classmethod
    def parse(cls, data: bytes) -> AlgorithmAttributes:
        if not data:
            raise MalformedResponseError("algorithm attributes are empty")
        oid = data[1:]
        if data[0] in (0x12, 0x13, EDDSA) and oid.endswith(b"\xff"):
            oid = oid[:-1]  # trailing FF: "import with public key" flag
        return cls(data[0], oid)

    @property
    def is_ed25519(self) -> bool:
        return self.algorithm == EDDSA and self.oid == ED25519_OID


@dataclass(frozen=True, slots=True)
class ApplicationData:
    """What DO 6E tells about the card: identity, key types and PIN state."""

    aid: Aid
    auth_algorithm: AlgorithmAttributes
    pin_status: PinStatus
    has_kdf: bool

    @classmethod
    def parse(cls, data: bytes) -> ApplicationData:
        outer = find(data, 0x6E)
        body = outer if outer is not None else data  # some cards omit the 6E wrapper
        aid = find(body, 0x4F)
        # Version 3 cards group C0..CD in a 73 template; version 2 cards may not.
        discretionary = find(body, 0x73)
        holder = discretionary if discretionary is not None else body
        c3, c4 = find(holder, 0xC3), find(holder, 0xC4)
        if aid is None or c3 is None or c4 is None:
            raise MalformedResponseError("application data lacks the AID, C3 or C4")
        kdf = find(body, 0xF9)
        return cls(
            Aid.parse(aid),
            AlgorithmAttributes.parse(c3),
            PinStatus.parse(c4),
            kdf is not None and _kdf_enabled(kdf),
        )


def _kdf_enabled(kdf_do: bytes) -> bool:
    algorithm = find(kdf_do, 0x81)
    return algorithm is not None and algorithm != b"\x00"


class OpenPGPCard:
    """The OpenPGP application on one card, spoken to through ``connection``."""

    def __init__(self, connection: CardConnection) -> None:
        self._conn = connection

    # -- APDU plumbing -----------------------------------------------------------------------
    def send(
        self, name: str, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: bool = True
    ) -> tuple[bytes, int]:
        """Send one command, chaining long data and collecting 61xx continuations."""
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            apdu = bytes([cla | (0 if last else 0x10), ins, p1, p2])
            if chunk:
                apdu += bytes([len(chunk)]) + chunk
            if last and le:
                apdu += b"\x00"
            response, sw = self._conn.transmit(apdu)
            if not last and sw != SW_OK:
                return response, sw
        return self._collect(name, response, sw)

    def _collect(self, name: str, response: bytes, sw: int) -> tuple[bytes, int]:
        out = bytearray(response)
        for _ in range(MAX_GET_RESPONSE):
            if sw >> 8 != 0x61:
                return bytes(out), sw
            more, sw = self._conn.transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
            out += more
        raise MalformedResponseError(f"{name}: the card never finished its answer")

    def _ok(
        self, name: str, ins: int, p1: int, p2: int, data: bytes = b"", le: bool = True
    ) -> bytes:
        response, sw = self.send(name, 0x00, ins, p1, p2, data, le)
        if sw != SW_OK:
            raise ApduError(name, sw)
        return response

    # -- reading -----------------------------------------------------------------------------
    def select(self) -> None:
        _, sw = self.send("SELECT", 0x00, 0xA4, 0x04, 0x00, OPENPGP_AID)
        if sw != SW_OK:
            raise NotOpenPGPCardError(f"the card has no OpenPGP application (status {sw:04X})")

    def get_data(self, tag: int) -> bytes:
        return self._ok(f"GET DATA {tag:04X}", 0xCA, tag >> 8, tag & 0xFF)

    def application_data(self) -> ApplicationData:
        return ApplicationData.parse(self.get_data(0x6E))

    def kdf_enabled(self) -> bool:
        """True when the card hashes PINs through a KDF-DO (DO F9), which Hanpyo does not do.

        Cards before version 3.3 have no such object and answer with an error status.
        """
        response, sw = self.send("GET DATA 00F9", 0x00, 0xCA, 0x00, 0xF9)
        if sw != SW_OK or not response:
            return False
        body = find(response, 0xF9)
        return _kdf_enabled(body if body is not None else response)

    def pin_status(self) -> PinStatus:
        return PinStatus.parse(self.get_data(0xC4))

    def cardholder_name(self) -> str:
        data = self.get_data(0x65)
        name = find(data, 0x65, 0x5B) if find(data, 0x65) is not None else find(data, 0x5B)
        # ISO 7816 names use "<<" between surname and given names and "<" for spaces.
        return (name or b"").decode("latin-1").replace("<<", " ").replace("<", " ").strip()

    def read_public_key(self, key: KeyRef) -> bytes:
        """The public key in ``key``'s slot: GENERATE ASYMMETRIC KEY PAIR in read mode (P1=81)."""
        response = self._ok("READ PUBLIC KEY", 0x47, 0x81, 0x00, key.value)
        return _ed25519_point(response)

    # -- proving -----------------------------------------------------------------------------
    def verify_pin(self, pin: str, which: Pin = Pin.PW1) -> None:
        """VERIFY the PIN. On failure, re-read C4: tokens disagree on the status word."""
        encoded = pin.encode("utf-8")
        if not encoded:
            raise WrongPinError(self.pin_status().pw1_tries)
        _, sw = self.send("VERIFY", 0x00, 0x20, 0x00, which, encoded, le=False)
        if sw == SW_OK:
            return
        if sw in (0x6982, 0x6983) or sw >> 4 == 0x63C or sw == 0x6A80 or sw == 0x6700:
            status = self.pin_status()
            tries = status.pw3_tries if which is Pin.PW3 else status.pw1_tries
            if tries == 0:
                raise CardBlockedError(f"the {which.name} PIN is blocked (status {sw:04X})")
            raise WrongPinError(tries)
        raise ApduError("VERIFY", sw)

    def internal_authenticate(self, challenge: bytes) -> bytes:
        """Sign ``challenge`` with the card's authentication key (needs PW1 verified)."""
        if len(challenge) > CHUNK:
            raise ValueError("challenge too long for one INTERNAL AUTHENTICATE")
        return self._ok("INTERNAL AUTHENTICATE", 0x88, 0x00, 0x00, challenge)

    # -- enrolment ---------------------------------------------------------------------------
    def put_data(self, tag: int, value: bytes) -> None:
        self._ok(f"PUT DATA {tag:04X}", 0xDA, tag >> 8, tag & 0xFF, value, le=False)

    def set_ed25519_for_authentication(self) -> None:
        self.put_data(0xC3, bytes([EDDSA]) + ED25519_OID)

    def generate_key(self, key: KeyRef) -> bytes:
        """Generate a new key pair on the card (needs PW3); return its public key."""
        return _ed25519_point(self._ok("GENERATE", 0x47, 0x80, 0x00, key.value))

    def import_ed25519_key(self, key: KeyRef, seed: bytes) -> None:
        """Import a private key into ``key``'s slot (needs PW3), in the extended header list."""
        if len(seed) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        template = encode_tlv(0x7F48, bytes([0x92, 0x20]))
        body = key.value + template + encode_tlv(0x5F48, seed)
        self._ok("IMPORT KEY", 0xDB, 0x3F, 0xFF, encode_tlv(0x4D, body), le=False)

    def change_pin(self, which: Pin, old: str, new: str) -> None:
        p2 = 0x83 if which is Pin.PW3 else 0x81
        self._ok("CHANGE REFERENCE DATA", 0x24, 0x00, p2, (old + new).encode(), le=False)

    def reset_user_pin(self, new: str) -> None:
        """Set a new user PIN and unblock it (needs PW3 verified)."""
        self._ok("RESET RETRY COUNTER", 0x2C, 0x02, 0x81, new.encode(), le=False)

    def remove_resetting_code(self) -> None:
        """Delete the resetting code (DO D3), which unblocks the user PIN without PW3 (needs PW3).

        A card that never had one shows 0 tries for it in DO C4 and is left alone.
        """
        if self.pin_status().rc_tries == 0:
            return
        self.put_data(0xD3, b"")  # an empty resetting code deletes it
        if (left := self.pin_status().rc_tries) != 0:
            raise CardError(f"the card kept its resetting code ({left} tries left) after PUT DATA")

    def block_admin_pin(self, current: str) -> None:
        """Block PW3 by VERIFYing a wrong admin PIN until DO C4 shows no tries left.

        The status words of wrong tries differ between tokens, so only C4 is trusted.
        """
        wrong = current
        while wrong == current:
            wrong = secrets.token_hex(4)  # 8 characters: a length every card counts down
        for _ in range(self.pin_status().pw3_tries):
            self.send("VERIFY", 0x00, 0x20, 0x00, Pin.PW3, wrong.encode(), le=False)
        if (left := self.pin_status().pw3_tries) != 0:
            raise CardError(f"the card still allows {left} admin PIN tries after blocking it")


def _ed25519_point(response: bytes) -> bytes:
    template = find(response, 0x7F49)
    if template is None:
        raise MalformedResponseError("public key response lacks the 7F49 template")
    point = find(template, 0x86)
    if point is None:
        raise UnsupportedCardError("the key is not an elliptic-curve key (no 86 object)")
    if len(point) == 33 and point[0] == 0x40:
        point = point[1:]  # GnuPG's native-point prefix, sent by some tokens
    if len(point) != 32:
        raise UnsupportedCardError(f"the key is {len(point)} bytes, not an Ed25519 key")
    return point
