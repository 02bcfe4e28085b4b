"""Go's reference code agrees with ours: checkpoints and witness cosignatures open with
golang.org/x/mod/sumdb/note (cosignatures through a note.Verifier written from C2SP
tlog-cosignature), and inclusion and consistency proofs computed by golang.org/x/mod/sumdb/tlog
from our tiles check and equal the ledger's. The Go programs are testkit/go_checks/, built here
offline from Debian's packages (golang-go, golang-golang-x-mod-dev); the test installs them or
fails, it never skips."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint, verify_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d
from kiosk.core.merkle import MemoryNodeStore, MerkleLog, leaf_hash
from ledger.publish.tiles import write_tiles
from testkit.elections import SyntheticElection
from testkit.ledger_server import ORIGIN, ROOT, LedgerServer
from testkit.log_growth import grow, new_kiosk
from testkit.witness_server import WitnessServer

GO_PACKAGES = ("golang-go", "golang-golang-x-mod-dev")
X_MOD = Path("/usr/share/gocode/src/golang.org/x/mod")  # where golang-golang-x-mod-dev puts it
SOURCES = ROOT / "testkit" / "go_checks"


def _install_go() -> None:
    if shutil.which("go") and (X_MOD / "sumdb" / "tlog").is_dir():
        return
    if os.geteuid() != 0:
        pytest.fail(f"install {' '.join(GO_PACKAGES)} (the set-up script's SYSTEM_PACKAGES)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *GO_PACKAGES],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def go_checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """checknote and checktiles, built offline into a folder of their own."""
    _install_go()
    work = tmp_path_factory.mktemp("go")
    shutil.copytree(SOURCES, work / "src")  # the build never writes into the checkout
    env = {
        **os.environ,
        "GOPROXY": "off",  # Debian's module source only, through go.mod's replace
        "GOFLAGS": "-mod=mod",
        "GOPATH": str(work / "gopath"),
        "GOCACHE": str(work / "cache"),
        "GOTOOLCHAIN": "local",
    }
    done = subprocess.run(
        ["go", "build", "-o", str(work / "bin") + "/", "./..."],
        cwd=work / "src", env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    yield work / "bin"


def run(program: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_go_opens_our_checkpoints_and_checks_proofs_from_our_tiles(
    tmp_path: Path, election: SyntheticElection, go_checks: Path
) -> None:
    server = LedgerServer(tmp_path / "ledger", election)
    w1 = WitnessServer(tmp_path / "w1", "witness.test/w1", {ORIGIN: server.log_key})
    w2 = WitnessServer(tmp_path / "w2", "witness.test/w2", {ORIGIN: server.log_key})
    tiles = server.data / "tiles"
    with server, w1, w2:
        writer = new_kiosk(server, election, "hall A")
        grow(server, writer, 150)  # 302 leaves: a full level-0 tile and a partial one
        publish = ["tiles", "publish", "--dir", str(tiles), "--witness", w1.spec()]
        assert server.cli(*publish, "--witness", w2.spec()).returncode == 0
        old = verify_checkpoint((tiles / "checkpoint").read_text(), server.log_key)
        grow(server, writer, 1_000)  # 2,302 leaves: 8 full level-0 tiles, level 1 partial
        done = server.cli(*publish, "--witness", w2.spec())
        assert done.returncode == 0, done.stderr
        note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
        head = verify_checkpoint(note, server.log_key)
        assert head.size == 2_302

        # The log's signature and both cosignatures, as Go reads them.
        (tmp_path / "note").write_text(note)
        keys = ["-log", server.log_key, "-witness", w1.vkey, "-witness", w2.vkey]
        opened = run(go_checks / "checknote", "-note", str(tmp_path / "note"), *keys)
        assert opened.returncode == 0, opened.stderr
        lines = opened.stdout.splitlines()
        assert f"verified {ORIGIN}" in lines
        assert {line.split()[1] for line in lines if line.startswith("cosigned ")} == {
            "witness.test/w1",
            "witness.test/w2",
        }
        assert "accepted a type 0x04 key" not in opened.stdout  # x/mod knows type 0x01 only

        # A cosignature changed by one bit: Go refuses the whole note, as the spec says.
        (tmp_path / "bad").write_text(_flip_last_signature(note))
        refused = run(go_checks / "checknote", "-note", str(tmp_path / "bad"), *keys)
        assert refused.returncode == 1 and "invalid signature" in refused.stderr

        # Proofs from our tiles with x/mod/sumdb/tlog: they check, and they are the ledger's.
        leaves, olds = [0, 255, 256, 1_000, head.size - 1], [1, old.size, 2_048]
        args = [a for i in leaves for a in ("-leaf", str(i))]
        args += [a for n in olds for a in ("-old", str(n))]
        checked = run(go_checks / "checktiles", "-dir", str(tiles), "-log", server.log_key, *args)
        assert checked.returncode == 0, checked.stderr
        out = {tuple(line.split()[:2]): line.split() for line in checked.stdout.splitlines()}
        assert out[("tree", str(head.size))][2] == base64.b64encode(head.root).decode()
        for leaf in leaves:
            ours = requests.get(
                f"{server.url}/v1/proofs/inclusion",
                params={"leaf_index": leaf, "size": head.size},
                timeout=10,
            ).json()
            assert out[("leaf", str(leaf))][2:4] == ["ok", str(len(b64d(ours["block"])))]
            assert _hashes(out[("leaf", str(leaf))][4]) == [b64d(h) for h in ours["proof"]]
        assert out[("old", str(old.size))][2] == base64.b64encode(old.root).decode()
        for n in olds:
            ours = requests.get(
                f"{server.url}/v1/proofs/consistency",
                params={"old": n, "new": head.size},
                timeout=10,
            ).json()
            assert _hashes(out[("old", str(n))][3]) == [b64d(h) for h in ours["proof"]]

        # A tile changed by one bit: Go's tile reader finds it does not hash to the root.
        level0 = tiles / "tile" / "0" / "001"
        raw = bytearray(level0.read_bytes())
        raw[5] ^= 1
        level0.write_bytes(bytes(raw))
        forged = run(
            go_checks / "checktiles", "-dir", str(tiles), "-log", server.log_key, "-leaf", "300"
        )
        assert forged.returncode == 1 and "checktiles:" in forged.stderr


def _hashes(joined: str) -> list[bytes]:
    return [] if joined == "-" else [base64.b64decode(h) for h in joined.split(",")]


def _flip_last_signature(note: str) -> str:
    body, _, line = note[:-1].rpartition("\n")
    name, blob = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return f"{body}\n{name} {base64.b64encode(bytes(raw)).decode()}\n"


def test_go_reads_every_tile_level_of_a_larger_tree(tmp_path: Path, go_checks: Path) -> None:
    """70,000 leaves (the spec's example: tiles up to level 2), written by our tile writer
    and proved by x/mod/sumdb/tlog against our own proofs."""
    entries = [f"entry {i}".encode() for i in range(70_000)]
    log = MerkleLog(MemoryNodeStore())
    log.append([leaf_hash(e) for e in entries[:40_000]])
    key = SigningKey.generate()
    origin = "go.test/log"
    vkey = NoteVerifier(origin, key.public_key).vkey
    old_root = log.root()

    def hashes_of(start: int, end: int) -> list[bytes]:
        return [leaf_hash(e) for e in entries[start:end]]

    for size in (40_000, 70_000):
        log.append([leaf_hash(e) for e in entries[log.size : size]])
        note = sign_checkpoint(origin, size, log.root(), origin, key)
        write_tiles(tmp_path, hashes_of, lambda a, b: entries[a:b], size, note)
    leaves, olds = [0, 65_535, 65_536, 69_999], [40_000, 65_536, 69_999]
    args = [a for i in leaves for a in ("-leaf", str(i))]
    args += [a for n in olds for a in ("-old", str(n))]
    checked = run(go_checks / "checktiles", "-dir", str(tmp_path), "-log", vkey, *args)
    assert checked.returncode == 0, checked.stderr
    out = {tuple(line.split()[:2]): line.split() for line in checked.stdout.splitlines()}
    for leaf in leaves:
        assert _hashes(out[("leaf", str(leaf))][4]) == log.inclusion_proof(leaf)
    for n in olds:
        assert _hashes(out[("old", str(n))][3]) == log.consistency_proof(n)
    assert out[("old", "40000")][2] == base64.b64encode(old_root).decode()
