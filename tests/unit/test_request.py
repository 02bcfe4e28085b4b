"""The signed-request format (version 2): its bytes pinned, and every way the check refuses."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import SigningKey
from kiosk.core.request import (
    RequestFault,
    RequestRefused,
    read_authorization,
    request_target,
    sign_request,
    verify_request,
)

KEY = SigningKey(bytes(range(32)))
KIOSK = "56475aa75463474c0285df5dbf2bcab7"
ORIGIN = "ledger.test/hanpyo"
PATH = f"/v1/kiosks/{KIOSK}/blocks"
BODY = b'{"a":1}'
NOW = 1_700_000_000
NONCE = bytes(range(16))
# Computed by this code when version 2 was introduced: the wire format must never change by
# accident (a change is a new version, with a new pin).
PINNED = (
    f"Hanpyo v=2, kiosk={KIOSK}, ledger=bGVkZ2VyLnRlc3QvaGFucHlv, time=1700000000, "
    "nonce=AAECAwQFBgcICQoLDA0ODw, "
    "sig=EZf2IKtxj1A8wRKXvaJwcSgcbSnYfr_uERRNPJPj4SAfxeT8F02CtHklYU7w-fONbkBUagR7PZIEjzhjuQSoDA"
)
# Version 1 (no ledger, no nonce), as kiosks signed before: refused, with a word on why.
VERSION_1 = (
    f"Hanpyo kiosk={KIOSK}, time=1700000000, "
    "sig=Gpy3wF__2Iqb2k3DJUMIBCGs3KX1pIiLhEL4jtPSlrY0D46T_w2jmFafQypmgrNuNGKrEvaAsFOjsHu8U3uYCg"
)


def _key_of(kiosk: str) -> bytes:
    assert kiosk == KIOSK
    return KEY.public_key


def _sign(
    *, target: str = PATH, origin: str = ORIGIN, now: float = NOW, nonce: bytes = NONCE
) -> str:
    return sign_request(KEY, origin, "POST", target, BODY, now=now, nonce=nonce)


def _verify(
    header: str | None,
    *,
    now: float = NOW,
    body: bytes = BODY,
    target: str = PATH,
    kiosk: str = KIOSK,
) -> None:
    verify_request(
        header,
        "POST",
        target,
        body,
        kiosk_id=kiosk,
        origin=ORIGIN,
        key_of=_key_of,
        now=now,
    )


def test_the_header_is_byte_for_byte_version_2() -> None:
    assert _sign(target="/v1/kiosks/x/blocks", now=NOW + 0.9) == PINNED


def test_a_signed_request_verifies_and_gives_its_nonce_and_time() -> None:
    checked = verify_request(
        _sign(), "POST", PATH, BODY, kiosk_id=KIOSK, origin=ORIGIN, key_of=_key_of, now=NOW + 299
    )
    assert (checked.kiosk, checked.signed_at, checked.nonce) == (KIOSK, NOW, NONCE)


def test_the_fields_are_read_back() -> None:
    auth = read_authorization(PINNED)
    assert (auth.version, auth.kiosk, auth.time) == ("2", KIOSK, "1700000000")


def test_version_1_is_refused_with_a_reason() -> None:
    with pytest.raises(RequestRefused, match="format 1; this ledger takes format 2") as refused:
        _verify(VERSION_1)
    assert refused.value.fault is RequestFault.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("header", "fault", "words"),
    [
        (None, RequestFault.BAD_SIGNATURE, "writes need"),
        ("Bearer x", RequestFault.BAD_SIGNATURE, "writes need"),
        (
            f"Hanpyo v=2, kiosk={'0' * 32}, ledger=bGVkZ2VyLnRlc3QvaGFucHlv, time={NOW}",
            RequestFault.BAD_SIGNATURE,
            "another",
        ),
        (
            f"Hanpyo v=2, kiosk={KIOSK}, ledger=b3RoZXI, time={NOW}",
            RequestFault.WRONG_LEDGER,
            "'other'",
        ),
        (f"Hanpyo v=2, kiosk={KIOSK}, ledger=!!, time={NOW}", RequestFault.BAD_SIGNATURE, "ledger"),
        (
            f"Hanpyo v=2, kiosk={KIOSK}, ledger=bGVkZ2VyLnRlc3QvaGFucHlv, sig=AA",
            RequestFault.STALE,
            "check the kiosk clock",
        ),
        (
            f"Hanpyo v=2, kiosk={KIOSK}, ledger=bGVkZ2VyLnRlc3QvaGFucHlv, time=01700000000",
            RequestFault.STALE,
            "off by more than 300",
        ),
        (
            f"Hanpyo v=2, kiosk={KIOSK}, ledger=bGVkZ2VyLnRlc3QvaGFucHlv, time={NOW}, nonce=AA",
            RequestFault.BAD_SIGNATURE,
            "nonce",
        ),
    ],
)
def test_malformed_headers_are_refused(header: str | None, fault: RequestFault, words: str) -> None:
    with pytest.raises(RequestRefused, match=words) as refused:
        _verify(header)
    assert refused.value.fault is fault


def test_a_request_for_another_ledger_is_refused_by_name() -> None:
    with pytest.raises(RequestRefused, match="signed for the ledger 'training'") as refused:
        _verify(_sign(origin="training"))
    assert refused.value.fault is RequestFault.WRONG_LEDGER


def test_a_late_request_is_stale() -> None:
    with pytest.raises(RequestRefused) as refused:
        _verify(_sign(), now=NOW + 301)
    assert refused.value.fault is RequestFault.STALE


def test_another_body_does_not_verify() -> None:
    with pytest.raises(RequestRefused, match="request_v2 signature does not verify") as refused:
        _verify(_sign(), body=b"{}")
    assert refused.value.fault is RequestFault.BAD_SIGNATURE


def test_the_query_string_is_signed() -> None:
    signed = request_target("/v1/proofs/inclusion", "leaf_index=1")
    assert signed == "/v1/proofs/inclusion?leaf_index=1"
    header = _sign(target=signed)
    _verify(header, target=signed)
    with pytest.raises(RequestRefused, match="does not verify"):
        _verify(header, target=request_target("/v1/proofs/inclusion", "leaf_index=2"))
    with pytest.raises(RequestRefused, match="does not verify"):
        _verify(header, target="/v1/proofs/inclusion")


def test_an_unknown_kiosk_is_the_lookups_error() -> None:
    def nobody(kiosk: str) -> bytes:
        raise LookupError(kiosk)

    with pytest.raises(LookupError):
        verify_request(
            _sign(), "POST", PATH, BODY, kiosk_id=KIOSK, origin=ORIGIN, key_of=nobody, now=NOW
        )
