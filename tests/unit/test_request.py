"""The signed-request format: today's bytes pinned, and every way the check refuses."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.core.request import (
    RequestFault,
    RequestRefused,
    read_authorization,
    sign_request,
    verify_request,
)

KEY = SigningKey(bytes(range(32)))
KIOSK = "56475aa75463474c0285df5dbf2bcab7"
PATH = f"/v1/kiosks/{KIOSK}/blocks"
BODY = b'{"a":1}'
NOW = 1_700_000_000
# Computed with the kiosk client's code before the format moved to the core: the wire format
# must never change by accident.
PINNED = (
    f"Hanpyo kiosk={KIOSK}, time=1700000000, "
    "sig=Gpy3wF__2Iqb2k3DJUMIBCGs3KX1pIiLhEL4jtPSlrY0D46T_w2jmFafQypmgrNuNGKrEvaAsFOjsHu8U3uYCg"
)


def _key_of(kiosk: str) -> bytes:
    assert kiosk == KIOSK
    return KEY.public_key


def _verify(
    header: str | None, *, now: float = NOW, body: bytes = BODY, kiosk: str = KIOSK
) -> None:
    verify_request(header, "POST", PATH, body, kiosk_id=kiosk, key_of=_key_of, now=now)


def test_the_header_is_byte_for_byte_todays() -> None:
    # the path used when PINNED was computed
    assert sign_request(KEY, "POST", "/v1/kiosks/x/blocks", BODY, NOW + 0.9) == PINNED


def test_a_signed_request_verifies() -> None:
    _verify(sign_request(KEY, "POST", PATH, BODY, NOW), now=NOW + 299)


def test_the_fields_are_read_back() -> None:
    auth = read_authorization(PINNED)
    assert (auth.kiosk, auth.time) == (KIOSK, "1700000000")


@pytest.mark.parametrize(
    ("header", "fault", "words"),
    [
        (None, RequestFault.BAD_SIGNATURE, "writes need"),
        ("Bearer x", RequestFault.BAD_SIGNATURE, "writes need"),
        (f"Hanpyo kiosk={'0' * 32}, time={NOW}, sig=AA", RequestFault.BAD_SIGNATURE, "another"),
        (f"Hanpyo kiosk={KIOSK}, sig=AA", RequestFault.STALE, "check the kiosk clock"),
        (f"Hanpyo kiosk={KIOSK}, time=12x, sig=AA", RequestFault.STALE, "off by more than 300"),
        (f"Hanpyo kiosk={KIOSK}, time={NOW}, sig=AA", RequestFault.BAD_SIGNATURE, "sig"),
    ],
)
def test_malformed_headers_are_refused(header: str | None, fault: RequestFault, words: str) -> None:
    with pytest.raises(RequestRefused, match=words) as refused:
        _verify(header)
    assert refused.value.fault is fault


def test_a_late_request_is_stale() -> None:
    with pytest.raises(RequestRefused) as refused:
        _verify(sign_request(KEY, "POST", PATH, BODY, NOW), now=NOW + 301)
    assert refused.value.fault is RequestFault.STALE


def test_another_body_does_not_verify() -> None:
    with pytest.raises(RequestRefused, match="request signature does not verify") as refused:
        _verify(sign_request(KEY, "POST", PATH, BODY, NOW), body=b"{}")
    assert refused.value.fault is RequestFault.BAD_SIGNATURE


def test_an_unknown_kiosk_is_the_lookups_error() -> None:
    def nobody(kiosk: str) -> bytes:
        raise LookupError(kiosk)

    with pytest.raises(LookupError):
        verify_request(
            sign_request(KEY, "POST", PATH, BODY, NOW),
            "POST",
            PATH,
            BODY,
            kiosk_id=KIOSK,
            key_of=nobody,
            now=NOW,
        )
