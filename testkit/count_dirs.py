"""Count directories for the trustees' part of the count, built by a test as the count's
`prepare` would: the signed v2 package, the close (a checkpoint and a close statement signed by
the package's log key), a selection naming that checkpoint, and tally-input.json whose
aggregates and score columns come from ballots encrypted with kiosk.core.ballot_crypto. The
plaintexts stay with the test (``CountPlaintexts``), never in the directory.

``ledger_count`` makes the real thing the trustees' tool now requires: a SQLite ledger whose log
holds every roll voter's ballot signed by their card (from two halls), closed, its record
published by `ledger publish` right after the close (the log part: no count files yet), then
the count directory `ledger count prepare` writes. ``write_count_dir`` (no log behind it) is
kept for the unit tests of the count's files.

Also a cheating trustee's shuffle (a modified tool: one ciphertext replaced, or another
column's proof), re-signed with that trustee's own key so that only the proof check catches it.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint, sign_note
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import ElectionPackage, read_package, sign_package
from kiosk.core.election_parts import ContestKind
from kiosk.core.encoding import canonical_json
from kiosk.core.encrypted_ballot import base_hash
from kiosk.core.verifiable.ceremony_outcome import TrusteeShare
from kiosk.core.verifiable.elgamal import ZERO, Ciphertext, encrypt
from ledger.rules.close_statement import RecordLists, statement_text
from ledger.rules.count_files import COUNT_INPUT, SHUFFLE_KIND, election_key, signed_file
from testkit.elections import SyntheticElection, build_election, mixed_definition, random_ballot

LOG_ORIGIN = "ledger.test/count"
CHANNEL = "kiosk"


@dataclass
class CountPlaintexts:
    """What the test encrypted: each aggregate's sum and each column's values, in file order."""

    sums: list[int] = field(default_factory=list)
    columns: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True)
class CountElection:
    """A v2 package, its authority, and (simulated ceremony only) the trustees' shares and the
    signing keys the package names for them."""

    package: ElectionPackage
    authority: SigningKey
    shares: dict[int, TrusteeShare]
    signing_keys: dict[int, SigningKey]
    synthetic: SyntheticElection | None = None  # with ``package``: the voters' card keys


def v2_package(
    election: str, key_section: dict[str, Any] | None = None, *, log_key: SigningKey
) -> CountElection:
    """A small v2 review election (one group of three proposals, experts and a yes/no question)
    with ``key_section`` (a real ceremony's election key, as `ledger election create
    --ceremony` writes it) or else the test kit's simulated ceremony, whose trustees then sign
    with keys derived here (returned with their shares)."""
    definition = mixed_definition(groups=1, per_group=3, election_id=election)
    synthetic = build_election(
        definition,
        protocol=2,
        log_key=NoteVerifier(LOG_ORIGIN, log_key.public_key).vkey,
        experts_per_group=2,
        online_per_proposal=0,
        min_column=1,
    )
    document = synthetic.package.to_json()
    keys: dict[int, SigningKey] = {}
    if key_section is None:
        key_section = document["election_key"]
        for t in key_section["trustees"]:
            keys[t["index"]] = SigningKey(sha256(f"count-trustee/{election}/{t['index']}".encode()))
            t["signing_key"] = keys[t["index"]].public_key.hex()
    package = read_package(document | {"election_key": key_section})
    shares = dict(synthetic.trustee_shares) if keys else {}
    voters = replace(synthetic, package=package)
    return CountElection(package, synthetic.authority, shares, keys, voters)


def key_section_from_result(result: dict[str, Any]) -> dict[str, Any]:
    """The package's election_key section from a collected ceremony result."""
    from ledger.service.ceremony_result import ceremony_section, verify_result

    section = ceremony_section(verify_result(result))
    names = ("index", "name", "signing_key", "box_key", "verification_key", "qualified")
    return {
        "key": section["election_key"],
        "threshold": section["threshold"],
        "setup_hash": section["setup_hash"],
        "transcript_hash": section["transcript_hash"],
        "trustees": [{n: t[n] for n in names} for t in section["trustees"]],
    }


def closure_for(election: str, log_key: SigningKey, size: int = 9) -> dict[str, Any]:
    """close.json as the ledger writes it: the final checkpoint and the close statement, both
    signed by ``log_key`` under the log's origin."""
    root = sha256(b"the frozen log of " + election.encode())
    checkpoint = sign_checkpoint(LOG_ORIGIN, size, root, LOG_ORIGIN, log_key)
    closed_at = "2026-12-07T18:00:00+00:00"
    no_sources = RecordLists((), ()).hashes()  # a count directory alone has no sources.json
    text = statement_text(election, size, checkpoint, closed_at, {}, no_sources)
    return {
        "closed_at": closed_at,
        "size": size,
        "checkpoint": checkpoint,
        "statement": sign_note(text, LOG_ORIGIN, log_key),
        "waivers": {},
    }


def write_count_dir(
    directory: Path,
    package: ElectionPackage,
    authority: SigningKey,
    log_key: SigningKey,
    *,
    seed: int = 7,
) -> CountPlaintexts:
    """The count directory of ``package`` after the close, with one encrypted ballot per voter
    on its roll (choices drawn from ``seed``); returns the plaintexts."""
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "package.json", sign_package(package, authority).to_json())
    closure = closure_for(package.id, log_key)
    _write(directory / "close.json", closure)
    rng = random.Random(seed)
    sums: dict[tuple[str, ...], tuple[Ciphertext, int]] = {}
    columns: dict[tuple[str, ...], list[tuple[Ciphertext, int]]] = {}
    counted = []
    for position, entry in enumerate(package.roll):
        voter = package.voter_for_card(entry.card_key)
        assert voter is not None
        encrypted, secrets = encrypt_ballot(
            package, random_ballot(package, voter, rng), voter.excluded, test=False
        )
        counted.append(_counted(position, entry.voter_id, encrypted))
        for contest, values in zip(encrypted.contests, secrets.values, strict=True):
            for cell, value in zip(contest.cells, values, strict=True):
                label = (contest.id, cell.spot.option, cell.spot.criterion or "", voter.category)
                if contest.kind is ContestKind.SCORE:
                    columns.setdefault(label, []).append((cell.ciphertext, value))
                else:
                    total, plain = sums.get(label, (ZERO, 0))
                    sums[label] = (total + cell.ciphertext, plain + value)
    selection = {
        "election": package.id,
        "package_hash": package.package_hash.hex(),
        "checkpoint": closure["checkpoint"],
        "counted": counted,
        "left_out": [],
    }
    selection_raw = _write(directory / "selection.json", selection)
    tally = {
        "election": package.id,
        "base_hash": base_hash(package, test=False).hex(),
        "selection_hash": sha256(selection_raw).hex(),
        "aggregates": [_label(label) | {"ct": ct.to_json()} for label, (ct, _) in sums.items()],
        "columns": [
            _label(label, criterion=True) | {"cts": [ct.to_json() for ct, _ in cells]}
            for label, cells in columns.items()
        ],
    }
    _write(directory / COUNT_INPUT, tally)
    return CountPlaintexts(
        [plain for _, plain in sums.values()],
        [[value for _, value in cells] for cells in columns.values()],
    )


def _counted(position: int, voter_id: bytes | None, encrypted: Any) -> dict[str, Any]:
    return {
        "position": position,
        "source": "kiosk-test",
        "height": position + 1,
        "voter": voter_id.hex() if voter_id else None,
        "category": encrypted.category,
        "group": encrypted.group,
        "channel": CHANNEL,
        "ballot_hash": encrypted.hash.hex(),
    }


def _label(label: tuple[str, ...], *, criterion: bool = False) -> dict[str, Any]:
    contest, option, crit, category = label
    found = {"contest": contest, "option": option, "category": category, "channel": CHANNEL}
    return found | ({"criterion": crit or None} if criterion else {})


def _write(path: Path, value: Any) -> bytes:
    raw = canonical_json(value)
    path.write_bytes(raw)
    return raw


def multisets(columns: list[list[int]] | tuple[tuple[int | None, ...], ...]) -> list[Counter[Any]]:
    return [Counter(column) for column in columns]


# --- a cheating trustee's shuffle -------------------------------------------------------------


def cheat_shuffle(path: Path, package: ElectionPackage, key: SigningKey, how: str) -> None:
    """Rewrite the shuffle file at ``path`` as its trustee's modified tool would, re-signed with
    that trustee's own ``key``: ``replace`` swaps column 0's first ciphertext for a fresh
    encryption of 7; ``proof`` gives column 0 the proof of column 1."""
    value = json.loads(path.read_bytes())
    body = {k: v for k, v in value.items() if k != "signature"}
    columns = body["columns"]
    if how == "replace":
        columns[0]["cts"][0] = encrypt(7, election_key(package).key)[0].to_json()
    elif how == "proof":
        columns[0]["proof"] = columns[1]["proof"]
    else:
        raise ValueError(how)
    raw = signed_file(election_key(package), SHUFFLE_KIND, body["trustee"], body, key)
    path.write_bytes(raw)
