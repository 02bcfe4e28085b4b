"""Signed kiosk requests: what a kiosk signs for a write to the ledger, the header that carries
it, and the ledger's check of both. The kiosk's client and the ledger's API both use this."""

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
CLOCK_SKEW_S = 300  # seconds a signed request may be early or late
_DIGITS = re.compile(r"[0-9]{1,15}")


class RequestFault(enum.StrEnum):
    """Why a signed request is refused; the values are the ledger's refusal reasons."""

    BAD_SIGNATURE = "bad_request_signature"
    STALE = "stale_request"


class RequestRefused(HanpyoError):
    """A signed request that does not check out; ``fault`` says which part failed."""

    def __init__(self, fault: RequestFault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault


@dataclass(frozen=True, slots=True)
class Authorization:
    """The fields of an ``Authorization: Hanpyo kiosk=..., time=..., sig=...`` header, as sent
    (unchecked: ``verify_request`` checks them)."""

    kiosk: str | None
    time: str
    sig: str


def request_message(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    """What a kiosk signs for a request: method, path, time, and the body's SHA-256."""
    return f"{method}\n{path}\n{timestamp}\n".encode() + hashlib.sha256(body).digest()


def sign_request(key: SigningKey, method: str, path: str, body: bytes, now: float) -> str:
    """The ``Authorization`` header value for a request signed by ``key`` at ``now``."""
    stamp = str(int(now))
    sig = key.sign(Domain.REQUEST, request_message(method, path, stamp, body))
    return f"{SCHEME} kiosk={kiosk_id_for(key.public_key)}, time={stamp}, sig={b64e(sig)}"


def read_authorization(header: str | None) -> Authorization:
    """Split the header into its fields; ``RequestRefused`` if it is not a Hanpyo header."""
    if not header or not header.startswith(f"{SCHEME} "):
        raise RequestRefused(
            RequestFault.BAD_SIGNATURE,
            "writes need 'Authorization: Hanpyo kiosk=..., time=..., sig=...'",
        )
    fields = {}
    for part in header.removeprefix(f"{SCHEME} ").split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    return Authorization(fields.get("kiosk"), fields.get("time", ""), fields.get("sig", ""))


def check_header(header: str | None, kiosk_id: str, now: float) -> Authorization:
    """The checks that need no body and no key: the header is a Hanpyo header, names
    ``kiosk_id``, is within ``CLOCK_SKEW_S`` of ``now`` and carries a signature of the right
    size. The ledger runs them before it reads a byte of the body."""
    auth = read_authorization(header)
    if auth.kiosk != kiosk_id:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, "the request is signed by another kiosk")
    if not _DIGITS.fullmatch(auth.time) or abs(int(auth.time) - now) > CLOCK_SKEW_S:
        raise RequestRefused(
            RequestFault.STALE,
            "the request time is missing or off by more "
            f"than {CLOCK_SKEW_S} s; check the kiosk clock",
        )
    _signature(auth)
    return auth


def _signature(auth: Authorization) -> bytes:
    try:
        return b64d(auth.sig, length=64, name="sig")
    except EncodingError as e:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, str(e)) from e


def verify_request(
    header: str | None,
    method: str,
    path: str,
    body: bytes,
    *,
    kiosk_id: str,
    key_of: Callable[[str], bytes],
    now: float,
) -> None:
    """Check that ``kiosk_id`` signed this request within ``CLOCK_SKEW_S`` of ``now``.

    ``key_of`` gives an enrolled kiosk's public key (and raises its own error for a kiosk
    that is not enrolled); it is asked only once the header is well formed and timely.
    Raises ``RequestRefused`` naming the part that failed. It does not prove the request
    is fresh within the skew window: a replay inside it verifies.
    """
    auth = check_header(header, kiosk_id, now)
    public_key = key_of(kiosk_id)
    try:
        verify_signature(
            Domain.REQUEST,
            public_key,
            request_message(method, path, auth.time, body),
            _signature(auth),
        )
    except VerificationError as e:
        raise RequestRefused(RequestFault.BAD_SIGNATURE, str(e)) from e
