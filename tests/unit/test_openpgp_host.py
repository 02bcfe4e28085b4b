"""The kiosk's side of the OpenPGP card protocol, against scripted cards that misbehave."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.errors import HanpyoError
from kiosk.hardware.card.auth import authenticate, identify
from kiosk.hardware.card.errors import (
    ApduError,
    AuthenticationFailedError,
    CardBlockedError,
    CardError,
    MalformedResponseError,
    NotEnrolledError,
    NotOpenPGPCardError,
    UnsupportedCardError,
    WrongPinError,
)
from kiosk.hardware.card.openpgp import (
    ED25519_OID,
    Aid,
    ApplicationData,
    KeyRef,
    OpenPGPCard,
    PinStatus,
    _ed25519_point,
)
from kiosk.hardware.card.tlv import encode_tlv, find, parse_tlvs
from testkit.elections import SyntheticElection

AID = bytes.fromhex("D2760001240103040000123456780000")
ED25519_ATTR = bytes([0x16]) + ED25519_OID


def app_data(
    c3: bytes = ED25519_ATTR, tries: int = 3, kdf: bytes | None = None, wrap_73: bool = True
) -> bytes:
    c4 = bytes([0x00, 0x7F, 0x7F, 0x7F, tries, 0x00, 0x03])
    inner = encode_tlv(0xC1, ED25519_ATTR) + encode_tlv(0xC3, c3) + encode_tlv(0xC4, c4)
    body = encode_tlv(0x4F, AID) + (encode_tlv(0x73, inner) if wrap_73 else inner)
    if kdf is not None:
        body += encode_tlv(0xF9, kdf)
    return encode_tlv(0x6E, body)


def public_key_response(point: bytes) -> bytes:
    return encode_tlv(0x7F49, encode_tlv(0x86, point))


class ScriptedCard:
    """A card whose answers are a function of the APDU; records what it was sent."""

    def __init__(self, answer: Callable[[bytes], tuple[bytes, int]]) -> None:
        self.answer = answer
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        return self.answer(apdu)


def honest_card(
    key: SigningKey,
    pin: str = "123456",
    tries: list[int] | None = None,
    wrong_sw: int = 0x63C0,
    data: bytes | None = None,
    kdf: bytes | None = None,
) -> ScriptedCard:
    """A well-behaved card; ``tries`` is a one-item list so the test can watch it count."""
    tries = tries if tries is not None else [3]
    verified = [False]

    def answer(apdu: bytes) -> tuple[bytes, int]:
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        payload = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4:
            return b"", 0x9000
        if ins == 0xCA and (p1, p2) == (0x00, 0x6E):
            return data if data is not None else app_data(tries=tries[0]), 0x9000
        if ins == 0xCA and (p1, p2) == (0x00, 0xF9):
            return (encode_tlv(0xF9, kdf), 0x9000) if kdf is not None else (b"", 0x6A88)
        if ins == 0xCA and (p1, p2) == (0x00, 0x65):
            return encode_tlv(0x65, encode_tlv(0x5B, b"Hong<<Gildong")), 0x9000
        if ins == 0xCA and (p1, p2) == (0x00, 0xC4):
            return bytes([0, 0x7F, 0x7F, 0x7F, tries[0], 0, 3]), 0x9000
        if ins == 0x47 and p1 == 0x81:
            return public_key_response(key.public_key), 0x9000
        if ins == 0x20:
            if tries[0] == 0:
                return b"", 0x6983
            if payload.decode() == pin:
                tries[0], verified[0] = 3, True
                return b"", 0x9000
            tries[0] -= 1
            return b"", wrong_sw | (tries[0] if wrong_sw == 0x63C0 else 0)
        if ins == 0x88:
            if not verified[0]:
                return b"", 0x6982
            return bytes(key.sign(Domain.AUTH, payload[len(Domain.AUTH.value) :])), 0x9000
        return b"", 0x6D00

    return ScriptedCard(answer)


# -- TLV -----------------------------------------------------------------------------------


def test_tlv_reads_nested_and_multibyte_tags_and_long_lengths() -> None:
    long_value = bytes(300)
    data = encode_tlv(
        0x6E, encode_tlv(0x7F49, encode_tlv(0x86, b"\x01\x02")) + encode_tlv(0x5F52, long_value)
    )
    assert find(data, 0x6E, 0x7F49, 0x86) == b"\x01\x02"
    assert find(data, 0x6E, 0x5F52) == long_value
    assert find(data, 0x6E, 0xC4) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"\x4f",
        b"\x4f\x05\x01",
        b"\x5f",
        b"\x5f\x52",
        b"\x4f\x81",
        b"\x4f\x84\x00\x00\x00\x01",
        b"\x4f\x80",
        b"\x7f\xff\xff\xff\x7f\x00",
    ],
)
def test_truncated_or_malformed_tlv_is_a_malformed_response(raw: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        parse_tlvs(raw)


def test_a_primitive_object_cannot_be_opened_as_a_template() -> None:
    with pytest.raises(MalformedResponseError):
        find(encode_tlv(0x4F, AID), 0x4F, 0x01)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_no_response_bytes_make_the_parsers_raise_anything_but_card_errors(raw: bytes) -> None:
    for parse in (
        parse_tlvs,
        ApplicationData.parse,
        PinStatus.parse,
        Aid.parse,
        _ed25519_point,
        lambda r: find(r, 0x6E, 0x73, 0xC4),
    ):
        with contextlib.suppress(CardError):
            parse(raw)


@settings(max_examples=300)
@given(st.integers(0, 200), st.integers(0, 255))
def test_damaged_application_data_is_a_card_error(cut: int, flip: int) -> None:
    raw = bytearray(app_data())
    if cut < len(raw):
        raw[cut] ^= flip
    for data in (bytes(raw), bytes(raw[:cut])):
        with contextlib.suppress(CardError):
            ApplicationData.parse(data)


# -- parsed objects ------------------------------------------------------------------------


def test_application_data_gives_serial_version_key_type_and_tries() -> None:
    for wrapped in (True, False):
        data = ApplicationData.parse(app_data(tries=2, wrap_73=wrapped))
        assert data.aid.serial == "12345678" and data.aid.version == (3, 4)
        assert data.auth_algorithm.is_ed25519 and not data.has_kdf
        assert data.pin_status.pw1_tries == 2


def test_kdf_none_is_fine_but_an_active_kdf_is_reported() -> None:
    assert not ApplicationData.parse(app_data(kdf=encode_tlv(0x81, b"\x00"))).has_kdf
    assert ApplicationData.parse(app_data(kdf=encode_tlv(0x81, b"\x03"))).has_kdf


def test_public_key_accepts_the_0x40_prefix_and_refuses_other_sizes() -> None:
    key = bytes(range(32))
    assert _ed25519_point(public_key_response(key)) == key
    assert _ed25519_point(public_key_response(b"\x40" + key)) == key
    with pytest.raises(UnsupportedCardError):
        _ed25519_point(public_key_response(bytes(65)))
    with pytest.raises(UnsupportedCardError):
        _ed25519_point(encode_tlv(0x7F49, encode_tlv(0x81, bytes(256))))  # an RSA modulus


# -- APDU plumbing -------------------------------------------------------------------------


def test_get_response_chaining_collects_the_whole_answer() -> None:
    whole = app_data()
    parts = [whole[:100], whole[100:]]

    def answer(apdu: bytes) -> tuple[bytes, int]:
        if apdu[1] == 0xCA:
            return parts[0], 0x6100 | len(parts[1])
        assert apdu[:4] == bytes([0x00, 0xC0, 0x00, 0x00])
        return parts[1], 0x9000

    card = OpenPGPCard(ScriptedCard(answer))
    assert card.application_data().aid.serial == "12345678"


def test_a_card_that_never_stops_saying_more_data_is_refused() -> None:
    card = OpenPGPCard(ScriptedCard(lambda apdu: (b"x", 0x6110)))
    with pytest.raises(MalformedResponseError, match="never finished"):
        card.get_data(0x6E)


def test_long_commands_are_chained() -> None:
    card = ScriptedCard(lambda apdu: (b"", 0x9000))
    OpenPGPCard(card).put_data(0x5B, bytes(600))
    assert [apdu[0] for apdu in card.sent] == [0x10, 0x10, 0x00]
    assert sum(apdu[4] for apdu in card.sent) == 600


def test_select_failure_means_not_an_openpgp_card() -> None:
    with pytest.raises(NotOpenPGPCardError):
        OpenPGPCard(ScriptedCard(lambda apdu: (b"", 0x6A82))).select()


def test_an_unexpected_status_word_names_the_command() -> None:
    with pytest.raises(ApduError, match="GET DATA 006E failed with status 6D00") as e:
        OpenPGPCard(ScriptedCard(lambda apdu: (b"", 0x6D00))).get_data(0x6E)
    assert e.value.sw == 0x6D00


# -- PINs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong_sw", [0x63C0, 0x6982, 0x6983])
def test_wrong_pin_counts_down_to_blocked_whatever_status_word_the_token_uses(
    wrong_sw: int,
) -> None:
    key, tries = SigningKey.generate(), [3]
    card = OpenPGPCard(honest_card(key, tries=tries, wrong_sw=wrong_sw))
    with pytest.raises(WrongPinError) as first:
        card.verify_pin("000000")
    assert first.value.tries_left == 2 and "2번" in first.value.user_message[0]
    with pytest.raises(WrongPinError) as second:
        card.verify_pin("000000")
    assert second.value.tries_left == 1 and "1 more try" in second.value.user_message[1]
    with pytest.raises(CardBlockedError):
        card.verify_pin("000000")
    with pytest.raises(CardBlockedError):
        card.verify_pin("123456")  # even the right PIN, once blocked


def test_an_empty_pin_reports_the_tries_without_spending_one() -> None:
    tries = [3]
    card = OpenPGPCard(honest_card(SigningKey.generate(), tries=tries))
    with pytest.raises(WrongPinError):
        card.verify_pin("")
    assert tries == [3]


# -- authentication ------------------------------------------------------------------------


def test_an_enrolled_voter_card_with_the_right_pin_is_authenticated(
    election: SyntheticElection,
) -> None:
    key = election.voter_keys[0]
    holder = authenticate(OpenPGPCard(honest_card(key)), "123456", election.package, "00" * 16)
    assert holder.voter is not None and holder.staff is None
    assert holder.voter.card_key == key.public_key and len(holder.voter.voter_id) == 16


def test_a_staff_card_is_authenticated_as_staff(election: SyntheticElection) -> None:
    holder = authenticate(
        OpenPGPCard(honest_card(election.staff_keys[0])), "123456", election.package, "00" * 16
    )
    assert holder.staff is not None and holder.voter is None


def test_an_unenrolled_card_is_refused_before_any_pin_is_tried(election: SyntheticElection) -> None:
    card = honest_card(SigningKey.generate())
    with pytest.raises(NotEnrolledError) as refused:
        identify(OpenPGPCard(card), election.package)
    assert "명부" in refused.value.user_message[0]
    assert not any(apdu[1] == 0x20 for apdu in card.sent)


def test_a_card_whose_signature_does_not_match_its_key_is_refused(
    election: SyntheticElection,
) -> None:
    enrolled, impostor = election.voter_keys[0], SigningKey.generate()
    card = honest_card(impostor)
    inner = card.answer

    def lying(apdu: bytes) -> tuple[bytes, int]:  # shows the enrolled key, signs with another
        if apdu[1] == 0x47:
            return public_key_response(enrolled.public_key), 0x9000
        return inner(apdu)

    with pytest.raises(AuthenticationFailedError):
        authenticate(OpenPGPCard(ScriptedCard(lying)), "123456", election.package, "00" * 16)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (app_data(c3=bytes([0x01, 0x08, 0x00, 0x00, 0x20, 0x00])), UnsupportedCardError),  # RSA
        (app_data(kdf=encode_tlv(0x81, b"\x03")), UnsupportedCardError),
        (app_data(tries=0), CardBlockedError),
        (None, UnsupportedCardError),  # a KDF-DO served by GET DATA 00F9, as cards do
    ],
)
def test_unusable_cards_get_one_clear_reason(
    election: SyntheticElection, data: bytes | None, error: type[HanpyoError]
) -> None:
    kdf = encode_tlv(0x81, b"\x03") if data is None else None
    card = honest_card(election.voter_keys[0], data=data, kdf=kdf)
    with pytest.raises(error) as refused:
        identify(OpenPGPCard(card), election.package)
    assert refused.value.user_message[0] and refused.value.user_message[1]


def test_the_challenge_is_fresh_and_bound_to_election_and_kiosk(
    election: SyntheticElection,
) -> None:
    key = election.voter_keys[1]
    card = honest_card(key)
    for kiosk in ("11" * 16, "22" * 16):
        authenticate(OpenPGPCard(card), "123456", election.package, kiosk)
    challenges = [apdu[5:-1] for apdu in card.sent if apdu[1] == 0x88]
    assert len(set(challenges)) == 2
    for challenge, kiosk in zip(challenges, ("11" * 16, "22" * 16), strict=True):
        assert challenge.startswith(b"hanpyo/auth/v1\n" + election.package.id.encode())
        assert bytes.fromhex(kiosk) in challenge
    assert KeyRef.AUT.value in next(apdu for apdu in card.sent if apdu[1] == 0x47)


def test_the_cardholder_name_is_read_from_inside_its_65_template() -> None:
    card = OpenPGPCard(honest_card(SigningKey.generate()))
    assert card.cardholder_name() == "Hong Gildong"


# -- enrolment: taking away every way to a new user PIN ----------------------------------------
def pin_counters_card(
    pw3: list[int], rc: list[int], counts_down: bool = True, deletes_rc: bool = True
) -> ScriptedCard:
    """A card that only answers C4, VERIFY PW3 (every PIN wrong) and PUT DATA D3."""

    def answer(apdu: bytes) -> tuple[bytes, int]:
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if ins == 0xCA and (p1, p2) == (0x00, 0xC4):
            return bytes([0, 0x7F, 0x7F, 0x7F, 3, rc[0], pw3[0]]), 0x9000
        if ins == 0x20 and p2 == 0x83:
            if pw3[0] == 0:
                return b"", 0x6983
            pw3[0] -= 1 if counts_down else 0
            return b"", 0x6982  # a token that does not say how many tries are left
        if ins == 0xDA and (p1, p2) == (0x00, 0xD3) and len(apdu) == 4:
            rc[0] = 0 if deletes_rc else rc[0]
            return b"", 0x9000
        return b"", 0x6D00

    return ScriptedCard(answer)


def test_blocking_the_admin_pin_tries_wrong_pins_until_c4_says_none_are_left() -> None:
    pw3 = [3]
    card = pin_counters_card(pw3, [0])
    OpenPGPCard(card).block_admin_pin("12345678")
    verifies = [apdu for apdu in card.sent if apdu[1] == 0x20]
    assert pw3 == [0] and len(verifies) == 3
    assert all(apdu[3] == 0x83 and b"12345678" not in apdu for apdu in verifies)


def test_a_card_that_does_not_count_admin_pin_tries_is_reported_not_trusted() -> None:
    card = pin_counters_card([3], [0], counts_down=False)
    with pytest.raises(CardError, match="still allows 3 admin PIN tries"):
        OpenPGPCard(card).block_admin_pin("12345678")


def test_a_resetting_code_is_deleted_and_a_card_that_keeps_it_is_refused() -> None:
    rc = [3]
    card = pin_counters_card([3], rc)
    OpenPGPCard(card).remove_resetting_code()
    assert rc == [0]
    none_set = pin_counters_card([3], [0])
    OpenPGPCard(none_set).remove_resetting_code()
    assert not any(apdu[1] == 0xDA for apdu in none_set.sent)  # nothing to delete
    with pytest.raises(CardError, match="kept its resetting code"):
        OpenPGPCard(pin_counters_card([3], [3], deletes_rc=False)).remove_resetting_code()
