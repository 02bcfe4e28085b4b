"""Several trustees of a key ceremony simulated in one process, honest or cheating in one
chosen way. TESTS ONLY: the trustee tool refuses to hold two trustees' secrets in one
process; here one test plays every trustee to check what the others would see."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import nacl.bindings as sodium

from kiosk.core.crypto import Domain, SealingKey, SigningKey, seal
from kiosk.core.encoding import canonical_json
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
    commitments_message,
    evaluate,
    open_share,
    reveal_message,
    secret_share,
    shares_message,
    verdict_message,
)
from kiosk.core.verifiable.group import Point, base_mul, scalar_bytes


@dataclass(frozen=True)
class SimulatedTrustee:
    index: int
    signing_key: SigningKey
    box_secret: SealingKey
    polynomial: Polynomial

    def identity(self) -> TrusteeIdentity:
        return TrusteeIdentity(
            self.index,
            f"trustee {self.index}",
            self.signing_key.public_key,
            self.box_secret.public_key,
        )


@dataclass
class SimulatedCeremony:
    """n trustees with threshold k; the rounds' messages as each round makes them."""

    setup: CeremonySetup
    trustees: dict[int, SimulatedTrustee]
    received: dict[int, dict[int, int]] = field(default_factory=dict)
    complaints: dict[int, dict[int, str]] = field(default_factory=dict)

    def trustee(self, index: int) -> SimulatedTrustee:
        return self.trustees[index]

    def commitments(self, skip: Iterable[int] = ()) -> list[SignedMessage]:
        return [
            commitments_message(t.polynomial, i, t.signing_key, self.setup)
            for i, t in self.trustees.items()
            if i not in set(skip)
        ]

    def shares(self, skip: Iterable[int] = ()) -> list[SignedMessage]:
        return [
            shares_message(t.polynomial, i, t.signing_key, self.setup)
            for i, t in self.trustees.items()
            if i not in set(skip)
        ]

    def shares_with_wrong_value(self, sender: int, to: int, wrong: int) -> SignedMessage:
        """Sender's shares message, honest except that ``to`` gets ``wrong`` (correctly sealed
        and signed, so only the check against the commitments catches it)."""
        t = self.trustees[sender]
        honest = shares_message(t.polynomial, sender, t.signing_key, self.setup)
        plaintext = (
            self.setup.base_hash()
            + sender.to_bytes(4, "big")
            + to.to_bytes(4, "big")
            + scalar_bytes(wrong)
        )
        body = {"shares": dict(honest.body["shares"])}
        body["shares"][str(to)] = seal(self.setup.trustee(to).box_key, plaintext).hex()
        return SignedMessage.sign("shares", sender, body, t.signing_key, self.setup)

    def open_all(
        self, commitments: Sequence[SignedMessage], shares: Sequence[SignedMessage]
    ) -> None:
        """Each trustee opens what was sealed to them; a failing share becomes a complaint."""
        published = {}
        for message in commitments:
            try:
                published[message.sender] = check_commitments(message, self.setup)
            except CeremonyError:
                continue  # everyone sees it: the sender is disqualified, nobody complains
        for j, me in self.trustees.items():
            self.received[j] = {j: me.polynomial.evaluate(j)}
            self.complaints[j] = {}
            for message in shares:
                if message.sender == j or message.sender not in published:
                    continue
                try:
                    self.received[j][message.sender] = open_share(
                        message, j, me.box_secret, self.setup, published[message.sender]
                    )
                except BadShare as complaint:
                    self.complaints[j][complaint.sender] = complaint.reason

    def verdicts(self, skip: Iterable[int] = ()) -> list[SignedMessage]:
        return [
            verdict_message(j, self.complaints.get(j, {}), self.trustees[j].signing_key, self.setup)
            for j in self.trustees
            if j not in set(skip)
        ]

    def complained_about(self) -> dict[int, list[int]]:
        accused: dict[int, list[int]] = {}
        for j, against in self.complaints.items():
            for i in against:
                accused.setdefault(i, []).append(j)
        return accused

    def reveals(self, skip: Iterable[int] = ()) -> list[SignedMessage]:
        return [
            reveal_message(
                self.trustees[i].polynomial, i, by, self.trustees[i].signing_key, self.setup
            )
            for i, by in sorted(self.complained_about().items())
            if i not in set(skip)
        ]

    def trustee_shares(self, outcome: CeremonyOutcome) -> dict[int, TrusteeShare]:
        """Each trustee's z_j, as each would compute it on their own medium."""
        return {
            j: TrusteeShare(outcome.setup_hash, j, secret_share(j, self.received[j], outcome))
            for j in self.trustees
        }

    def election_key_of(self, dealers: Iterable[int]) -> Point:
        """K as the sum of these trustees' constant terms, which only a test can know."""
        return base_mul(sum(self.trustees[i].polynomial.coefficients[0] for i in dealers))


def simulated_ceremony(n: int, k: int, election_id: str = "test-election") -> SimulatedCeremony:
    trustees = {
        i: SimulatedTrustee(i, SigningKey.generate(), SealingKey.generate(), Polynomial.draw(k))
        for i in range(1, n + 1)
    }
    setup = CeremonySetup(election_id, k, tuple(t.identity() for t in trustees.values()))
    return SimulatedCeremony(setup, trustees)


def honest_ceremony(
    n: int, k: int
) -> tuple[SimulatedCeremony, CeremonyOutcome, dict[int, TrusteeShare]]:
    """A whole ceremony where everyone follows the protocol."""
    ceremony = simulated_ceremony(n, k)
    commitments, shares = ceremony.commitments(), ceremony.shares()
    ceremony.open_all(commitments, shares)
    outcome = evaluate(ceremony.setup, [*commitments, *shares, *ceremony.verdicts()])
    return ceremony, outcome, ceremony.trustee_shares(outcome)


def another_signature(
    message: SignedMessage, signing_key: SigningKey, setup: CeremonySetup
) -> SignedMessage:
    """The same message with a second, different, valid Ed25519 signature: what a modified
    tool makes by drawing the nonce r at random instead of deriving it from the key and the
    message (RFC 8032 §5.1.6 steps 2-6 with step 2's r replaced; verification, §5.1.7, cannot
    tell). Ed25519 signatures are not unique per message, so nothing may depend on which
    signature a copy carries."""
    signed = Domain.CEREMONY.value + canonical_json(
        {
            "setup": setup.base_hash().hex(),
            "kind": message.kind,
            "sender": message.sender,
            "body": message.body,
        }
    )
    digest = bytearray(hashlib.sha512(signing_key.seed).digest()[:32])
    digest[0] &= 248  # RFC 8032 §5.1.5 step 2: the secret scalar s from the seed
    digest[31] &= 127
    digest[31] |= 64
    s = sodium.crypto_core_ed25519_scalar_reduce(bytes(digest) + bytes(32))
    r = sodium.crypto_core_ed25519_scalar_reduce(os.urandom(64))
    big_r = sodium.crypto_scalarmult_ed25519_base_noclamp(r)
    k = sodium.crypto_core_ed25519_scalar_reduce(
        hashlib.sha512(big_r + signing_key.public_key + signed).digest()
    )
    big_s = sodium.crypto_core_ed25519_scalar_add(r, sodium.crypto_core_ed25519_scalar_mul(k, s))
    other = SignedMessage(message.kind, message.sender, message.body, big_r + big_s)
    other.verify(setup)
    assert other.signature != message.signature
    return other
