"""Protocol v2 part 1 reviewed as its attackers would use it (the pure core): text that other
trustees' screens show cannot carry terminal control sequences."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import SealingKey, SigningKey
from kiosk.core.errors import EncodingError
from kiosk.core.verifiable.ceremony import (
    CeremonyError,
    CeremonySetup,
    SignedMessage,
    TrusteeIdentity,
    check_results,
    evaluate,
    result_message,
    verdict_complaints,
)
from testkit.simulated_trustees import another_signature, honest_ceremony, simulated_ceremony

# What a hostile trustee's name or complaint could hold: move the cursor up and rewrite the
# line with the key every trustee reads aloud; a bare newline faking a line of output; a
# right-to-left override that shows digits in another order.
SPOOFS = [
    "Mallory\x1b[1A\x1b[2Kelection key K: 00000000 11111111",
    "Mallory\nelection key K: 00000000",
    "Mallory\r",
    "Mallory\u202e87654321",
    "Mallory\u2028x",
]


def _identity(index: int, name: str) -> TrusteeIdentity:
    return TrusteeIdentity(
        index, name, SigningKey.generate().public_key, SealingKey.generate().public_key
    )


@pytest.mark.parametrize("name", SPOOFS)
def test_a_trustee_name_with_control_characters_is_refused(name: str) -> None:
    """Before: names were printed on every trustee's screen as given, so a hostile trustee's
    name could overwrite the election key line the trustees compare aloud."""
    with pytest.raises(EncodingError, match="control"):
        _identity(2, name)
    honest = _identity(1, "김민준").to_json()
    hostile = honest | {"index": 2, "name": name, "signing_key": "00" * 32}
    hostile["signing_key"] = SigningKey.generate().public_key.hex()
    hostile["box_key"] = SealingKey.generate().public_key.hex()
    with pytest.raises(EncodingError, match="control"):
        CeremonySetup.from_json({"election_id": "e", "threshold": 2, "trustees": [honest, hostile]})


def test_an_election_id_with_control_characters_is_refused() -> None:
    trustees = (_identity(1, "a"), _identity(2, "b"))
    with pytest.raises(EncodingError, match="control"):
        CeremonySetup("e\x1b[2J", 2, trustees)


@pytest.mark.parametrize("reason", SPOOFS)
def test_a_complaint_with_control_characters_names_its_sender(reason: str) -> None:
    """Before: a complaint's reason was shown to the accused trustee as sent."""
    ceremony = simulated_ceremony(3, 2)
    mallory = ceremony.trustee(3)
    verdict = SignedMessage.sign(
        "verdict", 3, {"complaints": {"1": reason}}, mallory.signing_key, ceremony.setup
    )
    with pytest.raises(CeremonyError, match="control") as caught:
        verdict_complaints(verdict, ceremony.setup)
    assert caught.value.trustee == 3


def test_ordinary_names_and_reasons_still_pass() -> None:
    assert _identity(1, "정하늘 (Jeong Ha-neul), 선관위").name.startswith("정하늘")
    ceremony = simulated_ceremony(3, 2)
    verdict = SignedMessage.sign(
        "verdict",
        2,
        {"complaints": {"1": "the share for trustee 2 does not match the commitments"}},
        ceremony.trustee(2).signing_key,
        ceremony.setup,
    )
    assert verdict_complaints(verdict, ceremony.setup) == {
        1: "the share for trustee 2 does not match the commitments"
    }


# X25519 points of small order (RFC 7748 §5 lists why; libsodium refuses them): a sealed box
# to one of them cannot be made (libsodium's error) or would be open to anyone.
SMALL_ORDER = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
]


@pytest.mark.parametrize("box_key", SMALL_ORDER)
def test_a_box_key_of_small_order_is_refused_in_the_setup(box_key: bytes) -> None:
    """Before: a trustee (or the organiser) could put such a box key in the setup; every other
    trustee's round 2 then failed with libsodium's "Unexpected library error", naming nobody."""
    with pytest.raises(EncodingError, match="box key"):
        TrusteeIdentity(2, "Mallory", SigningKey.generate().public_key, box_key)


def test_two_signatures_of_one_message_give_every_reader_the_same_transcript() -> None:
    """Before: the transcript hash covered each message with its signature, and a trustee
    with a modified tool could sign one message twice (Ed25519 allows many valid signatures)
    and show each half of the board another copy: the halves computed different transcript
    hashes and an honest trustee was named as having signed a different result. Now the hash
    covers what was said (setup, kind, sender, body), not how it was signed."""
    ceremony, _, _ = honest_ceremony(5, 3)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    verdicts = ceremony.verdicts()
    copy = another_signature(commitments[4], ceremony.trustee(5).signing_key, ceremony.setup)
    seen_by_first = evaluate(ceremony.setup, [*commitments, *shares, *verdicts])
    seen_by_second = evaluate(ceremony.setup, [*commitments[:4], copy, *shares, *verdicts])
    assert seen_by_first.election_key == seen_by_second.election_key
    assert seen_by_first.transcript_hash == seen_by_second.transcript_hash
    results = [
        result_message(j, outcome, ceremony.trustee(j).signing_key, ceremony.setup)
        for j, outcome in ((1, seen_by_first), (2, seen_by_first), (3, seen_by_second))
    ] + [
        result_message(j, seen_by_second, ceremony.trustee(j).signing_key, ceremony.setup)
        for j in (4, 5)
    ]
    # whoever collects, with either copy (or both), sees every trustee confirm the result
    both = evaluate(ceremony.setup, [*commitments, copy, *shares, *verdicts])
    assert check_results(ceremony.setup, both, results).confirmed == (1, 2, 3, 4, 5)
