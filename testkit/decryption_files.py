"""Decryption shares files as a cheating trustee or a forger would write them: the body
re-signed with a trustee's own ceremony key (a modified tool), or with someone else's key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.core.crypto import Domain, SigningKey
from kiosk.core.encoding import canonical_json
from kiosk.core.verifiable.ceremony import CeremonySetup
from testkit.trustee_ceremony import medium_secret


def medium_signing_key(medium: Path) -> SigningKey:
    """The ceremony signing key on a trustee's medium (what a modified tool would use)."""
    secret = medium_secret(medium, "identity.secret.json")
    return SigningKey(bytes.fromhex(secret["signing_key"]))


def signed_shares_file(
    value: dict[str, Any], setup: CeremonySetup, key: SigningKey
) -> dict[str, Any]:
    """``value`` (a shares file, body possibly changed) with its signature made by ``key`` over
    what `ledger trustee decrypt` signs (ledger/service/trustee_decryption.py)."""
    signed = canonical_json(
        {
            "setup": setup.base_hash().hex(),
            "kind": "decryption",
            "sender": value["trustee"],
            "body": value["body"],
        }
    )
    return value | {"signature": key.sign(Domain.DECRYPTION, signed).hex()}
