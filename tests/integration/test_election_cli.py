"""Preparing an election: authority key, package with trustee shares, signing, checking."""

from __future__ import annotations

import itertools
import json
import stat
from pathlib import Path

import pytest

from kiosk.core.crypto import seal
from kiosk.core.encoding import b64d, b64e
from ledger.rules.trustees import (
    TrusteeError,
    read_share_file,
    rebuild_ballot_key,
    split_new_ballot_key,
)
from testkit.elections import review_definition
from testkit.ledger_server import ledger_cli

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "elections"


def run(*args: str) -> tuple[int, str, str]:
    done = ledger_cli(*args, data=None)
    return done.returncode, done.stdout, done.stderr


def test_an_election_is_created_split_signed_and_checked(tmp_path: Path) -> None:
    code, out, err = run("authority-key", "--out", str(tmp_path / "authority.key"))
    assert code == 0, err
    authority = out.strip().rsplit(" ", 1)[1]
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(review_definition(groups=4)), "utf-8")

    code, out, err = run(
        "election",
        "create",
        "--definition",
        str(definition),
        "--trustees",
        "5",
        "--threshold",
        "3",
        "--shares",
        str(tmp_path / "shares"),
        "--out",
        str(tmp_path / "unsigned.json"),
    )
    assert code == 0, err
    assert "never written anywhere" in out
    shares = sorted((tmp_path / "shares").glob("trustee-*-of-5.txt"))
    assert len(shares) == 5
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in shares)

    code, out, err = run(
        "election",
        "sign",
        str(tmp_path / "unsigned.json"),
        "--authority-key",
        str(tmp_path / "authority.key"),
        "--out",
        str(tmp_path / "signed.json"),
    )
    assert code == 0, err
    # "=" form: a base64url key may start with "-", which would read as an option.
    code, out, err = run(
        "election", "show", str(tmp_path / "signed.json"), f"--authority={authority}"
    )
    assert code == 0, err
    assert "signature verified" in out and "4 groups, 48 proposals" in out

    other = run("authority-key", "--out", str(tmp_path / "other.key"))[1].strip().rsplit(" ", 1)[1]
    code, _, err = run("election", "show", str(tmp_path / "signed.json"), f"--authority={other}")
    assert code == 2 and "not signed by the pinned authority key" in err

    package = json.loads((tmp_path / "signed.json").read_text())["package"]
    ballot_key = b64d(package["keys"]["ballot"])
    words = [read_share_file(p) for p in shares]
    sealed = seal(ballot_key, b"a ballot")
    for chosen in itertools.combinations(words, 3):
        assert rebuild_ballot_key(list(chosen), ballot_key).open(sealed) == b"a ballot"
    with pytest.raises(TrusteeError):
        rebuild_ballot_key(words[:2], ballot_key)
    stranger = split_new_ballot_key(5, 3).shares[0]
    with pytest.raises(TrusteeError):
        rebuild_ballot_key([*words[:2], stranger], ballot_key)
    secret = rebuild_ballot_key(words[:3], ballot_key).secret
    for text in (secret.hex(), b64e(secret)):  # the private key was never written down
        assert all(text not in p.read_text() for p in tmp_path.rglob("*") if p.is_file())

    code, _, err = run(
        "election",
        "create",
        "--definition",
        str(definition),
        "--shares",
        str(tmp_path / "shares"),
        "--out",
        str(tmp_path / "unsigned.json"),
    )
    assert code == 2 and "refusing to overwrite" in err


def test_a_bad_definition_is_refused_before_any_share_is_written(tmp_path: Path) -> None:
    definition = review_definition(groups=2)
    definition["contests"][0]["max"] = 0  # a score contest with max below min
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition), "utf-8")
    code, _, err = run(
        "election",
        "create",
        "--definition",
        str(path),
        "--shares",
        str(tmp_path / "shares"),
        "--out",
        str(tmp_path / "unsigned.json"),
    )
    assert code == 2 and "contests[0]" in err
    assert not (tmp_path / "shares").exists() and not (tmp_path / "unsigned.json").exists()


def test_a_lone_trustee_can_never_hold_the_key() -> None:
    with pytest.raises(TrusteeError, match="single trustee"):
        split_new_ballot_key(5, 1)


def test_the_ledger_certificate_is_pinned_in_the_package(tmp_path: Path) -> None:
    import hashlib
    import ssl
    import subprocess

    cert = tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=ledger.example", "-keyout",
         str(tmp_path / "key.pem"), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(review_definition(groups=2)), "utf-8")
    create = ["election", "create", "--definition", str(definition), "--shares"]
    code, _, err = run(*create, str(tmp_path / "s1"), "--out", str(tmp_path / "p1.json"),
                       "--tls-cert", str(cert))  # fmt: skip
    assert code == 0, err
    pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()
    package = json.loads((tmp_path / "p1.json").read_text())
    assert package["ledger"]["tls_pin"] == f"sha256/{pin}"
    (tmp_path / "junk.pem").write_text("not a certificate")
    code, _, err = run(*create, str(tmp_path / "s2"), "--out", str(tmp_path / "p2.json"),
                       "--tls-cert", str(tmp_path / "junk.pem"))  # fmt: skip
    assert code != 0 and "cannot read the certificate" in err
    assert not (tmp_path / "p2.json").exists()


def test_a_changed_package_is_signed_with_the_next_sequence_number(tmp_path: Path) -> None:
    """Kiosks never go back to a lower number, so a corrected package gets a higher one."""
    key = tmp_path / "authority.key"
    authority = run("authority-key", "--out", str(key))[1].strip().rsplit(" ", 1)[1]
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(review_definition(groups=2, per_group=2)), "utf-8")
    code, _, err = run(
        "election", "create", "--definition", str(definition), "--trustees", "3",
        "--threshold", "2", "--shares", str(tmp_path / "shares"),
        "--out", str(tmp_path / "unsigned.json"),
    )  # fmt: skip
    assert code == 0, err
    unsigned = json.loads((tmp_path / "unsigned.json").read_text())
    assert unsigned["sequence"] == 1
    sign = ("election", "sign", "--authority-key", str(key), "--out")
    code, out, err = run(*sign, str(tmp_path / "first.json"), str(tmp_path / "unsigned.json"))
    assert code == 0 and "package number 1" in out, err

    unsigned["title"]["en"] += " (corrected)"
    (tmp_path / "corrected.json").write_text(json.dumps(unsigned), "utf-8")
    code, out, err = run(
        *sign, str(tmp_path / "second.json"), str(tmp_path / "corrected.json"),
        "--replaces", str(tmp_path / "first.json"),
    )  # fmt: skip
    assert code == 0 and "package number 2" in out, err
    assert json.loads((tmp_path / "second.json").read_text())["package"]["sequence"] == 2
    code, out, err = run(
        "election", "show", str(tmp_path / "second.json"), f"--authority={authority}"
    )
    assert code == 0 and "package number 2" in out, err

    unsigned["id"] = "another-election"
    (tmp_path / "another.json").write_text(json.dumps(unsigned), "utf-8")
    code, _, err = run(
        *sign, str(tmp_path / "third.json"), str(tmp_path / "another.json"),
        "--replaces", str(tmp_path / "first.json"),
    )  # fmt: skip
    assert code == 2 and "only replaces one of its own election" in err
    assert not (tmp_path / "third.json").exists()
