"""The download bundle: the ledger's public data and the count's records in one zip file, which
`ledger verify-bundle` (ledger/verify/bundle.py, bundle_v2.py) re-checks with no database.

The bundle is the whole record the design lists (verifiable-election.md, "The
count", step 7; docs/spec/record.md), taken from the ledger's published directory:

    <published>/ceremony.json       the trustees' key ceremony transcript (the file
                                    `ledger election create --ceremony` wrote beside the package,
                                    checked and copied by `ledger publish --ceremony`)
    <published>/count/              the count directory (`ledger count prepare --out` and
                                    `ledger count finish --count`): close.json, selection.json,
                                    tally-input.json, shuffle-<n>.json, decryption-<j>.json,
                                    results.json, nist-1500-100-results.json

Every count file present goes in, so a bundle written while the trustees are still at work
holds what exists so far; the close and the ceremony transcript must be there. Before any count
directory exists (right after the close, so that the trustees can carry the closed log to their
own machines: docs/trustee-ceremony.md), the close is the ledger's own close record, written
as `ledger count prepare` writes it.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Protocol

from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.errors import HanpyoError
from ledger.store.closed_lists import record_lists
from ledger.store.closure import closure as stored_closure
from ledger.store.log_reads import blocks_in_log_order
from ledger.store.merkle_log import LogKey
from ledger.store.registry import Source, authority_key
from ledger.store.schema import Engine
from ledger.verify.record_witnesses import FINAL_CHECKPOINT


class PublicLedger(Protocol):
    """What the bundle needs of the ledger (``ledger.service.ledger.Ledger`` has it)."""

    signed_package: str
    key: LogKey
    reader: Engine

    @property
    def package(self) -> ElectionPackage: ...

    def sources(self) -> list[Source]: ...


class RecordNotReady(HanpyoError):
    """A v2 record cannot be bundled yet: a file every verifier needs is not published."""

    user_message = (
        "공개 기록을 묶을 수 없습니다. 빠진 파일을 메시지에서 확인해 주세요.",
        "The public record cannot be bundled yet. The message names the missing file.",
    )


COUNT_DIR = "count"  # under the published directory, and in the bundle
CEREMONY = "ceremony.json"
CLOSE = "close.json"
# The count's files a verifier reads, in the order they come to exist.
COUNT_FILES = ("selection.json", "tally-input.json", "results.json", "nist-1500-100-results.json")
NUMBERED = re.compile(r"(shuffle|decryption)-([1-9][0-9]{0,3})\.json")


def write_bundle(ledger: PublicLedger, records: Path, out: Path) -> Path:
    """Zip the ledger's public data with the published directory ``records`` into ``out``
    (module docstring)."""
    return _write_v2(ledger, records, out)


def count_files(published: Path) -> list[str]:
    """The count files present in ``published``/count, in the record's order: the selection
    and the tally input, each shuffle by number, each decryption by trustee, then the results.
    Only regular files, never a link out of the directory."""
    directory = published / COUNT_DIR
    if not directory.is_dir() or directory.is_symlink():
        return []
    present = {p.name for p in directory.iterdir() if p.is_file() and not p.is_symlink()}
    numbered = sorted(
        (m.group(1) != "shuffle", int(m.group(2)), name)
        for name in present
        if (m := NUMBERED.fullmatch(name))
    )
    fixed = [n for n in COUNT_FILES if n in present]
    return [*fixed[:2], *(name for _, _, name in numbered), *fixed[2:]]


def _write_v2(ledger: PublicLedger, published: Path, out: Path) -> Path:
    ceremony = _required(published / CEREMONY, "the key ceremony's transcript", _CEREMONY_HOW)
    close = _close(ledger, published)
    partial = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
            _write_ledger_part(z, ledger)
            z.write(ceremony, CEREMONY)
            z.writestr(CLOSE, close)
            final = published / FINAL_CHECKPOINT  # the close's checkpoint, cosigned (v2_record)
            if final.is_file() and not final.is_symlink():
                z.write(final, FINAL_CHECKPOINT)
            for name in count_files(published):
                z.write(published / COUNT_DIR / name, f"{COUNT_DIR}/{name}")
        os.replace(partial, out)  # the page never serves a half-written bundle
    finally:
        partial.unlink(missing_ok=True)
    return out


_CEREMONY_HOW = (
    "publish the <package>.ceremony.json that `ledger election create --ceremony` wrote beside "
    "the package with `ledger publish --ceremony FILE`"
)
_CLOSE_HOW = "close the election, then run `ledger count prepare --out` into that directory"


def _close(ledger: PublicLedger, published: Path) -> bytes:
    """close.json: the count directory's, or before there is one, the ledger's close record
    (the bytes `ledger count prepare` writes); a count directory without it is refused."""
    if not (published / COUNT_DIR).exists():
        closed = stored_closure(ledger.reader)
        if closed is None:
            raise RecordNotReady("the election is not closed: run `ledger election close` first")
        return canonical_json(closed.to_json())
    return _required(published / COUNT_DIR / CLOSE, "the close statement", _CLOSE_HOW).read_bytes()


def _required(path: Path, what: str, how: str) -> Path:
    if not path.is_file():
        raise RecordNotReady(f"{what} is not in {path}: {how}")
    return path


def _write_ledger_part(z: zipfile.ZipFile, ledger: PublicLedger) -> None:
    """What the ledger itself holds: the signed package, the keys, the sources, every block
    in log order and the equivocation evidence. Once closed, the sources and the evidence are
    the lists kept at the close, whose hashes the close statement signs."""
    z.writestr("package.json", ledger.signed_package)
    z.writestr("authority.txt", b64e(authority_key(ledger.reader)) + "\n")
    z.writestr("log-key.txt", ledger.key.verifier.vkey + "\n")
    lists = record_lists(ledger.reader)
    z.writestr("sources.json", json.dumps(list(lists.sources), ensure_ascii=False, indent=1))
    with z.open("log.jsonl", "w", force_zip64=True) as log:
        for encoded in blocks_in_log_order(ledger.reader):
            log.write(encoded + b"\n")
    z.writestr("evidence.json", json.dumps(list(lists.evidence), indent=1))
