"""The ledger's TLS pin: how the election package names the one certificate kiosks accept
(``sha256/`` and the SHA-256 of its DER bytes in hex), how a pin is read back, and when a
ledger address without TLS is refused."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit

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


def plain_http_refusal(url: str, *, pinned: bool, official: bool) -> str | None:
    """Why the kiosk must not talk to the ledger at ``url``, or None if it may.

    https is always fine (the pin, when there is one, is checked on it). Plain http is
    refused when a pin is set, since a pin on an address that never does TLS would be
    skipped without a word, and in official mode unless the ledger is on this machine
    (a venue's local mirror on loopback)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    if parts.scheme != "http":
        return f"the ledger address {url!r} is neither https nor http"
    if pinned:
        return (
            f"the election package pins the ledger's TLS certificate, but the ledger address "
            f"{url} is plain http, which would skip the pin: use its https address"
        )
    if official and not is_loopback(parts.hostname or ""):
        return (
            f"in official mode the kiosk talks to the ledger only over https, and {url} is "
            "plain http to another machine: use the ledger's https address"
        )
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
