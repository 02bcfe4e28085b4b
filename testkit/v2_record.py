"""A whole protocol v2 record (the bundle `ledger verify-bundle` reads), built in one process from
the product's own pure functions: a ceremony of simulated trustees, the package made from its
result, kiosk chains of real signed blocks (v2 ballots signed by the voters' cards, a checked
ballot, test ballots), the log's checkpoint and close statement signed by the package's log
key, and the count: selection, tally input, each trustee's shuffle and decryption, results and
the NIST export.

TESTS ONLY. The trustees' steps run here, in-process, through the same functions `ledger trustee
shuffle|decrypt --count` call (ledger/rules/count_files.py, count_decryption.py): the real run,
one process per trustee, is tests/integration/test_trustee_count*.py's. The plaintexts stay with
the test (``V2Record.plaintexts``), never in the record.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.core.ballot import Ballot
from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint, sign_note
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import sign_package
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.merkle import leaf_hash, root_from_leaves
from kiosk.core.verifiable.ceremony import TrusteeShare
from ledger.publish.nist_results import nist_results
from ledger.rules.close_statement import RecordLists, statement_text
from ledger.rules.count_decryption import combine_count, decryption_name, make_decryption
from ledger.rules.count_files import (
    make_shuffle,
    read_count_input,
    shuffle_name,
    verify_shuffles,
)
from ledger.rules.count_input import tally_input
from ledger.rules.selection import LoggedBlock, Selection, select, selection_bytes
from ledger.rules.v2_results import count_results
from testkit.ceremony_results import simulated_result, with_ceremony_key
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.v2_ballots import CastBallot, cast_ballot, spoiled

LOG_ORIGIN = "ledger.test/record"
START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
HALL, ANNEX = "hall", "annex"  # the honest kiosk; a second kiosk (the stuffing tests' corrupt one)


@dataclass
class V2Record:
    """The record's files (name -> bytes, as the bundle holds them) and what the test keeps."""

    election: SyntheticElection
    files: dict[str, bytes]
    selection: Selection
    log_key: SigningKey
    trustee_keys: dict[int, SigningKey]
    shares: dict[int, TrusteeShare]
    plaintexts: list[Ballot] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # a stuffed body's name -> position

    def zip(self, path: Path, files: dict[str, bytes] | None = None) -> Path:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted((files or self.files).items()):
                z.writestr(name, data)
        return path

    @property
    def authority(self) -> str:
        return b64e(self.election.authority.public_key)


def record_election(
    election_id: str = "record-review",
    seed: str = "record",
    witnesses: tuple[int, tuple[str, ...]] = (0, ()),
    groups: int = 2,
    definition: Mapping[str, Any] | None = None,
) -> tuple[
    SyntheticElection, dict[str, Any], dict[int, TrusteeShare], dict[int, SigningKey], SigningKey
]:
    """A small v2 election (``groups`` groups of 3 proposals, 5 voters each: 3 residents and 2
    experts; experts score with criteria, residents answer a yes/no question)
    whose election key comes from a ceremony of 3 simulated trustees (any 2 decrypt): the
    package, the collected ceremony result, each trustee's share and signing key, the log key.
    With ``definition``, that election instead (its own id)."""
    log_key = SigningKey(sha256(f"{seed}/log-key".encode()))
    if definition is not None:
        election_id = str(definition["id"])
    synthetic = build_election(
        definition or mixed_definition(groups=groups, per_group=3, election_id=election_id),
        protocol=2,
        test_cards=2,
        seed=seed,
        trustees=(3, 2),
        online_per_proposal=0,
        log_key=NoteVerifier(LOG_ORIGIN, log_key.public_key).vkey,
        min_column=1,
        witnesses=witnesses,
    )
    result = simulated_result(election_id, 3, 2)
    election = with_ceremony_key(synthetic, result)
    record = result.record | {"record": result.section}
    return election, record, dict(election.trustee_shares), result.signing_keys, log_key


@dataclass(frozen=True)
class Hall:
    """What a stuffing sees: the election, a random source, the hall's cast ballots by roll
    index, and the ballot the first voter checked (spoiled) before casting."""

    election: SyntheticElection
    rng: random.Random
    cast: dict[int, CastBallot]
    checked: CastBallot


#: A stuffed ballot: the body a corrupt kiosk signs, made knowing what the hall holds.
Stuffing = Callable[[Hall], dict[str, Any]]


def build_record(
    stuffed: Sequence[tuple[str, Stuffing]] = (),
    *,
    voters: Sequence[int] = (0, 1, 3, 5, 8),
    seed: int = 1,
    witnesses: tuple[int, tuple[str, ...]] = (0, ()),
    groups: int = 2,
) -> V2Record:
    """The record of an election where roll ``voters`` cast at the hall (the first also checks
    one ballot before casting), both test cards cast test ballots, and the annex kiosk signs
    each ``stuffed`` body (named, in order); counted by the product's own functions."""
    election, ceremony, shares, trustee_keys, log_key = record_election(
        witnesses=witnesses, groups=groups
    )
    package, rng = election.package, random.Random(seed)
    hall = _kiosk(election, HALL)
    plaintexts = []
    hall.open_session()
    checked = cast_ballot(election, voters[0], rng)
    hall.append(BlockKind.SPOILED, spoiled(checked))
    cast_at_hall = {}
    for index in voters:
        cast = cast_ballot(election, index, rng)
        _cast(hall, cast.body)
        plaintexts.append(cast.plaintext)
        cast_at_hall[index] = cast
    hall.close_session()
    hall.mode(Mode.TEST)
    hall.open_session()
    for index in range(len(election.test_card_keys)):
        _cast(hall, cast_ballot(election, index, rng, test=True).body, BlockKind.TEST_BALLOT)
    hall.close_session()
    annex = _kiosk(election, ANNEX)
    annex.open_session()
    seen = Hall(election, rng, cast_at_hall, checked)
    positions = {}
    for name, make in stuffed:
        positions[name] = len(hall.blocks) + len(annex.blocks)  # the hall's chain is first
        _cast(annex, make(seen))
    annex.close_session()
    log = [*hall.blocks, *annex.blocks]  # log order: the hall's chain arrived first
    encoded = [b.encode() for b in log]
    size = len(encoded)
    checkpoint = sign_checkpoint(
        LOG_ORIGIN, size, root_from_leaves([leaf_hash(e) for e in encoded]), LOG_ORIGIN, log_key
    )
    closed_at = "2026-12-07T18:00:00+00:00"
    sources = [_source(w, name) for w, name in ((hall, HALL), (annex, ANNEX))]
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
    logged = [
        LoggedBlock(n, s.block.kiosk, s.block.height, s.block, "kiosk")
        for n, s in enumerate(log)
        if s.block.kind in ("ballot", "test_ballot", "spoiled")
    ]
    selection = select(package, logged, checkpoint)
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
    files |= count_files(election, selection, shares, trustee_keys, sources, files["close.json"])
    return V2Record(
        election, files, selection, log_key, trustee_keys, shares, plaintexts, positions
    )


def honest_trustees(
    election: SyntheticElection,
    count: Path,
    shares: dict[int, TrusteeShare],
    trustee_keys: dict[int, SigningKey],
) -> None:
    """The trustees' part of a count directory `ledger count prepare` wrote, in this process
    (TEST ONLY; `ledger trustee shuffle|decrypt --count` call the same functions): trustees 1
    and 2 shuffle in turn (k = 2), then every trustee decrypts."""
    package = election.package
    count_input = read_count_input((count / "tally-input.json").read_bytes(), package)
    shuffles: list[bytes] = []
    for trustee in (1, 2):
        chain = verify_shuffles(package, count_input, shuffles)
        raw = make_shuffle(package, chain.columns, chain.last_hash, trustee, trustee_keys[trustee])
        shuffles.append(raw)
        (count / shuffle_name(len(shuffles))).write_bytes(raw)
    chain = verify_shuffles(package, count_input, shuffles)
    for j, share in sorted(shares.items()):
        raw = make_decryption(package, count_input, chain, share, trustee_keys[j])
        (count / decryption_name(j)).write_bytes(raw)


def count_files(
    election: SyntheticElection,
    selection: Selection,
    shares: dict[int, TrusteeShare],
    trustee_keys: dict[int, SigningKey],
    sources: list[dict[str, Any]],
    closure_raw: bytes,
    trustee_tool: Callable[[int, bytes], bytes] | None = None,
) -> dict[str, bytes]:
    """The count directory of ``selection``: tally input; trustees 1 and 2 shuffle (k = 2);
    every trustee decrypts (each file through ``trustee_tool`` when given); the results, naming
    any file left out, and the NIST export."""
    package = election.package
    tally = tally_input(package, selection)
    out = {"count/selection.json": selection_bytes(selection)}
    out["count/tally-input.json"] = tally.canonical()
    count_input = read_count_input(tally.canonical(), package)
    shuffles: list[bytes] = []
    for trustee in (1, 2):
        chain = verify_shuffles(package, count_input, shuffles)
        raw = make_shuffle(package, chain.columns, chain.last_hash, trustee, trustee_keys[trustee])
        shuffles.append(raw)
        out["count/" + shuffle_name(len(shuffles))] = raw
    chain = verify_shuffles(package, count_input, shuffles)
    decryptions = []
    for j, share in sorted(shares.items()):
        raw = make_decryption(package, count_input, chain, share, trustee_keys[j])
        if trustee_tool is not None:  # a trustee's modified tool rewrites their file
            raw = trustee_tool(j, raw)
        decryptions.append((decryption_name(j), raw))  # named as the count names them
        out["count/" + decryption_name(j)] = raw
    decrypted = combine_count(package, count_input, chain, decryptions)
    by_category = Counter(c.category for c in selection.counted)
    results = count_results(
        package,
        dict(by_category),
        [(a.key, v) for a, v in zip(tally.aggregates, decrypted.sums, strict=True)],
        [(c.key, v) for c, v in zip(tally.columns, decrypted.columns, strict=True)],
    )
    # What `ledger count finish` adds and how it writes (ledger/service/count.py).
    per_source = Counter(c.source for c in selection.counted)
    closed = json.loads(closure_raw)
    results |= {
        "title": package.title.to_json(),
        "closed": {k: closed[k] for k in ("checkpoint", "size", "closed_at")},
        "tallied_at": "2026-12-07T18:30:00+00:00",
        "selection": {"counted": len(selection.counted), "left_out": selection.reasons()},
        "sources": [
            {k: s[k] for k in ("kiosk", "name", "channel")}
            | {"ballots_counted": per_source[s["kiosk"]]}
            for s in sources
        ],
        "trustees": {
            "shuffled": list(chain.trustees),
            "decrypted": list(decrypted.used),
            "bad": {str(j): why for j, why in sorted(decrypted.bad_trustees.items())},
            "not_signed": dict(sorted(decrypted.unsigned_files.items())),
        },
    }
    out["count/nist-1500-100-results.json"] = _pretty(nist_results(package, results, []))
    out["count/results.json"] = _pretty(results)
    return out


def _pretty(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _kiosk(election: SyntheticElection, name: str) -> ChainWriter:
    key = SigningKey(sha256(f"record/kiosk/{name}".encode()))
    writer = ChainWriter(election.package, key, START, timedelta(minutes=1))
    writer.mode(Mode.OFFICIAL)
    return writer


def _cast(writer: ChainWriter, body: dict[str, Any], kind: BlockKind = BlockKind.BALLOT) -> None:
    writer.now += writer.step
    writer.append(kind, body)


def _source(writer: ChainWriter, name: str) -> dict[str, Any]:
    return {
        "kiosk": writer.kiosk_id,
        "public_key": b64e(writer.key.public_key),
        "name": name,
        "channel": "kiosk",
        "quarantined": False,
    }


def rezip(files: dict[str, bytes]) -> bytes:
    """The files as zip bytes (for a test that alters one and checks the bundle again)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    return buffer.getvalue()


def dishonest_count(record: V2Record, position: int) -> dict[str, bytes]:
    """The record's files with a count that also counts the ballot at log ``position`` (which
    the rules leave out): its selection, tally input, shuffles, decryptions and results all made
    consistently from that selection, as a count run by an attacker would publish them."""
    from kiosk.core.encrypted_ballot import read_encrypted_ballot
    from ledger.rules.selection import CountedBallot

    # read as plain JSON: the block may break the block schema (a ballot with no signature)
    block = json.loads(record.files["log.jsonl"].split(b"\n")[position])
    ballot = read_encrypted_ballot(block["body"]["ballot"])
    extra = CountedBallot(
        position,
        block["kiosk"],
        block["height"],
        block["time"],
        bytes.fromhex(block["body"]["voter"]),
        ballot.category,
        ballot.group,
        "kiosk",
        ballot,
        ballot.hash,
    )
    s = record.selection
    selection = Selection(
        s.election,
        s.package_hash,
        s.checkpoint,
        tuple(sorted((*s.counted, extra), key=lambda c: c.position)),
        tuple(x for x in s.left_out if x.position != position),
    )
    sources = json.loads(record.files["sources.json"])
    return record.files | count_files(
        record.election,
        selection,
        record.shares,
        record.trustee_keys,
        sources,
        record.files["close.json"],
    )
