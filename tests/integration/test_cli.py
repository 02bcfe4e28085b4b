"""The commands people type: the demo, provisioning, and verifying a store or a chain file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    """`./hanpyo demo ARGS` with no display: the ceremony, the vote, the count by three trustee
    processes and the check pages take a few minutes on a busy machine. Stopped (SIGTERM) if it
    runs too long, so that it stops the servers it started."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "testkit.demo", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        out, err = demo.communicate(timeout=1100)
    except subprocess.TimeoutExpired:
        demo.terminate()
        out, err = demo.communicate(timeout=60)
    return subprocess.CompletedProcess(demo.args, demo.returncode, out, err)


def _one(pattern: str, text: str) -> str:
    found = re.findall(pattern, text)
    assert len(found) == 1, (pattern, found)
    return str(found[0])


def _counted_and_verified(out: str, counted: int, left_out: dict[str, int]) -> None:
    """What the demo says of the count and of verify-bundle, in either form."""
    assert "all five computed the same election key K" in out
    assert "ledger election create --protocol 2: package provincial-review-2017 (protocol 2)" in out
    assert "each trustee checked the signed package against their own medium: it names K" in out
    assert f"the selection: {counted} ballots counted, {sum(left_out.values())} left out" in out
    for reason, n in left_out.items():
        assert f"{n} × {reason}: " in out
    for n, j in ((1, 1), (2, 3), (3, 5)):
        assert f"(trustee {j}): shuffle {n} written by trustee {j}" in out
    assert out.count("shuffled score cells, each share with its proof") == 3
    assert (
        f"counted {counted} ballots; shuffled by trustees [1, 3, 5], decrypted with the "
        "shares of trustees [1, 3, 5]" in out
    )
    assert "the key ceremony's transcript checks out" in out
    assert f"결과 · results: {counted} ballots counted (" in out
    for check in (
        "election package signed by the authority, protocol v2",
        "key ceremony transcript gives the package's K",
        "close statement signed by the log key",
        "every shuffle of the score columns, in order",
        "every trustee's decryption shares, and their combination",
        "results recomputed from the decrypted values equal results.json",
    ):
        assert re.search(r"ok\s+" + re.escape(check), out), check
    assert "3 shuffles (trustees 1, 3, 5)" in out and "every check passed" in out
    assert "FAILED" not in out and "!!" not in out
    assert "This ballot was counted; no choice is shown" in out


# the whole election in processes of its own: minutes on a busy machine
@pytest.mark.timeout(1200)
def test_the_terminal_demo_votes_counts_and_verifies_in_protocol_v2(tmp_path: Path) -> None:
    result = _demo("--terminal", "--out", str(tmp_path / "demo"), "--voters", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "2017 도민 참여 공동체 제안 심사" in out
    assert out.count("signed by the card, recorded, tracking code") == 2 + 5  # test cards first
    assert out.count(" PIN ok: ") == 7
    assert "That PIN is not correct. You have 2 more tries." in out
    assert "This is a real voter card. In test mode only test cards can be used." in out
    assert "This is a test card. It cannot be used to vote." in out
    assert "This card has already voted on this kiosk." in out
    assert "This card is not on the list for this vote" in out
    assert "the ledger's head equals the kiosk's" in out
    assert "the inclusion proof verifies against the signed checkpoint" in out
    assert "cosigned by witness.demo.hanpyo.local/observers" in out
    assert "with the ledger stopped, the mirror proves" in out
    assert "whole chain verified: 15 blocks, 5 official and 2 test ballots, 1 checked" in out
    assert "bad_signature" in out and "height_gap" in out
    _counted_and_verified(out, 5, {"spoiled": 1, "test_ballot": 2})
    # the ballot the first voter checked at the kiosk is the one its check page opens, with as
    # many choices as the voter scored
    at_kiosk = _one(r"review shows fingerprint (\S+); the voter taps Check", out)
    assert (
        _one(
            r"check page of checked ballot \S+: fingerprint (\S+) shown; opened for anyone, "
            r"its proofs hold",
            out,
        )
        == at_kiosk
    )
    after = out.split("taps Check")[1]  # the checking voter's own line comes first
    scored = re.findall(r"PIN ok: .*?review: scored (\d+) proposals", after)[0]
    assert _one(r"its choices \((\d+)\):", out) == scored
    assert re.search(r"\n     .+ / .+: \d+점\n", out)  # a choice: the proposal and its score
    demo = tmp_path / "demo"
    assert (demo / "kiosk.db").is_file() and (demo / "ledger/published/bundle.zip").is_file()
    assert not list(demo.rglob("trustee-*.txt"))  # no v1 share file anywhere
    for page in ("check-cast-ballot", "check-checked-ballot", "results"):
        assert (demo / "pages" / f"{page}.png").stat().st_size > 10_000


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


# the whole election in processes of its own: minutes on a busy machine
@pytest.mark.timeout(1200)
def test_the_demo_runs_the_whole_system_through_the_screens(tmp_path: Path) -> None:
    """`./hanpyo demo` without a display: the ceremony, the ledger, cards and a scripted visit
    of the kiosk in protocol v2, online members voting through the voting page in headless
    Chromium, then the close, the count of both channels, verify-bundle and the check pages."""
    out = tmp_path / "demo-ui"
    result = _demo("--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout
    assert "A voter checks receipt" in said
    assert "이 카드는 실제 투표용 카드입니다. 시험 모드에서는 시험용 카드만 쓸 수 있습니다." in said
    assert "이 카드는 시험용 카드입니다. 실제 투표에는 쓸 수 없습니다." in said
    assert "이미 이 투표기에서 투표하셨습니다." in said
    assert said.count(", signed by the card, tracking code") == 3
    assert "the witness (witness.demo.hanpyo.local/observers) cosigned" in said
    assert "with the ledger stopped, the mirror proves" in said
    # online: three members cast in the browser (one checked first), one who voted at the
    # kiosk is refused; the platform's ballots are in the ledger, the count and verify-bundle
    assert said.count("signed in the browser, tracking code") == 3
    assert _one(r"checks first: ballot (\S+) opened by the platform", said)
    assert "who voted at the kiosk → 이미 현장에서 투표하셨습니다." in said
    assert "An online member checks receipt" in said
    assert "(online): 3 counted" in said
    assert "Counted: 6 ballots (3 from the kiosk channel, 3 from the online channel)" in said
    _counted_and_verified(said, 6, {"spoiled": 2, "test_ballot": 1})
    checked = _one(r"resident1  checks first: ballot (\S+) published opened", said)
    assert (
        _one(r"check page of checked ballot \S+: fingerprint (\S+) shown; opened for anyone", said)
        == checked
    )
    assert _one(r"its choices \((\d+)\):", said) == "11"  # resident1 scored 11 (not their own)
    shots = sorted(p.name for p in (out / "screenshots").glob("*.png"))
    for screen in (
        "review-with-fingerprint",
        "check-explained",
        "checked",
        "receipt",
        "refused-real-card-in-test-mode",
        "refused-test-card-in-official-mode",
        "review-phone",
        "checked-phone",
        "receipt-desktop",
        "refused-voted-in-person-phone",
    ):
        assert any(s.endswith(f"-{screen}.png") for s in shots), (screen, shots)
    assert len([s for s in shots if s.startswith("online-")]) >= 12
    assert len(list((out / "receipts").glob("*.png"))) >= 5
    assert (out / "pages" / "check-checked-ballot.png").stat().st_size > 10_000
    # the last online member's receipt opens the ledger's check page of their ballot
    online = _one(r"likes 1 → fingerprint (\S+), signed in the browser", said)
    assert _one(r"check page of online ballot \S+: fingerprint (\S+) shown; ✓", said) == online
    assert (out / "pages" / "check-online-ballot.png").stat().st_size > 10_000


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
