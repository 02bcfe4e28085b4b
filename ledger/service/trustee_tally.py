"""The trustees' tally: after the close, rebuild the ballot key from k shares, pick one ballot
per voter by the duplicate policy, shuffle, open and count in parallel, and write the
published records (docs/tally.md)."""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shamir_mnemonic.share import Share

from kiosk.core.block import SignedBlock, body_bytes, decode_signed_block
from kiosk.core.crypto import SealingKey
from kiosk.core.election import read_package
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.tally import Tally
from ledger.publish.bundle_writer import write_bundle
from ledger.publish.results_report import write_report
from ledger.publish.standard_exports import write_exports
from ledger.rules.errors import LedgerError
from ledger.rules.results import results_document
from ledger.rules.trustees import rebuild_ballot_key
from ledger.service.closing import closure
from ledger.service.ledger import Ledger
from ledger.service.reconciliation import duplicates, reconciliation
from ledger.store.log_reads import blocks_at, chain, official_ballots

CHUNK = 5000  # ballots per job: big enough to amortise the process hop, small for progress


@dataclass(frozen=True, slots=True)
class Counted:
    """A ballot the policy counts: where it is in the log, and which source cast it."""

    leaf_index: int
    kiosk: str


def counted_ballots(ledger: Ledger, size: int) -> list[Counted]:
    """Every official ballot in the frozen log, except those the duplicate policy sets aside.
    Test ballots are never selected."""
    skipped = {
        (b["kiosk"], b["height"])
        for d in duplicates(ledger.engine, ledger.duplicate_policy)
        for b in d["ballots"]
        if not b["counts"]
    }
    return [
        Counted(b.leaf_index, b.kiosk)
        for b in official_ballots(ledger.reader, size)
        if (b.kiosk, b.height) not in skipped
    ]


# -- the worker processes ---------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(package_json: dict[str, Any], secret: bytes) -> None:
    _worker["package"] = read_package(package_json)
    _worker["open"] = SealingKey(secret).opener()


def _count_chunk(
    job: tuple[int, list[tuple[str, bytes]]],
) -> tuple[list[str], dict[str, Tally], Counter[tuple[str, str]]]:
    """Open and count one chunk of shuffled ballots: their published lines, the counts per
    source, and the ballots per source per hour of block time."""
    first, items = job
    package, open_sealed = _worker["package"], _worker["open"]
    per_source: dict[str, Tally] = {}
    lines: list[str] = []
    hours: Counter[tuple[str, str]] = Counter()
    for offset, (kiosk, encoded) in enumerate(items):
        position = first + offset
        tally = per_source.setdefault(kiosk, Tally(package))
        signed = decode_signed_block(encoded)
        hours[kiosk, signed.block.time[:13]] += 1
        sealed = body_bytes(signed.block.body, "sealed")
        try:
            raw = open_sealed(sealed)
        except HanpyoError as e:
            tally.refuse(position, str(e), kiosk)
            lines.append(
                _line({"n": position, "source": kiosk, "invalid": str(e), "plaintext": ""})
            )
            continue
        if tally.add_plaintext(raw, position, kiosk):
            ballot = raw.decode()
            lines.append(f'{{"n":{position},"source":{json.dumps(kiosk)},"ballot":{ballot}}}')
        else:
            reason = tally.invalid[-1].reason
            record = {"n": position, "source": kiosk, "invalid": reason, "plaintext": b64e(raw)}
            lines.append(_line(record))
    return lines, per_source, hours


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


# -- the tally --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TallyOutput:
    results: dict[str, Any]
    files: list[Path]


def run_tally(
    ledger: Ledger,
    shares: Sequence[str],
    out: Path,
    *,
    workers: int | None = None,
    progress: bool = True,
    now: datetime | None = None,
) -> TallyOutput:
    """Count the closed election into ``out``. Refuses before opening anything when the
    election is not closed, or the shares do not rebuild this election's ballot key."""
    closed = closure(ledger)
    if closed is None:
        raise LedgerError(
            "not_closed", "the election is not closed; run `ledger election close` first"
        )
    package = ledger.package
    key = rebuild_ballot_key(list(shares), package.v1_keys().ballot)
    threshold = _threshold(shares)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise LedgerError("not_empty", f"{out} is not empty; tally into a new directory")

    shuffled = counted_ballots(ledger, closed.size)
    secrets.SystemRandom().shuffle(shuffled)  # the published order says nothing of the log's

    sources = ledger.sources()
    total, per_source = Tally(package), {s.kiosk_id: Tally(package) for s in sources}
    hours: Counter[tuple[str, str]] = Counter()
    bar = _progress(len(shuffled), progress)
    ctx = multiprocessing.get_context("spawn")
    processes = max(1, workers or os.cpu_count() or 1)
    with (
        (out / "ballots.jsonl").open("w", encoding="utf-8") as ballots_file,
        ctx.Pool(processes, _start_worker, (package.to_json(), key.secret)) as pool,
    ):
        for lines, partial, chunk_hours in pool.imap(_count_chunk, _jobs(ledger, shuffled)):
            ballots_file.writelines(line + "\n" for line in lines)
            for kiosk, t in partial.items():
                per_source.setdefault(kiosk, Tally(package)).merge(t)
            hours.update(chunk_hours)
            bar.update(len(lines))
    bar.close()
    for t in per_source.values():
        total.merge(t)
    results = results_document(
        package,
        total,
        per_source,
        [(s.kiosk_id, s.name, s.channel.value) for s in sources],
        hours,
        {"checkpoint": closed.checkpoint, "size": closed.size, "closed_at": closed.closed_at},
        {"threshold": threshold, "shares": len(shares)},
        (now or datetime.now(UTC)).isoformat(timespec="seconds"),
    )
    files = [
        _write_json(out / "results.json", results),
        out / "ballots.jsonl",
        _write_json(
            out / "reconciliation.json",
            reconciliation(ledger.engine, ledger.duplicate_policy, closed.waivers),
        ),
        _write_json(out / "close.json", closed.to_json()),
    ]
    files += write_exports(
        out,
        package,
        results,
        _published_ballots(out / "ballots.jsonl"),
        {s.kiosk_id: _Chain(ledger, s.kiosk_id) for s in sources},
        results["sources"],
    )
    files += write_report(out, package, results)
    files.append(write_bundle(ledger, out, out / "bundle.zip"))
    return TallyOutput(results, files)


def _published_ballots(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


class _Chain:
    """One source's chain, read from the database each time it is iterated, never held."""

    def __init__(self, ledger: Ledger, kiosk: str) -> None:
        self.ledger, self.kiosk = ledger, kiosk

    def __iter__(self) -> Iterator[SignedBlock]:
        for encoded in chain(self.ledger.reader, self.kiosk):
            yield decode_signed_block(encoded)


def _jobs(ledger: Ledger, shuffled: list[Counted]) -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
    """Chunks of (source, signed block) in the shuffled order, read from the database."""
    parts = [shuffled[first : first + CHUNK] for first in range(0, len(shuffled), CHUNK)]
    groups = blocks_at(ledger.reader, ([c.leaf_index for c in part] for part in parts))
    for n, (part, encoded) in enumerate(zip(parts, groups, strict=True)):
        yield n * CHUNK, [(c.kiosk, encoded[c.leaf_index]) for c in part]


def _threshold(shares: Sequence[str]) -> int:
    """How many shares the key needed (every share of a set carries the threshold)."""
    return int(Share.from_mnemonic(shares[0].strip()).member_threshold)


def _write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="opening and counting", unit="ballot", unit_scale=True)
