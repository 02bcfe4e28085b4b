"""What a cheating trustee's modified tool signs with: the ceremony signing key on their own
medium (for count files re-signed after a change)."""

from __future__ import annotations

from pathlib import Path

from kiosk.core.crypto import SigningKey
from testkit.trustee_ceremony import medium_secret


def medium_signing_key(medium: Path) -> SigningKey:
    """The ceremony signing key on a trustee's medium (what a modified tool would use)."""
    secret = medium_secret(medium, "identity.secret.json")
    return SigningKey(bytes.fromhex(secret["signing_key"]))
