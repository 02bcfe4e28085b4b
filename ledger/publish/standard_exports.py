"""Standard exports of the published record: a results spreadsheet and the NIST SP 1500-101
(event log) JSON document, beside the SP 1500-100 results the count writes into the count
directory (ledger/service/count.py).

They are built only from what the count publishes (results.json) and the kiosk chains, so
anyone can rebuild them from the bundle. No ballot is ever decrypted on its own, so there is no
cast vote record (SP 1500-103) to export; a ballot's event in the log says only that a ballot
was cast or checked. Each format has its own module beside this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kiosk.core.block import SignedBlock
from kiosk.core.election import ElectionPackage
from ledger.publish.nist_events import event_log
from ledger.publish.results_csv import write_results_csv
from ledger.publish.streamed_json import replacing, write_json

RESULTS_CSV = "results.csv"
NIST_RESULTS = "nist-1500-100-results.json"
NIST_EVENTS = "nist-1500-101-events.json"


def write_v2_exports(
    out: Path,
    package: ElectionPackage,
    results: dict[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[dict[str, Any]],
) -> list[Path]:
    """The exports beside the count: the results spreadsheet and the NIST SP 1500-101 event
    log."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / RESULTS_CSV, out / NIST_EVENTS]
    with replacing(paths[0], encoding="utf-8-sig") as f:
        write_results_csv(f, package, results)
    with replacing(paths[1]) as f:
        write_json(f, event_log(package, results, chains, sources))
        f.write("\n")
    return paths
