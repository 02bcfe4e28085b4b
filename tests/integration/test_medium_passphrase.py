"""A trustee's medium is locked with their passphrase: a stolen or copied stick gives none of
its secrets, and the tool refuses a wrong passphrase without changing anything. Each step is a
real `ledger trustee ...` process given its passphrase through a pipe (--passphrase-fd)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import nacl.pwhash.argon2id as argon2id

from kiosk.core.crypto import SealingKey, SigningKey
from ledger.service.medium_lock import TESTING_VARIABLE
from testkit.trustee_ceremony import (
    ROOT,
    in_parallel,
    medium_secret,
    ok,
    start,
    trustee,
)

ELECTION = "stolen-stick-2026"


def spellings(secret: bytes) -> list[bytes]:
    """Every way the files could spell ``secret``: raw, hex (either case), base64 of both
    alphabets with and without padding."""
    found = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(secret)
        found += [text, text.rstrip(b"=")]
    return found


def medium_bytes(medium: Path) -> dict[str, bytes]:
    return {str(p.relative_to(medium)): p.read_bytes() for p in medium.rglob("*") if p.is_file()}


def assert_nothing_spelled(medium: Path, secrets: dict[str, bytes]) -> None:
    for name, content in medium_bytes(medium).items():
        for what, secret in secrets.items():
            for spelling in spellings(secret):
                assert spelling not in content, f"{what} can be read in {name}"


def identity_secrets(medium: Path) -> dict[str, bytes]:
    identity = medium_secret(medium, "identity.secret.json")
    seed, box = bytes.fromhex(identity["signing_key"]), bytes.fromhex(identity["box_key"])
    signing = SigningKey(seed)
    # the public halves are on the medium on purpose; the secret halves must not be
    assert signing.public_key.hex() in (medium / "identity.public.json").read_text()
    assert SealingKey(box).public_key.hex() in (medium / "identity.public.json").read_text()
    return {"signing key": seed, "box key": box}


def test_a_copied_medium_reveals_no_secret_without_the_passphrase(tmp_path: Path) -> None:
    """Before: the identity keys, the polynomial and the share were plain JSON on the stick
    (mode 0600, which a FAT stick does not keep): whoever copied it had them all. Now every
    secret file is Argon2id + XSalsa20-Poly1305 under the trustee's passphrase."""
    media, setup_file, _ = start(tmp_path, n=3, k=2, election=ELECTION)
    exchange = ["--exchange", str(tmp_path / "exchange")]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *exchange] for m in media])
    for m in media:  # between the rounds: the keys and the polynomial
        secrets = identity_secrets(m)
        coefficients = medium_secret(m, "polynomial.secret.json")["coefficients"]
        secrets |= {f"coefficient {t}": bytes.fromhex(a) for t, a in enumerate(coefficients)}
        assert_nothing_spelled(m, secrets)
    for step in ("round2", "check", "reveal", "finish"):
        in_parallel([[step, "--medium", m, *exchange] for m in media])
    for m in media:  # at the end: the keys and the share of the election key
        share = bytes.fromhex(medium_secret(m, "share.secret.json")["share"])
        assert_nothing_spelled(m, identity_secrets(m) | {"share": share})
        for name in ("identity.secret.json", "share.secret.json"):
            locked = json.loads((m / name).read_text("utf-8"))
            assert locked["hanpyo"] == "hanpyo-medium-secret/v1"
            assert locked["kdf"]["algorithm"] == "argon2id13"


def test_a_wrong_passphrase_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    media, setup_file, _ = start(tmp_path, n=3, k=2, election=ELECTION)
    exchange = ["--exchange", str(tmp_path / "exchange")]
    before = medium_bytes(media[0])
    wrong = "not the passphrase of this medium"
    refused = trustee(
        "round1", "--medium", media[0], "--setup", setup_file, *exchange, passphrase=wrong
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "매체 암호가 맞지 않습니다" in refused.stderr
    assert "passphrase is wrong" in refused.stderr and "Nothing was changed" in refused.stderr
    assert medium_bytes(media[0]) == before
    assert not (tmp_path / "exchange").exists()  # nothing was sent either
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *exchange] for m in media])
    for step in ("round2", "check", "reveal", "finish"):
        in_parallel([[step, "--medium", m, *exchange] for m in media])
    before = medium_bytes(media[1])
    words = trustee("backup-words", "--medium", media[1], passphrase=wrong)
    assert words.returncode == 2 and "passphrase is wrong" in words.stderr
    assert words.stdout == ""
    assert medium_bytes(media[1]) == before
    assert len(ok("backup-words", "--medium", media[1]).splitlines()[-1].split()) >= 20


def _init(medium: Path, passphrase: str, *, testing: bool) -> subprocess.CompletedProcess[str]:
    """`ledger trustee init` as a script runs it, without the test helpers' testing variable."""
    read, write = os.pipe()
    os.write(write, passphrase.encode("utf-8") + b"\n")
    os.close(write)
    env = {k: v for k, v in os.environ.items() if k != TESTING_VARIABLE}
    if testing:
        env[TESTING_VARIABLE] = "1"
    argv = ["init", "--medium", str(medium), "--name", "김민준", "--passphrase-fd", str(read)]
    try:
        return subprocess.run(
            [sys.executable, "-m", "ledger.cli", "trustee", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            pass_fds=(read,),
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(read)


def test_a_real_medium_is_made_with_the_production_cost_and_a_long_passphrase(
    tmp_path: Path,
) -> None:
    short = _init(tmp_path / "short", "0000", testing=False)
    assert short.returncode == 2 and "10자 이상" in short.stderr and "at least 10" in short.stderr
    assert not (tmp_path / "short").exists()
    real = _init(tmp_path / "real", "우리 동네 투표소 앞 은행나무", testing=False)
    assert real.returncode == 0, real.stderr
    assert "TESTING" not in real.stderr and "!!" not in real.stderr
    kdf = json.loads((tmp_path / "real" / "identity.secret.json").read_text())["kdf"]
    assert kdf["opslimit"] >= argon2id.OPSLIMIT_MODERATE
    assert kdf["memlimit"] >= argon2id.MEMLIMIT_MODERATE
    weak = _init(tmp_path / "weak", "우리 동네 투표소 앞 은행나무", testing=True)
    assert weak.returncode == 0 and TESTING_VARIABLE in weak.stderr
