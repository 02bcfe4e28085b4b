"""A protocol v2 election whose package requires 2 of 2 witnesses' cosignatures, run through real
processes on loopback: two `ledger witness serve`, a `ledger serve --witness ... --witness ...`
that has each checkpoint cosigned, kiosks uploading over HTTP, `ledger election close`,
`ledger publish` and `ledger verify-bundle`.

One witness goes down before the last kiosk's blocks: the check page says "not yet witnessed"
for them while the log is open, and "the witnesses' policy is not met" once the election is
closed on a final checkpoint the second witness never cosigned; `ledger publish` waits, then
refuses naming that witness and writes nothing. The witness comes back, cosigns the final
checkpoint, and publish and verify-bundle pass, the check page says "witnessed" naming both.
The published record with its final checkpoint carrying one cosignature, a forged one, or one
by a witness the package does not name fails verify-bundle, which names it.

The count's trustees run in this process through the functions `ledger trustee shuffle|decrypt
--count` call (TEST ONLY; their process-per-trustee run is tests/integration/test_trustee_count*).
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import requests

from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier, _split_note, verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosign, cosignatures
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.encoding import b64e
from kiosk.core.verifiable.ceremony import TrusteeShare
from ledger.rules.count_decryption import decryption_name, make_decryption
from ledger.rules.count_files import (
    COUNT_INPUT,
    make_shuffle,
    read_count_input,
    shuffle_name,
    verify_shuffles,
)
from ledger.service.count import finish_count, prepare_count
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.browser import screenshot
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection
from testkit.ledger_requests import enrol, upload
from testkit.ledger_server import LedgerServer
from testkit.v2_ballots import cast_ballot, spoiled
from testkit.v2_record import LOG_ORIGIN, record_election
from testkit.witness_server import WitnessServer

SEED = "record-witnessed"
SCREENSHOTS = Path(os.environ.get("HANPYO_SCREENSHOTS", "test-output/screenshots")) / "ledger"
W0, W1 = "witness.test/w0", "witness.test/w1"
NAME = "final checkpoint cosigned by the package's witnesses"


def ledger_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args], capture_output=True, text=True, timeout=600
    )


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def cosigned_by(server: LedgerServer, witnesses: list[WitnessServer], size: int) -> set[str]:
    note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
    if verify_checkpoint(note, server.log_key).size != size:
        return set()
    return {c.witness for c in cosignatures(note, [CosignerKey.parse(w.vkey) for w in witnesses])}


def check_page(server: LedgerServer, code: str) -> str:
    answer = requests.get(f"{server.url}/check", params={"code": code}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return unescape(answer.text)


def shoot(server: LedgerServer, code: str, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = f"{server.url}/check?code={code}"
    for path, width, height in ((f"{name}-phone.png", 360, 4200), (f"{name}.png", 1280, 2400)):
        assert screenshot(url, SCREENSHOTS / path, width, height).stat().st_size > 10_000


def vote(
    election: SyntheticElection, writer: ChainWriter, voters: range, rng: random.Random
) -> list[str]:
    """Voters cast at ``writer``'s kiosk in one session (the first checks a ballot first);
    the tracking codes of the cast ballots."""
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    codes = []
    for index in voters:
        if index == voters[0]:
            writer.append(BlockKind.SPOILED, spoiled(cast_ballot(election, index, rng)))
        ballot = cast_ballot(election, index, rng)
        codes.append(writer.append(BlockKind.BALLOT, ballot.body).tracking_code)
    writer.close_session()
    return codes


def trustees_count(
    election: SyntheticElection,
    count: Path,
    shares: dict[int, TrusteeShare],
    keys: dict[int, SigningKey],
) -> None:
    """Trustees 1 and 2 shuffle, then decrypt (TEST ONLY: in this process)."""
    package = election.package
    count_input = read_count_input((count / COUNT_INPUT).read_bytes(), package)
    shuffles: list[bytes] = []
    for n, j in enumerate((1, 2), start=1):
        chain = verify_shuffles(package, count_input, shuffles)
        raw = make_shuffle(package, chain.columns, chain.last_hash, j, keys[j])
        (count / shuffle_name(n)).write_bytes(raw)
        shuffles.append(raw)
    chain = verify_shuffles(package, count_input, shuffles)
    for j in (1, 2):
        raw = make_decryption(package, count_input, chain, shares[j], keys[j])
        (count / decryption_name(j)).write_bytes(raw)


def with_final(bundle: Path, out: Path, final: str) -> Path:
    """A copy of ``bundle`` whose final-checkpoint.txt is ``final``."""
    with zipfile.ZipFile(bundle) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["final-checkpoint.txt"] = final.encode()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out


def witness_line(bundle: Path) -> tuple[int, str]:
    done = ledger_cli("verify-bundle", str(bundle), "--workers", "1")
    (line,) = [x for x in done.stdout.splitlines() if NAME in x]
    return done.returncode, line


def test_a_record_whose_package_requires_two_of_two_witnesses(tmp_path: Path) -> None:
    log_key = SigningKey(sha256(f"{SEED}/log-key".encode()))  # record_election's log key
    vkey = NoteVerifier(LOG_ORIGIN, log_key.public_key).vkey
    w0, w1 = (
        WitnessServer(tmp_path / f"w{i}", f"witness.test/w{i}", {LOG_ORIGIN: vkey})
        for i in range(2)
    )
    election, ceremony, shares, trustee_keys, _ = record_election(
        SEED, SEED, witnesses=(2, (w0.vkey, w1.vkey))
    )
    data = tmp_path / "ledger"
    data.mkdir()
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    named = ["--witness", w0.spec(), "--witness", w1.spec()]
    server = LedgerServer(data, election, origin=LOG_ORIGIN, serve_args=named)
    transcript = tmp_path / "package.ceremony.json"
    transcript.write_text(json.dumps(ceremony, ensure_ascii=False))
    published = data / "published"
    rng = random.Random(18)
    start = datetime.now(UTC) - timedelta(hours=1)
    kiosks = [
        ChainWriter(
            election.package,
            SigningKey(sha256(f"{SEED}/{n}".encode())),
            start,
            timedelta(seconds=20),
        )
        for n in ("hall A", "hall B")
    ]
    with ExitStack() as running:
        for process in (w0, w1, server):
            running.enter_context(process)
        hall_a, hall_b = kiosks
        for name, writer in zip(("Hall A", "Hall B"), kiosks, strict=True):
            enrol(server, writer.key, name)
        # Hall A votes with both witnesses up: its blocks are in a witnessed checkpoint.
        first = vote(election, hall_a, range(0, 3), rng)
        assert upload(server, hall_a.key, hall_a.blocks).status_code == 200
        size = len(hall_a.blocks)
        wait_until(lambda: cosigned_by(server, [w0, w1], size) == {W0, W1}, "both cosignatures")
        page = check_page(server, first[0])
        assert "✓ Witnessed." in page and f"cosigned by {W0}, {W1}" in page

        # w1 goes down; Hall B's blocks are in checkpoints w0 alone cosigns.
        w1.stop()
        later = vote(election, hall_b, range(3, 5), rng)
        assert upload(server, hall_b.key, hall_b.blocks).status_code == 200
        size += len(hall_b.blocks)
        wait_until(lambda: cosigned_by(server, [w0, w1], size) == {W0}, "w0's cosignature")
        page = check_page(server, later[0])
        assert "Not yet witnessed." in page
        assert f"cosigned by {W0}; required: 2 of {W0}, {W1}" in page
        shoot(server, later[0], "check-v2-not-yet-witnessed")
        assert "✓ Witnessed." in check_page(server, first[0])  # an earlier checkpoint holds it

        # The close freezes the log on a final checkpoint w1 never cosigned.
        closed = server.cli("election", "close")
        assert closed.returncode == 0, closed.stderr
        page = check_page(server, later[0])
        assert "✗ The witnesses' policy is not met." in page
        assert "The election is closed" in page and f"not by {W1}" in page
        shoot(server, later[0], "check-v2-witness-policy-not-met")

        ledger = Ledger(db.connect(db.database_url(None, data / "ledger.db")), log_key)
        count = published / "count"
        prepare_count(ledger, count, workers=1)
        trustees_count(election, count, shares, trustee_keys)
        finish_count(ledger, count, workers=1)
        ledger.engine.dispose()

        # Publishing waits for w1, asks it, and refuses naming it; nothing is written.
        refused = ledger_cli(
            "publish", "--data", str(data), "--ceremony", str(transcript),
            "--witness", w1.spec(), "--witness-wait", "2",
        )  # fmt: skip
        assert refused.returncode != 0, refused.stdout
        assert f"still missing: {W1}" in refused.stderr, refused.stderr
        assert f"requires 2 of {W0}, {W1}" in refused.stderr
        assert "run ledger publish again" in refused.stderr
        assert not (published / "bundle.zip").exists()
        assert not (published / "final-checkpoint.txt").exists()

        # w1 comes back: the ledger's publisher (and publish itself) get its cosignature.
        w1.start()
        done = ledger_cli(
            "publish", "--data", str(data), "--ceremony", str(transcript),
            "--witness", w1.spec(), "--witness-wait", "60",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        final = (published / "final-checkpoint.txt").read_text()
        assert {
            c.witness for c in cosignatures(final, [CosignerKey.parse(w.vkey) for w in (w0, w1)])
        } == {W0, W1}
        bundle = published / "bundle.zip"
        with zipfile.ZipFile(bundle) as z:
            assert z.read("final-checkpoint.txt").decode() == final
        listed = requests.get(f"{server.url}/downloads", timeout=30).text
        assert 'href="/downloads/final-checkpoint.txt"' in listed
        served = requests.get(f"{server.url}/downloads/final-checkpoint.txt", timeout=30)
        assert served.text == final
        code, line = witness_line(bundle)
        assert code == 0, line
        assert line.strip().startswith("ok") and f"cosigned by {W0}, {W1}" in line

        page = check_page(server, later[0])
        assert "✓ Witnessed." in page and f"cosigned by {W0}, {W1}" in page
        shoot(server, later[0], "check-v2-witnessed")
        # The command the page gives a voter checks the same policy on their own computer.
        shown = f"--witness={w0.vkey} --witness={w1.vkey} --witness-threshold 2"
        assert shown in page
        mine = ledger_cli(
            "verify-proof", "--url", server.url, "--tracking-code", later[0],
            f"--log-key={server.log_key}", *shown.split(),
        )  # fmt: skip
        assert mine.returncode == 0, mine.stderr
        assert f"cosignatures (by {W0}, {W1})" in mine.stdout

    # The published record, altered as a dishonest publisher would, fails and is named.
    body, _ = _split_note(final)
    lines = final.splitlines(keepends=True)
    w1_line = next(x for x in lines if x.startswith(f"— {W1} "))
    one = final.replace(w1_line, "")
    code, line = witness_line(with_final(bundle, tmp_path / "one.zip", one))
    assert code == 1 and "FAILED" in line
    assert f"cosigned by {W0};" in line and f"no valid cosignature from {W1}" in line

    blob = bytearray(base64.b64decode(w1_line.rstrip("\n").rsplit(" ", 1)[1]))
    blob[-1] ^= 1  # one bit of w1's Ed25519 signature
    forged = final.replace(w1_line, f"— {W1} {base64.b64encode(bytes(blob)).decode()}\n")
    code, line = witness_line(with_final(bundle, tmp_path / "forged.zip", forged))
    assert code == 1 and f"the cosignature line of {W1} does not verify" in line

    stranger = cosign(body, "witness.test/w2", SigningKey(sha256(b"w2")), int(time.time()))
    unnamed = final.replace(w1_line, stranger)
    code, line = witness_line(with_final(bundle, tmp_path / "unnamed.zip", unnamed))
    assert code == 1 and "witness.test/w2" in line and "does not name" in line
    assert f"no valid cosignature from {W1}" in line
