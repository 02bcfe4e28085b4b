"""The TLS pin: written as sha256/HEX, read back in the forms people write it, refused when not."""

from __future__ import annotations

import hashlib

import pytest

from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.errors import ElectionPackageError, EncodingError
from kiosk.core.tls_pin import pin_fingerprint, pin_for_certificate, plain_http_refusal

DER = b"not really a certificate, but bytes all the same"
HEX = hashlib.sha256(DER).hexdigest()


def test_a_pin_is_sha256_slash_hex() -> None:
    assert pin_for_certificate(DER) == f"sha256/{HEX}"


@pytest.mark.parametrize(
    "written",
    [
        f"sha256/{HEX}",
        HEX,
        HEX.upper(),
        "sha256/" + ":".join(HEX[i : i + 2] for i in range(0, 64, 2)),
        ":".join(HEX[i : i + 2] for i in range(0, 64, 2)).upper(),
    ],
)
def test_the_forms_people_write_read_back_alike(written: str) -> None:
    assert pin_fingerprint(written) == HEX


@pytest.mark.parametrize(
    "bad", ["", "sha256/", "sha256/" + "0" * 63, "sha1/" + "0" * 40, "xy" * 32]
)
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(EncodingError, match="is not a TLS pin"):
        pin_fingerprint(bad)


def test_a_package_with_a_pin_that_is_not_one_is_refused(package: ElectionPackage) -> None:
    document = package.to_json()
    document["ledger"]["tls_pin"] = f"sha256/{HEX}"
    assert read_package(document).ledger_tls_pin == f"sha256/{HEX}"  # kept as written
    document["ledger"]["tls_pin"] = "sha256/abc"
    with pytest.raises(ElectionPackageError, match=r"ledger\.tls_pin: 'sha256/abc' is not a TLS"):
        read_package(document)


@pytest.mark.parametrize(
    ("url", "pinned", "official", "refused"),
    [
        ("https://ledger.example", True, True, None),
        ("https://ledger.example", False, False, None),
        ("http://ledger.example", True, False, "pins the ledger's TLS certificate"),
        ("http://127.0.0.1:8400", True, False, "pins the ledger's TLS certificate"),
        ("http://ledger.example", False, True, "official mode"),
        ("http://10.0.0.5:8400", False, True, "official mode"),
        ("http://ledger.example", False, False, None),  # test mode, no pin: a trial set-up
        ("http://127.0.0.1:8400", False, True, None),  # a local mirror on this machine
        ("http://localhost:8400", False, True, None),
        ("http://[::1]:8400", False, True, None),
        ("ftp://ledger.example", False, False, "neither https nor http"),
    ],
)
def test_plain_http_is_refused_with_a_pin_and_in_official_mode_off_this_machine(
    url: str, pinned: bool, official: bool, refused: str | None
) -> None:
    reason = plain_http_refusal(url, pinned=pinned, official=official)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason
