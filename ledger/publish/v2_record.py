"""Publishing a protocol v2 record in the ledger's published directory (what `ledger serve`
shows on /downloads): the exports and the printable report that follow from the count's
results, and the bundle of the whole record (bundle_writer.py says what it holds and where
each file comes from).

Run it after `ledger count finish` has written ``count/results.json``; before that it bundles
what exists (the close, the selection, the tally input, any shuffles and decryption files).
First of all, the close's final checkpoint must carry the cosignatures the package's witness
policy requires (final_checkpoint.py): it goes into the record as ``final-checkpoint.txt``, and
without them nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from kiosk.core.block import SignedBlock, decode_signed_block
from ledger.publish.bundle_writer import COUNT_DIR, PublicLedger, RecordNotReady, write_bundle
from ledger.publish.final_checkpoint import (
    WAIT_S,
    witnessed_final_checkpoint,
    write_final_checkpoint,
)
from ledger.publish.results_report import write_report
from ledger.publish.standard_exports import write_v2_exports
from ledger.store.closure import closure
from ledger.store.log_reads import chain
from ledger.store.schema import Engine
from ledger.witness.client import Witness

BUNDLE = "bundle.zip"
RESULTS = "results.json"


class WritableLedger(PublicLedger, Protocol):
    """The bundle's view of the ledger, and its database to keep the witnesses' lines in."""

    engine: Engine


def publish_v2_record(
    ledger: WritableLedger,
    published: Path,
    witnesses: Sequence[Witness] = (),
    wait_s: float = WAIT_S,
) -> list[Path]:
    """Write the final checkpoint with its cosignatures, the exports (once the results
    exist) and the bundle into ``published``; refuse before writing anything when the final
    checkpoint does not meet the witness policy after ``wait_s`` (asking ``witnesses``)."""
    package = ledger.package
    closed = closure(ledger.reader)
    if closed is None:
        raise RecordNotReady("the election is not closed: close it (ledger election close) first")
    final = witnessed_final_checkpoint(
        ledger.engine, ledger.key.verifier, package.witnesses, closed.size, witnesses, wait_s
    )
    files: list[Path] = [write_final_checkpoint(published, final)]
    results_path = published / COUNT_DIR / RESULTS
    if results_path.is_file():
        results = _results(results_path)
        chains = {s.kiosk_id: _Chain(ledger.reader, s.kiosk_id) for s in ledger.sources()}
        files += write_v2_exports(published, package, results, chains, results.get("sources", []))
        files += write_report(published, package, results)
    files.append(write_bundle(ledger, published, published / BUNDLE))
    return files


def _results(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise RecordNotReady(f"{path} cannot be read: {e}") from e
    if not isinstance(value, dict):
        raise RecordNotReady(f"{path} is not a results document")
    return value


class _Chain:
    """One source's chain, read from the database each time it is iterated, never held."""

    def __init__(self, reader: Engine, kiosk: str) -> None:
        self.reader, self.kiosk = reader, kiosk

    def __iter__(self) -> Iterator[SignedBlock]:
        for encoded in chain(self.reader, self.kiosk):
            yield decode_signed_block(encoded)
