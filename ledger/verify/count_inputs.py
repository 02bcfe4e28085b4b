"""The count's inputs recomputed from the closed log with no secret, before a trustee shuffles or
decrypts anything (`ledger trustee shuffle|decrypt --count DIR --record BUNDLE.zip`, or
``--ledger-data DIR``; docs/spec/count-trustees.md §1).

Whoever writes a count directory could otherwise make up both ``selection.json`` and
``tally-input.json`` (an "aggregate" holding one voter's ciphertext, a "column" of one voter's
cells) with hashes that agree, and the trustees would decrypt one voter's ballot. Here the
trustee's own computer reads every block of the closed log, checks every chain and that the
blocks hash to the root of the final checkpoint the log key signed, recomputes the selection
(every ballot's proofs, on every core) and the tally input, and refuses unless both are byte
for byte the count directory's. The checks are verify-bundle's own (closed_log.py,
selection_diff.py, count_record.py), so the trustee and any observer cannot disagree.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kiosk.core.checkpoint import NoteVerifier, verify_checkpoint
from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.errors import HanpyoError, VerificationError
from ledger.rules.close_statement import Closure, verify_statement
from ledger.rules.count_files import read_closure
from ledger.rules.count_input import TallyInput, tally_input
from ledger.rules.selection import Selection, select
from ledger.verify.ballot_proofs import check_ballots
from ledger.verify.closed_log import ClosedLog, LogReader
from ledger.verify.count_record import tally_difference
from ledger.verify.parallel import Where
from ledger.verify.record_files import DAMAGED, RecordFiles
from ledger.verify.selection_diff import compare_selection

T = TypeVar("T")


class CountInputsError(VerificationError):
    """The count directory's selection or tally input is not what the closed log gives, or the
    closed log itself does not check out."""

    user_message = (
        "개표 폴더의 집계 대상 목록이나 복호화할 암호문이 마감된 로그에서 다시 계산한 것과 "
        "다릅니다. 아무것도 하지 않았습니다.",
        "The count directory's selection or ciphertexts are not what the closed log gives. "
        "Nothing was done.",
    )


@dataclass(frozen=True)
class LogSource:
    """The closed log as the trustee holds it, with no secret: the package and close it names,
    the enrolled sources and the equivocation evidence (as sources.json and evidence.json hold
    them, which the close statement signs) and every block's exact bytes in log order."""

    name: str  # "the record bundle.zip", "the ledger's data in /srv/ledger"
    package_json: dict[str, Any]  # the package itself (not the signed wrapper)
    closure: Closure
    sources: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    blocks: Callable[[], Iterable[bytes]]
    place: Callable[[int], str]


@dataclass(frozen=True)
class CheckedInputs:
    """What the recomputation found: the selection and tally input equal to the directory's,
    and the words the trustee's tool prints about it."""

    selection: Selection
    tally: TallyInput
    said: tuple[str, ...]


def check_count_inputs(
    package: ElectionPackage,
    closure: Closure,
    verifier: NoteVerifier,
    log: LogSource,
    files: tuple[bytes, bytes],
    where: Where,
) -> CheckedInputs:
    """Refuse unless ``files`` (selection.json, tally-input.json) are exactly what ``log``
    gives. ``closure`` is the count directory's close, already verified with ``verifier``."""
    _same_election(package, closure, log)
    root = _root(closure, verifier)
    lists = _stage(log.name, lambda: _signed_lists(package, closure, verifier, log))
    found, selected = _stage("the log's chains", lambda: _chains(package, closure, log, where))
    _stage("the log's root", lambda: found.check_root(closure.size, root))
    selection = _stage("the selection", lambda: _compare(selected, found, files[0]))
    tally = tally_input(package, selection)
    if files[1] != tally.canonical():
        raise CountInputsError(
            f"tally-input.json differs from the one recomputed from the selection: "
            f"{tally_difference(files[1], tally)}"
        )
    reasons = ", ".join(f"{n} {r}" for r, n in selection.reasons().items())
    said = (
        f"마감된 로그 확인 / the closed log, from {log.name}, checked with no secret:",
        f"  {found.chain_count} chains of {len(found.leaves)} blocks: every signature, link and "
        "chain rule",
        f"  the blocks hash to the root of the final checkpoint signed by the log key "
        f"{verifier.vkey}",
        f"  {lists} (every ballot's channel comes from that list)",
        f"  selection recomputed (every ballot's proofs on {where.describe()}): "
        f"{len(selection.counted)} ballots counted; left out: {reasons or 'none'}",
        "  selection.json and tally-input.json are byte for byte the recomputed ones / "
        "집계 대상 목록과 복호화할 암호문이 로그에서 다시 계산한 것과 같습니다",
        *_sizes(package, selection, tally),
    )
    return CheckedInputs(selection, tally, said)


def _sizes(package: ElectionPackage, selection: Selection, tally: TallyInput) -> list[str]:
    """How many ballots each channel counts and the smallest sum and column: a sum of very few
    ballots says much about each of them (the close statement signs the sources' channels, but
    a source enrolled on the wrong channel is signed as it is), so the trustee sees it before
    decrypting."""
    channels = Counter(c.channel for c in selection.counted)
    per = ", ".join(f"{channel} {n}" for channel, n in sorted(channels.items()))
    sizes = [a.ballots for a in tally.aggregates] + [len(c.cts) for c in tally.columns]
    lines = [f"  ballots counted per channel: {per or 'none'}"]
    if sizes:
        lines.append(f"  the smallest sum or score column holds {min(sizes)} ballots")
    if sizes and min(sizes) < package.min_column:
        lines.append(
            f"!! a sum or score column holds fewer than the package's {package.min_column} "
            "ballots: check the sources' channels with the election manager / 합계나 점수 열에 "
            "든 투표지가 적습니다"
        )
    return lines


def _same_election(package: ElectionPackage, closure: Closure, log: LogSource) -> None:
    try:
        theirs = read_package(log.package_json)
    except HanpyoError as e:
        raise CountInputsError(f"{log.name}: its package cannot be read: {e}") from e
    if theirs.package_hash != package.package_hash:
        raise CountInputsError(
            f"{log.name} is the log of package {theirs.id} {theirs.short_hash}, not of the count "
            f"directory's {package.id} {package.short_hash}"
        )
    if log.closure != closure:
        raise CountInputsError(
            f"{log.name} holds another close than the count directory's close.json (its final "
            f"checkpoint is of {log.closure.size} blocks, closed {log.closure.closed_at}; the "
            f"count's of {closure.size}, closed {closure.closed_at})"
        )


def _signed_lists(
    package: ElectionPackage, closure: Closure, verifier: NoteVerifier, log: LogSource
) -> str:
    """The sources (whose channels split the sums and columns) and the evidence are the lists
    the close statement signed, else a refusal naming the file."""
    signed = verify_statement(closure.statement, verifier, closure, package.id)
    return signed.check(log.sources, log.evidence)


def _root(closure: Closure, verifier: NoteVerifier) -> bytes:
    try:
        checkpoint = verify_checkpoint(closure.checkpoint, verifier)
    except HanpyoError as e:
        raise CountInputsError(f"the final checkpoint does not verify: {e}") from e
    if checkpoint.size != closure.size:
        raise CountInputsError("close.json: the final checkpoint's size is not the close's size")
    return checkpoint.root


def _chains(
    package: ElectionPackage, closure: Closure, log: LogSource, where: Where
) -> tuple[ClosedLog, Selection | Exception]:
    """One pass over the closed log, streamed: every chain checked, and the selection
    recomputed from each ballot block as it is read (closed_log.py says why), or what stopped
    the selection; a chain fault or an error reading the log is raised."""
    reader = LogReader(package, log.blocks(), log.sources, log.place)
    selected: Selection | Exception
    try:
        selected = select(
            package,
            reader.ballots(),
            closure.checkpoint,
            check_proofs=lambda ballots: check_ballots(package, ballots, where),
        )
    except (HanpyoError, KeyError, ValueError, TypeError, IndexError) as e:
        if not reader.done:
            raise
        selected = e
    found = reader.finished()
    found.check_chains()
    return found, selected


def _compare(selected: Selection | Exception, found: ClosedLog, raw: bytes) -> Selection:
    if isinstance(selected, Exception):
        raise selected
    compare_selection(selected, raw, found.unreadable)
    return selected


def _stage(what: str, run: Callable[[], T]) -> T:
    """Run one check; its failure, whatever raised it, is a refusal naming the check."""
    try:
        return run()
    except CountInputsError:
        raise
    except (HanpyoError, KeyError, ValueError, TypeError, IndexError) as e:
        raise CountInputsError(f"{what}: {e}") from e
    except DAMAGED as e:
        raise CountInputsError(f"{what}: the record's zip file is damaged: {e}") from e


# -- the record a trustee carries on a stick -------------------------------------------------


@contextmanager
def record_log(path: Path) -> Iterator[LogSource]:
    """The closed log in a record written by `ledger publish` (bundle.zip): its package, close,
    sources and log.jsonl, read as `ledger verify-bundle` reads them. The count's files in the
    record, if any, are not used: the trustee compares with the count directory's own."""
    try:
        z = zipfile.ZipFile(path)
    except (OSError, *DAMAGED) as e:
        raise CountInputsError(f"{path} is not a record that can be read: {e}") from e
    with z:
        files = RecordFiles(z)
        try:
            inner = package_json(files.raw("package.json"))
            closure = read_closure(files.raw("close.json"))
            sources = files.json("sources.json", list)
            evidence = files.json("evidence.json", list)
        except HanpyoError as e:
            raise CountInputsError(f"{path}: {e}") from e
        yield LogSource(
            f"the record {path.name}",
            inner,
            closure,
            sources,
            evidence,
            lambda: _lines(files),
            lambda index: f"log.jsonl line {index + 1}",
        )


def _lines(files: RecordFiles) -> Iterator[bytes]:
    with files.open("log.jsonl") as f:
        for line in f:
            if not line.endswith(b"\n"):
                raise CountInputsError("log.jsonl does not end with a newline: it was cut short")
            yield line[:-1]


def package_json(signed_or_not: str | bytes) -> dict[str, Any]:
    """The package itself from its JSON, signed (as the ledger keeps it) or not."""
    value = json.loads(signed_or_not)
    if not isinstance(value, dict):
        raise CountInputsError("the package is not a JSON object")
    inner = value.get("package", value)
    if not isinstance(inner, dict):
        raise CountInputsError("the package is not a JSON object")
    return inner
