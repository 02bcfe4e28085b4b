"""Requests a kiosk or an operator sends a test ledger: enrol a kiosk, upload blocks, and any
signed POST (with a chosen kiosk id, time or ledger, to test the refusals)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

import requests

from kiosk.core.block import SignedBlock
from kiosk.core.crypto import Domain, SigningKey, kiosk_id_for
from kiosk.core.encoding import b64e, parse_json
from kiosk.core.request import NONCE_BYTES, request_message
from testkit.ledger_server import ORIGIN, LedgerServer


def authorization(
    key: SigningKey,
    method: str,
    target: str,
    raw: bytes,
    *,
    kiosk: str | None = None,
    stamp: int | str | None = None,
    origin: str = ORIGIN,
    nonce: bytes | None = None,
) -> str:
    """The ``Authorization`` header for ``raw`` sent to ``target`` (path and query) of the
    ledger named ``origin``, as the kiosk's client signs it, with a chosen kiosk id, time,
    ledger or nonce when a test needs a wrong one."""
    kiosk = kiosk or kiosk_id_for(key.public_key)
    stamp_text = str(int(time.time()) if stamp is None else stamp)
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    message = request_message(origin, method, target, stamp_text, nonce, raw)
    sig = key.sign(Domain.REQUEST_V2, message)
    return (
        f"Hanpyo v=2, kiosk={kiosk}, ledger={b64e(origin.encode())}, time={stamp_text}, "
        f"nonce={b64e(nonce)}, sig={b64e(sig)}"
    )


def signed_post(
    server: LedgerServer,
    key: SigningKey,
    path: str,
    body: object,
    *,
    kiosk: str | None = None,
    stamp: int | None = None,
    origin: str | None = None,
) -> requests.Response:
    """POST ``body`` to ``path`` signed by ``key`` for ``server`` (or the ledger ``origin``),
    as the kiosk's sync client signs it."""
    raw = json.dumps(body).encode()
    header = authorization(
        key, "POST", path, raw, kiosk=kiosk, stamp=stamp, origin=origin or server.origin
    )
    return requests.post(
        server.url + path,
        data=raw,
        timeout=30,
        headers={"Content-Type": "application/json", "Authorization": header},
    )


def upload(
    server: LedgerServer,
    key: SigningKey,
    blocks: Sequence[SignedBlock | bytes],
    *,
    kiosk: str | None = None,
    stamp: int | None = None,
) -> requests.Response:
    """Upload ``blocks`` (signed blocks, or raw JSON bytes to send as they are) as ``kiosk``
    (default: the kiosk ``key`` belongs to)."""
    items = [parse_json(b if isinstance(b, bytes) else b.encode()) for b in blocks]
    kiosk = kiosk or kiosk_id_for(key.public_key)
    return signed_post(
        server, key, f"/v1/kiosks/{kiosk}/blocks", {"blocks": items}, kiosk=kiosk, stamp=stamp
    )


# The test elections replay an event that opened in 2017, so every enrolment in a test is a
# late one, and the ledger wants a reason for it (a reason before the opening is ignored).
LATE_REASON = "a test replays an election that opened in the past"


def enrol(server: LedgerServer, key: SigningKey, name: str, channel: str = "kiosk") -> str:
    """Enrol a source's key as ``name`` (a kiosk, or an online platform with ``channel``
    online); return its source id."""
    answer = requests.post(
        f"{server.url}/v1/admin/kiosks",
        headers=server.admin(),
        timeout=10,
        json={
            "public_key": b64e(key.public_key),
            "name": name,
            "channel": channel,
            "late_reason": LATE_REASON,
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["kiosk"])
