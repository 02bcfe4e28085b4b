"""The dashboard's login session: a cookie that stands for one admin token until it expires.

The cookie holds the token's hash, the session's end and a MAC over both, keyed from the log
key so that every worker process checks it alike. It never holds the token. Each request
looks the token up again by its hash, so revoking the token ends its sessions at once."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import EncodingError

COOKIE = "hanpyo_admin"
MAX_SESSION = timedelta(hours=12)  # one working day at most, even for a longer-lived token
_DOMAIN = b"hanpyo/admin-session/v1\n"


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: bytes
    ends: datetime

    def max_age(self, now: datetime) -> int:
        return max(0, int((self.ends - now).total_seconds()))


class SessionSeal:
    """Makes and checks session cookies with a key only this ledger has."""

    def __init__(self, log_key_seed: bytes) -> None:
        self._key = hashlib.sha256(b"hanpyo/admin-session-key/v1\n" + log_key_seed).digest()

    def _mac(self, token_hash: bytes, ends: int) -> bytes:
        message = _DOMAIN + token_hash + str(ends).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def open_session(self, token_hash: bytes, token_expires: datetime, now: datetime) -> Session:
        """A session for the token, ending when it expires or after MAX_SESSION."""
        ends = min(token_expires, now + MAX_SESSION).replace(microsecond=0)
        return Session(token_hash, ends)

    def cookie_value(self, session: Session) -> str:
        ends = int(session.ends.timestamp())
        return ".".join(
            (b64e(session.token_hash), str(ends), b64e(self._mac(session.token_hash, ends)))
        )

    def read(self, value: str | None, now: datetime) -> Session | None:
        """The session the cookie stands for, or None for a missing, forged or ended one."""
        parts = (value or "").split(".")
        # ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
        if len(parts) != 3 or not re.fullmatch(r"[0-9]{1,12}", parts[1]):
            return None
        try:
            token_hash = b64d(parts[0], length=32)
            mac = b64d(parts[2], length=32)
        except EncodingError:
            return None
        ends = int(parts[1])
        if not hmac.compare_digest(mac, self._mac(token_hash, ends)):
            return None
        session = Session(token_hash, datetime.fromtimestamp(ends, UTC))
        return session if now < session.ends else None
