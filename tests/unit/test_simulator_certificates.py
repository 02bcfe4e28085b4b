"""What OpenSC reads from an OpenPGP 3.4 card besides the basics: the three cardholder
certificates (DO 7F21 for AUT, DEC and SIG), chosen with SELECT DATA and walked with GET NEXT
DATA as the card specification 3.4 (7.2.5, 7.2.6) says, and the algorithm information (FA)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.hardware.sim.card_state import ED25519, X25519
from kiosk.hardware.sim.simulator import VirtualCard
from testkit.apdus import SEED, SELECT, VERIFY_PW3, apdu, get_data, ok, send, sw, tlvs

TAG_LIST = bytes.fromhex("6004 5C02 7F21")  # 60 { 5C { 7F21 } }
CERTIFICATES = [b"aut certificate", b"dec certificate", b"sig certificate"]


def select_data(occurrence: int, data: bytes = TAG_LIST, p2: int = 0x04) -> bytes:
    return apdu(0, 0xA5, occurrence, p2, data)


GET_NEXT_DATA = apdu(0, 0xCC, 0x7F, 0x21, le=256)


@pytest.fixture
def card() -> VirtualCard:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    ok(card, SELECT)
    ok(card, VERIFY_PW3)
    for occurrence, certificate in enumerate(CERTIFICATES):
        ok(card, select_data(occurrence))
        ok(card, apdu(0, 0xDA, 0x7F, 0x21, certificate))
    ok(card, SELECT)  # back to the first occurrence
    return card


def test_select_data_chooses_which_certificate_get_data_reads(card: VirtualCard) -> None:
    assert get_data(card, 0x7F21) == CERTIFICATES[0]  # the AUT one after SELECT
    for occurrence in (2, 0, 1):
        ok(card, select_data(occurrence))
        assert get_data(card, 0x7F21) == CERTIFICATES[occurrence]
    ok(card, SELECT)
    assert get_data(card, 0x7F21) == CERTIFICATES[0]


def test_get_next_data_walks_the_certificates_and_stops_after_the_last(card: VirtualCard) -> None:
    assert get_data(card, 0x7F21) == CERTIFICATES[0]
    assert send(card, GET_NEXT_DATA) == (CERTIFICATES[1], 0x9000)
    assert send(card, GET_NEXT_DATA) == (CERTIFICATES[2], 0x9000)
    assert sw(card, GET_NEXT_DATA) == 0x6A88
    assert get_data(card, 0x7F21) == CERTIFICATES[2]  # still on the last one
    ok(card, select_data(1))
    assert send(card, GET_NEXT_DATA) == (CERTIFICATES[2], 0x9000)
    assert sw(card, apdu(0, 0xCC, 0x00, 0x5E, le=256)) == 0x6A88  # one occurrence only


def test_select_data_refuses_what_the_specification_does_not_allow() -> None:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    assert sw(card, select_data(0)) == 0x6D00  # before the application is selected
    ok(card, SELECT)
    assert sw(card, select_data(3)) == 0x6A88  # only three occurrences
    assert sw(card, select_data(0, p2=0x00)) == 0x6B00
    assert sw(card, select_data(0, bytes.fromhex("5C027F21"))) == 0x6A80  # no 60 template
    assert sw(card, select_data(0, bytes.fromhex("6004 5C02 005E"))) == 0x6A88  # not 7F21
    assert sw(card, select_data(0, bytes.fromhex("6005 5C02 7F21"))) == 0x6A80  # cut short


def test_put_data_writes_the_selected_certificate_only_with_the_admin_pin() -> None:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    ok(card, SELECT)
    ok(card, select_data(2))
    assert sw(card, apdu(0, 0xDA, 0x7F, 0x21, b"sig")) == 0x6982
    ok(card, VERIFY_PW3)
    ok(card, apdu(0, 0xDA, 0x7F, 0x21, b"sig"))
    assert card.state.certificates == [b"", b"", b"sig"]


def test_a_card_file_keeps_all_three_certificates(card: VirtualCard, tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card.save(path)
    again = VirtualCard.load(path)
    assert again.state.certificates == CERTIFICATES


def test_a_card_file_from_before_select_data_keeps_its_one_certificate(
    card: VirtualCard, tmp_path: Path
) -> None:
    path = tmp_path / "card.json"
    card.save(path)
    document = json.loads(path.read_text())
    del document["certificates"]
    document["data_objects"]["7F21"] = "b2xk"  # base64url of b"old"
    path.write_text(json.dumps(document))
    loaded = VirtualCard.load(path)
    assert loaded.state.certificates == [b"old", b"", b""]
    ok(loaded, SELECT)
    assert get_data(loaded, 0x7F21) == b"old"


def test_algorithm_information_lists_what_each_key_slot_accepts() -> None:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    ok(card, SELECT)
    listed = tlvs(tlvs(get_data(card, 0x00FA))[0xFA])
    assert listed == {0xC1: ED25519, 0xC2: X25519, 0xC3: ED25519}
    ok(card, VERIFY_PW3)
    for tag, attributes in listed.items():  # each is what PUT DATA takes for that slot
        ok(card, apdu(0, 0xDA, 0x00, tag, attributes))
