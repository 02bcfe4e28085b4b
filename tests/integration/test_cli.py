"""The commands people type: the demo, provisioning, and verifying a store or a chain file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kiosk.core.chain import Mode
from kiosk.core.election import ElectionPackage, sign_package
from kiosk.core.encoding import b64e
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from kiosk.store.keys import load_keys
from testkit.elections import SyntheticElection
from testkit.stores import Kiosk

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_the_demo_casts_verifies_and_catches_tampering(tmp_path: Path) -> None:
    result = run("testkit.demo", "--terminal", "--out", str(tmp_path / "demo"), "--voters", "5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2017 도민 참여 공동체 제안 심사" in out
    assert out.count("→ recorded, tracking code") == 5
    assert "이미 투표하셨습니다" in out
    assert "whole chain verified: 14 blocks, 5 official and 2 test ballots" in out
    assert "That PIN is not correct. You have 2 more tries." in out
    assert out.count(" PIN ok: ") == 5
    assert "This card is not on the list for this vote" in out
    assert "the ledger's head equals the kiosk's" in out
    assert "the inclusion proof verifies against the signed checkpoint" in out
    assert "bad_signature" in out and "height_gap" in out
    assert "all five computed the same election key K" in out
    assert "trustees 1, 3 and 5 decrypt [12, 0, 7] → [12, 0, 7]" in out
    assert "trustees 1 and 3 alone → refused" in out
    assert "!!" not in out
    assert (tmp_path / "demo" / "kiosk.db").is_file()


def test_provision_then_verify_a_store(
    tmp_path: Path, election: SyntheticElection, package: ElectionPackage
) -> None:
    keys_dir = tmp_path / "keys"
    result = run("kiosk.cli", "provision", "--keys", str(keys_dir))
    assert result.returncode == 0, result.stderr
    keys = load_keys(keys_dir)
    assert keys.kiosk_id in result.stdout
    with ChainStore.create(tmp_path / "kiosk.db", keys.store_key, keys.kiosk_key, package) as store:
        BallotBox(store, package).set_mode(Mode.OFFICIAL)
    signed = tmp_path / "election.json"
    signed.write_text(json.dumps(sign_package(package, election.authority).to_json()))

    ok = run(
        "kiosk.cli",
        "verify",
        str(tmp_path / "kiosk.db"),
        "--keys",
        str(keys_dir),
        "--election",
        str(signed),
        f"--authority={b64e(election.authority.public_key)}",
    )
    assert ok.returncode == 0, ok.stderr
    assert "chain verified" in ok.stdout and "2 blocks" in ok.stdout

    wrong_authority = run(
        "kiosk.cli",
        "verify",
        str(tmp_path / "kiosk.db"),
        "--keys",
        str(keys_dir),
        "--election",
        str(signed),
        f"--authority={b64e(bytes(32))}",
    )
    assert wrong_authority.returncode == 2
    assert "not signed by the pinned authority key" in wrong_authority.stderr
    assert "Traceback" not in wrong_authority.stderr


def test_verify_with_a_missing_key_directory_explains_itself(tmp_path: Path) -> None:
    result = run(
        "kiosk.cli", "verify", str(tmp_path / "kiosk.db"), "--keys", str(tmp_path / "nowhere")
    )
    assert result.returncode == 2
    assert "kiosk provision" in result.stderr and "Traceback" not in result.stderr


def test_ledger_verifies_a_chain_file_and_names_the_broken_block(
    tmp_path: Path, kiosk: Kiosk
) -> None:
    chain = tmp_path / "chain.jsonl"
    lines = [b.encode() for b in kiosk.store.blocks()]
    chain.write_bytes(b"\n".join(lines) + b"\n")
    ok = run("ledger.cli", "verify-chain", str(chain))
    assert ok.returncode == 0, ok.stderr
    assert "3 blocks" in ok.stdout

    lines[1] = lines[1].replace(b'"mode":"official"', b'"mode":"test"')
    chain.write_bytes(b"\n".join(lines))
    bad = run("ledger.cli", "verify-chain", str(chain))
    assert bad.returncode == 1
    assert "block 1: bad_signature" in bad.stderr

    chain.write_bytes(b"{not json")
    garbage = run("ledger.cli", "verify-chain", str(chain))
    assert garbage.returncode == 1 and "not valid JSON" in garbage.stderr


def test_the_demo_runs_the_whole_system_through_the_screens(tmp_path: Path) -> None:
    """`./hanpyo demo` without a display: ledger, cards and a scripted visit of the kiosk."""
    out = tmp_path / "demo-ui"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "testkit.demo", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "A voter checks receipt" in result.stdout
    assert "이미 이 투표기에서 투표하셨습니다." in result.stdout
    assert "trustees 1, 3 and 5 decrypt [12, 0, 7] → [12, 0, 7]" in result.stdout
    assert "the witness (witness.demo.hanpyo.local/observers) cosigned" in result.stdout
    assert "with the ledger stopped, the mirror proves" in result.stdout
    shots = sorted(p.name for p in (out / "screenshots").glob("*.png"))
    assert any("receipt" in s for s in shots) and any("review" in s for s in shots)
    assert len(list((out / "receipts").glob("*.png"))) >= 4


def test_load_election_checks_the_signature_and_run_starts_and_stops(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """What the installed kiosk does: load the package, then run the screen until SIGTERM."""
    signed = sign_package(election.package, election.authority).to_json()
    authority = f"--authority={b64e(election.authority.public_key)}"
    data = tmp_path / "data"
    forged = json.loads(json.dumps(signed))
    forged["package"]["title"]["en"] = "Someone else's vote"
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    refused = run(
        "kiosk.cli", "load-election", str(tmp_path / "forged.json"), "--data", str(data), authority
    )
    assert refused.returncode == 2 and "signature" in refused.stderr
    assert not (data / "election.json").exists()

    (tmp_path / "election.json").write_text(json.dumps(signed))
    loaded = run(
        "kiosk.cli",
        "load-election",
        str(tmp_path / "election.json"),
        "--data",
        str(data),
        authority,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert election.package.short_hash in loaded.stdout
    assert run("kiosk.cli", "provision", "--keys", str(tmp_path / "keys")).returncode == 0

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    kiosk = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "run",
            "--data",
            str(data),
            authority,
            "--keys",
            str(tmp_path / "keys"),
            "--windowed",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert kiosk.stderr is not None  # stderr=PIPE
    try:
        db = data / f"{election.package.id}-{election.package.short_hash}.db"
        deadline = time.monotonic() + 60
        while not db.exists() and kiosk.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert db.exists(), (
            f"the kiosk made no store: {kiosk.stderr.read() if kiosk.poll() else ''}"
        )
        time.sleep(1)
        assert kiosk.poll() is None, kiosk.stderr.read()
        kiosk.terminate()  # SIGTERM, as systemd stops the unit
        _, errors = kiosk.communicate(timeout=30)
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
    assert kiosk.returncode == 0, errors
    keys = load_keys(tmp_path / "keys")
    with ChainStore.open(db, keys.store_key, keys.kiosk_key, election.package) as store:
        assert store.state.height == 0  # the genesis block, whole after the stop
