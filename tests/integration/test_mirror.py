"""Mirrors: `ledger mirror follow` keeps a verified full copy of a real ledger's log from its
tiles, `ledger mirror serve` answers a voter's tracking-code check from that copy alone while
the ledger is stopped, and a fork, altered tiles or a broken chain are refused with the copy
left as it was and the evidence kept."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import requests

from kiosk.core.block import decode_signed_block
from kiosk.core.encoding import b64d, b64e
from kiosk.core.tiles import ENTRIES, tile_path
from kiosk.sync.tile_proofs import TileProofs
from testkit.elections import SyntheticElection
from testkit.ledger_server import ORIGIN, LedgerServer, ledger_cli
from testkit.log_growth import grow, new_kiosk
from testkit.mirror_logs import BuiltLog, session_chain, write_package
from testkit.mirror_server import MirrorServer
from testkit.witness_server import WitnessServer


def publish(server: LedgerServer) -> str:
    done = server.cli("tiles", "publish", "--dir", str(server.data / "tiles"))
    assert done.returncode == 0, done.stderr
    return f"{server.url}/tiles"


def verify_proof(url: str, code: str, log_key: str) -> str:
    done = ledger_cli(
        "verify-proof", "--url", url, "--tracking-code", code, "--log-key", log_key, data=None
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def snapshot(directory: Path) -> dict[str, str]:
    """Every file of a directory and the hash of its content."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_a_mirror_answers_a_voters_tracking_code_check_while_the_ledger_is_stopped(
    tmp_path: Path, election: SyntheticElection
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election)
    mirror = MirrorServer.of(tmp_path / "mirror", ledger, election)
    with ledger:
        writer = new_kiosk(ledger, election, "hall A")
        grow(ledger, writer, 100)  # 202 blocks: one partial tile
        tiles = publish(ledger)
        first = mirror.follow(tiles)
        assert first.returncode == 0, first.stderr
        assert "mirror holds 202 entries (was 0" in first.stdout

        # Behind, then caught up incrementally: only the new entries are fetched and checked.
        grow(ledger, writer, 200)
        publish(ledger)
        second = mirror.follow(tiles)
        assert second.returncode == 0, second.stderr
        assert "mirror holds 602 entries (was 202" in second.stdout
        assert "400 verified and added" in second.stdout
        full = mirror.directory / "tiles" / tile_path(0, 0)
        before = full.stat()
        grow(ledger, writer, 100)
        publish(ledger)
        assert "mirror holds 802 entries (was 602" in mirror.follow(tiles).stdout
        after = full.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        # The same tiles as the ledger's, byte for byte.
        assert snapshot(mirror.directory / "tiles") == snapshot(ledger.data / "tiles")

        voter = decode_signed_block(writer.blocks[500].encode()).tracking_code
        said = verify_proof(ledger.url, voter, ledger.log_key)
        ledger_answer = requests.get(
            f"{ledger.url}/v1/proofs/inclusion", params={"tracking_code": voter}, timeout=10
        ).json()
        # The kiosk's own proof questions, asked of the ledger while it runs.
        questions = [
            ("/v1/proofs/inclusion-range", {"first": 250, "count": 20, "size": 802}),
            ("/v1/proofs/consistency", {"old": 202, "new": 802}),
            ("/v1/proofs/inclusion", {"leaf_index": 801}),
        ]
        answers = [
            requests.get(f"{ledger.url}{q}", params=p, timeout=10).json() for q, p in questions
        ]
    # The ledger is stopped.
    assert ledger.process is None
    try:
        requests.get(f"{ledger.url}/v1/checkpoint", timeout=2)
        raise AssertionError("the ledger still answers")
    except requests.ConnectionError:
        pass

    with mirror:
        assert verify_proof(mirror.url, voter, ledger.log_key) == said
        assert "at position 500 of the log" in said
        answer = requests.get(
            f"{mirror.url}/v1/proofs/inclusion", params={"tracking_code": voter}, timeout=10
        ).json()
        assert answer == ledger_answer
        assert [
            requests.get(f"{mirror.url}{q}", params=p, timeout=10).json() for q, p in questions
        ] == answers
        # Typed by a person, in lower case without hyphens, it is found all the same.
        typed = requests.get(
            f"{mirror.url}/v1/proofs/inclusion",
            params={"tracking_code": voter.replace("-", "").lower()},
            timeout=10,
        )
        assert typed.json()["leaf_index"] == 500
        unknown = requests.get(
            f"{mirror.url}/v1/proofs/inclusion", params={"tracking_code": "0" * 16}, timeout=10
        )
        assert unknown.status_code == 404 and unknown.json()["reason"] == "not_found"
        # From the mirror's tiles alone, as the kiosk's sync and verify-proof --tiles read them.
        done = ledger_cli(
            "verify-proof", "--tiles", f"{mirror.url}/tiles", "--url", mirror.url,
            "--tracking-code", voter, "--log-key", ledger.log_key, data=None,
        )  # fmt: skip
        assert done.returncode == 0 and "at position 500" in done.stdout, done.stderr
        kiosk_side = TileProofs(f"{mirror.url}/tiles")
        assert kiosk_side.inclusion_range(500, 1, 802) == [[b64d(h) for h in answer["proof"]]]
        tile = requests.get(f"{mirror.url}/tiles/{tile_path(0, 0)}", timeout=10)
        assert tile.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert requests.get(f"{mirror.url}/v1/log/key", timeout=10).text.strip() == ledger.log_key
        older = requests.get(
            f"{mirror.url}/v1/proofs/inclusion", params={"leaf_index": 7, "size": 202}, timeout=10
        ).json()
        assert older["size"] == 202 and "\n202\n" in older["checkpoint"]


def test_a_mirror_refuses_a_forked_log_and_keeps_its_copy_and_the_evidence(
    tmp_path: Path, election: SyntheticElection
) -> None:
    honest = LedgerServer(tmp_path / "honest", election)
    (tmp_path / "forked").mkdir()
    shutil.copy(tmp_path / "honest" / "log.key", tmp_path / "forked" / "log.key")
    forked = LedgerServer(tmp_path / "forked", election)  # same key, another tree
    assert forked.log_key == honest.log_key
    mirror = MirrorServer.of(tmp_path / "mirror", honest, election)
    with honest, forked:
        grow(honest, new_kiosk(honest, election, "hall A"), 100)
        assert mirror.follow(publish(honest)).returncode == 0
        held = snapshot(mirror.directory / "tiles")

        other = new_kiosk(forked, election, "hall B")
        grow(forked, other, 100)  # the same size, 202, with another root
        same_size = mirror.follow(publish(forked))
        assert same_size.returncode == 1
        assert "REFUSED (fork)" in same_size.stderr
        grow(forked, other, 200)  # larger, and not an extension of the mirror's tree
        larger = mirror.follow(publish(forked))
        assert larger.returncode == 1
        assert "REFUSED (fork)" in larger.stderr and "does not extend" in larger.stderr
        assert mirror.follow(str(forked.data / "tiles")).returncode == 1  # met again: kept once
        assert snapshot(mirror.directory / "tiles") == held

        status = mirror.status()
        assert status.returncode == 1
        assert status.stdout.count("REFUSED fork") == 2
        forked_note = requests.get(f"{forked.url}/tiles/checkpoint", timeout=10).text
        honest_note = requests.get(f"{honest.url}/tiles/checkpoint", timeout=10).text
        assert "    " + forked_note.splitlines()[-1] in status.stdout  # the log's signature
        assert "    " + honest_note.splitlines()[-1] in status.stdout

        # The honest log goes on, and the mirror with it.
        grow(honest, new_kiosk(honest, election, "hall C"), 10)
        assert mirror.follow(publish(honest)).returncode == 0


def test_a_mirror_refuses_altered_bundles_and_tiles(
    tmp_path: Path, election: SyntheticElection
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election)
    mirror = MirrorServer.of(tmp_path / "mirror", ledger, election)
    with ledger:
        writer = new_kiosk(ledger, election, "hall A")
        grow(ledger, writer, 100)
        assert mirror.follow(publish(ledger)).returncode == 0
        grow(ledger, writer, 200)
        publish(ledger)
    held = snapshot(mirror.directory / "tiles")

    def altered(name: str, path: str, at: int) -> str:
        copy = tmp_path / name
        shutil.copytree(ledger.data / "tiles", copy)
        raw = bytearray((copy / path).read_bytes())
        raw[at] ^= 1
        (copy / path).write_bytes(bytes(raw))
        return str(copy)

    bundle = altered("bundle", tile_path(ENTRIES, 1), 100)  # inside an entry of leaf 256
    level0 = altered("level0", tile_path(0, 1), 5 * 32)  # the leaf hash of leaf 261
    for source in (bundle, level0):
        done = mirror.follow(source)
        assert done.returncode == 1, done.stdout
        assert "REFUSED (invalid)" in done.stderr
        assert "does not hash to its leaf" in done.stderr
        assert snapshot(mirror.directory / "tiles") == held
    assert mirror.follow(str(ledger.data / "tiles")).returncode == 0
    assert "602 entries verified" in mirror.status().stdout


def test_a_mirror_refuses_a_log_signed_by_its_key_whose_entries_break_a_chain(
    tmp_path: Path, election: SyntheticElection
) -> None:
    log = BuiltLog(tmp_path / "log")
    package = write_package(tmp_path / "election.json", election)
    mirror = MirrorServer(
        tmp_path / "mirror", log.origin, log.vkey, package, b64e(election.authority.public_key)
    )
    chain = session_chain(election, 20)
    log.publish(chain[:10])
    assert mirror.follow(str(log.directory)).returncode == 0
    # The log's own key signs a tree with a block of the chain left out: a height gap.
    log.publish(chain[11:])
    done = mirror.follow(str(log.directory))
    assert done.returncode == 1
    assert "entry 10 breaks the chain of source" in done.stderr and "height_gap" in done.stderr
    # ... and a tree whose entry is not a signed block at all.
    other = BuiltLog(tmp_path / "other")
    other.key, other.vkey = log.key, log.vkey
    other.publish([*chain[:10], b'{"not": "a block"}'])
    done = mirror.follow(str(other.directory))
    assert done.returncode == 1 and "entry 10 is not a signed block" in done.stderr
    assert "10 entries verified" in mirror.status().stdout


def test_a_mirror_with_a_witness_policy_keeps_only_witnessed_checkpoints(
    tmp_path: Path, election: SyntheticElection
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election)
    witness = WitnessServer(tmp_path / "witness", "witness.test/w1", {ORIGIN: ledger.log_key})
    mirror = MirrorServer.of(tmp_path / "mirror", ledger, election, [witness.vkey])
    no_policy = MirrorServer.of(tmp_path / "no-policy", ledger, election)
    tiles = str(ledger.data / "tiles")
    with ledger, witness:
        grow(ledger, new_kiosk(ledger, election, "hall A"), 100)
        publish(ledger)  # no witness asked: the checkpoint carries the log's signature only
        alone = mirror.follow(tiles)  # not evidence of anything: refused, nothing recorded
        assert alone.returncode == 2 and "does not carry 1 of its 1 witnesses'" in alone.stderr
        assert "0 entries verified" in mirror.status().stdout
        assert "REFUSED" not in mirror.status().stdout
        assert no_policy.follow(tiles).returncode == 0
        done = ledger.cli("tiles", "publish", "--dir", tiles, "--witness", witness.spec())
        assert done.returncode == 0, done.stderr
        cosigned = mirror.follow(tiles)
        assert cosigned.returncode == 0, cosigned.stderr
        assert "mirror holds 202 entries" in cosigned.stdout
        # A mirror that held the same tree takes the checkpoint with its new cosignatures.
        again = no_policy.follow(tiles)
        assert again.returncode == 0 and "0 verified and added" in again.stdout
        assert (no_policy.directory / "tiles" / "checkpoint").read_text() == (
            ledger.data / "tiles" / "checkpoint"
        ).read_text()
    with mirror:
        note = requests.get(f"{mirror.url}/v1/checkpoint", timeout=10).text
        assert note == (ledger.data / "tiles" / "checkpoint").read_text()
        assert "— witness.test/w1 " in note
