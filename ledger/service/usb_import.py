"""Importing kiosk chains from files (USB exports) through the same ingest path as the API.

A file is a USB export (a signed manifest line, then blocks) or a bare chain file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiosk.core.block import decode_signed_block
from kiosk.core.errors import BlockError, HanpyoError
from kiosk.core.export import ExportError, read_manifest, split_chain_file, verify_export
from ledger.service.ingest import MAX_BATCH, IngestResult
from ledger.service.ledger import Ledger


@dataclass
class ImportReport:
    results: list[IngestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.rejection is None for r in self.results)

    def summary(self) -> str:
        lines = []
        for r in self.results:
            line = (
                f"kiosk {r.kiosk}: {r.accepted} new blocks, {r.already_had} already held, "
                f"head at height {r.head_height}; log size {r.log_size}"
            )
            if r.rejection is not None:
                line += (
                    f"\n  refused at height {r.rejection.height}: {r.rejection.reason}: "
                    f"{r.rejection.detail} (the blocks before it are kept)"
                )
            lines.append(line)
        return "\n".join([*lines, *self.problems]) or "nothing to import"


def _check_manifest(
    ledger: Ledger, head: bytes, block_lines: list[bytes], report: ImportReport
) -> None:
    """A USB export's manifest: report damage, then import what verifies block by block."""
    try:
        manifest, signature = read_manifest(head)
        source = ledger.source(manifest.kiosk)
        if source is None:
            raise ExportError(f"kiosk {manifest.kiosk} is not enrolled")
        verify_export(manifest, signature, source.public_key, block_lines)
    except ExportError as e:
        report.problems.append(
            f"export file: {e}; each block is still checked on its own "
            "and the good ones before any damage are kept"
        )


def import_chain_file(ledger: Ledger, path: Path) -> ImportReport:
    """Ingest every block in ``path`` (one signed block per line), kiosk by kiosk, in order."""
    report = ImportReport()
    try:
        chain_file = split_chain_file(path.read_bytes())
    except OSError as e:
        raise HanpyoError(f"cannot read {path}: {e}") from e
    lines, start = chain_file.block_lines, 1
    if chain_file.manifest_line is not None:
        start = 2
        _check_manifest(ledger, chain_file.manifest_line, lines, report)
    runs: list[tuple[str, list[bytes]]] = []
    for number, line in enumerate(lines, start=start):
        try:
            kiosk = decode_signed_block(line).block.kiosk
        except BlockError as e:
            report.problems.append(f"line {number}: {e}; the lines after it were not read")
            break
        if not runs or runs[-1][0] != kiosk or len(runs[-1][1]) >= MAX_BATCH:
            runs.append((kiosk, []))
        runs[-1][1].append(line)
    for kiosk, batch in runs:
        result = ledger.ingest(kiosk, batch)
        report.results.append(result)
        if result.rejection is not None:
            break
    return report
