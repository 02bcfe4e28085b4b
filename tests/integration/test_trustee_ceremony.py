"""The trustees' key ceremony as five trustees run it: five separate processes of `ledger
trustee ...`, each with its own medium, exchanging files in one exchange folder; then the
package made from its result. (Their decryption of a count: test_count_trustees.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.election import read_package
from testkit.trustee_ceremony import (
    NAMES,
    ROOT,
    in_parallel,
    key_line,
    medium_secret,
    ok,
    passphrase_of,
    send_bad_reveal,
    send_bad_share,
    start,
    trustee,
)

ELECTION = "review-2026"


def run_rounds(media: list[Path], setup_file: Path, where: list[str]) -> None:
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    for step in ("round2", "check", "reveal"):
        in_parallel([[step, "--medium", m, *where] for m in media])


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("ceremony")
    media, setup_file, setup = start(tmp)
    exchange = tmp / "exchange"
    where = ["--exchange", str(exchange)]
    run_rounds(media, setup_file, where)
    finished = in_parallel([["finish", "--medium", m, *where] for m in media])
    result = tmp / "ceremony-result.json"
    ok("collect", "--setup", setup_file, *where, "--out", result)
    return {
        "tmp": tmp,
        "media": media,
        "setup": setup,
        "exchange": exchange,
        "finished": finished,
        "result": result,
    }


def test_five_trustees_in_five_processes_make_one_key(honest: dict[str, object]) -> None:
    finished = honest["finished"]
    assert isinstance(finished, list)
    assert len({key_line(out) for out in finished}) == 1  # all five computed the same K
    media = honest["media"]
    assert isinstance(media, list)
    for m in media:  # each share only on its own medium, owner-only
        share = m / "share.secret.json"
        assert share.stat().st_mode & 0o777 == 0o600
        assert not (m / "polynomial.secret.json").exists()
    exchange = honest["exchange"]
    assert isinstance(exchange, Path)
    for path in exchange.iterdir():  # nothing secret travels: no share in any message
        for m in media:
            secret = medium_secret(m, "share.secret.json")["share"]
            assert secret not in path.read_text()


def test_the_package_gets_the_ceremony(honest: dict[str, object], tmp_path: Path) -> None:
    definition = tmp_path / "definition.json"
    from testkit.elections import mixed_definition

    document = mixed_definition() | {"id": ELECTION}
    definition.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    out = tmp_path / "package.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledger.cli",
            "election",
            "create",
            "--definition",
            str(definition),
            "--ceremony",
            str(honest["result"]),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "package.ceremony.json").read_text("utf-8"))
    section = record["record"]
    finished = honest["finished"]
    assert isinstance(finished, list)
    assert (
        key_line(finished[0]).split(": ")[1].replace(" ", "").rstrip("…")
        in (section["election_key"])
    )
    assert section["threshold"] == 3
    assert [t["name"] for t in section["trustees"]] == NAMES
    assert all(t["verification_key"] and t["qualified"] for t in section["trustees"])
    assert len(section["transcript_hash"]) == 64
    # the package itself names K, every Z_j and the transcript's hash, so the authority's
    # signature covers which ceremony made the key
    package = read_package(json.loads(out.read_text("utf-8")))
    assert package.election_key is not None
    assert package.election_key.key.hex() == section["election_key"]
    assert package.election_key.transcript_hash.hex() == section["transcript_hash"]
    assert [t.verification_key.hex() for t in package.election_key.trustees] == [
        t["verification_key"] for t in section["trustees"]
    ]


def test_a_cheating_trustee_is_caught_and_left_out(tmp_path: Path) -> None:
    media, setup_file, setup = start(tmp_path)
    exchange = tmp_path / "exchange"
    where = ["--exchange", str(exchange)]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    in_parallel([["round2", "--medium", m, *where] for m in media])
    send_bad_share(exchange, setup, media[4], victim=1)  # trustee 5 cheats trustee 1
    checks = in_parallel([["check", "--medium", m, *where] for m in media])
    assert "trustee 5 (정하늘)" in checks[0] and "does not match the commitments" in checks[0]
    assert "complaints" not in checks[1]
    # trustee 5 cannot finish while a complaint about them stands unanswered
    early = trustee("finish", "--medium", media[4], *where)
    assert early.returncode == 2 and "이의를 제기" in early.stderr and "reveal" in early.stderr
    send_bad_reveal(exchange, setup, media[4], victim=1)  # and reveals the same wrong value
    finished = in_parallel([["finish", "--medium", m, *where] for m in media[:4]])
    assert len({key_line(out) for out in finished}) == 1
    assert "left out: trustee 5 (정하늘): complaint by trustee 1 upheld" in finished[0]
    out = trustee("finish", "--medium", media[4], *where)
    assert out.returncode == 2 and "제외되었습니다" in out.stderr
    result = tmp_path / "result.json"
    collected = ok("collect", "--setup", setup_file, *where, "--out", result)
    assert "qualified: 1, 2, 3, 4" in collected


def test_clear_errors(honest: dict[str, object], tmp_path: Path) -> None:
    media = honest["media"]
    assert isinstance(media, list)
    exchange = honest["exchange"]
    assert isinstance(exchange, Path)
    # not a medium
    empty = tmp_path / "stick"
    empty.mkdir()
    done = trustee("round2", "--medium", empty, "--exchange", exchange)
    assert done.returncode == 2 and "본인의 USB" in done.stderr and "your own USB" in done.stderr
    # a medium that has not done round 1
    fresh = tmp_path / "fresh"
    ok("init", "--medium", fresh, "--name", "새 신탁인")
    done = trustee("check", "--medium", fresh, "--exchange", exchange)
    assert done.returncode == 2 and "ledger trustee round1" in done.stderr
    # a message of another election in the exchange folder
    other = tmp_path / "other-exchange"
    other.mkdir()
    for path in exchange.glob("*.json"):
        (other / path.name).write_text(path.read_text())
    moved = json.loads((other / "verdict-2.json").read_text())
    moved["election"] = "another-election"
    (other / "verdict-2.json").write_text(json.dumps(moved))
    done = trustee("finish", "--medium", media[0], "--exchange", other)
    assert done.returncode == 2 and "다른 선거" in done.stderr and "another-election" in done.stderr
    # a bad signature
    moved["election"] = ELECTION
    moved["message"]["body"]["complaints"] = {"3": "made up"}
    (other / "verdict-2.json").write_text(json.dumps(moved))
    done = trustee("finish", "--medium", media[0], "--exchange", other)
    assert done.returncode == 2 and "서명이 맞지 않는" in done.stderr and "trustee 2" in done.stderr


def test_one_process_never_holds_two_trustees_secrets(honest: dict[str, object]) -> None:
    media = honest["media"]
    assert isinstance(media, list)
    script = (
        "import os, sys\nfrom ledger.cli import main\n"
        "def fd(text):\n"
        "    r, w = os.pipe()\n    os.write(w, text.encode() + b'\\n')\n    os.close(w)\n"
        "    return str(r)\n"
        f"a = main(['trustee', 'backup-words', '--medium', {str(media[0])!r},\n"
        f"          '--passphrase-fd', fd({passphrase_of(media[0])!r})])\n"
        f"b = main(['trustee', 'backup-words', '--medium', {str(media[1])!r},\n"
        f"          '--passphrase-fd', fd({passphrase_of(media[1])!r})])\n"
        "sys.exit(10 * a + b)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr  # first 0, second refused
    assert "한 신탁인의 매체만" in done.stderr and "one trustee's medium only" in done.stderr
    assert done.stdout.count("your share as words") == 1
