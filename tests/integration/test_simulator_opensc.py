"""Debian's OpenSC (its PKCS#15 and PKCS#11 layers) uses the simulated card behind a private
pcscd as it would a real OpenPGP 3.4 card: it reads the enrolled authentication key and signs
with it, and the signature checks with the key on the roll."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest

from kiosk.hardware.card.enrolment import CardSetup, provision_card
from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator
from testkit.enrolment import card_in_reader, connected, fresh_card

PIN = "246810"
AUTH_KEY_ID = "03"  # OpenSC's id for the OpenPGP card's authentication key
MODULE_PLACES = [
    Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"),
    Path("/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so"),
    Path("/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"),
    Path("/usr/lib/opensc-pkcs11.so"),
]
# Ed25519 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def opensc_module() -> Path:
    found = next((path for path in MODULE_PLACES if path.exists()), None)
    assert found is not None, "Debian's opensc-pkcs11 is not installed (./hanpyo installs it)"
    return found


def run_opensc(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, (argv, done.stdout.decode(), done.stderr.decode())
    return done


@pytest.fixture
def enrolled(pcscd: PrivatePcscd) -> Iterator[tuple[Simulator, bytes]]:
    """A card enrolled as Hanpyo enrols it (admin PIN blocked), and its public key."""
    with Simulator(pcscd.ports, cards={"card": fresh_card()}) as simulator:
        with connected(pcscd, simulator, "card") as openpgp:
            done = provision_card(openpgp, CardSetup(user_pin=PIN, name="Hong Gildong"))
        yield simulator, done.public_key


def opensc_env(pcscd: PrivatePcscd, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"  # OpenSC caches card files under $HOME/.cache: keep it private
    home.mkdir(exist_ok=True)
    # The PIN goes to pkcs11-tool as env:NAME, never on its command line.
    return {**pcscd.env, "HOME": str(home), "HANPYO_TEST_PIN": PIN}


def test_pkcs15_tool_reads_the_enrolled_authentication_key(
    pcscd: PrivatePcscd, enrolled: tuple[Simulator, bytes], tmp_path: Path
) -> None:
    simulator, public_key = enrolled
    env = opensc_env(pcscd, tmp_path)
    with card_in_reader(pcscd, simulator, "card"):
        listed = run_opensc(env, "pkcs15-tool", "--list-public-keys")
        pem = run_opensc(env, "pkcs15-tool", "--read-public-key", AUTH_KEY_ID).stdout.decode()
    assert "Authentication key" in listed.stdout.decode(), listed.stdout.decode()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert "-----BEGIN PUBLIC KEY-----" in pem, pem
    assert base64.b64decode(body) == ED25519_SPKI_PREFIX + public_key


def test_pkcs11_tool_signs_with_eddsa_and_the_signature_checks_with_the_enrolled_key(
    pcscd: PrivatePcscd, enrolled: tuple[Simulator, bytes], tmp_path: Path
) -> None:
    simulator, public_key = enrolled
    env = opensc_env(pcscd, tmp_path)
    message, signature = tmp_path / "message", tmp_path / "signature"
    message.write_bytes(b"hanpyo/auth/v1\n" + os.urandom(32))
    argv = [
        "pkcs11-tool",
        *("--module", str(opensc_module())),
        *("--login", "--pin", "env:HANPYO_TEST_PIN"),
        *("--sign", "--mechanism", "EDDSA", "--id", AUTH_KEY_ID),
        *("--input-file", str(message), "--output-file", str(signature)),
    ]
    assert not any(PIN in arg for arg in argv)
    with card_in_reader(pcscd, simulator, "card"):
        run_opensc(env, *argv)
    verify_key = nacl.signing.VerifyKey(public_key)
    verify_key.verify(message.read_bytes(), signature.read_bytes())  # raises if forged
    assert len(signature.read_bytes()) == 64
