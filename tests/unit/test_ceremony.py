"""The trustees' key ceremony among five simulated trustees (threshold 3): one key nobody
holds, each trustee's share matching its public verification key, and every way a trustee
can cheat caught and named."""

from __future__ import annotations

import itertools
import random

import pytest

from kiosk.core.crypto import SealingKey, SigningKey
from kiosk.core.errors import EncodingError
from kiosk.core.verifiable.ceremony import (
    BadShare,
    CeremonyError,
    CeremonyOutcome,
    CeremonySetup,
    Polynomial,
    SignedMessage,
    TrusteeIdentity,
    TrusteeShare,
    check_commitments,
    check_results,
    commitments_message,
    evaluate,
    open_share,
    result_message,
    reveal_message,
    secret_share,
    verdict_message,
)
from kiosk.core.verifiable.decryption import DecryptionError, decrypt_all, decryption_shares
from kiosk.core.verifiable.elgamal import Ciphertext, ciphertext_sum, encrypt
from kiosk.core.verifiable.group import Point, base_mul
from testkit.simulated_trustees import SimulatedCeremony, honest_ceremony, simulated_ceremony

N, K = 5, 3
CONTEXT = b"test tally"


def tally(votes: list[int], key: Point) -> list[Ciphertext]:
    return [ciphertext_sum(encrypt(v, key)[0] for v in votes)]


def decrypt_by(
    trustees: tuple[int, ...],
    shares: dict[int, TrusteeShare],
    outcome: CeremonyOutcome,
    ciphertexts: list[Ciphertext],
    base_hash: bytes,
) -> list[int]:
    published = [
        share
        for j in trustees
        for share in decryption_shares(shares[j], ciphertexts, outcome, base_hash, CONTEXT)
    ]
    return decrypt_all(ciphertexts, published, outcome, K, 100, base_hash, CONTEXT)


# --- an honest ceremony --------------------------------------------------------------------


def test_five_trustees_make_one_key_that_any_three_open_and_two_cannot() -> None:
    ceremony, outcome, shares = honest_ceremony(N, K)
    assert outcome.qualified == (1, 2, 3, 4, 5) and not outcome.disqualified
    assert outcome.election_key == ceremony.election_key_of(range(1, N + 1))
    for j, share in shares.items():
        assert base_mul(share.secret) == outcome.verification_keys[j]
    votes = [1, 0, 1, 1, 0, 1, 1]
    ciphertexts = tally(votes, outcome.election_key)
    base_hash = ceremony.setup.base_hash()
    for three in itertools.combinations(range(1, N + 1), 3):
        assert decrypt_by(three, shares, outcome, ciphertexts, base_hash) == [sum(votes)]
    for two in itertools.combinations(range(1, N + 1), 2):
        with pytest.raises(DecryptionError, match="3 trustees' shares are needed"):
            decrypt_by(two, shares, outcome, ciphertexts, base_hash)


def test_every_reader_computes_the_same_outcome_whatever_order_the_messages_come_in() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    ceremony.open_all(commitments, shares)
    messages = [*commitments, *shares, *ceremony.verdicts()]
    first = evaluate(ceremony.setup, messages)
    shuffled = messages + messages[:3]  # copies of a message are the same message
    random.shuffle(shuffled)
    again = evaluate(ceremony.setup, [SignedMessage.from_json(m.to_bytes()) for m in shuffled])
    assert again == first


def test_each_trustee_signs_the_result_and_one_who_saw_another_result_is_named() -> None:
    ceremony, outcome, _ = honest_ceremony(N, K)
    results = [
        result_message(j, outcome, ceremony.trustee(j).signing_key, ceremony.setup)
        for j in range(1, N + 1)
    ]
    signed = check_results(ceremony.setup, outcome, results)
    assert signed.confirmed == (1, 2, 3, 4, 5) and signed.dissenting == ()
    other = dict(outcome.result_body(), election_key=base_mul(7).hex())
    liar = SignedMessage.sign("result", 4, other, ceremony.trustee(4).signing_key, ceremony.setup)
    signed = check_results(ceremony.setup, outcome, [*results[:3], liar])
    assert signed.confirmed == (1, 2, 3) and signed.dissenting == (4,)
    # one who signed both the result and another is named, not counted
    signed = check_results(ceremony.setup, outcome, [*results, liar])
    assert signed.confirmed == (1, 2, 3, 5) and signed.dissenting == (4,)
    forged = SignedMessage("result", 2, other, liar.signature)
    with pytest.raises(CeremonyError, match="trustee 2: the result message is not signed"):
        check_results(ceremony.setup, outcome, [*results, forged])


# --- a bad share: complaint, reveal, disqualification --------------------------------------


def ceremony_with_bad_share() -> tuple[SimulatedCeremony, list[SignedMessage]]:
    """Trustee 2 sends trustee 4 a wrong share; trustee 4 complains."""
    ceremony = simulated_ceremony(N, K)
    commitments = ceremony.commitments()
    shares = ceremony.shares(skip=[2])
    wrong = ceremony.trustee(2).polynomial.evaluate(4) + 1
    shares.append(ceremony.shares_with_wrong_value(2, 4, wrong))
    ceremony.open_all(commitments, shares)
    assert ceremony.complaints[4] == {2: "the share for trustee 4 does not match the commitments"}
    assert all(not ceremony.complaints[j] for j in (1, 2, 3, 5))
    return ceremony, [*commitments, *shares, *ceremony.verdicts()]


def test_a_bad_share_revealed_correctly_dismisses_the_complaint() -> None:
    ceremony, messages = ceremony_with_bad_share()
    outcome = evaluate(ceremony.setup, [*messages, *ceremony.reveals()])
    assert outcome.qualified == (1, 2, 3, 4, 5)
    assert outcome.complaints == {(4, 2): "the share for trustee 4 does not match the commitments"}
    assert outcome.revealed == {(2, 4): ceremony.trustee(2).polynomial.evaluate(4)}
    shares = ceremony.trustee_shares(outcome)  # trustee 4 takes the revealed share
    ciphertexts = tally([1, 1, 0, 1], outcome.election_key)
    base_hash = ceremony.setup.base_hash()
    assert decrypt_by((2, 4, 5), shares, outcome, ciphertexts, base_hash) == [3]


@pytest.mark.parametrize("reveal", ["wrong", "missing", "not for the complainer"])
def test_a_bad_share_with_a_bad_or_missing_reveal_disqualifies_its_sender(reveal: str) -> None:
    ceremony, messages = ceremony_with_bad_share()
    two = ceremony.trustee(2)
    if reveal == "wrong":
        wrong = {"shares": {"4": (two.polynomial.evaluate(4) + 1).to_bytes(32, "little").hex()}}
        messages.append(SignedMessage.sign("reveal", 2, wrong, two.signing_key, ceremony.setup))
    elif reveal == "not for the complainer":
        messages.append(reveal_message(two.polynomial, 2, [5], two.signing_key, ceremony.setup))
    outcome = evaluate(ceremony.setup, messages)
    assert outcome.qualified == (1, 3, 4, 5)
    assert list(outcome.disqualified) == [2]
    assert outcome.disqualified[2].startswith("complaint by trustee 4 upheld")
    assert outcome.election_key == ceremony.election_key_of([1, 3, 4, 5])
    shares = ceremony.trustee_shares(outcome)
    ciphertexts = tally([1, 0, 1, 1, 1], outcome.election_key)
    base_hash = ceremony.setup.base_hash()
    for three in itertools.combinations((1, 3, 4, 5), 3):
        assert decrypt_by(three, shares, outcome, ciphertexts, base_hash) == [4]


def test_a_false_complaint_is_answered_by_the_reveal_and_changes_nothing() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    ceremony.open_all(commitments, shares)
    ceremony.complaints[3] = {1: "I say so"}
    outcome = evaluate(
        ceremony.setup, [*commitments, *shares, *ceremony.verdicts(), *ceremony.reveals()]
    )
    assert outcome.qualified == (1, 2, 3, 4, 5)
    assert outcome.election_key == ceremony.election_key_of(range(1, N + 1))


def test_fewer_than_the_threshold_left_ends_the_ceremony_without_a_key() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments = ceremony.commitments(skip=[1, 5])
    shares = ceremony.shares(skip=[1, 5, 3])
    ceremony.open_all(commitments, shares)
    with pytest.raises(CeremonyError, match="only 2 trustees remain qualified") as caught:
        evaluate(ceremony.setup, [*commitments, *shares, *ceremony.verdicts()])
    text = str(caught.value)
    assert "trustee 1: sent no commitments" in text and "trustee 3: sent no shares" in text


def test_a_trustee_silent_in_round_one_is_left_out_and_the_rest_go_on() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments, shares = ceremony.commitments(skip=[3]), ceremony.shares(skip=[3])
    ceremony.open_all(commitments, shares)
    outcome = evaluate(ceremony.setup, [*commitments, *shares, *ceremony.verdicts(skip=[3])])
    assert outcome.disqualified == {3: "sent no commitments"}
    assert outcome.silent == (3,)
    shares_of = ceremony.trustee_shares(outcome)  # trustee 3 still holds a share of K
    ciphertexts = tally([1, 1], outcome.election_key)
    base_hash = ceremony.setup.base_hash()
    assert decrypt_by((1, 3, 5), shares_of, outcome, ciphertexts, base_hash) == [2]


def test_a_trustee_without_a_proof_of_their_coefficients_is_disqualified() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments = ceremony.commitments(skip=[2])
    two = ceremony.trustee(2)
    honest = commitments_message(two.polynomial, 2, two.signing_key, ceremony.setup)
    proofs = list(honest.body["proofs"])
    proofs[1] = proofs[0]
    forged = dict(honest.body, proofs=proofs)
    commitments.append(
        SignedMessage.sign("commitments", 2, forged, two.signing_key, ceremony.setup)
    )
    with pytest.raises(CeremonyError, match="trustee 2: commitments: Schnorr proof"):
        check_commitments(commitments[-1], ceremony.setup)
    shares = ceremony.shares()
    ceremony.open_all(commitments, shares)
    outcome = evaluate(ceremony.setup, [*commitments, *shares, *ceremony.verdicts()])
    assert list(outcome.disqualified) == [2]
    assert "Schnorr proof" in outcome.disqualified[2]


# --- messages nobody may accept ------------------------------------------------------------


def test_two_different_signed_commitments_from_one_trustee_name_the_equivocator() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments = ceremony.commitments()
    three = ceremony.trustee(3)
    other = commitments_message(Polynomial.draw(K), 3, three.signing_key, ceremony.setup)
    with pytest.raises(CeremonyError, match="equivocation") as caught:
        evaluate(ceremony.setup, [*commitments, other])
    assert caught.value.trustee == 3


def test_a_message_not_signed_by_its_sender_for_this_ceremony_is_refused() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments = ceremony.commitments()
    elsewhere = simulated_ceremony(N, K, election_id="another election")
    foreign = elsewhere.commitments()[0]
    forged = SignedMessage(
        "commitments", 2, commitments[0].body, commitments[0].signature
    )  # trustee 1's signature, claimed for trustee 2
    for message in (foreign, forged):
        with pytest.raises(CeremonyError, match="not signed by this trustee for this ceremony"):
            evaluate(ceremony.setup, [*commitments[1:], message])


def test_a_share_opens_only_for_its_trustee_and_only_from_its_sender() -> None:
    ceremony = simulated_ceremony(N, K)
    commitments = {m.sender: check_commitments(m, ceremony.setup) for m in ceremony.commitments()}
    shares = ceremony.shares()
    with pytest.raises(CeremonyError, match="box key is not the trustee's"):
        open_share(shares[0], 2, SealingKey.generate(), ceremony.setup, commitments[1])
    # trustee 3 copies trustee 1's sealed share for 2 into their own message
    three = ceremony.trustee(3)
    copied = dict(shares[2].body["shares"], **{"2": shares[0].body["shares"]["2"]})
    forged = SignedMessage.sign("shares", 3, {"shares": copied}, three.signing_key, ceremony.setup)
    with pytest.raises(BadShare, match="sealed to trustee 2 names other trustees") as caught:
        open_share(forged, 2, ceremony.trustee(2).box_secret, ceremony.setup, commitments[3])
    assert caught.value.sender == 3


def test_a_trustee_must_complain_rather_than_keep_a_bad_share() -> None:
    ceremony, messages = ceremony_with_bad_share()
    outcome = evaluate(
        ceremony.setup,
        [m for m in messages if m.kind != "verdict"],  # nobody complains
    )
    received = {**ceremony.received[4], 2: ceremony.trustee(2).polynomial.evaluate(4) + 1}
    with pytest.raises(CeremonyError, match="should have been complained about") as caught:
        secret_share(4, received, outcome)
    assert caught.value.trustee == 2


def test_a_verdict_cannot_complain_about_its_own_sender_or_a_stranger() -> None:
    ceremony = simulated_ceremony(N, K)
    for accused in (2, 9):
        with pytest.raises(CeremonyError, match="trustee 2: verdict: a complaint names"):
            verdict_message(2, {accused: "x"}, ceremony.trustee(2).signing_key, ceremony.setup)


# --- setup and files -----------------------------------------------------------------------


def identities(n: int) -> list[TrusteeIdentity]:
    return [
        TrusteeIdentity(
            i, f"trustee {i}", SigningKey.generate().public_key, SealingKey.generate().public_key
        )
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize(
    ("threshold", "change", "refusal"),
    [
        (1, None, "threshold is at least 2"),
        (4, None, "between 1 and 3"),
        (0, None, "between 1 and 3"),
        (2, "duplicate index", "numbered 1..n"),
        (2, "duplicate signing key", "same signing key"),
        (2, "duplicate box key", "same box key"),
    ],
)
def test_a_setup_is_refused_when_the_numbers_or_keys_do_not_add_up(
    threshold: int, change: str | None, refusal: str
) -> None:
    people = identities(3)
    first = people[0]
    if change == "duplicate index":
        people[1] = TrusteeIdentity(1, "again", people[1].signing_key, people[1].box_key)
    elif change == "duplicate signing key":
        people[1] = TrusteeIdentity(2, "b", first.signing_key, people[1].box_key)
    elif change == "duplicate box key":
        people[1] = TrusteeIdentity(2, "b", people[1].signing_key, first.box_key)
    with pytest.raises(EncodingError, match=refusal):
        CeremonySetup("e", threshold, tuple(people))


def test_one_trustee_alone_is_a_ceremony_of_one() -> None:
    ceremony, outcome, shares = honest_ceremony(1, 1)
    assert outcome.election_key == ceremony.election_key_of([1])
    ciphertexts = tally([1, 1, 1], outcome.election_key)
    published = decryption_shares(shares[1], ciphertexts, outcome, b"h", CONTEXT)
    assert decrypt_all(ciphertexts, published, outcome, 1, 10, b"h", CONTEXT) == [3]


def test_setup_messages_and_shares_survive_their_files_and_secrets_stay_out_of_print() -> None:
    ceremony, _, shares = honest_ceremony(3, 2)
    setup = ceremony.setup
    assert CeremonySetup.from_json(setup.to_bytes()) == setup
    again = CeremonySetup.from_json({**setup.to_json(), "threshold": 3})
    assert again.base_hash() != setup.base_hash()
    share = shares[2]
    assert TrusteeShare.from_json(share.to_bytes()) == share
    secret_hex = share.to_json()["share"]
    assert secret_hex not in repr(share) and str(share.secret) not in repr(share)
    polynomial = ceremony.trustee(1).polynomial
    assert Polynomial.from_json(polynomial.to_json()) == polynomial
    assert all(str(a) not in repr(polynomial) for a in polynomial.coefficients)
    with pytest.raises(EncodingError):
        TrusteeShare.from_json({**share.to_json(), "share": "00" * 31})


def test_a_message_has_one_spelling() -> None:
    ceremony = simulated_ceremony(3, 2)
    message = ceremony.commitments()[0].to_json()
    for changed in (
        {**message, "signature": message["signature"].upper()},
        {**message, "sender": "1"},
        {**message, "kind": "gossip"},
    ):
        with pytest.raises(EncodingError):
            SignedMessage.from_json(changed)
    body = dict(message["body"])
    body["commitments"] = [body["commitments"][0].upper(), *body["commitments"][1:]]
    one = ceremony.trustee(1)
    upper = SignedMessage.sign("commitments", 1, body, one.signing_key, ceremony.setup)
    with pytest.raises(CeremonyError, match="commitment 0: not lowercase hexadecimal"):
        check_commitments(upper, ceremony.setup)
