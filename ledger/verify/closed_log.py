"""The closed log read with no secret, as `ledger verify-bundle` and the trustees' `ledger trustee
shuffle|decrypt` read it: every block in log order decoded, every source's chain checked
(signatures, links, the chain rules of kiosk/core/chain.py for the package), the leaves kept
for the Merkle root, and the ballot blocks kept, with their source's channel, for the selection
(docs/spec/record.md §3 checks 5 and 6).

One pass over the blocks, so a city's log is streamed, never held twice."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.block import decode_signed_block
from kiosk.core.chain import ChainVerifier, Schedule
from kiosk.core.crypto import kiosk_id_for
from kiosk.core.election import ElectionPackage
from kiosk.core.encoding import b64d
from kiosk.core.errors import HanpyoError
from kiosk.core.merkle import leaf_hash, root_from_leaves
from ledger.rules.selection import BALLOT_KINDS, LoggedBlock
from ledger.verify.checks import BundleError


@dataclass
class ClosedLog:
    """What one pass over the log found: every leaf, the ballot blocks for the selection, each
    block's hash by (source, height), and every chain fault (log position -> why, for a block
    that does not even decode)."""

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
    """Every block of ``lines`` (each a signed block's exact bytes, in log order), checked
    against the chains of the enrolled ``sources`` (sources.json's entries); ``place`` names
    a block by its position in faults."""
    keys, channels = source_keys(sources)
    schedule = Schedule.of(package.opens, package.closes)
    chains: dict[str, ChainVerifier] = {}
    log = ClosedLog()
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
            log.entries.append(LoggedBlock(index, block.kiosk, block.height, block, channel))
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
            ),
        )
        try:
            verifier.add(signed)
        except HanpyoError as e:
            log.chain_errors.append(f"{place(index)}: source {block.kiosk}: {e}")
    log.chain_count = len(chains)
    return log


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
