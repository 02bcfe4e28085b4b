"""verify-bundle's witness check of a v2 record (docs/spec/record.md §3, last checks): the
record's ``final-checkpoint.txt`` is the close's final checkpoint as the ledger holds it, with
the cosignature lines its witnesses returned, and it must meet the package's witness policy.

A package whose policy asks for no cosignature (threshold 0) gets the check reported as
"not required by the package", never as passed or as "not checked"; the file, when the record
holds it, must still be the close's checkpoint signed by the log key (a file in the record is
a file checked)."""

from __future__ import annotations

from kiosk.core.checkpoint import NoteVerifier, _split_note
from kiosk.core.election import ElectionPackage
from kiosk.core.errors import HanpyoError
from ledger.verify.checks import BundleError, Check
from ledger.verify.record_files import DAMAGED, RecordFiles
from ledger.verify.witnessed_checkpoint import Witnessing, witnessing

FINAL_CHECKPOINT = "final-checkpoint.txt"
NAME = "final checkpoint cosigned by the package's witnesses"
NOT_REQUIRED = "not required by the package"


def check_record_witnesses(
    files: RecordFiles,
    package: ElectionPackage,
    close_checkpoint: str | None,
    log_key: NoteVerifier | None,
) -> Check:
    """The witness check. ``close_checkpoint`` is close.json's checkpoint once it verified
    with the package's log key ``log_key`` (None: it did not, and nothing can be witnessed)."""
    policy = package.witnesses
    if policy.threshold == 0 and FINAL_CHECKPOINT not in files.names:
        return Check(NAME, NOT_REQUIRED, "the package's witness policy asks for no cosignature")
    try:
        if close_checkpoint is None or log_key is None:
            raise BundleError("cannot check: the close's final checkpoint did not verify")
        found_w = witnessing(_read(files, close_checkpoint), log_key, policy)
    except (HanpyoError, *DAMAGED) as e:
        return Check(NAME, "FAILED", str(e) or type(e).__name__)
    if policy.threshold == 0:
        return Check(NAME, NOT_REQUIRED, f"the package asks for no cosignature; {_says(found_w)}")
    if not found_w.met:
        return Check(NAME, "FAILED", f"{FINAL_CHECKPOINT} is {found_w.describe()}")
    return Check(NAME, "ok", f"size {found_w.checkpoint.size}, {found_w.describe()}")


def _read(files: RecordFiles, close_checkpoint: str) -> str:
    """final-checkpoint.txt, once it is the close's checkpoint text (the same origin, size and
    root: the note the witnesses cosigned is the one the close froze)."""
    if FINAL_CHECKPOINT not in files.names:
        raise BundleError(
            f"the record has no {FINAL_CHECKPOINT} (the final checkpoint with the witnesses' "
            "cosignatures): the package's witness policy cannot be checked"
        )
    note = files.text(FINAL_CHECKPOINT)
    body, _ = _split_note(note)
    close_body, _ = _split_note(close_checkpoint)
    if body != close_body:
        raise BundleError(
            f"{FINAL_CHECKPOINT} is not the close's final checkpoint (close.json): another "
            "tree was cosigned"
        )
    return note


def _says(found: Witnessing) -> str:
    signed = ", ".join(found.cosigned_by) or "no witness"
    extra = f"; also signed by {', '.join(found.unnamed)}" if found.unnamed else ""
    return f"{FINAL_CHECKPOINT} is cosigned by {signed}{extra}"
