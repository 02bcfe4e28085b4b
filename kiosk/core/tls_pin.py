"""The ledger's TLS pin: how the election package names the one certificate kiosks accept
(``sha256/`` and the SHA-256 of its DER bytes in hex), and how a pin is read back."""

from __future__ import annotations

import hashlib
import re

from kiosk.core.errors import EncodingError

PREFIX = "sha256/"
_HEX = re.compile(r"\A[0-9a-f]{64}\Z")


def pin_for_certificate(der: bytes) -> str:
    """The pin written into a package for the certificate whose DER bytes are ``der``."""
    return PREFIX + hashlib.sha256(der).hexdigest()


def pin_fingerprint(pin: str) -> str:
    """The certificate's SHA-256 as 64 lower-case hex digits, from a pin as a person may write
    it: with or without ``sha256/``, in any case, with or without colons between bytes.
    ``EncodingError`` if it cannot be one."""
    digits = pin.removeprefix(PREFIX).replace(":", "").lower()
    if not _HEX.match(digits):
        raise EncodingError(
            f"{pin!r} is not a TLS pin: write sha256/ and the certificate's SHA-256 in hex"
        )
    return digits
