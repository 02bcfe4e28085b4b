"""The online voter's credential: a one-time code on a paper letter, from which the voting page
derives the voter's Ed25519 signing key (docs/spec/online.md §1).

The code is 20 Crockford base-32 symbols (100 bits from the operating system's generator),
printed as four groups of five. The browser stretches it with Argon2id (RFC 9106), salted by
the election, into the 32-byte seed of an Ed25519 key (RFC 8032 §5.1.5); only the public key
leaves the voter, as one of the roll entry's signing keys. The same derivation runs in the
page's JavaScript (online/web/src/hanpyo-v2.js); tests/data/online_vectors.json pins both.

Argon2id is memory-hard so that a stolen roll (public keys) costs an attacker real memory per
guess; the code's 100 bits are the actual barrier, the KDF is defence in depth. Its cost is set
for a slow phone running pure JavaScript (the parameters' reasons are in the spec).
"""

from __future__ import annotations

import secrets
import unicodedata

import nacl.pwhash.argon2id

from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.errors import HanpyoError

#: Crockford's base-32 alphabet: digits and capitals without I, L, O and U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SYMBOLS = 20  # 100 bits
GROUP_SYMBOLS = 5
SEED_BYTES = 32
SALT_BYTES = 16
SALT_DOMAIN = b"hanpyo/online-credential/v2\n"
#: Argon2id cost (RFC 9106 §3.1): t passes over m KiB with p = 1 lane. OWASP's third equivalent
#: setting (m = 12 MiB, t = 3), which pure JavaScript derives faster than its m = 19 MiB, t = 2
#: (docs/spec/online.md §1.3 gives the measurements).
ARGON2_T = 3
ARGON2_M_KIB = 12 * 1024
ARGON2_P = 1  # libsodium's Argon2id always uses one lane

# Crockford's decoding rules: O reads as 0, I and L as 1 (what a person misreads on paper).
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Dropped wherever they stand: the letter's hyphens and what people type between groups. After
# NFKC every Unicode space a keyboard makes (no-break, ideographic) is a plain space.
_IGNORED = frozenset(" \t\r\n-")


class CredentialError(HanpyoError):
    """A code that cannot be a credential: wrong length or a symbol outside the alphabet."""


def new_code() -> str:
    """A fresh code: 20 uniform symbols (5 bits each) in four groups of five, ``7K3QD-…``."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_SYMBOLS))
    return "-".join(symbols[i : i + GROUP_SYMBOLS] for i in range(0, CODE_SYMBOLS, GROUP_SYMBOLS))


def normalize_code(text: str) -> str:
    """The 20 symbols of a code as a person may type it: any case, with or without spaces and
    hyphens, O for 0 and I or L for 1. Full-width letters from a phone's Korean keyboard are
    folded by NFKC first. CredentialError (ko/en) for anything that is not 20 symbols."""
    folded = unicodedata.normalize("NFKC", text).upper()
    cleaned = "".join(c for c in folded if c not in _IGNORED)
    cleaned = cleaned.translate(_ALIASES)
    bad = sorted({c for c in cleaned if c not in ALPHABET})
    if bad:
        raise CredentialError(
            f"a credential code holds only Crockford base-32 symbols; found {''.join(bad)!r}",
            user_message=(
                "코드에 쓸 수 없는 글자가 있습니다. 안내문의 코드를 다시 확인해 주세요.",
                "The code has a character that is not used in codes. Please check the code "
                "on your letter.",
            ),
        )
    if len(cleaned) != CODE_SYMBOLS:
        raise CredentialError(
            f"a credential code has {CODE_SYMBOLS} symbols; found {len(cleaned)}",
            user_message=(
                f"코드는 {CODE_SYMBOLS}자입니다 (입력: {len(cleaned)}자). 안내문의 코드를 "
                "다시 확인해 주세요.",
                f"The code has {CODE_SYMBOLS} characters (you entered {len(cleaned)}). Please "
                "check the code on your letter.",
            ),
        )
    return cleaned


def credential_salt(election_id: str) -> bytes:
    """The Argon2id salt (RFC 9106 §3.1: 16 bytes): the election, so one code's work never
    serves another election and a precomputed table serves only one."""
    return sha256(SALT_DOMAIN + election_id.encode("utf-8"))[:SALT_BYTES]


def credential_seed(code: str, election_id: str) -> bytes:
    """Argon2id (RFC 9106, libsodium) of the normalized code: the 32-byte Ed25519 seed."""
    return bytes(
        nacl.pwhash.argon2id.kdf(
            SEED_BYTES,
            normalize_code(code).encode("utf-8"),
            credential_salt(election_id),
            opslimit=ARGON2_T,
            memlimit=ARGON2_M_KIB * 1024,
        )
    )


def credential_key(code: str, election_id: str) -> SigningKey:
    """The voter's Ed25519 key for this election: the seed as RFC 8032 §5.1.5's private key."""
    return SigningKey(credential_seed(code, election_id))
