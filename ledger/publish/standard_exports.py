"""Standard exports of the published tally records: a results spreadsheet and the NIST
SP 1500-100 (results), 1500-103 (cast vote records) and 1500-101 (event log) JSON documents.

They are built only from what the tally publishes (docs/tally.md): the results document, the
opened ballots in their shuffled order, and the kiosk chains, so anyone can rebuild them from
the bundle. Nothing that links a ballot to a voter goes in: no nullifier, no sealed ballot, and
no block, hash or time next to a ballot. This module writes the four files; each format has
its own module beside it.

In protocol v2 no ballot is ever opened, so there is no plaintext cast vote record to export:
``write_v2_exports`` writes the spreadsheet and the 1500-101 event log only (the count writes
the 1500-100 results into the count directory, ledger/service/count.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kiosk.core.block import SignedBlock
from kiosk.core.election import ElectionPackage
from ledger.publish.nist_cvr import cvr_report
from ledger.publish.nist_events import event_log
from ledger.publish.nist_results import nist_results
from ledger.publish.results_csv import write_results_csv
from ledger.publish.streamed_json import replacing, write_json

RESULTS_CSV = "results.csv"
NIST_RESULTS = "nist-1500-100-results.json"
NIST_CVR = "nist-1500-103-cvr.json"
NIST_EVENTS = "nist-1500-101-events.json"


def write_exports(
    out: Path,
    package: ElectionPackage,
    results: dict[str, Any],
    ballots: Iterable[dict[str, Any]],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[dict[str, Any]],
) -> list[Path]:
    """Write the four standard exports into ``out`` and return their paths.

    ``ballots`` is read once, in order, and the cast vote records are written as they come,
    so a million ballots never sit in memory. Each file appears only when it is complete.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / RESULTS_CSV, out / NIST_RESULTS, out / NIST_CVR, out / NIST_EVENTS]
    with replacing(paths[0], encoding="utf-8-sig") as f:  # the BOM tells Excel it is UTF-8
        write_results_csv(f, package, results)
    with replacing(paths[1]) as f:
        json.dump(nist_results(package, results, sources), f, ensure_ascii=False, indent=1)
    with replacing(paths[2]) as f:
        write_json(f, cvr_report(package, results, ballots, sources))
        f.write("\n")
    with replacing(paths[3]) as f:
        write_json(f, event_log(package, results, chains, sources))
        f.write("\n")
    return paths


def write_v2_exports(
    out: Path,
    package: ElectionPackage,
    results: dict[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[dict[str, Any]],
) -> list[Path]:
    """Protocol v2's exports beside the count: the results spreadsheet and the NIST SP
    1500-101 event log (a ballot's event says only that a ballot was cast or checked). Never a
    1500-103 cast vote record: a v2 ballot is never decrypted, so there is none to write."""
    if package.protocol != 2:
        raise ValueError("write_v2_exports is for a protocol v2 election; v1 uses write_exports")
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / RESULTS_CSV, out / NIST_EVENTS]
    with replacing(paths[0], encoding="utf-8-sig") as f:
        write_results_csv(f, package, results)
    with replacing(paths[1]) as f:
        write_json(f, event_log(package, results, chains, sources))
        f.write("\n")
    return paths
