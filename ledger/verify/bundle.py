"""`ledger verify-bundle`: an independent re-check of a published election record on another
machine, with no database, no secret and no trust in the ledger that served it. The record is
written by ledger/publish/bundle_writer.py and checked by ledger/verify/bundle_v2.py (every
check of docs/spec/record.md §3); this is the entry point that opens the zip file.

(Protocol 1's bundles, with opened ballots that only the trustees' whole key could check, are
no longer read: a record whose package is not "v": 2 fails the package's check.)
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.verify.checks import BundleError as BundleError  # re-exported: callers import it here
from ledger.verify.checks import Check as Check
from ledger.verify.parallel import Where

if TYPE_CHECKING:
    from ledger.verify.bundle_v2 import NistBuilder

__all__ = ["BundleError", "Check", "verify_bundle"]


def verify_bundle(
    path: Path,
    authority: str | None = None,
    log_key: str | None = None,
    where: Where | None = None,
    nist: NistBuilder | None = None,
) -> list[Check]:
    """Every check, in order; a failed check does not stop the others that can still run. The
    ballot proofs are checked where ``where`` says (every core by default); ``nist`` rebuilds
    the NIST results export."""
    from ledger.verify.bundle_v2 import verify_record_v2
    from ledger.verify.record_files import RecordFiles

    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise BundleError(f"{path} is not a readable zip file: {e}") from e
    with z:
        return verify_record_v2(RecordFiles(z), authority, log_key, where or Where(), nist)
