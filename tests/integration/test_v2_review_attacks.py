"""Protocol v2 part 1 as its attackers would try it: a relay that repeats a message forever, a
trustee who sends shares but no commitments, a package naming another key, messages swapped or
signed twice on the stick. (Forged, copied or damaged decryption files of a count:
test_count_trustees.py and tests/unit/test_count_decryption_left_out.py.) Every step is a real
`ledger trustee ...` process with its own medium, and the relay a real HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from kiosk.core.crypto import SealingKey
from kiosk.core.election import read_package
from kiosk.core.verifiable.ceremony import (
    CeremonySetup,
    Polynomial,
    SignedMessage,
    commitments_message,
    shares_message,
)
from kiosk.core.verifiable.group import base_mul, random_scalar
from ledger.service.ceremony_mailbox import envelope
from ledger.service.ceremony_medium import PublicIdentity
from testkit.decryption_files import medium_signing_key
from testkit.elections import mixed_definition
from testkit.simulated_trustees import another_signature
from testkit.trustee_ceremony import (
    ROOT,
    in_parallel,
    key_line,
    ok,
    start,
    trustee,
)

ELECTION = "review-2026"


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three trustees, any two decrypt: the ceremony through an exchange folder."""
    tmp = tmp_path_factory.mktemp("review")
    media, setup_file, setup = start(tmp, n=3, k=2)
    exchange = tmp / "exchange"
    where = ["--exchange", str(exchange)]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    for step in ("round2", "check", "reveal", "finish"):
        in_parallel([[step, "--medium", m, *where] for m in media])
    result = tmp / "ceremony-result.json"
    ok("collect", "--setup", setup_file, *where, "--out", result)
    return {
        "tmp": tmp,
        "media": media,
        "setup": setup,
        "setup_file": setup_file,
        "exchange": exchange,
        "result": result,
    }


class _RepeatingRelay(BaseHTTPRequestHandler):
    """A hostile relay: every page holds the same genuine message under a new number."""

    envelope: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        after = int(parse_qs(urlparse(self.path).query).get("after", ["0"])[0])
        page = {
            "election": ELECTION,
            "messages": [{"seq": after + 1, "envelope": self.envelope}],
        }
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def repeating_relay(ceremony: dict[str, Any]) -> Iterator[str]:
    exchange = ceremony["exchange"]
    _RepeatingRelay.envelope = json.loads((exchange / "commitments-1.json").read_text("utf-8"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RepeatingRelay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_relay_that_repeats_a_message_forever_is_refused(
    ceremony: dict[str, Any], repeating_relay: str, tmp_path: Path
) -> None:
    """Before: the trustee tool kept reading pages as long as the relay numbered them, so a
    hostile relay held every trustee's step (and its memory) forever."""
    out = tmp_path / "result.json"
    done = trustee(
        "collect", "--setup", ceremony["setup_file"], "--relay", repeating_relay, "--out", out
    )
    assert done.returncode == 2, done.stderr
    assert "more messages than" in done.stderr and "중계 서버" in done.stderr
    assert not out.exists()


def test_shares_without_commitments_leave_their_sender_out_when_the_others_go_on(
    tmp_path: Path,
) -> None:
    """Before: trustee 3 posting shares but never commitments made every other trustee's
    `check --stop-waiting` crash with a KeyError, so the ceremony could not end without 3."""
    media, setup_file, _ = start(tmp_path, n=3, k=2, election=ELECTION)
    exchange, elsewhere = tmp_path / "exchange", tmp_path / "elsewhere"
    shared = ["--exchange", str(exchange)]
    for m in media[:2]:
        ok("round1", "--medium", m, "--setup", setup_file, *shared)
    ok("round1", "--medium", media[2], "--setup", setup_file, "--exchange", str(elsewhere))
    in_parallel([["round2", "--medium", m, *shared] for m in media])
    assert not (exchange / "commitments-3.json").exists()
    assert (exchange / "shares-3.json").exists()
    for m in media[:2]:
        done = trustee("check", "--medium", m, *shared, "--stop-waiting")
        assert done.returncode == 0, done.stderr
    for m in media[:2]:
        ok("reveal", "--medium", m, *shared, "--stop-waiting")
    finished = [ok("finish", "--medium", m, *shared, "--stop-waiting") for m in media[:2]]
    for out in finished:
        assert "left out: trustee 3" in out and "sent no commitments" in out


def test_a_name_that_would_rewrite_other_trustees_screens_is_refused(tmp_path: Path) -> None:
    """Before: `init` and the organiser's `setup` took a name with terminal escape sequences,
    which every trustee's tool then printed beside the election key read aloud."""
    spoof = "Mallory\x1b[1A\x1b[2Kelection key K: 00000000"
    done = trustee("init", "--medium", tmp_path / "m", "--name", spoof)
    assert done.returncode == 2 and "제어 문자" in done.stderr
    assert not (tmp_path / "m" / "identity.secret.json").exists()
    media, _, _ = start(tmp_path / "ok", n=2, k=2, election=ELECTION)
    hostile = json.loads((media[1] / "identity.public.json").read_text("utf-8"))
    hostile["name"] = spoof  # a modified tool writes the identity file itself
    (media[1] / "identity.public.json").write_text(json.dumps(hostile), "utf-8")
    refused = trustee(
        "setup",
        "--election",
        ELECTION,
        "--threshold",
        "2",
        "--identity",
        media[0] / "identity.public.json",
        "--identity",
        media[1] / "identity.public.json",
        "--out",
        tmp_path / "setup-2.json",
    )
    assert refused.returncode == 2 and "control characters" in refused.stderr
    assert "\x1b" not in refused.stdout + refused.stderr


def test_a_box_key_nobody_can_seal_to_is_refused_by_the_setup(tmp_path: Path) -> None:
    """Before: an identity file with a box key of small order (here all zeros) made a setup,
    and then every other trustee's round 2 died with libsodium's "Unexpected library error"."""
    media, _, _ = start(tmp_path, n=2, k=2, election=ELECTION)
    hostile = json.loads((media[1] / "identity.public.json").read_text("utf-8"))
    hostile["box_key"] = "00" * 32
    (media[1] / "identity.public.json").write_text(json.dumps(hostile), "utf-8")
    refused = trustee(
        "setup",
        "--election",
        ELECTION,
        "--threshold",
        "2",
        "--identity",
        media[0] / "identity.public.json",
        "--identity",
        media[1] / "identity.public.json",
        "--out",
        tmp_path / "setup-2.json",
    )
    assert refused.returncode == 2, refused.stderr
    assert "trustee 2: the box key is not a usable X25519 key" in refused.stderr
    assert not (tmp_path / "setup-2.json").exists()


def _package(ceremony: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """`ledger election create --ceremony` for the review election: the package as made."""
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(mixed_definition() | {"id": ELECTION}), "utf-8")
    out = tmp_path / "package.json"
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "election", "create", "--definition", str(definition),
         "--ceremony", str(ceremony["result"]), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    value = json.loads(out.read_text("utf-8"))
    assert isinstance(value, dict)
    return value


def test_a_package_naming_another_election_key_is_caught_by_every_trustee(
    ceremony: dict[str, Any], tmp_path: Path
) -> None:
    """Before: nothing compared the package's election_key with the ceremony. An organiser
    could sign a package naming a K of their own, with made-up Z_j on one polynomial (which
    the package's own checks accept), and open every ballot encrypted to it; the trustees had no
    command to notice. Now each trustee checks the package against their own result."""
    honest = _package(ceremony, tmp_path)
    medium = ceremony["media"][0]
    path = tmp_path / "to-check.json"
    path.write_text(json.dumps(honest), "utf-8")
    fine = trustee("check-package", "--medium", medium, "--package", path)
    assert fine.returncode == 0, fine.stderr
    assert "names the key your ceremony made" in fine.stdout

    a0, a1 = random_scalar(), random_scalar()  # the organiser's own polynomial
    forged = json.loads(json.dumps(honest))
    forged["election_key"]["key"] = base_mul(a0).hex()
    for t in forged["election_key"]["trustees"]:
        t["verification_key"] = base_mul(a0 + a1 * t["index"]).hex()
    assert read_package(forged).election_key is not None  # consistent: the package passes
    path.write_text(json.dumps(forged), "utf-8")
    caught = trustee("check-package", "--medium", medium, "--package", path)
    assert caught.returncode == 2, caught.stdout + caught.stderr
    assert "its key is not the one the ceremony made" in caught.stderr
    assert "선거를 열면 안 됩니다" in caught.stderr

    swapped = json.loads(json.dumps(honest))
    swapped["election_key"]["trustees"][1]["box_key"] = SealingKey.generate().public_key.hex()
    path.write_text(json.dumps(swapped), "utf-8")
    caught = trustee("check-package", "--medium", medium, "--package", path)
    assert caught.returncode == 2 and "trustee 2's box_key is not the ceremony's" in caught.stderr


def test_round_one_shows_every_trustees_identity_to_compare_before_shares_go_out(
    tmp_path: Path,
) -> None:
    """Before: round 1 showed only the setup's fingerprint, which every trustee shares even
    when the organiser put their own keys in another trustee's place (under that trustee's
    name); only the replaced trustee's tool noticed. Now every trustee sees each name with the
    identity fingerprint its owner read aloud at `init`, before any share is sealed."""
    media, setup_file, _ = start(tmp_path, n=3, k=2, election=ELECTION)
    out = ok("round1", "--medium", media[0], "--setup", setup_file, "--exchange", tmp_path / "x")
    for i, m in enumerate(media, start=1):
        public = json.loads((m / "identity.public.json").read_text("utf-8"))
        fingerprint = PublicIdentity.from_json(public, "test").fingerprint()
        assert f"trustee {i} ({public['name']}): identity {fingerprint}" in out
    assert "before round 2" in out


def _swap_in(exchange: Path, setup: CeremonySetup, message: SignedMessage) -> None:
    """What a trustee with the exchange stick in hand can do: replace their own file."""
    path = exchange / f"{message.kind}-{message.sender}.json"
    path.write_text(json.dumps(envelope(setup, message), indent=1) + "\n", "utf-8")


def test_a_trustee_who_swaps_their_messages_on_the_stick_is_caught_with_evidence(
    tmp_path: Path,
) -> None:
    """Before: trustee 3 could show trustee 1 one polynomial and, by swapping their files on
    the exchange stick, trustee 2 another. Trustee 1's check passed on the first; at the end
    trustee 1 only got "the share received does not match the commitments", with no complaint
    on record and the first version gone, while trustees 2 and 3 finished without them. Now
    each trustee keeps what they read on their medium: the swap is named as equivocation and
    both signed versions are kept as evidence."""
    media, setup_file, setup = start(tmp_path, n=3, k=2, election=ELECTION)
    exchange = tmp_path / "exchange"
    where = ["--exchange", str(exchange)]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    in_parallel([["round2", "--medium", m, *where] for m in media])
    ok("check", "--medium", media[0], *where)  # trustee 1 reads trustee 3's first version
    cheat, other = medium_signing_key(media[2]), Polynomial.draw(2)
    _swap_in(exchange, setup, commitments_message(other, 3, cheat, setup))
    _swap_in(exchange, setup, shares_message(other, 3, cheat, setup))
    ok("check", "--medium", media[1], *where)  # trustee 2 reads the second: it checks out
    ok("check", "--medium", media[2], *where)
    caught = trustee("reveal", "--medium", media[0], *where)
    assert caught.returncode == 2, caught.stdout + caught.stderr
    assert "trustee 3" in caught.stderr and "equivocation" in caught.stderr
    assert "신탁인 3" in caught.stderr
    first = SignedMessage.from_json((media[0] / "seen" / "commitments-3.json").read_bytes())
    second = SignedMessage.from_json((media[0] / "seen" / "commitments-3.second.json").read_bytes())
    for version in (first, second):
        version.verify(setup)  # both signed by trustee 3 for this ceremony
    assert first.content() != second.content()


def test_a_second_signature_on_the_stick_does_not_split_the_board(tmp_path: Path) -> None:
    """Before: trustee 3 could sign their commitments a second time (a valid signature with
    another nonce) and swap the copies on the stick between trustee 1's and trustee 2's
    reads. The transcript hash covered the signatures, so trustees 1 and 2 signed different
    results and `collect` named an honest trustee as having signed a different result. Now
    both read the same words, compute the same transcript, and collect takes the result."""
    media, setup_file, setup = start(tmp_path, n=3, k=2, election=ELECTION)
    exchange = tmp_path / "exchange"
    where = ["--exchange", str(exchange)]
    in_parallel([["round1", "--medium", m, "--setup", setup_file, *where] for m in media])
    in_parallel([["round2", "--medium", m, *where] for m in media])
    ok("check", "--medium", media[0], *where)  # trustee 1 keeps the first copy
    path = exchange / "commitments-3.json"
    first = SignedMessage.from_json(json.loads(path.read_text("utf-8"))["message"])
    _swap_in(exchange, setup, another_signature(first, medium_signing_key(media[2]), setup))
    for m in media[1:]:
        ok("check", "--medium", m, *where)  # trustees 2 and 3 keep the second copy
    kept = [
        SignedMessage.from_json((m / "seen" / "commitments-3.json").read_bytes()) for m in media
    ]
    assert kept[0].signature != kept[1].signature and kept[0].content() == kept[1].content()
    in_parallel([["reveal", "--medium", m, *where] for m in media])
    finished = in_parallel([["finish", "--medium", m, *where] for m in media])
    said = [line for o in finished for line in o.splitlines()]
    transcripts = {line for line in said if line.startswith("transcript hash")}
    assert len(transcripts) == 1
    assert len({key_line(o) for o in finished}) == 1
    collected = ok("collect", "--setup", setup_file, *where, "--out", tmp_path / "result.json")
    assert "results signed by: 1, 2, 3" in collected
