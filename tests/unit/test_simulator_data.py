"""The simulated OpenPGP card selects, reads and writes its data objects and counts its PINs as a
real card would, status words included."""

from __future__ import annotations

from functools import reduce
from operator import xor

import pytest

from kiosk.hardware.sim.card_state import (
    ED25519,
    HISTORICAL_BYTES,
    X25519,
    WrongPinReply,
    openpgp_fingerprint,
)
from kiosk.hardware.sim.simulator import (
    VirtualCard,
)
from testkit.apdus import (
    SEED,
    SELECT,
    VERIFY_PW1,
    VERIFY_PW3,
    apdu,
    get_data,
    ok,
    send,
    sw,
    tlvs,
    tries,
)


# -- selecting and reading -------------------------------------------------------------------
def test_select_accepts_the_openpgp_aid_and_refuses_other_applications() -> None:
    card = VirtualCard()
    assert sw(card, "00CA006E00") == 0x6D00  # nothing selected yet
    assert sw(card, "00A4040006D27600012401") == 0x9000  # without Le
    assert sw(card, "00A4040010" + card.state.aid.hex()) == 0x9000  # the full AID
    assert sw(card, "00A4040005A000000308") == 0x6A82  # PIV
    assert sw(card, "00A4000C023F00") == 0x6A82  # by file id: this card has no files
    assert sw(card, "00A4050006D27600012401") == 0x6B00
    assert sw(card, "00A4040106D27600012401") == 0x6B00


def test_the_aid_carries_version_manufacturer_and_serial(card: VirtualCard) -> None:
    aid = get_data(card, 0x004F)
    assert aid[:6] == bytes.fromhex("D27600012401") and aid[6:8] == b"\x03\x04"
    assert aid[8:10] == b"\xff\xff" and aid[10:14].hex().upper() == card.serial
    assert len(aid) == 16


def test_application_related_data_holds_what_gnupg_and_the_kiosk_read(card: VirtualCard) -> None:
    outer = tlvs(get_data(card, 0x006E))
    inner = tlvs(outer[0x6E])
    assert inner[0x4F] == card.state.aid and inner[0x5F52] == HISTORICAL_BYTES
    assert 0x7F66 in inner
    discretionary = tlvs(inner[0x73])
    assert discretionary[0xC1] == ED25519 and discretionary[0xC3] == ED25519
    assert discretionary[0xC2] == X25519
    assert discretionary[0xC4] == bytes.fromhex("007F7F7F030003")
    assert len(discretionary[0xC5]) == len(discretionary[0xC6]) == 60
    assert len(discretionary[0xCD]) == 12
    assert discretionary[0xC5][40:] != bytes(20)  # the authentication key's fingerprint
    assert discretionary[0xC0][0] & 0x20  # key import


def test_every_readable_data_object(card: VirtualCard) -> None:
    assert tlvs(tlvs(get_data(card, 0x0065))[0x65]) == {
        0x5B: b"Hong Gildong",
        0x5F2D: b"",
        0x5F35: b"9",
    }
    assert get_data(card, 0x007A) == bytes.fromhex("7A05 9303 000000")
    assert get_data(card, 0x5F52) == HISTORICAL_BYTES
    assert get_data(card, 0x7F66) == bytes.fromhex("7F6608 02020800 02020800")
    for empty in (0x005E, 0x5F50, 0x7F21):
        assert get_data(card, empty) == b""
    assert get_data(card, 0x00C3) == ED25519
    assert len(get_data(card, 0x00C0)) == 10
    assert sw(card, "00CA00F900") == 0x6A88  # no KDF-DO
    assert sw(card, "00CA010100") == 0x6A88  # no private DOs


def test_a_kdf_card_reports_its_kdf_do() -> None:
    card = VirtualCard.with_auth_key(SEED, "K", kdf=True)
    ok(card, SELECT)
    kdf = get_data(card, 0x00F9)
    assert kdf[:3] == bytes.fromhex("810103")  # iterated and salted S2K
    assert get_data(card, 0x00C0)[0] & 0x01


def test_fingerprints_are_the_ones_gnupg_computes() -> None:
    # An Ed25519 key GnuPG 2.2.40 generated, with the fingerprint it printed.
    point = bytes.fromhex("2d8fbf278cbc57230e884ebf6e8d3edb3981a6696e0e5950fd82ea5d28c6955a")
    expected = "90E150772E589BD8DE581F7DB7CEDB107312F71F"
    assert openpgp_fingerprint(ED25519, point, 1795377745).hex().upper() == expected


def test_the_atr_is_well_formed_and_carries_the_historical_bytes() -> None:
    atr = VirtualCard().atr
    assert atr[0] == 0x3B and reduce(xor, atr[1:], 0) == 0  # TCK checks out
    assert atr[1] & 0x0F == len(HISTORICAL_BYTES) and atr[-11:-1] == HISTORICAL_BYTES


# -- PINs ------------------------------------------------------------------------------------
def test_a_wrong_pin_counts_down_and_blocks(card: VirtualCard) -> None:
    assert sw(card, "00200082") == 0x63C3  # no data: how many tries are left
    wrong = "0020008206" + b"654321".hex()
    assert [sw(card, wrong) for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert tries(card) == (0, 0, 3)
    assert sw(card, VERIFY_PW1) == 0x6983  # blocked: even the right PIN
    assert sw(card, "00200082") == 0x6983
    assert sw(card, "00880000" + "04" + "01020304") == 0x6982


def test_a_right_pin_resets_the_counter_and_is_remembered(card: VirtualCard) -> None:
    assert sw(card, "0020008206" + b"000000".hex()) == 0x63C2
    assert sw(card, VERIFY_PW1) == 0x9000
    assert tries(card) == (3, 0, 3)
    assert sw(card, "00200082") == 0x9000  # already verified
    assert sw(card, "00200081") == 0x63C3  # the signing reference is separate
    assert sw(card, "00200083") == 0x63C3
    assert sw(card, "0020FF82") == 0x9000  # P1=FF: forget it
    assert sw(card, "00200082") == 0x63C3


def test_the_admin_pin_has_its_own_counter(card: VirtualCard) -> None:
    assert sw(card, "0020008308" + b"87654321".hex()) == 0x63C2
    assert tries(card) == (3, 0, 2)
    assert sw(card, VERIFY_PW3) == 0x9000
    assert tries(card) == (3, 0, 3)


@pytest.mark.parametrize(
    ("reply", "status"),
    [(WrongPinReply.SECURITY_STATUS, 0x6982), (WrongPinReply.BLOCKED, 0x6983)],
)
def test_cards_that_report_a_wrong_pin_differently(reply: WrongPinReply, status: int) -> None:
    card = VirtualCard.with_auth_key(SEED, "X", wrong_pin_reply=reply)
    ok(card, SELECT)
    assert sw(card, "0020008206" + b"000000".hex()) == status
    assert tries(card) == (2, 0, 3)  # only the retry counter tells how many are left


def test_verify_refuses_bad_references(card: VirtualCard) -> None:
    assert sw(card, "0020008406" + b"123456".hex()) == 0x6B00
    assert sw(card, "0020018206" + b"123456".hex()) == 0x6B00
    assert sw(card, "0020FF8201FF") == 0x6700


@pytest.mark.parametrize("lose", ["power_off", "power_on", "reset", "select"])
def test_verification_is_forgotten_on_power_loss_reset_and_select(
    card: VirtualCard, lose: str
) -> None:
    ok(card, VERIFY_PW1)
    if lose == "select":
        ok(card, SELECT)
    else:
        getattr(card, lose)()
        assert sw(card, "00200082") == 0x6D00  # must select again first
        ok(card, SELECT)
    assert sw(card, "00200082") == 0x63C3
    assert sw(card, "0088000004" + "01020304") == 0x6982


def test_change_reference_data_changes_the_pins(card: VirtualCard) -> None:
    assert sw(card, "002400810C" + b"123456".hex() + b"246810".hex()) == 0x9000
    assert sw(card, VERIFY_PW1) == 0x63C2
    assert sw(card, "0020008206" + b"246810".hex()) == 0x9000
    assert sw(card, "002400810C" + b"999999".hex() + b"135790".hex()) == 0x63C2
    assert sw(card, "002400810A" + b"246810".hex() + b"1234".hex()) == 0x6A80  # too short
    assert sw(card, "002400820C" + b"246810".hex() + b"135790".hex()) == 0x6B00
    new_admin = b"12345678" + b"abcdefgh"
    assert sw(card, apdu(0, 0x24, 0, 0x83, new_admin)) == 0x9000
    assert sw(card, "0020008308" + b"abcdefgh".hex()) == 0x9000


def test_reset_retry_counter_unblocks_with_the_admin_pin_or_the_resetting_code(
    card: VirtualCard,
) -> None:
    for _ in range(3):
        send(card, "0020008206" + b"000000".hex())
    assert sw(card, apdu(0, 0x2C, 0x02, 0x81, b"654321")) == 0x6982
    assert sw(card, apdu(0, 0x2C, 0x00, 0x81, b"12345678654321")) == 0x6983  # no code set
    ok(card, VERIFY_PW3)
    assert sw(card, apdu(0, 0x2C, 0x02, 0x82, b"654321")) == 0x6B00
    assert sw(card, apdu(0, 0x2C, 0x02, 0x81, b"6543")) == 0x6A80
    assert sw(card, apdu(0, 0x2C, 0x02, 0x81, b"654321")) == 0x9000
    assert tries(card)[0] == 3
    assert sw(card, "0020008206" + b"654321".hex()) == 0x9000
    ok(card, apdu(0, 0xDA, 0x00, 0xD3, b"resetme!"))  # a resetting code
    assert tries(card)[1] == 3
    assert sw(card, apdu(0, 0x2C, 0x00, 0x81, b"resetmX!111111")) == 0x63C2
    assert sw(card, apdu(0, 0x2C, 0x00, 0x81, b"resetme!111111")) == 0x9000
    assert sw(card, "0020008206" + b"111111".hex()) == 0x9000


# -- writing ---------------------------------------------------------------------------------
def test_put_data_needs_the_admin_pin_and_writes_the_cardholder_data(card: VirtualCard) -> None:
    assert sw(card, apdu(0, 0xDA, 0x00, 0x5B, b"Kim<<Minji")) == 0x6982
    ok(card, VERIFY_PW3)
    for tag, value in [(0x5B, b"Kim<<Minji"), (0x5F2D, b"koen"), (0x5F35, b"2")]:
        ok(card, apdu(0, 0xDA, tag >> 8, tag & 0xFF, value))
    for tag, value in [(0x5E, b"kim"), (0x5F50, b"https://example.org/k.asc")]:
        ok(card, apdu(0, 0xDA, tag >> 8, tag & 0xFF, value))
        assert get_data(card, tag) == value
    assert tlvs(tlvs(get_data(card, 0x65))[0x65]) == {
        0x5B: b"Kim<<Minji",
        0x5F2D: b"koen",
        0x5F35: b"2",
    }
    assert sw(card, apdu(0, 0xDA, 0x00, 0x5B, b"x" * 40)) == 0x6700
    assert sw(card, apdu(0, 0xDA, 0x00, 0x70, b"x")) == 0x6A88


def test_put_data_writes_fingerprints_times_and_pin_policy(card: VirtualCard) -> None:
    ok(card, VERIFY_PW3)
    ok(card, apdu(0, 0xDA, 0x00, 0xC7, bytes([7]) * 20))
    ok(card, apdu(0, 0xDA, 0x00, 0xCA, bytes([9]) * 20))
    ok(card, apdu(0, 0xDA, 0x00, 0xCE, bytes.fromhex("5F000000")))
    assert get_data(card, 0xC5)[:20] == bytes([7]) * 20
    assert get_data(card, 0xC6)[:20] == bytes([9]) * 20
    assert get_data(card, 0xCD)[:4] == bytes.fromhex("5F000000")
    assert sw(card, apdu(0, 0xDA, 0x00, 0xC8, bytes(19))) == 0x6700
    ok(card, apdu(0, 0xDA, 0x00, 0xC4, b"\x01"))
    assert get_data(card, 0xC4)[0] == 1
    assert sw(card, apdu(0, 0xDA, 0x00, 0xC4, b"\x02")) == 0x6A80


def test_algorithm_attributes_accept_only_the_curves_of_each_slot(card: VirtualCard) -> None:
    ok(card, VERIFY_PW3)
    rsa2048 = bytes.fromhex("010800002003")
    assert sw(card, apdu(0, 0xDA, 0x00, 0xC3, rsa2048)) == 0x6A80
    assert sw(card, apdu(0, 0xDA, 0x00, 0xC2, ED25519)) == 0x6A80
    ok(card, apdu(0, 0xDA, 0x00, 0xC3, ED25519))  # unchanged: the key stays
    assert card.auth_public_key is not None
    ok(card, apdu(0, 0xDA, 0x00, 0xC3, ED25519 + b"\xff"))  # another format drops the key
    assert card.auth_public_key is None
    assert sw(card, "0047810002A40000") == 0x6A88
