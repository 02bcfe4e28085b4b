"""`ledger election create`: the verifiable package (protocol 2, the only one). The election key
is the trustees' (from their ceremony), so no share file is written; every roll entry gets a random
voter id; test cards go on their own roll with a fresh public test key; the ledger's log key,
the witnesses and the smallest count column are signed with the rest.

Before anything is written, the authority hears of every count column so small that its
decrypted numbers would reveal what its few voters chose (kiosk/core/column_sizes.py)."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Mapping
from typing import Any

from kiosk.core.column_sizes import ColumnSize, small_columns
from kiosk.core.election import ElectionPackage, TestKey, read_package
from kiosk.core.election_parts import read_roll_entry
from kiosk.core.election_v2 import VOTER_ID_BYTES
from kiosk.core.errors import ElectionPackageError, HanpyoError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.group import base_mul, random_scalar
from ledger.cli.election_files import ceremony_record, load_json, package_key, tls_pin, write_new
from ledger.publish.credential_roll import split_issued


def create_v2(args: argparse.Namespace) -> int:
    definition = load_json(args.definition)
    roll = load_json(args.roll) if args.roll else {"roll": [], "staff": []}
    record = ceremony_record(args.ceremony, str(definition.get("id")))
    package = read_package(_document(args, definition, roll, record["record"]))
    beside = args.out.with_name(args.out.stem + ".ceremony.json")
    existing = [p for p in (args.out, beside) if p.exists()]
    if existing:
        raise HanpyoError(f"{existing[0]} already exists; refusing to overwrite it")
    write_new(args.out, json.dumps(package.to_json(), ensure_ascii=False))
    write_new(beside, json.dumps(record, ensure_ascii=False, indent=1))
    for line in _summary(package, str(beside)):
        print(line)
    _warn_small_columns(small_columns(package), package.min_column)
    return 0


def _document(
    args: argparse.Namespace,
    definition: Mapping[str, Any],
    roll: Mapping[str, Any],
    ceremony: Mapping[str, Any],
) -> dict[str, Any]:
    # The test key's secret is published in the package on purpose: test ballots are public,
    # and the kiosk counts them for staff. Drawn fresh, so it is never K.
    secret = random_scalar()
    document = dict(definition) | {
        "v": 2,
        "keys": {"test": TestKey(base_mul(secret), secret).to_json()},
        "election_key": package_key(dict(ceremony)),
        "ledger": {
            "url": args.ledger_url,
            "tls_pin": tls_pin(args.tls_cert),
            "log_key": args.log_key,
        },
        "roll": with_voter_ids(roll, "roll"),
        "test_roll": with_voter_ids(roll, "test_roll"),
        "staff": roll.get("staff", []),
        "witnesses": {"threshold": args.witness_threshold, "keys": list(args.witness)},
        "privacy": {"min_column": args.min_column},
    }
    document.setdefault("sequence", 1)  # the election's first package
    return document


def with_voter_ids(roll: Mapping[str, Any], section: str) -> list[dict[str, Any]]:
    """The roll file's ``section`` as v2 entries: each card's entry, checked as the package
    reader checks it, with a random voter id that says nothing about its holder."""
    entries = roll.get(section, [])
    if not isinstance(entries, list):
        raise ElectionPackageError(f"roll file: {section} must be a list")
    out = []
    for i, raw in enumerate(entries):
        # `ledger election letters` fixes voter ids and adds online members' credential keys;
        # the package reader checks both (hex ids, unique, valid keys, at most 4 an entry).
        card, voter, credentials = split_issued(raw) if isinstance(raw, dict) else (raw, None, [])
        entry = read_roll_entry(Reader(card, f"roll file {section}[{i}]", ElectionPackageError))
        out.append(
            {
                "voter": voter or secrets.token_bytes(VOTER_ID_BYTES).hex(),
                "keys": [raw["card_key"], *credentials],
                "category": entry.category,
                "group": entry.group,
                "excluded": sorted(entry.excluded),
            }
        )
    return out


def _summary(package: ElectionPackage, beside: str) -> list[str]:
    key = package.election_key
    if key is None:  # read_package refuses a v2 package without one
        raise ElectionPackageError("election_key: is missing")
    w = package.witnesses
    return [
        f"package {package.id} (protocol 2) written (not yet signed)",
        f"  {len(package.roll)} voters, each with a random voter id; "
        f"{len(package.test_roll)} test cards; {len(package.staff)} staff cards",
        f"  election key K {key.key.hex()}: any {key.threshold} of "
        f"{len(key.trustees)} trustees decrypt; no share file is written",
        f"  the trustees' ceremony: {beside}",
        f"  log key: {package.log_verifier.vkey if package.log_verifier else 'not named'}",
        f"  witnesses: {w.threshold} of {len(w.keys)} must cosign each checkpoint",
    ]


def _warn_small_columns(small: tuple[ColumnSize, ...], floor: int) -> None:
    """Warn, not refuse: a small column may be what the event is (two experts per group), and
    the authority decides; but it decides knowing that those voters' scores will show."""
    if not small:
        return
    err = sys.stderr
    print(
        f"경고: 개표 열 {len(small)}개에 투표자가 {floor}명보다 적습니다. 작은 열은 그 열 "
        "투표자들의 점수와 선택을 드러낼 수 있습니다.",
        file=err,
    )
    print(
        f"warning: {len(small)} count columns hold fewer than {floor} voters; a small "
        "column can reveal the scores and choices of the voters in it:",
        file=err,
    )
    for column in small:
        print(f"  {column.label()}: {column.voters}명 / {column.voters} voters", file=err)
