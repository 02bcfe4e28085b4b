"""The virtual card's data objects: what GET DATA reads and how PUT DATA writes the key DOs."""

from __future__ import annotations

from kiosk.hardware.sim.card_state import (
    CERTIFICATE,
    CERTIFICATE_OCCURRENCES,
    HISTORICAL_BYTES,
    KDF,
    LANGUAGE,
    LOGIN,
    MAX_DATA,
    MAX_PIN,
    NAME,
    SEX,
    URL,
    CardRefusal,
    CardState,
    KeyRef,
    Secret,
    Sw,
    parse_tlvs,
    supported_attributes,
    tlv,
)


def read_data_objects(s: CardState, occurrence: int = 0) -> dict[int, bytes]:
    """Every DO GET DATA can read, by tag; constructed ones carry their own tag.

    ``occurrence`` is the cardholder certificate SELECT DATA chose (0 after SELECT).
    """
    keys = list(s.keys.values())
    dos = {
        0x004F: s.aid,
        0x5F52: HISTORICAL_BYTES,
        0x00C0: _extended_capabilities(s),
        0x00C4: bytes([s.pw1_for_several_signatures, MAX_PIN, MAX_PIN, MAX_PIN])
        + bytes(s.tries[secret] for secret in Secret),
        0x00C5: b"".join(k.fingerprint for k in keys),
        0x00C6: b"".join(k.ca_fingerprint for k in keys),
        0x00CD: b"".join(k.created.to_bytes(4) for k in keys),
        0x00DE: b"".join(bytes([ref.number, k.origin]) for ref, k in s.keys.items()),
        0x0093: s.signature_counter.to_bytes(3),
        0x005B: s.dos.get(NAME, b""),
        0x5F2D: s.dos.get(LANGUAGE, b""),
        0x5F35: s.dos.get(SEX, b"9"),  # ISO 5218 "not applicable"
        0x005E: s.dos.get(LOGIN, b""),
        0x5F50: s.dos.get(URL, b""),
        CERTIFICATE: s.certificates[occurrence],
        0x7F66: tlv(0x7F66, tlv(0x02, MAX_DATA.to_bytes(2)) * 2),
    }
    dos |= {0x00C0 + ref.number: k.attributes for ref, k in s.keys.items()}
    # Algorithm information (DO FA, spec 3.4): the attributes PUT DATA C1-C3 accepts,
    # which GnuPG and OpenSC read from a card announcing changeable attributes.
    dos[0x00FA] = tlv(
        0xFA, b"".join(tlv(0xC0 + ref.number, ref.default_attributes) for ref in s.keys)
    )
    if KDF in s.dos:
        dos[0x00F9] = s.dos[KDF]  # returned as stored: GnuPG expects no F9 wrapper
    dos[0x0065] = tlv(0x65, b"".join(tlv(t, dos[t]) for t in (NAME, LANGUAGE, SEX)))
    dos[0x007A] = tlv(0x7A, tlv(0x93, dos[0x0093]))
    discretionary = (0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xCD, 0xDE)
    dos[0x0073] = tlv(0x73, b"".join(tlv(t, dos[t]) for t in discretionary))
    dos[0x006E] = tlv(
        0x6E,
        tlv(0x4F, s.aid) + tlv(0x5F52, HISTORICAL_BYTES) + dos[0x7F66] + dos[0x0073],
    )
    return dos


def _extended_capabilities(s: CardState) -> bytes:
    # GET CHALLENGE, key import, PW status changeable, algorithm attributes changeable,
    # and KDF-DO when one is present; no secure messaging.
    flags = 0x40 | 0x20 | 0x10 | 0x04 | (0x01 if KDF in s.dos else 0)
    return bytes([flags, 0]) + (MAX_DATA.to_bytes(2) * 2) + (255).to_bytes(2) + b"\0\0"


def selected_occurrence(p1: int, p2: int, data: bytes) -> int:
    """Which occurrence of DO 7F21 SELECT DATA chooses (OpenPGP card spec 3.4, section 7.2.5).

    P1 counts occurrences from 0 (the AUT certificate, then DEC, then SIG), P2 is 04 and the
    data is the tag list 60 { 5C { 7F21 } }; 7F21 is the only DO with several occurrences.
    """
    if p2 != 0x04:
        raise CardRefusal(Sw.WRONG_P1_P2)
    items = parse_tlvs(data)
    if len(items) != 1 or items[0][0] != 0x60:
        raise CardRefusal(Sw.INCORRECT_DATA)
    tags = parse_tlvs(items[0][1])
    if len(tags) != 1 or tags[0][0] != 0x5C:
        raise CardRefusal(Sw.INCORRECT_DATA)
    if tags[0][1] != CERTIFICATE.to_bytes(2) or p1 >= CERTIFICATE_OCCURRENCES:
        raise CardRefusal(Sw.REFERENCED_DATA_NOT_FOUND)
    return p1


def set_attributes(state: CardState, ref: KeyRef, attributes: bytes) -> None:
    if not supported_attributes(ref, attributes):
        raise CardRefusal(Sw.INCORRECT_DATA)
    slot = state.keys[ref]
    if attributes != slot.attributes:  # a key of another kind no longer fits the slot
        slot.attributes = attributes
        slot.erase()


def set_fingerprint(state: CardState, ref: KeyRef, value: bytes) -> None:
    state.keys[ref].fingerprint = _exactly(value, 20)


def set_ca_fingerprint(state: CardState, ref: KeyRef, value: bytes) -> None:
    state.keys[ref].ca_fingerprint = _exactly(value, 20)


def set_created(state: CardState, ref: KeyRef, value: bytes) -> None:
    state.keys[ref].created = int.from_bytes(_exactly(value, 4))


def _exactly(value: bytes, length: int) -> bytes:
    if len(value) != length:
        raise CardRefusal(Sw.WRONG_LENGTH)
    return value
