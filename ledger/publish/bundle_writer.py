"""The download bundle: the ledger's public data and the tally's records in one zip file, which
`ledger verify-bundle` (ledger/verify/bundle.py) re-checks with no database."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Protocol

from kiosk.core.encoding import b64e
from ledger.store.log_reads import blocks_in_log_order, evidence
from ledger.store.merkle_log import LogKey
from ledger.store.registry import Source, authority_key
from ledger.store.schema import Engine


class PublicLedger(Protocol):
    """What the bundle needs of the ledger (``ledger.service.ledger.Ledger`` has it)."""

    signed_package: str
    key: LogKey
    reader: Engine

    def sources(self) -> list[Source]: ...


RECORDS = ("results.json", "ballots.jsonl", "reconciliation.json", "close.json")


def write_bundle(ledger: PublicLedger, records: Path, out: Path) -> Path:
    """Zip the ledger's public data with the tally's ``records`` into ``out``."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        z.writestr("package.json", ledger.signed_package)
        z.writestr("authority.txt", b64e(authority_key(ledger.reader)) + "\n")
        z.writestr("log-key.txt", ledger.key.verifier.vkey + "\n")
        sources = [
            {
                "kiosk": s.kiosk_id,
                "public_key": b64e(s.public_key),
                "name": s.name,
                "channel": s.channel.value,
                "quarantined": s.quarantined,
            }
            for s in ledger.sources()
        ]
        z.writestr("sources.json", json.dumps(sources, ensure_ascii=False, indent=1))
        with z.open("log.jsonl", "w", force_zip64=True) as log:
            for encoded in blocks_in_log_order(ledger.reader):
                log.write(encoded + b"\n")
        forks = [
            {"kiosk": e.kiosk, "height": e.height, "block": e.conflicting.decode()}
            for e in evidence(ledger.reader)
        ]
        z.writestr("evidence.json", json.dumps(forks, indent=1))
        for name in RECORDS:
            z.write(records / name, name)
    return out
