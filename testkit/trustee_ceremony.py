"""The trustees' key ceremony for tests and the demo: each trustee's `ledger trustee ...` as a
separate process with its own medium, a decryption request with a close statement, and a
cheating trustee's tampered messages (re-signed with that trustee's own key, as a trustee
running a modified tool would send them).

Every trustee's medium is locked with its own passphrase, given to each process through a pipe
(``--passphrase-fd``), as a script would; the processes run with the testing-only variable that
makes `init` hash passphrases at libsodium's minimum cost, so the tests stay fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiosk.core.crypto import SigningKey, seal
from kiosk.core.verifiable.ceremony import CeremonySetup, SignedMessage
from kiosk.core.verifiable.group import scalar_bytes
from ledger.service.medium_lock import TESTING_VARIABLE, MediumLock

ROOT = Path(__file__).resolve().parents[1]
LOG_ORIGIN = "ledger.test/ceremony"
NAMES = ["김민준", "이서연", "박지호", "최유나", "정하늘"]


def passphrase_of(medium: Path) -> str:
    """The passphrase the tests give the medium at ``medium`` (each medium its own)."""
    return f"한표 시험 암호 test passphrase of {medium.name}"


def medium_lock(medium: Path, passphrase: str | None = None) -> MediumLock:
    """A lock that opens ``medium``'s secrets in the test process (for what a test checks)."""
    return MediumLock(lambda: passphrase or passphrase_of(medium), lambda _: None)


def medium_secret(medium: Path, name: str) -> dict[str, Any]:
    """The secret in ``medium``'s file ``name``, opened with its passphrase."""
    return medium_lock(medium).open(name, (medium / name).read_bytes())[0]


def _popen(args: Sequence[str | Path], passphrase: str | None) -> subprocess.Popen[str]:
    """`ledger trustee ARGS` in a process of its own; with --medium, the medium's passphrase
    (or ``passphrase``) through a pipe named by --passphrase-fd."""
    argv = [sys.executable, "-m", "ledger.cli", "trustee", *map(str, args)]
    fds: tuple[int, ...] = ()
    if "--medium" in argv:
        medium = Path(argv[argv.index("--medium") + 1])
        read, write = os.pipe()
        os.write(write, ((passphrase or passphrase_of(medium)) + "\n").encode("utf-8"))
        os.close(write)
        argv += ["--passphrase-fd", str(read)]
        fds = (read,)
    try:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=fds,
            env=os.environ | {TESTING_VARIABLE: "1"},
        )
    finally:
        for fd in fds:
            os.close(fd)


def trustee(*args: str | Path, passphrase: str | None = None) -> subprocess.CompletedProcess[str]:
    """One run of `ledger trustee ...` in a process of its own."""
    process = _popen(args, passphrase)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def ok(*args: str | Path) -> str:
    done = trustee(*args)
    assert done.returncode == 0, f"ledger trustee {args[0]}: {done.stdout}{done.stderr}"
    return done.stdout


def in_parallel(argv_per_trustee: list[list[str | Path]]) -> list[str]:
    """One step run by every trustee at once, each in a process of its own."""
    processes = [_popen(argv, None) for argv in argv_per_trustee]
    finished = []
    try:
        for p in processes:
            out, err = p.communicate(timeout=120)
            finished.append((p.returncode, out, err))
    finally:  # every process waited for and its pipes closed, even when one step failed
        for p in processes:
            if p.returncode is None:
                p.kill()
                p.communicate()
    for code, out, err in finished:
        assert code == 0, out + err
    return [out for _, out, _ in finished]


def start(
    tmp: Path, n: int = 5, k: int = 3, election: str = "review-2026"
) -> tuple[list[Path], Path, CeremonySetup]:
    media = [tmp / f"medium-{i}" for i in range(1, n + 1)]
    in_parallel([["init", "--medium", m, "--name", NAMES[i]] for i, m in enumerate(media)])
    identities = [a for m in media for a in ("--identity", m / "identity.public.json")]
    setup_file = tmp / "setup.json"
    ok("setup", "--election", election, "--threshold", str(k), *identities, "--out", setup_file)
    setup = CeremonySetup.from_json(json.loads(setup_file.read_text("utf-8")))
    return media, setup_file, setup


def key_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("election key K"))


def read_envelope(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text("utf-8"))
    assert isinstance(value, dict)
    return value


def _signing_key(medium: Path) -> SigningKey:
    secret = medium_secret(medium, "identity.secret.json")
    return SigningKey(bytes.fromhex(secret["signing_key"]))


def _rewrite(path: Path, setup: CeremonySetup, message: SignedMessage, medium: Path) -> None:
    """``message`` re-signed with the key on ``medium``, written over ``path``."""
    again = SignedMessage.sign(
        message.kind, message.sender, message.body, _signing_key(medium), setup
    )
    value = read_envelope(path) | {"message": again.to_json()}
    path.write_text(json.dumps(value, indent=1) + "\n", "utf-8")


def send_bad_share(exchange: Path, setup: CeremonySetup, cheater: Path, victim: int) -> int:
    """Replace the cheater's sealed share for ``victim`` by a sealed wrong value (correctly
    framed, so only the check against the commitments catches it). Returns the wrong value."""
    path = exchange / f"shares-{_index_of(setup, cheater)}.json"
    message = SignedMessage.from_json(read_envelope(path)["message"])
    me = message.sender
    wrong = 12345
    plaintext = (
        setup.base_hash() + me.to_bytes(4, "big") + victim.to_bytes(4, "big") + scalar_bytes(wrong)
    )
    shares = dict(message.body["shares"])
    shares[str(victim)] = seal(setup.trustee(victim).box_key, plaintext).hex()
    _rewrite(path, setup, SignedMessage(message.kind, me, {"shares": shares}, b""), cheater)
    return wrong


def send_bad_reveal(exchange: Path, setup: CeremonySetup, cheater: Path, victim: int) -> None:
    """The cheater answers the complaint by revealing the same wrong value."""
    me = _index_of(setup, cheater)
    message = SignedMessage("reveal", me, {"shares": {str(victim): scalar_bytes(12345).hex()}}, b"")
    envelope = {
        "hanpyo": "hanpyo-ceremony-message/v1",
        "election": setup.election_id,
        "setup": setup.base_hash().hex(),
        "message": {},
    }
    path = exchange / f"reveal-{me}.json"
    path.write_text(json.dumps(envelope) + "\n", "utf-8")
    _rewrite(path, setup, message, cheater)


def _index_of(setup: CeremonySetup, medium: Path) -> int:
    public = _signing_key(medium).public_key
    return next(t.index for t in setup.trustees if t.signing_key == public)
