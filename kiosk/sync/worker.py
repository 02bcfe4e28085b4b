"""The sync worker: pushes unacknowledged blocks, verifies what the ledger signs, never deletes.

It runs in its own thread. After every error it asks the ledger for this kiosk's head and
resumes from there, backing off exponentially with jitter; ``wake()`` retries at once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from typing import Protocol

from kiosk.core.block import SignedBlock
from kiosk.core.chain import ChainState
from kiosk.core.checkpoint import Checkpoint, verify_checkpoint
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

log = logging.getLogger("hanpyo.kiosk.sync")

BATCH = 100


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
    ) -> None:
        self.store, self.client, self.log_key = store, client, log_key
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
                self._publish(replace(self.status, online=online, pending=pending, alarm=str(e)))
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

    # -- one pass ----------------------------------------------------------------------------
    def sync_once(self) -> SyncStatus:
        """Resume from the ledger's head, push what it lacks, verify, record. Raises on failure."""
        local = self.store.state
        head = self.client.head()
        if head.height > local.height:
            raise UntrustedLedger(
                f"the ledger holds block {head.height} of this kiosk, which has only {local.height}"
            )
        if head.height >= 0:
            ours = next(self.store.blocks(head.height)).hash
            if head.hash != ours:
                raise UntrustedLedger(f"the ledger's block {head.height} is not this kiosk's")
            self.store.record_sync(
                {h: None for h in range(self.store.acknowledged_height() + 1, head.height + 1)},
                None,
                None,
                _now(),
            )
        pending = self.store.blocks(head.height + 1)
        while batch := list(islice(pending, BATCH)):
            self._push(batch)
        if self.store.latest_checkpoint() is None:
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
        if held:
            note = answer.checkpoint or self.client.checkpoint()
            checkpoint = self._trust(note)
            proofs = self._prove(held, answer.leaves, checkpoint)
            leaves: dict[int, int | None] = {
                b.block.height: answer.leaves.get(b.block.height) for b in held
            }
            self.store.record_sync(leaves, note, checkpoint.size, _now(), proofs)
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
        proofs = self.client.inclusion_range(first, len(new), checkpoint.size)
        for block, proof in zip(new, proofs, strict=True):
            try:
                verify_inclusion(
                    leaf_hash(block.encode()),
                    leaves[block.block.height],
                    checkpoint.size,
                    proof,
                    checkpoint.root,
                )
            except VerificationError as e:
                raise UntrustedLedger(
                    f"block {block.block.height} is not in the signed log: {e}"
                ) from e
        return {b.block.height: p for b, p in zip(new, proofs, strict=True)}

    def _trust(self, note: str) -> Checkpoint:
        """Verify ``note`` and its consistency with the last checkpoint this kiosk trusted."""
        try:
            checkpoint = verify_checkpoint(note, self.log_key)
        except VerificationError as e:
            raise UntrustedLedger(f"the ledger's checkpoint does not verify: {e}") from e
        previous = self.store.latest_checkpoint()
        if previous is not None:
            old = verify_checkpoint(previous[1], self.log_key)
            if checkpoint.size < old.size:
                raise UntrustedLedger(
                    f"the ledger's log shrank from {old.size} to {checkpoint.size}"
                )
            if checkpoint.size > old.size:
                proof = self.client.consistency(old.size, checkpoint.size)
                try:
                    verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof)
                except VerificationError as e:
                    raise UntrustedLedger(f"the ledger rewrote its log: {e}") from e
            elif checkpoint.root != old.root:
                raise UntrustedLedger("the ledger signed two different trees of one size")
        self.store.record_sync({}, note, checkpoint.size, _now())
        return checkpoint
