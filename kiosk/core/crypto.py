"""Signing and sealing on PyNaCl; a domain prefix binds each signature to one use. (Sealed
boxes carry the key ceremony's shares to each trustee, kiosk/core/verifiable/ceremony_rounds.py.)"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.public
import nacl.signing

from kiosk.core.encoding import b64e
from kiosk.core.errors import EncodingError, VerificationError

ED25519_PUBLIC_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
X25519_PUBLIC_BYTES = 32


class Domain(enum.Enum):
    """What a signature is for. A signature made for one purpose never verifies for another."""

    ELECTION = b"hanpyo/election/v2\n"
    BLOCK = b"hanpyo/block/v1\n"
    AUTH = b"hanpyo/auth/v1\n"
    EXPORT = b"hanpyo/export/v1\n"
    REQUEST = b"hanpyo/request/v1\n"  # the replayable first format; no longer accepted
    REQUEST_V2 = b"hanpyo/request/v2\n"  # bound to one ledger, with a nonce (request.py)
    LEDGER_ANSWER = b"hanpyo/ledger-answer/v1\n"  # the ledger's log key over an answer
    CEREMONY = b"hanpyo/ceremony/v2\n"  # a trustee's key-ceremony message (ceremony.py)
    DECRYPTION = b"hanpyo/decryption/v2\n"  # a trustee's signed decryption shares
    BALLOT = b"hanpyo/ballot/v2\n"  # a voter's card over their encrypted ballot
    # an online voter's credential key over the platform's sign-in challenge (online/)
    ONLINE_SESSION = b"hanpyo/online-session/v2\n"
    # the authority over the package's public part, rolls by hash (election.public_part): what
    # the voting page checks without the national roll (docs/spec/ballot.md, review F3)
    ELECTION_PUBLIC = b"hanpyo/election-public/v2\n"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 private key, kept as its 32-byte seed."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise EncodingError(f"an Ed25519 seed is 32 bytes, found {len(self.seed)}")

    def __repr__(self) -> str:  # never print key material, not even in a traceback
        return f"SigningKey(public={b64e(self.public_key)})"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    def sign(self, domain: Domain, message: bytes) -> bytes:
        signed = nacl.signing.SigningKey(self.seed).sign(domain.value + message)
        return bytes(signed.signature)


def verify_signature(domain: Domain, public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise ``VerificationError`` unless ``signature`` is ``public_key``'s over ``message``."""
    if len(public_key) != ED25519_PUBLIC_BYTES:
        raise VerificationError(
            "public key has the wrong length", expected="32 bytes", found=f"{len(public_key)} bytes"
        )
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise VerificationError(
            "signature has the wrong length", expected="64 bytes", found=f"{len(signature)} bytes"
        )
    try:
        nacl.signing.VerifyKey(public_key).verify(domain.value + message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as e:
        raise VerificationError(f"{domain.name.lower()} signature does not verify") from e


@dataclass(frozen=True, slots=True)
class SealingKey:
    """An X25519 private key that opens sealed boxes: a trustee's ceremony box key."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise EncodingError(f"an X25519 private key is 32 bytes, found {len(self.secret)}")

    def __repr__(self) -> str:
        return f"SealingKey(public={b64e(self.public_key)})"

    @classmethod
    def generate(cls) -> SealingKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.public.PrivateKey(self.secret).public_key)

    def open(self, sealed: bytes) -> bytes:
        return self.opener()(sealed)

    def opener(self) -> Callable[[bytes], bytes]:
        """A function that opens sealed boxes with this key, built once for many boxes."""
        box = nacl.public.SealedBox(nacl.public.PrivateKey(self.secret))

        def open_sealed(sealed: bytes) -> bytes:
            try:
                return bytes(box.decrypt(sealed))
            except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as e:
                raise VerificationError("sealed box does not open with this key") from e

        return open_sealed


def seal(public_key: bytes, plaintext: bytes) -> bytes:
    """Anonymous sealed box to ``public_key``: only its private key can open it, not the sender."""
    if len(public_key) != X25519_PUBLIC_BYTES:
        raise EncodingError(f"an X25519 public key is 32 bytes, found {len(public_key)}")
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public_key)).encrypt(plaintext))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def kiosk_id_for(public_key: bytes) -> str:
    """A kiosk's id: the first 16 bytes of SHA-256 of its public key, in hex."""
    return sha256(public_key)[:16].hex()


def is_usable_x25519_key(public_key: bytes) -> bool:
    """True when a sealed box can be made to ``public_key`` and only its owner opens it: 32
    bytes and not a point of small order, for which X25519 gives the all-zero secret (RFC 7748
    §6.1) and libsodium refuses to seal."""
    if len(public_key) != X25519_PUBLIC_BYTES:
        return False
    try:
        # Any scalar will do: X25519 clamps it to a multiple of 8, which sends exactly the
        # points of small order to zero (and libsodium then reports an error).
        nacl.bindings.crypto_scalarmult(b"\x01" * 32, public_key)
    except nacl.exceptions.RuntimeError:
        return False
    return True


def is_valid_ed25519_point(public_key: bytes) -> bool:
    """True when ``public_key`` decodes as an Ed25519 point (so it could ever verify)."""
    if len(public_key) != ED25519_PUBLIC_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError):
        return False
    return True
