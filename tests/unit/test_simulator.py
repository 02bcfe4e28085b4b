"""The simulated OpenPGP card answers every command as a real card would, status words included."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from functools import reduce
from operator import xor
from pathlib import Path

import nacl.bindings
import nacl.public
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.sim.card_state import (
    ED25519,
    HISTORICAL_BYTES,
    X25519,
    CardFileError,
    WrongPinReply,
    openpgp_fingerprint,
    parse_tlvs,
    tlv,
)
from kiosk.hardware.sim.simulator import (
    Simulator,
    SimulatorError,
    VirtualCard,
    card_path,
    main,
)
from kiosk.hardware.sim.vpcd import VpcdReader, frame, read_frame

SEED = bytes(range(32))
SELECT = "00A4040006D2760001240100"
VERIFY_PW1 = "0020008206" + b"123456".hex()
VERIFY_PW1_SIGN = "0020008106" + b"123456".hex()
VERIFY_PW3 = "0020008308" + b"12345678".hex()


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """A short APDU; ``le`` 256 is written as 00."""
    body = (bytes([len(data)]) + data if data else b"") + (b"" if le is None else bytes([le % 256]))
    return bytes([cla, ins, p1, p2]) + body


def send(card: VirtualCard, command: str | bytes) -> tuple[bytes, int]:
    raw = card.process(bytes.fromhex(command) if isinstance(command, str) else command)
    return raw[:-2], int.from_bytes(raw[-2:])


def sw(card: VirtualCard, command: str | bytes) -> int:
    return send(card, command)[1]


def ok(card: VirtualCard, command: str | bytes) -> bytes:
    data, status = send(card, command)
    assert status == 0x9000, f"{command!r} gave {status:04X}"
    return data


def get_data(card: VirtualCard, tag: int) -> bytes:
    return ok(card, apdu(0, 0xCA, tag >> 8, tag & 0xFF, le=256))


def tlvs(data: bytes) -> dict[int, bytes]:
    return dict(parse_tlvs(data))


def tries(card: VirtualCard) -> tuple[int, int, int]:
    c4 = get_data(card, 0xC4)
    return c4[4], c4[5], c4[6]


@pytest.fixture
def card() -> VirtualCard:
    """A personalised card, powered and with the OpenPGP application selected."""
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    card.power_on()
    ok(card, SELECT)
    return card


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


# -- keys ------------------------------------------------------------------------------------
def read_public_key(card: VirtualCard, crt: str) -> bytes:
    template = tlvs(ok(card, "0047810002" + crt + "00"))
    return tlvs(template[0x7F49])[0x86]


def test_internal_authenticate_signs_with_the_authentication_key(card: VirtualCard) -> None:
    challenge = b"hanpyo/auth/v1\n" + bytes(range(48))
    assert sw(card, apdu(0, 0x88, 0, 0, challenge, 256)) == 0x6982
    ok(card, VERIFY_PW1_SIGN)
    assert sw(card, apdu(0, 0x88, 0, 0, challenge, 256)) == 0x6982  # 81 is for signing
    ok(card, VERIFY_PW1)
    signature = ok(card, apdu(0, 0x88, 0, 0, challenge, 256))
    public_key = read_public_key(card, "A4")
    assert public_key == card.auth_public_key
    assert public_key == bytes(nacl.signing.SigningKey(SEED).verify_key)
    nacl.signing.VerifyKey(public_key).verify(challenge, signature)
    assert sw(card, apdu(0, 0x88, 0, 1, challenge, 256)) == 0x6B00
    assert sw(card, "0088000000") == 0x6700


def test_generating_a_key_needs_the_admin_pin(card: VirtualCard) -> None:
    assert sw(card, "0047810002B60000") == 0x6A88  # no signature key yet
    assert sw(card, "0047800002B60000") == 0x6982
    ok(card, VERIFY_PW3)
    generated = tlvs(tlvs(ok(card, "0047800002B60000"))[0x7F49])[0x86]
    assert read_public_key(card, "B6") == generated and len(generated) == 32
    assert get_data(card, 0xC5)[:20] != bytes(20)
    assert tlvs(tlvs(get_data(card, 0x6E))[0x6E])  # still well formed
    assert sw(card, "0047800002B70000") == 0x6A80
    assert sw(card, "0047820002B60000") == 0x6B00
    assert sw(card, "0047800000") == 0x6700


def test_the_signature_key_signs_once_per_pin_and_counts(card: VirtualCard) -> None:
    ok(card, VERIFY_PW3)
    public_key = tlvs(tlvs(ok(card, "0047800002B60000"))[0x7F49])[0x86]
    digest = bytes(range(32))
    assert sw(card, apdu(0, 0x2A, 0x9E, 0x9A, digest, 256)) == 0x6982
    ok(card, VERIFY_PW1_SIGN)
    signature = ok(card, apdu(0, 0x2A, 0x9E, 0x9A, digest, 256))
    nacl.signing.VerifyKey(public_key).verify(digest, signature)
    assert get_data(card, 0x7A) == bytes.fromhex("7A05 9303 000001")
    assert sw(card, apdu(0, 0x2A, 0x9E, 0x9A, digest, 256)) == 0x6982  # PIN used up
    assert sw(card, apdu(0, 0x2A, 0x9E, 0x9B, digest, 256)) == 0x6B00


def test_the_decryption_key_does_x25519(card: VirtualCard) -> None:
    ok(card, VERIFY_PW3)
    card_key = tlvs(tlvs(ok(card, "0047800002B80000"))[0x7F49])[0x86]
    ephemeral = nacl.public.PrivateKey.generate()
    cipher = tlv(0xA6, tlv(0x7F49, tlv(0x86, bytes(ephemeral.public_key))))
    ok(card, VERIFY_PW1)
    shared = ok(card, apdu(0, 0x2A, 0x80, 0x86, cipher, 256))
    assert shared == nacl.bindings.crypto_scalarmult(bytes(ephemeral), card_key)
    assert sw(card, apdu(0, 0x2A, 0x80, 0x86, b"\xa6\x05\x00", 256)) == 0x6A80


def key_import(crt: int, seed: bytes) -> bytes:
    template = tlv(0x7F48, bytes.fromhex("9220"))
    return tlv(0x4D, bytes([crt, 0]) + template + tlv(0x5F48, seed))


def test_an_imported_key_authenticates_and_arrives_by_command_chaining() -> None:
    card = VirtualCard()
    ok(card, SELECT)
    seed = bytes(range(100, 132))
    data = key_import(0xA4, seed)
    assert sw(card, apdu(0, 0xDB, 0x3F, 0xFF, data)) == 0x6982
    ok(card, VERIFY_PW3)
    assert sw(card, apdu(0x10, 0xDB, 0x3F, 0xFF, data[:20])) == 0x9000
    assert sw(card, apdu(0x00, 0xDB, 0x3F, 0xFF, data[20:])) == 0x9000
    public_key = read_public_key(card, "A4")
    assert public_key == bytes(nacl.signing.SigningKey(seed).verify_key)
    assert get_data(card, 0xDE) == bytes.fromhex("010002000302")  # AUT imported
    ok(card, VERIFY_PW1)
    signature = ok(card, apdu(0, 0x88, 0, 0, b"challenge", 256))
    nacl.signing.VerifyKey(public_key).verify(b"challenge", signature)


def test_malformed_key_imports_are_refused(card: VirtualCard) -> None:
    ok(card, VERIFY_PW3)
    assert sw(card, apdu(0, 0xDB, 0x3F, 0xFE, key_import(0xA4, SEED))) == 0x6B00
    assert sw(card, apdu(0, 0xDB, 0x3F, 0xFF, key_import(0xA5, SEED))) == 0x6A80
    assert sw(card, apdu(0, 0xDB, 0x3F, 0xFF, key_import(0xA4, SEED[:31]))) == 0x6A80
    assert sw(card, apdu(0, 0xDB, 0x3F, 0xFF, key_import(0xA4, SEED)[:-3])) == 0x6A80
    assert sw(card, apdu(0, 0xDB, 0x3F, 0xFF, b"\x4d\x82\xff")) == 0x6A80


# -- long commands and long answers ----------------------------------------------------------
def test_a_long_answer_comes_in_pieces_with_get_response(card: VirtualCard) -> None:
    certificate = bytes(i % 251 for i in range(1000))
    ok(card, VERIFY_PW3)
    chunks = [certificate[i : i + 255] for i in range(0, len(certificate), 255)]
    for chunk in chunks[:-1]:
        assert sw(card, apdu(0x10, 0xDA, 0x7F, 0x21, chunk)) == 0x9000
    ok(card, apdu(0x00, 0xDA, 0x7F, 0x21, chunks[-1]))
    data, status = send(card, "00CA7F2100")
    received = bytearray(data)
    while status >> 8 == 0x61:
        assert len(data) == 256
        data, status = send(card, bytes([0, 0xC0, 0, 0, status & 0xFF]))
        received += data
    assert status == 0x9000 and bytes(received) == certificate
    assert send(card, "00CA7F21000000") == (certificate, 0x9000)  # extended Le: all at once
    assert sw(card, "00C0000000") == 0x6985  # nothing left


def test_an_answer_longer_than_le_is_chained(card: VirtualCard) -> None:
    c4 = get_data(card, 0xC4)
    assert send(card, "00CA00C404") == (c4[:4], 0x6103)
    assert sw(card, "00C0000100") == 0x6B00  # a wrong GET RESPONSE drops the rest
    assert send(card, "00CA00C404") == (c4[:4], 0x6103)
    assert send(card, "00C0000003") == (c4[4:], 0x9000)


def test_a_chain_interrupted_by_another_command_is_refused(card: VirtualCard) -> None:
    ok(card, VERIFY_PW3)
    assert sw(card, apdu(0x10, 0xDA, 0x00, 0x5B, b"Kim")) == 0x9000
    assert sw(card, "00CA006500") == 0x6883
    assert sw(card, "00CA006500") == 0x9000  # the broken chain is gone
    assert sw(card, apdu(0x10, 0xDA, 0x7F, 0x21, b"x" * 255)) == 0x9000
    for _ in range(7):
        send(card, apdu(0x10, 0xDA, 0x7F, 0x21, b"x" * 255))
    assert sw(card, apdu(0x10, 0xDA, 0x7F, 0x21, b"x" * 255)) == 0x6700  # longer than 2048


def test_extended_length_apdus_are_understood(card: VirtualCard) -> None:
    assert send(card, "00200082000006" + b"123456".hex()) == (b"", 0x9000)
    assert send(card, "00CA006E000000")[1] == 0x9000
    signature, status = send(card, "00880000000004" + "01020304" + "0000")
    assert status == 0x9000 and len(signature) == 64


# -- the rest --------------------------------------------------------------------------------
def test_get_challenge_returns_the_bytes_asked_for(card: VirtualCard) -> None:
    assert len(ok(card, "0084000010")) == 16
    assert ok(card, "0084000010") != ok(card, "0084000010")
    assert sw(card, "00840000") == 0x6700


def test_terminate_and_activate_reset_the_card_to_factory_state(card: VirtualCard) -> None:
    serial = card.serial
    assert sw(card, "00E60000") == 0x6982
    ok(card, VERIFY_PW3)
    ok(card, "00E60000")
    assert sw(card, "00CA006E00") == 0x6985
    assert sw(card, SELECT) == 0x6285
    ok(card, "00440000")
    ok(card, SELECT)
    assert card.auth_public_key is None and card.serial == serial
    assert tlvs(tlvs(get_data(card, 0x65))[0x65])[0x5B] == b""
    assert sw(card, VERIFY_PW3) == 0x9000  # the default admin PIN again


@pytest.mark.parametrize(
    ("command", "status"),
    [
        ("", 0x6700),
        ("00", 0x6700),
        ("00CA00", 0x6700),
        ("00CA006E05AABB", 0x6700),  # Lc says 5, two bytes follow
        ("00CA006E02AABBCCDD", 0x6700),  # Lc says 2, four bytes follow
        ("00CA006E0000", 0x6700),  # neither short nor extended
        ("00CA006E000005AA", 0x6700),  # extended Lc 5, one byte follows
        ("00CA006E00000000", 0x6700),  # extended Lc of zero
        ("80CA006E00", 0x6E00),
        ("0CCA006E00", 0x6E00),
        ("00FE000000", 0x6D00),
        ("00C0000000", 0x6985),
    ],
)
def test_malformed_apdus_get_a_status_word(card: VirtualCard, command: str, status: int) -> None:
    assert send(card, command) == (b"", status)


# Random bytes, and random bodies behind the headers of the commands that parse their data.
HEADERS = st.sampled_from(
    [bytes.fromhex(h) for h in ("00CA", "00DA", "10DB3FFF", "00DB3FFF", "0020", "0047", "002A")]
)
APDUS = st.binary(max_size=300) | st.builds(bytes.__add__, HEADERS, st.binary(max_size=80))


@settings(max_examples=300)
@given(command=APDUS)
def test_no_apdu_makes_the_card_fail(command: bytes) -> None:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    ok(card, SELECT)
    ok(card, VERIFY_PW3)  # so that writes get past the PIN check and parse their data
    response = card.process(command)
    assert len(response) >= 2 and response[-2:] != b"\x6f\x00"


# -- card files ------------------------------------------------------------------------------
def test_a_card_file_keeps_keys_pins_counters_and_name(card: VirtualCard, tmp_path: Path) -> None:
    send(card, "0020008206" + b"000000".hex())
    ok(card, VERIFY_PW3)
    ok(card, apdu(0, 0xDA, 0x00, 0xD3, b"resetme!"))
    card.save(tmp_path / "voter.json")
    loaded = VirtualCard.load(tmp_path / "voter.json")
    assert loaded.state == card.state
    loaded.power_on()
    ok(loaded, SELECT)
    assert tries(loaded) == (2, 3, 3)
    assert sw(loaded, "00200083") == 0x63C3  # verification is not saved
    ok(loaded, VERIFY_PW1)
    signature = ok(loaded, apdu(0, 0x88, 0, 0, b"c", 256))
    nacl.signing.VerifyKey(read_public_key(card, "A4")).verify(b"c", signature)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("serial"), "serial: is missing"),
        (lambda d: d.update(extra=1), "unknown field(s): extra"),
        (lambda d: d["tries"].update(pw1=9), "tries.pw1: must be between 0 and 3"),
        (lambda d: d["keys"]["aut"].update(attributes="AQgA"), "not a supported algorithm"),
        (lambda d: d["data_objects"].update({"00C4": ""}), "not a data object"),
        (lambda d: d.update(format="other"), "format"),
    ],
)
def test_a_damaged_card_file_is_refused_with_the_field_at_fault(
    tmp_path: Path, change: object, complaint: str
) -> None:
    path = tmp_path / "card.json"
    value = VirtualCard.with_auth_key(SEED, "X").state.to_json()
    change(value)  # type: ignore[operator]
    path.write_text(json.dumps(value))
    with pytest.raises(CardFileError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        VirtualCard.load(path)


def test_a_missing_or_broken_card_file_is_a_card_file_error(tmp_path: Path) -> None:
    with pytest.raises(CardFileError, match="cannot read"):
        VirtualCard.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CardFileError, match="cannot read"):
        VirtualCard.load(tmp_path / "bad.json")


def test_a_seed_always_makes_the_same_card() -> None:
    one, two = VirtualCard.with_auth_key(SEED, "A"), VirtualCard.with_auth_key(SEED, "B")
    assert one.serial == two.serial and one.auth_public_key == two.auth_public_key
    with pytest.raises(SimulatorError, match="32 bytes"):
        VirtualCard.with_auth_key(SEED[:16], "A")
    with pytest.raises(SimulatorError, match="pw1"):
        VirtualCard.with_auth_key(SEED, "A", pin="123")
    with pytest.raises(SimulatorError, match="39 bytes"):
        VirtualCard.with_auth_key(SEED, "A" * 40)
    assert SEED.hex() not in repr(one.state) + repr(one.state.keys) + repr(one)


# -- the vpcd protocol, against a stand-in for vpcd ------------------------------------------
class FakeVpcd:
    """What vpcd does on its side of the socket: listen, power the card, send APDUs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.listener.settimeout(10)

    def accept(self) -> socket.socket:
        connection, _ = self.listener.accept()
        connection.settimeout(10)
        return connection

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def exchange(connection: socket.socket, message: bytes) -> bytes | None:
    connection.sendall(frame(message))
    return read_frame(connection)


def test_a_reader_speaks_the_vpcd_protocol(vpcd: FakeVpcd) -> None:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    reader = VpcdReader("127.0.0.1", vpcd.port)
    reader.insert(card)
    with vpcd.accept() as connection:
        assert exchange(connection, b"\x04") == card.atr
        connection.sendall(frame(b"\x01"))  # power on: no answer
        assert exchange(connection, bytes.fromhex(SELECT)) == b"\x90\x00"
        assert exchange(connection, bytes.fromhex(VERIFY_PW1)) == b"\x90\x00"
        connection.sendall(frame(b"\x02"))  # reset forgets the PIN
        assert exchange(connection, bytes.fromhex(SELECT)) == b"\x90\x00"
        assert exchange(connection, bytes.fromhex("00200082")) == b"\x63\xc3"
        assert reader.card is card
        assert reader.remove() is card
        assert read_frame(connection) is None  # the card is gone
    assert reader.card is None and reader.remove() is None


def test_a_card_reconnects_when_vpcd_comes_back(vpcd: FakeVpcd) -> None:
    reader = VpcdReader("127.0.0.1", vpcd.port)
    reader.insert(VirtualCard())
    try:
        with vpcd.accept() as first:
            assert exchange(first, b"\x04") == VirtualCard().atr
        with vpcd.accept() as second:  # pcscd restarted: the card shows up again
            assert exchange(second, b"\x04") == VirtualCard().atr
    finally:
        reader.remove()


def test_removal_in_the_middle_of_a_command_is_harmless(vpcd: FakeVpcd) -> None:
    started, release = threading.Event(), threading.Event()

    class SlowCard(VirtualCard):
        def process(self, apdu: bytes) -> bytes:
            started.set()
            release.wait(10)
            return super().process(apdu)

    reader = VpcdReader("127.0.0.1", vpcd.port)
    reader.insert(SlowCard())
    with vpcd.accept() as connection:
        connection.sendall(frame(bytes.fromhex(SELECT)))
        assert started.wait(10)
        remover = threading.Thread(target=reader.remove)
        remover.start()
        release.set()
        remover.join(10)
        assert not remover.is_alive()
        assert read_frame(connection) in (None, b"\x90\x00")


def test_a_reader_holds_one_card_and_a_card_sits_in_one_reader(tmp_path: Path) -> None:
    with Simulator([1, 2], cards={"a": VirtualCard(), "b": VirtualCard()}) as simulator:
        simulator.insert("a", 0)
        with pytest.raises(SimulatorError, match="already in reader 0"):
            simulator.insert("a", 1)
        with pytest.raises(SimulatorError, match="already holds"):
            simulator.insert("b", 0)
        with pytest.raises(SimulatorError, match="no card named 'c'"):
            simulator.insert("c", 1)
        with pytest.raises(SimulatorError, match="no reader 2"):
            simulator.insert("b", 2)
        assert [s.card for s in simulator.status()] == ["a", None]
        assert simulator.remove(0) == "a" and simulator.remove(0) is None
    with pytest.raises(SimulatorError, match="not a card name"):
        card_path(tmp_path, "../etc")


def test_a_simulator_saves_a_card_when_it_leaves_the_reader(tmp_path: Path) -> None:
    VirtualCard.with_auth_key(SEED, "A").save(tmp_path / "a.json")
    with Simulator.from_directory(tmp_path, [1]) as simulator:
        card = simulator.insert("a")
        card.power_on()
        ok(card, SELECT)
        send(card, "0020008206" + b"000000".hex())
    assert tries(_selected(VirtualCard.load(tmp_path / "a.json")))[0] == 2


def _selected(card: VirtualCard) -> VirtualCard:
    ok(card, SELECT)
    return card


# -- the command line ------------------------------------------------------------------------
def test_create_writes_a_card_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["create", "hong", "--cards", str(tmp_path), "--seed-hex", SEED.hex()]
    assert main([*args, "--name", "Hong Gildong", "--pin", "246810"]) == 0
    card = VirtualCard.load(tmp_path / "hong.json")
    assert card.auth_public_key == bytes(nacl.signing.SigningKey(SEED).verify_key)
    assert card.serial in capsys.readouterr().out
    assert main(args) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["create", "x", "--cards", str(tmp_path), "--seed-hex", "zz"]) == 2
    assert "64 hexadecimal digits" in capsys.readouterr().err
    assert main(["create", "y", "--cards", str(tmp_path), "--pin", "12"]) == 2
    assert "pw1 must be 6 to 127 bytes" in capsys.readouterr().err


def test_commands_without_a_running_simulator_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--control", str(tmp_path / "none.sock")]) == 2
    assert "no simulator is listening" in capsys.readouterr().err
