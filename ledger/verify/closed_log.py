"""The closed log read with no secret, as `ledger verify-bundle` and the trustees' `ledger trustee
shuffle|decrypt` read it: every block in log order decoded, every source's chain checked
(signatures, links, the chain rules of kiosk/core/chain.py for the package), the leaves kept
for the Merkle root, and the ballot blocks kept, with their source's channel, for the selection
(docs/spec/record.md §3 checks 5 and 6).

One pass over the blocks, so a city's log is streamed, never held whole: ``LogReader`` hands
each ballot block to the selection as the pass reaches it (the selection keeps what its rules
need, not the decoded block), and keeps of every block only its leaf hash and its block hash.
A decoded ballot block takes about four times its bytes in memory, so holding them all held
3.7 GB at 100,000 ballots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.block import decode_signed_block
from kiosk.core.chain import ChainVerifier, Schedule
from kiosk.core.crypto import kiosk_id_for
from kiosk.core.duplicates import chain_may_repeat
from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import b64d
from kiosk.core.errors import HanpyoError
from kiosk.core.merkle import leaf_hash, root_from_leaves
from ledger.rules.selection import BALLOT_KINDS, LoggedBlock
from ledger.verify.checks import BundleError


@dataclass
class ClosedLog:
    """What one pass over the log found: every leaf, each block's hash by (source, height),
    every chain fault (log position -> why, for a block that does not even decode) and, when
    asked for (``read_closed_log``), the ballot blocks for the selection."""

    leaves: list[bytes] = field(default_factory=list)
    entries: list[LoggedBlock] = field(default_factory=list)
    logged: dict[tuple[str, int], bytes] = field(default_factory=dict)
    chain_errors: list[str] = field(default_factory=list)
    unreadable: dict[int, str] = field(default_factory=dict)
    chain_count: int = 0

    def check_chains(self) -> str:
        """Raise naming the first chain fault (and how many more), else say what was read."""
        if self.chain_errors:
            more = len(self.chain_errors) - 1
            raise BundleError(self.chain_errors[0] + (f" (and {more} more)" if more else ""))
        return f"{self.chain_count} chains, {len(self.leaves)} blocks"

    def check_root(self, size: int, root: bytes) -> str:
        """The leaves are exactly the close's ``size`` and hash to the final checkpoint's
        ``root`` (RFC 6962 §2.1, kiosk/core/merkle.py)."""
        if len(self.leaves) != size:
            raise BundleError(f"the log holds {len(self.leaves)} blocks, the close {size}")
        if root_from_leaves(self.leaves) != root:
            raise BundleError("the blocks of the log do not hash to the final checkpoint's root")
        return f"{len(self.leaves)} leaves"


def read_closed_log(
    package: ElectionPackage,
    lines: Iterable[bytes],
    sources: list[dict[str, Any]],
    place: Callable[[int], str] = lambda index: f"log.jsonl line {index + 1}",
) -> ClosedLog:
    """Every block of ``lines``, as ``LogReader`` reads them, with the ballot blocks kept in
    ``entries`` (for a log small enough to hold; the verifiers stream them instead)."""
    reader = LogReader(package, lines, sources, place)
    reader.log.entries.extend(reader.ballots())
    return reader.finished()


class LogReader:
    """One pass over ``lines`` (each a signed block's exact bytes, in log order): every block
    checked against the chains of the enrolled ``sources`` (sources.json's entries) and the
    ballot blocks yielded by ``ballots`` as they come; ``place`` names a block in faults."""

    def __init__(
        self,
        package: ElectionPackage,
        lines: Iterable[bytes],
        sources: list[dict[str, Any]],
        place: Callable[[int], str] = lambda index: f"log.jsonl line {index + 1}",
    ) -> None:
        self.package, self.lines, self.place = package, lines, place
        self.keys, self.channels = source_keys(sources)
        self.log = ClosedLog()
        self.done = False  # the pass reached the log's end

    def ballots(self) -> Iterator[LoggedBlock]:
        """The ballot blocks with their source's channel, in log order; ``log`` is complete
        once this is exhausted (an error reading the log is raised from here)."""
        yield from _read(self.package, self.lines, self.keys, self.channels, self.place, self.log)
        self.done = True

    def read(self) -> ClosedLog:
        """The whole pass, no ballot kept."""
        for _ in self.ballots():
            pass
        return self.log

    def finished(self) -> ClosedLog:
        if not self.done:
            raise BundleError("the log was not read to its end")
        return self.log


def _read(
    package: ElectionPackage,
    lines: Iterable[bytes],
    keys: dict[str, bytes],
    channels: dict[str, str],
    place: Callable[[int], str],
    log: ClosedLog,
) -> Iterator[LoggedBlock]:
    schedule = Schedule.of(package.opens, package.closes)
    chains: dict[str, ChainVerifier] = {}
    for index, raw in enumerate(lines):
        log.leaves.append(leaf_hash(raw))
        try:
            signed = decode_signed_block(raw)
        except HanpyoError as e:
            log.chain_errors.append(f"{place(index)}: {e}")
            log.unreadable[index] = str(e)
            continue
        block = signed.block
        log.logged[block.kiosk, block.height] = signed.hash
        if block.kind in BALLOT_KINDS:
            channel = channels.get(block.kiosk, "")
            yield LoggedBlock(index, block.kiosk, block.height, block, channel)
        if block.kiosk not in keys:
            log.chain_errors.append(f"{place(index)}: {block.kiosk} not enrolled")
            continue
        verifier = chains.setdefault(
            block.kiosk,
            ChainVerifier(
                election=package.id,
                kiosk=block.kiosk,
                package_hash=package.package_hash,
                kiosk_key=keys[block.kiosk],
                schedule=schedule,
                # an online platform whose members may vote again (the same rule as ingest)
                repeats=chain_may_repeat(package.duplicate_policy, channels.get(block.kiosk, "")),
            ),
        )
        try:
            verifier.add(signed)
        except HanpyoError as e:
            log.chain_errors.append(f"{place(index)}: source {block.kiosk}: {e}")
        log.chain_count = len(chains)


def source_keys(sources: list[dict[str, Any]]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Each source's key (its id must be the key's) and channel, from sources.json."""
    keys: dict[str, bytes] = {}
    channels: dict[str, str] = {}
    for n, s in enumerate(sources):
        if not isinstance(s, dict):
            raise BundleError(f"sources.json entry {n} is not an object")
        key = b64d(s["public_key"], length=32, name=f"sources.json entry {n} public_key")
        if kiosk_id_for(key) != s["kiosk"]:
            raise BundleError(f"sources.json entry {n}: {s['kiosk']} is not its key's id")
        keys[s["kiosk"]] = key
        channels[s["kiosk"]] = str(s["channel"])
    return keys, channels
