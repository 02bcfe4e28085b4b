"""Signed kiosk requests: what a kiosk signs for a write to the ledger, the header that carries
it, and the ledger's check of both. The kiosk's client and the ledger's API both use this.

Version 2 signs, under ``hanpyo/request/v2``, the ledger it is meant for (its log origin: the
name in the log key the kiosk is configured with), the method, the path with its query, the
time, a fresh random nonce and the body's SHA-256. The ledger refuses a request for another
origin and remembers each nonce for as long as the time is acceptable, so a captured request
is neither replayed to the same ledger nor to another one.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.core.crypto import Domain, SigningKey, kiosk_id_for, verify_signature
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import EncodingError, HanpyoError, VerificationError

SCHEME = "Hanpyo"
VERSION = "2"
CLOCK_SKEW_S = 300  # seconds a signed request may be early or late
NONCE_BYTES = 16
_DIGITS = re.compile(r"0|[1-9][0-9]{0,14}")  # as sign_request writes it: no leading zeros


class RequestFault(enum.StrEnum):
    """Why a signed request is refused; the values are the ledger's refusal reasons."""

    BAD_SIGNATURE = "bad_request_signature"
    STALE = "stale_request"
    WRONG_LEDGER = "wrong_ledger"
    REPLAYED = "replayed_request"


class RequestRefused(HanpyoError):
    """A signed request that does not check out; ``fault`` says which part failed."""

    def __init__(self, fault: RequestFault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault


@dataclass(frozen=True, slots=True)
class Authorization:
    """The fields of an ``Authorization: Hanpyo v=2, kiosk=..., ledger=..., time=...,
    nonce=..., sig=...`` header, as sent (unchecked: ``check_header`` checks them)."""

    version: str | None
    kiosk: str | None
    ledger: str
    time: str
    nonce: str
    sig: str


@dataclass(frozen=True, slots=True)
class CheckedHeader:
    """A header whose form ``check_header`` accepted: what the ledger records of it."""

    kiosk: str
    signed_at: int
    nonce: bytes
    signature: bytes


def request_message(
    origin: str, method: str, target: str, timestamp: str, nonce: bytes, body: bytes
) -> bytes:
    """What a kiosk signs: the ledger's origin, method, path with its query (``target``),
    time, nonce and the body's SHA-256. No field may hold a newline (the origin cannot: it
    is a note key name; the rest are HTTP request-line parts, digits and base64url)."""
    head = f"{origin}\n{method}\n{target}\n{timestamp}\n{b64e(nonce)}\n".encode()
    return head + hashlib.sha256(body).digest()


def request_target(path: str, query: str) -> str:
    """The path and query string as sent on the request line, the form that is signed."""
    return f"{path}?{query}" if query else path


def sign_request(
    key: SigningKey,
    origin: str,
    method: str,
    target: str,
    body: bytes,
    *,
    now: float,
    nonce: bytes,
) -> str:
    """The ``Authorization`` header value for a request to the ledger named ``origin``,
    signed by ``key`` at ``now`` with ``nonce`` (``NONCE_BYTES`` fresh random bytes)."""
    stamp = str(int(now))
    sig = key.sign(Domain.REQUEST_V2, request_message(origin, method, target, stamp, nonce, body))
    return (
        f"{SCHEME} v={VERSION}, kiosk={kiosk_id_for(key.public_key)}, "
        f"ledger={b64e(origin.encode())}, time={stamp}, nonce={b64e(nonce)}, sig={b64e(sig)}"
    )


def read_authorization(header: str | None) -> Authorization:
    """Split the header into its fields; ``RequestRefused`` if it is not a Hanpyo header."""
    if not header or not header.startswith(f"{SCHEME} "):
        raise RequestRefused(
            RequestFault.BAD_SIGNATURE,
            "writes need 'Authorization: Hanpyo v=2, kiosk=..., ledger=..., time=..., "
            "nonce=..., sig=...'",
        )
    fields = {}
    for part in header.removeprefix(f"{SCHEME} ").split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    return Authorization(
        fields.get("v"),
        fields.get("kiosk"),
        fields.get("ledger", ""),
        fields.get("time", ""),
        fields.get("nonce", ""),
        fields.get("sig", ""),
    )


def check_header(header: str | None, kiosk_id: str, origin: str, now: float) -> CheckedHeader:
    """The checks that need no body and no key: a version 2 Hanpyo header from ``kiosk_id``,
    for the ledger named ``origin``, within ``CLOCK_SKEW_S`` of ``now``, with a nonce and a
    signature of the right size. The ledger runs them before it reads a byte of the body."""
    auth = read_authorization(header)
    if auth.version != VERSION:
        raise RequestRefused(
            RequestFault.BAD_SIGNATURE,
            f"the request is signed in format {auth.version or 1}; this ledger takes format "
            f"{VERSION}: update the kiosk's software",
        )
    if auth.kiosk != kiosk_id:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, "the request is signed by another kiosk")
    _check_ledger(auth.ledger, origin)
    if not _DIGITS.fullmatch(auth.time) or abs(int(auth.time) - now) > CLOCK_SKEW_S:
        raise RequestRefused(
            RequestFault.STALE,
            "the request time is missing or off by more "
            f"than {CLOCK_SKEW_S} s; check the kiosk clock",
        )
    return CheckedHeader(
        kiosk_id,
        int(auth.time),
        _decoded(auth.nonce, NONCE_BYTES, "nonce"),
        _decoded(auth.sig, 64, "sig"),
    )


def _check_ledger(written: str, origin: str) -> None:
    try:
        named = b64d(written, name="ledger").decode("utf-8")
    except (EncodingError, UnicodeDecodeError) as e:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, f"ledger: {e}") from e
    if named != origin:
        raise RequestRefused(
            RequestFault.WRONG_LEDGER,
            f"the request is signed for the ledger {named!r}, not this one ({origin!r}): "
            "check the kiosk's ledger address and log key",
        )


def _decoded(text: str, length: int, name: str) -> bytes:
    try:
        return b64d(text, length=length, name=name)
    except EncodingError as e:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, str(e)) from e


def verify_request(
    header: str | None,
    method: str,
    target: str,
    body: bytes,
    *,
    kiosk_id: str,
    origin: str,
    key_of: Callable[[str], bytes],
    now: float,
) -> CheckedHeader:
    """Check that ``kiosk_id`` signed this request for the ledger ``origin`` within
    ``CLOCK_SKEW_S`` of ``now``; return the checked header.

    ``key_of`` gives an enrolled kiosk's public key (and raises its own error for a kiosk
    that is not enrolled); it is asked only once the header is well formed and timely.
    Raises ``RequestRefused`` naming the part that failed. A replay inside the time window
    verifies here: the caller refuses a nonce it has seen (``RequestFault.REPLAYED``).
    """
    checked = check_header(header, kiosk_id, origin, now)
    stamp = str(checked.signed_at)
    message = request_message(origin, method, target, stamp, checked.nonce, body)
    try:
        verify_signature(Domain.REQUEST_V2, key_of(kiosk_id), message, checked.signature)
    except VerificationError as e:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, str(e)) from e
    return checked
