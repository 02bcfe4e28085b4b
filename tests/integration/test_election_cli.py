"""Preparing an election: authority key, the package from the trustees' ceremony, signing,
checking. (The package's v2 sections, voter ids and test cards: test_election_create_v2.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.ceremony_results import simulated_ceremony_result
from testkit.elections import review_definition
from testkit.ledger_server import ledger_cli


def run(*args: str) -> tuple[int, str, str]:
    done = ledger_cli(*args, data=None)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An honest ceremony's collected result for the review definition's election."""
    path = tmp_path_factory.mktemp("ceremony") / "ceremony.json"
    result, _ = simulated_ceremony_result(str(review_definition()["id"]))
    path.write_text(json.dumps(result), "utf-8")
    return path


def _definition(tmp_path: Path, groups: int, per_group: int = 12) -> Path:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(review_definition(groups, per_group)), "utf-8")
    return path


def test_an_election_is_created_signed_and_checked(tmp_path: Path, ceremony: Path) -> None:
    code, out, err = run("authority-key", "--out", str(tmp_path / "authority.key"))
    assert code == 0, err
    authority = out.strip().rsplit(" ", 1)[1]
    definition = _definition(tmp_path, groups=4)
    create = ("election", "create", "--definition", str(definition), "--ceremony", str(ceremony))
    code, out, err = run(*create, "--out", str(tmp_path / "unsigned.json"))
    assert code == 0, err
    # No trustee's share is ever written: each stays on the trustee's own medium.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "authority.key",
        "definition.json",
        "unsigned.ceremony.json",
        "unsigned.json",
    ]
    assert json.loads((tmp_path / "unsigned.json").read_text())["v"] == 2

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
    assert "protocol 2:" in out

    other = run("authority-key", "--out", str(tmp_path / "other.key"))[1].strip().rsplit(" ", 1)[1]
    code, _, err = run("election", "show", str(tmp_path / "signed.json"), f"--authority={other}")
    assert code == 2 and "not signed by the pinned authority key" in err

    code, _, err = run(*create, "--out", str(tmp_path / "unsigned.json"))
    assert code == 2 and "refusing to overwrite" in err


def test_a_package_needs_the_trustees_ceremony(tmp_path: Path) -> None:
    definition = _definition(tmp_path, groups=2)
    code, _, err = run(
        "election", "create", "--definition", str(definition), "--out", str(tmp_path / "p.json")
    )
    assert code == 2 and "--ceremony" in err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("option", [["--protocol", "1"], ["--shares", "shares"]])
def test_protocol_1_is_no_longer_made(tmp_path: Path, ceremony: Path, option: list[str]) -> None:
    definition = _definition(tmp_path, groups=2)
    code, _, err = run(
        "election", "create", "--definition", str(definition), "--ceremony", str(ceremony),
        *option, "--out", str(tmp_path / "p.json"),
    )  # fmt: skip
    assert code == 2 and option[0] in err
    assert not (tmp_path / "p.json").exists()


def test_a_bad_definition_is_refused_before_anything_is_written(
    tmp_path: Path, ceremony: Path
) -> None:
    definition = review_definition(groups=2)
    definition["contests"][0]["max"] = 0  # a score contest with max below min
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition), "utf-8")
    code, _, err = run(
        "election", "create", "--definition", str(path), "--ceremony", str(ceremony),
        "--out", str(tmp_path / "unsigned.json"),
    )  # fmt: skip
    assert code == 2 and "contests[0]" in err
    assert not (tmp_path / "unsigned.json").exists()
    assert not (tmp_path / "unsigned.ceremony.json").exists()


def test_the_ledger_certificate_is_pinned_in_the_package(tmp_path: Path, ceremony: Path) -> None:
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
    definition = _definition(tmp_path, groups=2)
    create = ["election", "create", "--definition", str(definition), "--ceremony", str(ceremony)]
    code, _, err = run(*create, "--out", str(tmp_path / "p1.json"), "--tls-cert", str(cert))
    assert code == 0, err
    pin = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()
    package = json.loads((tmp_path / "p1.json").read_text())
    assert package["ledger"]["tls_pin"] == f"sha256/{pin}"
    (tmp_path / "junk.pem").write_text("not a certificate")
    code, _, err = run(
        *create, "--out", str(tmp_path / "p2.json"), "--tls-cert", str(tmp_path / "junk.pem")
    )
    assert code != 0 and "cannot read the certificate" in err
    assert not (tmp_path / "p2.json").exists()


def test_a_changed_package_is_signed_with_the_next_sequence_number(
    tmp_path: Path, ceremony: Path
) -> None:
    """Kiosks never go back to a lower number, so a corrected package gets a higher one."""
    key = tmp_path / "authority.key"
    authority = run("authority-key", "--out", str(key))[1].strip().rsplit(" ", 1)[1]
    definition = _definition(tmp_path, groups=2, per_group=2)
    code, _, err = run(
        "election", "create", "--definition", str(definition), "--ceremony", str(ceremony),
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
