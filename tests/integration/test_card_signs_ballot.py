"""Protocol v2: the voter's card signs the encrypted ballot through real pcscd, real pyscard and
the card simulator (INTERNAL AUTHENTICATE after the sign-in's PIN), and the signature verifies
against the roll as the ledger and every verifier check it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.encrypted_ballot import card_challenge, card_message
from kiosk.hardware.card.auth import identify, prove, sign_ballot
from kiosk.hardware.card.errors import CardError
from kiosk.hardware.card.openpgp import OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from kiosk.hardware.sim.virtual_card import VirtualCard
from testkit.elections import SyntheticElection, build_election, mixed_definition, random_ballot

KIOSK_ID = "ab" * 16
PIN = "123456"


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    return build_election(
        mixed_definition(), seed="sign-v2", experts_per_group=1, online_per_proposal=1, protocol=2
    )


@contextmanager
def card_in(pcscd: PrivatePcscd, card: VirtualCard) -> Iterator[OpenPGPCard]:
    with Simulator(pcscd.ports, cards={"card": card}) as simulator:
        simulator.insert("card", 0)
        name = pcscd.reader_names[0]
        wait_for_card(name, present=True, timeout_s=10)
        with PcscConnection(name) as connection:
            yield OpenPGPCard(connection)


def test_the_signed_in_card_signs_the_ballot_and_the_roll_verifies_it(
    pcscd: PrivatePcscd, v2: SyntheticElection
) -> None:
    card_key = v2.voter_keys[0]
    with card_in(pcscd, VirtualCard.with_auth_key(card_key.seed, "Hong")) as card:
        holder = prove(card, identify(card, v2.package), PIN, v2.package.id, KIOSK_ID)
        voter = holder.voter
        assert voter is not None and voter.voter_id is not None
        ballot = random_ballot(v2.package, voter, random.Random(1))
        encrypted, _ = encrypt_ballot(v2.package, ballot, voter.excluded, test=False)
        signature = sign_ballot(card, holder, encrypted)
        assert len(card_challenge(v2.package.id, voter.voter_id, encrypted.hash)) <= 255
    entry = v2.package.roll_entry_by_voter(voter.voter_id)
    assert entry is not None and card_key.public_key in entry.keys
    verify_signature(
        Domain.BALLOT,
        card_key.public_key,
        card_message(v2.package.id, voter.voter_id, encrypted.hash),
        signature,
    )


def test_a_card_whose_pin_was_not_verified_does_not_sign(
    pcscd: PrivatePcscd, v2: SyntheticElection
) -> None:
    with card_in(pcscd, VirtualCard.with_auth_key(v2.voter_keys[1].seed, "Hong")) as card:
        holder = identify(card, v2.package)  # no PIN: as if the kiosk skipped the sign-in
        voter = holder.voter
        assert voter is not None
        ballot = random_ballot(v2.package, voter, random.Random(2))
        encrypted, _ = encrypt_ballot(v2.package, ballot, voter.excluded, test=False)
        with pytest.raises(CardError):  # the card refuses: PW1 not verified
            sign_ballot(card, holder, encrypted)
