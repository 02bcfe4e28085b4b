"""The real artefacts the targets start from and compare against: one synthetic election, one
kiosk's signed chain and its USB export, the ledger's log key and signed checkpoints.

Keys are derived from fixed seeds, so they are the same in every process. The election key
comes from a simulated ceremony and ballots are encrypted with fresh randomness, so the
package, the chain and the export are made once (``python -m fuzz.seeds --world``) and kept
in fuzz/world/; every run reads those files.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.core.block import SignedBlock, decode_signed_block
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint, sign_note
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import read_package, sign_package
from kiosk.core.export import export_bytes
from kiosk.core.merkle import MemoryNodeStore, MerkleLog, leaf_hash
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    SyntheticElection,
    build_election,
    card_of,
    derived_key,
    mixed_definition,
    random_ballot,
    test_voter,
    voter_of,
)

HERE = Path(__file__).resolve().parent
WORLD = HERE / "world"
CHAIN_FILE = WORLD / "chain.jsonl"
PACKAGE_FILE = WORLD / "package.json"  # the world's election package (its election key)
EXPORT_FILE = WORLD / "export.jsonl"
LOG_ORIGIN = "fuzz.test/hanpyo"
WITNESS_NAME = "witness.fuzz.test"
SEED = "fuzz"


@functools.cache
def election() -> SyntheticElection:
    """The world's election: the cards and staff from the seed, the package as kept in
    fuzz/world/ (its election key is the one the chain's ballots are encrypted to; the
    trustees' shares of it are not kept, and no target needs them)."""
    built = build_election(
        mixed_definition(), seed=SEED, experts_per_group=1, online_per_proposal=1
    )
    if not PACKAGE_FILE.exists():
        return built
    package = read_package(json.loads(PACKAGE_FILE.read_text("utf-8")))
    return dataclasses.replace(built, package=package, trustee_shares={}, ceremony=None)


@functools.cache
def definition() -> dict[str, Any]:
    """The election definition an enrolment office adds cards to (no keys, no roll)."""
    return mixed_definition()


@functools.cache
def signed_package() -> dict[str, Any]:
    e = election()
    return sign_package(e.package, e.authority).to_json()


def kiosk_key() -> SigningKey:
    return derived_key(SEED, "kiosk", 0)


def kiosk_id() -> str:
    return kiosk_id_for(kiosk_key().public_key)


def log_key() -> SigningKey:
    return derived_key(SEED, "log", 0)


def witness_key() -> SigningKey:
    return derived_key(SEED, "witness", 0)


def log_verifier() -> NoteVerifier:
    return NoteVerifier(LOG_ORIGIN, log_key().public_key)


@functools.cache
def chain() -> tuple[SignedBlock, ...]:
    return tuple(decode_signed_block(line) for line in CHAIN_FILE.read_bytes().splitlines())


@functools.cache
def chain_lines() -> frozenset[bytes]:
    """Every block of the world's chain, canonically encoded."""
    return frozenset(b.encode() for b in chain())


def export_file() -> bytes:
    return EXPORT_FILE.read_bytes()


@functools.cache
def merkle_log() -> tuple[MerkleLog, tuple[bytes, ...]]:
    """A log over the chain's blocks (and a few more leaves, so it is not a power of two)."""
    leaves = tuple(leaf_hash(b.encode()) for b in chain()) + tuple(
        leaf_hash(bytes([i])) for i in range(5)
    )
    log = MerkleLog(MemoryNodeStore())
    log.append(list(leaves))
    return log, leaves


def checkpoint_note(size: int | None = None) -> str:
    log, _ = merkle_log()
    size = log.size if size is None else size
    return sign_checkpoint(LOG_ORIGIN, size, log.root(size), LOG_ORIGIN, log_key())


def cosigned_note() -> str:
    """The latest checkpoint with a second signature line, as a witness adds one."""
    note = checkpoint_note()
    text = note[: note.index("\n\n") + 1]
    witness_line = sign_note(text, WITNESS_NAME, witness_key()).rsplit("\n", 2)[-2]
    return f"{note}{witness_line}\n"


def heartbeat() -> dict[str, Any]:
    return {
        "mode": "official",
        "session": "open",
        "height": 7,
        "pending_blocks": 2,
        "ballots_session": 3,
        "reader": "ok",
        "printer": "no_paper",
        "version": "0.1.0",
    }


def make_world() -> None:
    """Write a new chain (test session, then official sessions with a pause) and its export."""
    WORLD.mkdir(exist_ok=True)
    PACKAGE_FILE.unlink(missing_ok=True)
    election.cache_clear()
    e = election()
    PACKAGE_FILE.write_text(json.dumps(e.package.to_json(), ensure_ascii=False), "utf-8")
    start = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    writer = ChainWriter(e.package, kiosk_key(), start, timedelta(minutes=3))
    rng = random.Random(7)  # noqa: S311 - reproducible ballots, not secrets
    writer.mode(Mode.TEST)
    writer.open_session()
    tester = test_voter(e, 0)
    writer.cast(tester, random_ballot(e.package, tester, rng), card_of(e, tester))
    writer.close_session()
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    for category, n in (("resident", 1), ("expert", 0), ("online", 2)):
        voter = voter_of(e, category, n)
        writer.cast(voter, random_ballot(e.package, voter, rng), card_of(e, voter))
    early = sign_checkpoint(LOG_ORIGIN, 3, bytes(range(32)), LOG_ORIGIN, log_key())
    writer.close_session(checkpoint=early)
    CHAIN_FILE.write_bytes(b"".join(b.encode() + b"\n" for b in writer.blocks))
    EXPORT_FILE.write_bytes(export_bytes(writer.blocks, kiosk_key()))
    chain.cache_clear()
    chain_lines.cache_clear()
    signed_package.cache_clear()
    merkle_log.cache_clear()


def scratch(prefix: str) -> Path:
    """A new folder for a target's files (a ledger database, a CSV file). libFuzzer leaves
    without running atexit, so they go under the run's work folder, never loose in /tmp."""
    work = Path(os.environ.get("HANPYO_FUZZ_WORK", Path(tempfile.gettempdir()) / "hanpyo-fuzz"))
    work.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work))


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()
