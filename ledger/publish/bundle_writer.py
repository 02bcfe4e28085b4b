"""The download bundle: the ledger's public data and the tally's records in one zip file, which
`ledger verify-bundle` (ledger/verify/bundle.py) re-checks with no database."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from kiosk.core.encoding import b64e

RECORDS = ("results.json", "ballots.jsonl", "reconciliation.json", "close.json")


# -- writing ----------------------------------------------------------------------------------


def write_bundle(ledger: Any, records: Path, out: Path) -> Path:
    """Zip the ledger's public data with the tally's ``records`` into ``out``."""
    from sqlalchemy import select

    from ledger.store import schema as db

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        z.writestr("package.json", ledger.signed_package)
        with ledger.reader.connect() as conn:
            authority = conn.execute(select(db.election.c.authority_key)).scalar_one()
            z.writestr("authority.txt", b64e(bytes(authority)) + "\n")
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
                rows = conn.execute(select(db.blocks.c.encoded).order_by(db.blocks.c.leaf_index))
                for row in rows:
                    log.write(bytes(row.encoded) + b"\n")
            evidence = [
                {
                    "kiosk": r.kiosk_id,
                    "height": int(r.height),
                    "block": bytes(r.conflicting).decode(),
                }
                for r in conn.execute(select(db.evidence)).all()
            ]
            z.writestr("evidence.json", json.dumps(evidence, indent=1))
        for name in RECORDS:
            z.write(records / name, name)
    return out
