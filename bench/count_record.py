"""The closed log the count benchmark counts: an election in the reference event's shape
(testkit.elections.review_definition: groups of 12 proposals; per group 12 residents who each
score the 11 proposals not their own, 2 experts who score all 12, and 9 online members per
proposal who "like" proposals of their group), every enrolled voter casting one v2 ballot,
encrypted with its proofs and signed by the voter's card key, in real signed chains (four
halls for the residents and experts, one online platform), the log's final checkpoint and the
close statement signed by the package's log key, and a key ceremony of 5 simulated trustees
(any 3 decrypt).

Everything comes from the product's own functions (the ballots from kiosk.core.ballot_crypto
through testkit.v2_ballots, as tests/integration/test_record_v2.py's records do); the
ballots are made on every core (they are the set-up, not what is measured) and written to a
directory so the count can be measured in several runs over the same log.
"""

from __future__ import annotations

import json
import multiprocessing
import pickle
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint, sign_note
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.merkle import leaf_hash, root_from_leaves
from kiosk.core.verifiable.ceremony import TrusteeShare
from ledger.rules.close_statement import RecordLists, statement_text
from testkit.ceremony_results import simulated_result, with_ceremony_key
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, review_definition
from testkit.v2_ballots import cast_ballot

LOG_ORIGIN = "ledger.bench/count"
START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
VOTERS_PER_GROUP = 12 + 2 + 12 * 9  # residents, experts, online members
HALLS = 4
TRUSTEES = (5, 3)  # n, k: three trustees shuffle and three decrypt
TOP_FILES = (
    "package.json",
    "authority.txt",
    "log-key.txt",
    "sources.json",
    "log.jsonl",
    "evidence.json",
    "close.json",
    "ceremony.json",
)


@dataclass(frozen=True)
class Secrets:
    """What the trustees hold (never in the record): each one's share and signing key."""

    shares: dict[int, TrusteeShare]
    trustee_keys: dict[int, SigningKey]


def groups_for(ballots: int) -> int:
    return max(1, round(ballots / VOTERS_PER_GROUP))


def reference_election(
    groups: int, seed: str
) -> tuple[SyntheticElection, dict[str, Any], Secrets, SigningKey]:
    """The package of ``groups`` groups with the election key of a simulated ceremony, the
    ceremony's public record, the trustees' secrets and the log key (testkit/v2_record.py's
    record_election, in the reference event's shape)."""
    election_id = f"count-bench-{groups}"
    log_key = SigningKey(sha256(f"{seed}/log-key".encode()))
    synthetic = build_election(
        review_definition(groups=groups, per_group=12, election_id=election_id),
        protocol=2,
        seed=seed,
        trustees=TRUSTEES,
        experts_per_group=2,
        online_per_proposal=9,
        log_key=NoteVerifier(LOG_ORIGIN, log_key.public_key).vkey,
        min_column=1,
    )
    result = simulated_result(election_id, *TRUSTEES)
    election = with_ceremony_key(synthetic, result)
    secrets = Secrets(dict(election.trustee_shares), result.signing_keys)
    return election, result.record | {"record": result.section}, secrets, log_key


# -- the ballots, made on every core -------------------------------------------------------------

_election: SyntheticElection | None = None  # set before the pool forks


def _bodies(indices: list[int]) -> list[dict[str, Any]]:
    assert _election is not None
    rng = random.Random(indices[0])
    return [cast_ballot(_election, i, rng).body for i in indices]


def cast_all(election: SyntheticElection, processes: int) -> list[tuple[int, dict[str, Any]]]:
    """Every roll voter's ballot body, by roll index, in roll order."""
    global _election  # read by the forked workers
    _election = election
    indices = list(range(len(election.package.roll)))
    parts = [indices[i : i + 200] for i in range(0, len(indices), 200)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        bodies = [b for part in pool.imap(_bodies, parts) for b in part]
    _election = None
    return list(zip(indices, bodies, strict=True))


def _writer(election: SyntheticElection, name: str) -> ChainWriter:
    key = SigningKey(sha256(f"count-bench/source/{name}".encode()))
    writer = ChainWriter(election.package, key, START, timedelta(seconds=1))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    return writer


def _source(writer: ChainWriter, name: str, channel: str) -> dict[str, Any]:
    return {
        "kiosk": writer.kiosk_id,
        "public_key": b64e(writer.key.public_key),
        "name": name,
        "channel": channel,
        "quarantined": False,
    }


def build_log(out: Path, ballots: int, seed: str = "count-bench", processes: int = 2) -> Path:
    """Writes the record's files before the count (``TOP_FILES``) and the trustees' secrets
    (``secrets.pickle``) into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    election, ceremony, secrets, log_key = reference_election(groups_for(ballots), seed)
    package = election.package
    cast = cast_all(election, processes)
    halls = [_writer(election, f"hall {n + 1}") for n in range(HALLS)]
    online = _writer(election, "online platform")
    in_person = 0
    for index, body in cast:
        if package.roll[index].category == "online":
            writer = online
        else:
            writer, in_person = halls[in_person % HALLS], in_person + 1
        writer.now += writer.step
        writer.append(BlockKind.BALLOT, body)
    writers = [*halls, online]
    for w in writers:
        w.close_session()
    encoded = [b.encode() for w in writers for b in w.blocks]  # log order: chain after chain
    size = len(encoded)
    checkpoint = sign_checkpoint(
        LOG_ORIGIN, size, root_from_leaves([leaf_hash(e) for e in encoded]), LOG_ORIGIN, log_key
    )
    closed_at = "2026-12-08T18:00:00+00:00"
    sources = [_source(w, f"hall {n + 1}", "kiosk") for n, w in enumerate(halls)]
    sources.append(_source(online, "online platform", "online"))
    lists = RecordLists(tuple(sources), ()).hashes()  # the close signs sources.json, evidence.json
    closure = {
        "closed_at": closed_at,
        "size": size,
        "checkpoint": checkpoint,
        "statement": sign_note(
            statement_text(package.id, size, checkpoint, closed_at, {}, lists), LOG_ORIGIN, log_key
        ),
        "waivers": {},
    }
    files = {
        "package.json": canonical_json(sign_package(package, election.authority).to_json()),
        "authority.txt": (b64e(election.authority.public_key) + "\n").encode(),
        "log-key.txt": (NoteVerifier(LOG_ORIGIN, log_key.public_key).vkey + "\n").encode(),
        "sources.json": canonical_json(sources),
        "log.jsonl": b"".join(e + b"\n" for e in encoded),
        "evidence.json": b"[]",
        "close.json": canonical_json(closure),
        "ceremony.json": canonical_json(ceremony),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "secrets.pickle").write_bytes(pickle.dumps(secrets))
    (out / "made.json").write_text(json.dumps({"ballots": len(cast), "blocks": size}))
    return out


def read_secrets(directory: Path) -> Secrets:
    # written by build_log on this machine, for this benchmark alone
    secrets = pickle.loads((directory / "secrets.pickle").read_bytes())  # noqa: S301
    assert isinstance(secrets, Secrets)
    return secrets
