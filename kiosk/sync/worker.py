"""The sync worker: pushes unacknowledged blocks, verifies what the ledger signs, never deletes.

It runs in its own thread. After every error it asks the ledger for this kiosk's head and
resumes from there, backing off exponentially with jitter; ``wake()`` retries at once.

In an election whose package names witnesses (``witnesses``, k of n), a block counts as
delivered only once it is proven in a checkpoint that k of them cosigned; the ledger's signed
head alone is not enough (kiosk/sync/witnessed.py). With ``tiles`` (the ledger's ``/tiles``
or a mirror's), the checkpoint and the proofs come from the tiles first, and from the
ledger's endpoints when the tiles cannot answer; the tiles are checked like the ledger.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from typing import Protocol

from kiosk.core.block import SignedBlock
from kiosk.core.chain import ChainState
from kiosk.core.checkpoint import Checkpoint, verify_checkpoint
from kiosk.core.election_v2 import NO_WITNESSES, WitnessPolicy
from kiosk.core.errors import HanpyoError, VerificationError
from kiosk.core.heartbeat import Heartbeat
from kiosk.core.merkle import leaf_hash, verify_consistency, verify_inclusion
from kiosk.sync.client import LedgerClient
from kiosk.sync.errors import (
    InsecureLedger,
    LedgerRefused,
    LedgerUnreachable,
    NoLogKey,
    SyncError,
    UntrustedLedger,
)
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.witnessed import AwaitingWitnesses, Unwitnessed, witnessed_checkpoint

log = logging.getLogger("hanpyo.kiosk.sync")

BATCH = 100
QUIET_WITNESS_WAITS = 3  # retries (about 1 + 2 + 4 s) before a wait for witnesses is shown


class SyncedStore(Protocol):
    """What the worker needs of the kiosk's store (``ChainStore`` provides it)."""

    @property
    def state(self) -> ChainState: ...

    def blocks(self, start: int = 0) -> Iterator[SignedBlock]: ...

    def acknowledged_height(self) -> int: ...

    def record_sync(
        self,
        leaves: dict[int, int | None],
        checkpoint: str | None,
        checkpoint_size: int | None,
        verified_at: str,
        proofs: dict[int, list[bytes]] | None = None,
    ) -> None: ...

    def latest_checkpoint(self) -> tuple[int, str] | None: ...

    def inclusion_proof(self, height: int) -> tuple[int, int, list[bytes]] | None: ...


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """A read-only snapshot for the staff screen."""

    online: bool = False
    trusted: bool = True
    pending: int = 0
    acknowledged_height: int = -1
    last_sync: str | None = None
    checkpoint_size: int | None = None
    alarm: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SyncWorker:
    def __init__(
        self,
        store: SyncedStore,
        client: LedgerClient,
        log_key: str,
        *,
        on_status: Callable[[SyncStatus], None] | None = None,
        heartbeat: Callable[[], Heartbeat] | None = None,
        idle_s: float = 5.0,
        backoff_max_s: float = 60.0,
        witnesses: WitnessPolicy = NO_WITNESSES,
        tiles: Sequence[TileProofs] = (),
    ) -> None:
        self.store, self.client, self.log_key = store, client, log_key
        # Tile sources in the order they are asked (the ledger's /tiles, then mirrors).
        self.witnesses, self.tiles = witnesses, tuple(tiles)
        # Blocks the ledger holds (by its signed answers) that no witnessed checkpoint has
        # proven yet: height -> leaf index. Not delivered; proven on a later pass.
        self._unproven: dict[int, int] = {}
        self._on_status = on_status or (lambda status: None)
        self._heartbeat = heartbeat
        self._idle_s, self._backoff_max_s = idle_s, backoff_max_s
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="hanpyo-sync", daemon=True)
        self.status = SyncStatus(acknowledged_height=store.acknowledged_height())

    # -- the thread --------------------------------------------------------------------------
    def start(self) -> SyncWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def wake(self) -> None:
        """Sync now: a block was appended, or the network came back."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the sync thread is alive: from ``start()`` until ``stop()``; no sync
        error ends it (a watchdog or a test checks this)."""
        return self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.sync_once()
                failures = 0
                delay = self._idle_s
            except UntrustedLedger as e:
                self._publish(replace(self.status, trusted=False, alarm=str(e)))
                return  # never talk to this ledger again without staff looking first
            except SyncError as e:
                failures += 1
                # Not online when nothing was even sent (plain http refused, no log key).
                online = not isinstance(e, LedgerUnreachable | InsecureLedger | NoLogKey)
                pending = self.store.state.height - self.store.acknowledged_height()
                # Cosigning follows each checkpoint by a moment: the first few waits for the
                # witnesses are routine, and staff hear of them only if they last.
                routine = isinstance(e, Unwitnessed) and failures <= QUIET_WITNESS_WAITS
                alarm = None if routine else str(e)
                self._publish(replace(self.status, online=online, pending=pending, alarm=alarm))
                delay = min(self._backoff_max_s, 2.0 ** min(failures, 10) / 2)
                # Jitter, so that kiosks coming back together do not retry in step.
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 - not a secret
            self._wake.wait(delay)
            self._wake.clear()

    def _send_heartbeat(self) -> None:
        """The fleet report. A report the kiosk cannot even build (a state it has no word
        for) is logged and skipped: it must never stop the blocks from syncing."""
        assert self._heartbeat is not None  # noqa: S101 - checked by the caller
        try:
            beat = self._heartbeat()
        except (ValueError, HanpyoError) as e:
            log.error("heartbeat not sent: the kiosk could not describe its state: %s", e)
            return
        self.client.heartbeat(replace(beat, pending_blocks=0))

    def _publish(self, status: SyncStatus) -> None:
        self.status = status
        self._on_status(status)

    @property
    def witnessed(self) -> bool:
        """Whether checkpoints need witness cosignatures (the package's policy asks for any)."""
        return self.witnesses.threshold > 0

    # -- one pass ----------------------------------------------------------------------------
    def sync_once(self) -> SyncStatus:
        """Resume from the ledger's head, push what it lacks, verify, record. Raises on failure."""
        local = self.store.state
        try:
            head = self.client.head()
        except LedgerUnreachable:
            if self.witnessed and self.tiles and self._unproven:
                # The ledger is down; its tiles (or a mirror's) can still prove what it took.
                self._confirm(strict=False)
            raise
        if head.height > local.height:
            raise UntrustedLedger(
                f"the ledger holds block {head.height} of this kiosk, which has only {local.height}"
            )
        if head.height >= 0:
            ours = next(self.store.blocks(head.height)).hash
            if head.hash != ours:
                raise UntrustedLedger(f"the ledger's block {head.height} is not this kiosk's")
            held = range(self.store.acknowledged_height() + 1, head.height + 1)
            if self.witnessed:
                self._locate(self.store.blocks(held.start), head.height)
            else:
                self.store.record_sync({h: None for h in held}, None, None, _now())
        pending = self.store.blocks(head.height + 1)
        while batch := list(islice(pending, BATCH)):
            self._push(batch)
        if self.witnessed:
            self._confirm(strict=True)
        if self.store.latest_checkpoint() is None:
            if self.witnessed:
                self._witnessed_head()
            else:
                self._trust(self.client.checkpoint())
        if self._heartbeat is not None:
            self._send_heartbeat()
        latest = self.store.latest_checkpoint()
        status = SyncStatus(
            online=True,
            trusted=True,
            pending=0,
            acknowledged_height=self.store.acknowledged_height(),
            last_sync=_now(),
            checkpoint_size=latest[0] if latest else None,
        )
        self._publish(status)
        return status

    def _push(self, batch: list[SignedBlock]) -> None:
        answer = self.client.upload(batch)
        if answer.rejected is not None:
            height, reason, detail = answer.rejected
            raise LedgerRefused(reason, f"block {height}: {detail}", 422)
        # Only what the ledger's signature covers counts as delivered: the head height it
        # signed, never the unsigned "rejected" or status, which a network could strip.
        held = [b for b in batch if b.block.height <= answer.head_height]
        if held and self.witnessed:
            # Delivered only once proven in a witnessed checkpoint (``_confirm``).
            leaves = answer.leaves
            self._unproven.update({h: leaves[h] for b in held if (h := b.block.height) in leaves})
            self._locate(iter(b for b in held if b.block.height not in leaves), None)
        elif held:
            note = answer.checkpoint or self.client.checkpoint()
            checkpoint = self._trust(note)
            proofs = self._prove(held, answer.leaves, checkpoint)
            acks: dict[int, int | None] = {
                b.block.height: answer.leaves.get(b.block.height) for b in held
            }
            self.store.record_sync(acks, note, checkpoint.size, _now(), proofs)
        if len(held) < len(batch):
            first = batch[len(held)].block.height
            raise LedgerRefused(
                "not_held",
                f"block {first}: the ledger's signed head is {answer.head_height}; this block "
                "and the ones after it stay pending",
                422,
            )

    def _prove(
        self, batch: list[SignedBlock], leaves: dict[int, int], checkpoint: Checkpoint
    ) -> dict[int, list[bytes]]:
        """Check that every block the ledger just accepted is in the tree it signed."""
        new = [b for b in batch if b.block.height in leaves]
        if not new:
            return {}
        first = leaves[new[0].block.height]
        if [leaves[b.block.height] for b in new] != list(range(first, first + len(new))):
            raise UntrustedLedger("the ledger did not put this batch's blocks side by side")
        return self._proofs(first, new, checkpoint, self.tiles[0] if self.tiles else None)

    def _proofs(
        self,
        first: int,
        blocks: list[SignedBlock],
        checkpoint: Checkpoint,
        tiles: TileProofs | None,
    ) -> dict[int, list[bytes]]:
        """The verified inclusion proofs of ``blocks`` at leaves ``first, first + 1, ...`` in
        ``checkpoint``: from ``tiles`` if given and they answer with proofs that verify,
        else from the ledger, whose failing proof is evidence against it."""
        if tiles is not None:
            try:
                return self._verified(first, blocks, checkpoint, tiles)
            except SyncError as e:  # a copy that cannot answer says nothing of the ledger
                log.warning("tiles at %s give no proof: %s; asking the ledger", tiles.url, e)
        return self._verified(first, blocks, checkpoint, self.client)

    def _verified(
        self,
        first: int,
        blocks: list[SignedBlock],
        checkpoint: Checkpoint,
        source: TileProofs | LedgerClient,
    ) -> dict[int, list[bytes]]:
        proofs = source.inclusion_range(first, len(blocks), checkpoint.size)
        for leaf, (block, proof) in enumerate(zip(blocks, proofs, strict=True), start=first):
            try:
                verify_inclusion(
                    leaf_hash(block.encode()), leaf, checkpoint.size, proof, checkpoint.root
                )
            except VerificationError as e:
                raise UntrustedLedger(
                    f"block {block.block.height} is not in the signed log: {e}"
                ) from e
        return {b.block.height: p for b, p in zip(blocks, proofs, strict=True)}

    # -- witnessed delivery ------------------------------------------------------------------
    def _locate(self, blocks: Iterator[SignedBlock], upto: int | None) -> None:
        """Learn the leaf index of held blocks this worker did not upload itself (taken
        before a restart, or "already had"): the ledger finds each by its tracking code."""
        for block in blocks:
            height = block.block.height
            if upto is not None and height > upto:
                return
            if height in self._unproven or self.store.inclusion_proof(height) is not None:
                continue
            found = self.client.locate(block.tracking_code)
            if found.block != block.encode():
                raise UntrustedLedger(
                    f"the ledger's entry for tracking code {block.tracking_code} is not this "
                    f"kiosk's block {height}"
                )
            self._unproven[height] = found.leaf_index

    def _confirm(self, *, strict: bool) -> None:
        """Prove the held blocks a witnessed checkpoint covers and count them as delivered;
        with ``strict``, ``AwaitingWitnesses`` if some remain."""
        if not self._unproven:
            return
        note, checkpoint, tiles = self._witnessed_head(max(self._unproven.values()) + 1)
        ready = sorted((leaf, h) for h, leaf in self._unproven.items() if leaf < checkpoint.size)
        by_height = self._blocks_at({h for _, h in ready})
        proofs: dict[int, list[bytes]] = {}
        for run in _runs(ready, BATCH):
            blocks = [by_height[h] for _, h in run]
            proofs |= self._proofs(run[0][0], blocks, checkpoint, tiles)
        if ready:
            leaves: dict[int, int | None] = {h: leaf for leaf, h in ready}
            self.store.record_sync(leaves, note, checkpoint.size, _now(), proofs)
            for _, h in ready:
                del self._unproven[h]
        if self._unproven and strict:
            left = len(self._unproven)
            raise AwaitingWitnesses(
                f"{left} block(s) taken by the ledger are not yet in a checkpoint cosigned by "
                f"{self.witnesses.threshold} of the election's witnesses (the latest has "
                f"{checkpoint.size} entries): not delivered yet"
            )

    def _witnessed_head(self, need: int = 0) -> tuple[str, Checkpoint, TileProofs | None]:
        """The latest witnessed checkpoint, trusted and recorded: from the first tile source
        that serves one that checks and covers ``need`` leaves, else from the ledger (a tile
        source's checkpoint still serves when the ledger cannot answer with a witnessed one)."""
        found: tuple[str, Checkpoint, TileProofs | None] | None = None
        for tiles in self.tiles:
            try:
                note = tiles.checkpoint()
                found = note, self._trust(note, tiles), tiles
            except SyncError as e:  # stale, unwitnessed or bad: a copy, never evidence
                log.warning("tiles at %s: %s", tiles.url, e)
                continue
            if found[1].size >= need:
                return found
        try:
            note = self.client.checkpoint()
            return note, self._trust(note), None
        except (LedgerUnreachable, Unwitnessed):
            if found is None:
                raise
            return found

    def _blocks_at(self, heights: set[int]) -> dict[int, SignedBlock]:
        if not heights:
            return {}
        found: dict[int, SignedBlock] = {}
        for block in self.store.blocks(min(heights)):
            if block.block.height in heights:
                found[block.block.height] = block
            if block.block.height >= max(heights):
                break
        return found

    def _trust(self, note: str, source: TileProofs | None = None) -> Checkpoint:
        """Verify ``note`` (with the witness policy's cosignatures, if the election names
        witnesses) and its consistency with the last checkpoint this kiosk trusted, proven
        from ``source``'s tiles or else by the ledger; record it."""
        checkpoint = self._verify_note(note)
        previous = self.store.latest_checkpoint()
        if previous is not None:
            old = verify_checkpoint(previous[1], self.log_key)
            if checkpoint.size < old.size:
                raise UntrustedLedger(
                    f"the ledger's log shrank from {old.size} to {checkpoint.size}"
                )
            if checkpoint.size > old.size:
                proof = (source or self.client).consistency(old.size, checkpoint.size)
                try:
                    verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof)
                except VerificationError as e:
                    raise UntrustedLedger(f"the ledger rewrote its log: {e}") from e
            elif checkpoint.root != old.root:
                raise UntrustedLedger("the ledger signed two different trees of one size")
        self.store.record_sync({}, note, checkpoint.size, _now())
        return checkpoint

    def _verify_note(self, note: str) -> Checkpoint:
        if self.witnessed:
            return witnessed_checkpoint(note, self.log_key, self.witnesses)
        try:
            return verify_checkpoint(note, self.log_key)
        except VerificationError as e:
            raise UntrustedLedger(f"the ledger's checkpoint does not verify: {e}") from e


def _runs(leaves: list[tuple[int, int]], most: int) -> Iterator[list[tuple[int, int]]]:
    """Sorted (leaf, height) pairs cut into runs of consecutive leaves, ``most`` at a time:
    one proof request per run."""
    run: list[tuple[int, int]] = []
    for pair in leaves:
        if run and (pair[0] != run[-1][0] + 1 or len(run) == most):
            yield run
            run = []
        run.append(pair)
    if run:
        yield run
