"""The protocol v2 count on the ledger (verifiable-election.md, "The count"):

- ``prepare_count``: after the close, read the closed log up to the close's final checkpoint,
  run selection (ledger/rules/selection.py) with every ballot's proofs checked in a pool of
  worker processes, and write the count directory the trustees work in: ``package.json``,
  ``close.json``, ``selection.json`` and ``tally-input.json``, each whole or not at all.
- ``finish_count``: after the trustees' shuffles and decryption files are in that directory,
  check everything again (the selection and tally input recomputed from the log, every
  shuffle, every decryption share: a bad share names its trustee and another trustee's is
  used), then write ``results.json`` and the NIST SP 1500-100 results. Nothing is written that
  did not fully verify.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.core.block import decode_signed_block
from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import canonical_json
from ledger.publish.nist_results import nist_results
from ledger.publish.standard_exports import NIST_RESULTS
from ledger.rules.close_statement import Closure
from ledger.rules.count_decryption import combine_count, decryption_name
from ledger.rules.count_files import (
    CLOSE,
    COUNT_INPUT,
    PACKAGE,
    SELECTION,
    CountFileError,
    check_selection,
    election_key,
    read_count_input,
    required_shuffles,
    shuffle_name,
    shuffle_number,
    verify_shuffles,
)
from ledger.rules.count_input import read_tally_input, small_columns, tally_input
from ledger.rules.errors import LedgerError
from ledger.rules.selection import (
    LoggedBlock,
    ProofChecker,
    Selection,
    proof_fault,
    select,
    selection_bytes,
)
from ledger.rules.v2_results import count_results
from ledger.service.closing import closure
from ledger.service.ledger import Ledger
from ledger.store.closed_lists import record_lists
from ledger.store.log_reads import blocks_at
from ledger.verify.ballot_proofs import check_ballots
from ledger.verify.parallel import ParallelError, Where

RESULTS = "results.json"
CHUNK = 2000  # leaves read from the database at a time


class CountError(LedgerError):
    """The count cannot go on; nothing more was written."""

    def __init__(self, detail: str) -> None:
        super().__init__("count_refused", detail)


# -- reading the closed log ----------------------------------------------------------------------


def closed_log(ledger: Ledger, size: int) -> Iterator[LoggedBlock]:
    """Every block in the first ``size`` leaves (the close's final tree), in log order, with its
    source's channel in the list the close statement signed (ledger/store/closed_lists.py)."""
    channels = {s["kiosk"]: s["channel"] for s in record_lists(ledger.reader).sources}
    groups = (range(first, min(first + CHUNK, size)) for first in range(0, size, CHUNK))
    for found in blocks_at(ledger.reader, groups):
        for position in sorted(found):
            signed = decode_signed_block(found[position])
            block = signed.block
            channel = channels.get(block.kiosk)
            if channel is None:
                raise CountError(f"leaf {position} is from {block.kiosk}, which is not enrolled")
            yield LoggedBlock(position, block.kiosk, block.height, block, channel)


# -- proofs in worker processes ------------------------------------------------------------------


def proofs_in_pool(package: ElectionPackage, workers: int) -> ProofChecker:
    """Check proofs in ``workers`` processes started from a fork server (a fork of a process
    with threads can inherit a held lock: kiosk/core/verifiable/bulk.py), in order, a few
    chunks in flight at a time (ledger/verify/parallel.py): the selection makes each ballot's
    JSON only when its chunk is sent."""
    if workers < 1:
        raise CountError(f"workers must be at least 1, not {workers}")

    def check(ballots: Sequence[Mapping[str, Any]]) -> list[str | None]:
        if workers == 1 or len(ballots) < 2:
            return [proof_fault(package, b) for b in ballots]
        try:
            return check_ballots(package, ballots, Where(workers=workers))
        except ParallelError as e:
            raise CountError(f"the proof-checking processes failed: {e}") from e

    return check


# -- prepare -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    selection: Selection
    files: list[Path]
    # score columns with fewer scores than the package's min_column: once decrypted, a small
    # column tells more about each of its few voters' scores
    small_columns: list[str]
    min_column: int


def _closed(ledger: Ledger) -> Closure:
    closed = closure(ledger)
    if closed is None:
        raise LedgerError(
            "not_closed", "the election is not closed; run `ledger election close` first"
        )
    return closed


def processes(workers: int | None) -> int:
    """The processes the count's work is spread over: ``workers``, or every core."""
    return workers or os.cpu_count() or 1


def run_selection(ledger: Ledger, closed: Closure, workers: int | None) -> Selection:
    package = ledger.package
    checker = proofs_in_pool(package, processes(workers))
    return select(package, closed_log(ledger, closed.size), closed.checkpoint, checker)


def prepare_count(ledger: Ledger, out: Path, *, workers: int | None = None) -> Prepared:
    """Select and sum the closed log into the new count directory ``out``."""
    closed = _closed(ledger)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise LedgerError("not_empty", f"{out} is not empty; prepare the count in a new directory")
    selection = run_selection(ledger, closed, workers)
    package = ledger.package
    sums = tally_input(package, selection)
    files = [
        write_atomic(out / PACKAGE, canonical_json(json.loads(ledger.signed_package))),
        write_atomic(out / CLOSE, canonical_json(closed.to_json())),
        write_atomic(out / SELECTION, selection_bytes(selection)),
        write_atomic(out / COUNT_INPUT, sums.canonical()),
    ]
    small = small_columns(package, sums)
    return Prepared(selection, files, small, package.min_column)


def write_atomic(path: Path, raw: bytes) -> Path:
    """A public file written whole or not at all: beside it, flushed to disk, then renamed."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# -- finish --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finished:
    results: dict[str, Any]
    files: list[Path]
    bad_trustees: dict[int, str]


def finish_count(
    ledger: Ledger,
    count: Path,
    *,
    workers: int | None = None,
    now: datetime | None = None,
) -> Finished:
    """Verify the count directory end to end against the ledger and write the results."""
    closed = _closed(ledger)
    package = ledger.package
    if (count / RESULTS).exists():
        raise LedgerError("not_empty", f"{count / RESULTS} exists already")
    selection = run_selection(ledger, closed, workers)
    _same(count / PACKAGE, canonical_json(json.loads(ledger.signed_package)), "the package")
    _same(count / CLOSE, canonical_json(closed.to_json()), "the ledger's close")
    _same(count / SELECTION, selection_bytes(selection), "the selection from the closed log")
    mine = tally_input(package, selection)
    _same(count / COUNT_INPUT, mine.canonical(), "the sums and columns of that selection")
    try:
        count_input = read_count_input(_read(count / COUNT_INPUT), package)
        check_selection(count_input, _read(count / SELECTION), closed, package)
        shuffles = [_read(count / name) for name in _shuffle_files(count)]
        chain = verify_shuffles(package, count_input, shuffles, workers=processes(workers))
        needed = required_shuffles(package, count_input)
        if len(chain.trustees) < needed:
            raise CountFileError(
                f"{len(chain.trustees)} trustees shuffled; the threshold asks for {needed} "
                "before the score columns are decrypted"
            )
        files = [
            (decryption_name(t.index), _read(count / decryption_name(t.index)))
            for t in election_key(package).trustees
            if (count / decryption_name(t.index)).exists()
        ]
        decrypted = combine_count(package, count_input, chain, files, workers=processes(workers))
    except CountFileError as e:
        raise CountError(f"nothing was written: {e.detail}") from e
    parsed = read_tally_input(json.loads(mine.canonical()))
    results = count_results(
        package,
        Counter(c.category for c in selection.counted),
        list(zip((a.key for a in parsed.aggregates), decrypted.sums, strict=True)),
        list(zip((c.key for c in parsed.columns), decrypted.columns, strict=True)),
    )
    results |= _record(ledger, closed, selection, now)
    results["trustees"] = {
        "shuffled": list(chain.trustees),
        "decrypted": list(decrypted.used),
        "bad": {str(j): why for j, why in sorted(decrypted.bad_trustees.items())},
        "not_signed": dict(sorted(decrypted.unsigned_files.items())),
    }
    written = [
        write_atomic(count / NIST_RESULTS, _pretty(nist_results(package, results, []))),
        write_atomic(count / RESULTS, _pretty(results)),
    ]
    return Finished(results, written, decrypted.bad_trustees)


def _record(
    ledger: Ledger, closed: Closure, selection: Selection, now: datetime | None
) -> dict[str, Any]:
    """What the ledger adds to the count: the close, when, and per source what counted (the
    sources the close signed, as the record's sources.json lists them)."""
    per_source = Counter(c.source for c in selection.counted)
    return {
        "title": ledger.package.title.to_json(),
        "closed": {
            "checkpoint": closed.checkpoint,
            "size": closed.size,
            "closed_at": closed.closed_at,
        },
        "tallied_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "selection": {"counted": len(selection.counted), "left_out": selection.reasons()},
        "sources": [
            {
                "kiosk": s["kiosk"],
                "name": s["name"],
                "channel": s["channel"],
                "ballots_counted": per_source[s["kiosk"]],
            }
            for s in record_lists(ledger.reader).sources
        ],
    }


def _shuffle_files(count: Path) -> list[str]:
    numbers = sorted(
        n for p in count.glob("shuffle-*.json") if (n := shuffle_number(p.name)) is not None
    )
    if numbers != list(range(1, len(numbers) + 1)):
        raise CountFileError(f"the shuffle files are not numbered 1 to n without a gap: {numbers}")
    return [shuffle_name(n) for n in numbers]


def _same(path: Path, expected: bytes, what: str) -> None:
    if _read(path) != expected:
        raise CountError(f"{path.name} in the count directory is not {what}; nothing was written")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CountError(f"cannot read {path}: {e.strerror}") from e


def _pretty(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
