"""Answers the ledger signs with its log key, for the questions whose answer changes what a
kiosk does: how far the ledger holds this kiosk's chain (asked, or after an upload), and
whether a voter already voted.

Each answer is a small canonical JSON statement that names the kiosk, the question and the
kiosk's fresh nonce, signed under ``hanpyo/ledger-answer/v1``. The kiosk checks it against the
log key it is configured with, so neither a hostile network nor an old answer replayed can
turn a voter away or make the kiosk believe its blocks were delivered.
"""

from __future__ import annotations

from kiosk.core.crypto import Domain, SigningKey, verify_signature
from kiosk.core.encoding import b64d, b64e, canonical_json
from kiosk.core.errors import EncodingError, VerificationError


def head_statement(kiosk_id: str, height: int, block_hash: bytes | None, nonce: bytes) -> bytes:
    """What the ledger signs for ``GET /v1/kiosks/{id}/head?nonce=...``."""
    return canonical_json(
        {
            "answer": "head",
            "kiosk": kiosk_id,
            "height": height,
            "hash": None if block_hash is None else b64e(block_hash),
            "nonce": b64e(nonce),
        }
    )


def voted_statement(kiosk_id: str, voter: bytes, channels: list[str], nonce: bytes) -> bytes:
    """What the ledger signs for a voter check: the channels ``voter`` (a voter id) voted
    through (none: not voted), for the signed request with ``nonce``. The statement's field
    keeps protocol 1's name "nullifier"."""
    return canonical_json(
        {
            "answer": "voted",
            "kiosk": kiosk_id,
            "nullifier": b64e(voter),
            "channels": sorted(channels),
            "nonce": b64e(nonce),
        }
    )


def upload_statement(
    kiosk_id: str, head_height: int, leaves: dict[int, int], nonce: bytes
) -> bytes:
    """What the ledger signs for an upload: how far it now holds the kiosk's chain and the
    leaf of each block it took, for the signed request with ``nonce``. Blocks it already had
    are acknowledged by ``head_height`` alone, so that word must be the ledger's."""
    return canonical_json(
        {
            "answer": "upload",
            "kiosk": kiosk_id,
            "head_height": head_height,
            "leaves": {str(h): i for h, i in sorted(leaves.items())},
            "nonce": b64e(nonce),
        }
    )


def sign_answer(log_key: SigningKey, statement: bytes) -> str:
    """The signature field of an answer, base64url."""
    return b64e(log_key.sign(Domain.LEDGER_ANSWER, statement))


def verify_answer(log_public_key: bytes, statement: bytes, signature: object) -> None:
    """``VerificationError`` unless ``signature`` is the log key's over ``statement``."""
    if not isinstance(signature, str):
        raise VerificationError("the ledger's answer is not signed")
    try:
        raw = b64d(signature, length=64, name="signature")
    except EncodingError as e:
        raise VerificationError(f"the ledger's answer has a malformed signature: {e}") from e
    verify_signature(Domain.LEDGER_ANSWER, log_public_key, statement, raw)
