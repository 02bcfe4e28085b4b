"""The simulated OpenPGP card's keys, long commands and answers, and every other command,
answered as a real card would, status words included."""

from __future__ import annotations

import nacl.bindings
import nacl.public
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.sim.card_state import (
    tlv,
)
from kiosk.hardware.sim.simulator import (
    VirtualCard,
)
from testkit.apdus import (
    SEED,
    SELECT,
    VERIFY_PW1,
    VERIFY_PW1_SIGN,
    VERIFY_PW3,
    apdu,
    get_data,
    ok,
    read_public_key,
    send,
    sw,
    tlvs,
)


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
