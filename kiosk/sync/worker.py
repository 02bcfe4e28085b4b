"""The sync worker: pushes unacknowledged blocks, verifies what the ledger signs, never deletes.

It runs in its own thread. After every error it asks the ledger for this kiosk's head and
resumes from there, backing off exponentially with jitter; ``wake()`` retries at once.

In an election whose package names witnesses (``witnesses``, k of n), a block counts as
delivered only once it is proven in a checkpoint that k of them cosigned; the ledger's signed
head alone is not enough (kiosk/sync/witnessed.py). With ``tiles`` (the ledger's ``/tiles``
or a mirror's), the checkpoint and the proofs come from the tiles first, and from the
ledger's endpoints when the tiles cannot answer; the tiles are checked like the ledger.

A backlog goes up in few round trips (``sync_once``): uploads of up to ``BATCH`` blocks, sent
as stored, each answered once durable; then one checkpoint, one consistency proof, and every
block's inclusion proof at once (from tiles, each read once), all verified before any block
counts as delivered.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from kiosk.core.block import SignedBlock
from kiosk.core.chain import ChainState
from kiosk.core.checkpoint import Checkpoint, verify_checkpoint
from kiosk.core.election_v2 import NO_WITNESSES, WitnessPolicy
from kiosk.core.errors import HanpyoError, VerificationError
from kiosk.core.heartbeat import Heartbeat
from kiosk.core.merkle import verify_consistency
from kiosk.sync.client import MAX_HELD, LedgerClient, OutgoingBlock
from kiosk.sync.errors import (
    InsecureLedger,
    LedgerRefused,
    LedgerUnreachable,
    NoLogKey,
    NotIntegrated,
    SyncError,
    UntrustedLedger,
)
from kiosk.sync.proving import prove_blocks
from kiosk.sync.tile_proofs import TileProofs
from kiosk.sync.witnessed import AwaitingWitnesses, Unwitnessed, witnessed_checkpoint

log = logging.getLogger("hanpyo.kiosk.sync")

BATCH = 1000  # blocks per upload at most: the ledger's limit (ledger.service.ingest.MAX_BATCH)
UPLOAD_BYTES = 3 * 1024 * 1024  # encoded blocks per upload at most, under the ledger's 4 MiB
TILES_WAIT_S = 2.0  # how long a catch-up waits for the tiles to show the ledger's checkpoint
TILES_POLL_S = 0.05
TILES_WORTH_WAITING = 100  # blocks to prove: fewer are proven by the ledger without a wait
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


@runtime_checkable
class StoredBlocks(Protocol):
    """A store that can give its blocks as stored, undecoded (``ChainStore`` can): the worker
    then never decodes a ballot to send it."""

    def stored_blocks(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]: ...


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
    # Why the ledger will not take this chain as it is (its refusal's reason, or
    # ``untrusted_ledger``), kept until a pass succeeds: the blocks from the refused one on will
    # never reach the log, so an online platform stops telling voters "recorded".
    refused: str | None = None


# Refusals a later pass may get past without anyone changing the chain or the ledger.
RETRYABLE = frozenset({"not_held", "concurrent_upload", "batch_too_large", "unexpected"})


def lasting_refusal(error: SyncError) -> str | None:
    """The reason of a refusal that stays until staff act, else None."""
    if not isinstance(error, LedgerRefused) or error.reason in RETRYABLE:
        return None
    return error.reason if error.status in (403, 404, 409, 410, 422) else None


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
                untrusted = replace(self.status, trusted=False, alarm=str(e))
                self._publish(replace(untrusted, refused="untrusted_ledger"))
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
                refused = lasting_refusal(e) or self.status.refused
                self._publish(
                    replace(
                        self.status, online=online, pending=pending, alarm=alarm, refused=refused
                    )
                )
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
        """Resume from the ledger's head, push what it lacks, verify, record. Raises on failure.

        A catch-up goes the way the transparency logs' own clients go: batches of up to
        ``BATCH`` blocks sent one after the other, each answered once it is durable in the
        ledger (signed, with its leaves), the last one once a checkpoint covers them all;
        then one checkpoint verified (one consistency proof) and every block proven in it
        at once. A block counts as delivered only once proven."""
        local = self.store.state
        try:
            head = self.client.head()
        except LedgerUnreachable:
            if self.tiles and self._unproven:
                # The ledger is down; its tiles (or a mirror's) can still prove what it took.
                self._confirm(strict=False)
            raise
        if head.height > local.height:
            raise UntrustedLedger(
                f"the ledger holds block {head.height} of this kiosk, which has only {local.height}"
            )
        if head.height >= 0:
            ours = next(self._outgoing(head.height)).hash
            if head.hash != ours:
                raise UntrustedLedger(f"the ledger's block {head.height} is not this kiosk's")
            held = range(self.store.acknowledged_height() + 1, head.height + 1)
            if self.witnessed:
                self._locate(held)
            else:  # the signed head's word, as for any block the ledger already had
                acks = {
                    h: self._unproven.pop(h, None)
                    for h in held
                    if self.store.inclusion_proof(h) is None  # never drop a proof recorded
                }
                self.store.record_sync(acks, None, None, _now())
        batches = list(upload_batches(self._outgoing(head.height + 1)))
        hint = None
        try:
            for n, batch in enumerate(batches, start=1):
                hint = self._push(batch, wait=n == len(batches))
        except LedgerRefused:
            self._prove_taken()  # what the ledger took before it refused stays delivered
            raise
        self._confirm(strict=True, hint=hint)
        if self.store.latest_checkpoint() is None:
            if self.witnessed:
                self._head_covering()
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

    def _push(self, batch: list[OutgoingBlock], *, wait: bool) -> str | None:
        """Upload ``batch`` and remember the leaves the ledger's signed answer gives its
        blocks, to prove them later; the answer's checkpoint (which covers them if ``wait``)."""
        answer = self.client.upload(batch) if wait else self.client.upload(batch, wait=False)
        # Only what the ledger's signature covers counts: the head height and the leaves it
        # signed, never the unsigned "rejected" or status, which a network could strip.
        held = [b for b in batch if b.height <= answer.head_height]
        leaves = answer.leaves
        self._unproven.update({b.height: leaves[b.height] for b in held if b.height in leaves})
        had = [b.height for b in held if b.height not in leaves]
        if had and self.witnessed:
            self._locate(range(had[0], had[-1] + 1))
        elif had:  # "already had": delivered on the signed answer's word, as before
            self.store.record_sync({h: None for h in had}, None, None, _now())
        if answer.rejected is not None:
            height, reason, detail = answer.rejected
            raise LedgerRefused(reason, f"block {height}: {detail}", 422)
        if len(held) < len(batch):
            first = batch[len(held)].height
            raise LedgerRefused(
                "not_held",
                f"block {first}: the ledger's signed head is {answer.head_height}; this block "
                "and the ones after it stay pending",
                422,
            )
        return answer.checkpoint

    def _prove_taken(self) -> None:
        """After a refusal: prove what a checkpoint already covers of what the ledger took;
        evidence against the ledger still counts, any other failure waits for a later pass."""
        try:
            self._confirm(strict=False)
        except UntrustedLedger:
            raise
        except SyncError as e:
            log.warning("blocks the ledger took are not proven yet: %s", e)

    # -- delivery ------------------------------------------------------------------------------
    def _locate(self, heights: range) -> None:
        """Learn the leaf index of held blocks this worker did not upload itself (taken
        before a restart, or "already had"): the ledger answers for a run of heights at once;
        each leaf is then proven against a checkpoint like the blocks this worker sent."""
        wanted = [
            h for h in heights if h not in self._unproven and self.store.inclusion_proof(h) is None
        ]
        if not wanted:
            return
        ours = self._blocks_at(set(wanted))
        for first in range(wanted[0], wanted[-1] + 1, MAX_HELD):
            count = min(MAX_HELD, wanted[-1] + 1 - first)
            held = self.client.held(first, count)
            for h in (h for h in wanted if first <= h < first + count):
                if h not in held:
                    raise SyncError(
                        f"the ledger's signed head covers block {h}, but it does not say where "
                        "it holds it"
                    )
                leaf, digest = held[h]
                if digest != ours[h].hash:
                    raise UntrustedLedger(f"the ledger's block {h} is not this kiosk's")
                self._unproven[h] = leaf

    def _confirm(self, *, strict: bool, hint: str | None = None) -> None:
        """Prove the held blocks a trusted (and, where the election asks, witnessed)
        checkpoint covers and count them as delivered, in one transaction; with ``strict``,
        a retry (``AwaitingWitnesses``, ``NotIntegrated``) if some remain. ``hint``: the
        last upload's checkpoint, used if it covers them and no tiles do."""
        if not self._unproven:
            return
        note, checkpoint, tiles = self._head_covering(max(self._unproven.values()) + 1, hint)
        ready = sorted((leaf, h) for h, leaf in self._unproven.items() if leaf < checkpoint.size)
        if ready:
            by_height = self._blocks_at({h for _, h in ready})
            placed = [(leaf, by_height[h]) for leaf, h in ready]
            proofs = prove_blocks(placed, checkpoint, self.client, tiles)
            leaves: dict[int, int | None] = {h: leaf for leaf, h in ready}
            self.store.record_sync(leaves, note, checkpoint.size, _now(), proofs)
            for _, h in ready:
                del self._unproven[h]
        if self._unproven and strict:
            left = len(self._unproven)
            if not self.witnessed:
                raise NotIntegrated(
                    f"{left} block(s) taken by the ledger are not yet in its latest checkpoint "
                    f"({checkpoint.size} entries): not delivered yet"
                )
            raise AwaitingWitnesses(
                f"{left} block(s) taken by the ledger are not yet in a checkpoint cosigned by "
                f"{self.witnesses.threshold} of the election's witnesses (the latest has "
                f"{checkpoint.size} entries): not delivered yet"
            )

    def _head_covering(
        self, need: int = 0, hint: str | None = None
    ) -> tuple[str, Checkpoint, TileProofs | None]:
        """The latest checkpoint, trusted (witnessed, where the election asks) and recorded:
        from the first tile source that serves one that checks and covers ``need`` leaves;
        else the ledger's (``hint``, the last upload's, if it covers them), after a moment's
        wait for the tiles to catch up with it; a tile source's checkpoint still serves when
        the ledger cannot answer with a trusted one."""
        found = self._tiles_head(need)
        if found is not None and found[1].size >= need:
            return found
        try:
            ledger = self._ledger_head(need, hint)
        except (LedgerUnreachable, Unwitnessed):
            if found is None:
                raise
            return found
        if self.tiles and ledger[1].size >= need and len(self._unproven) >= TILES_WORTH_WAITING:
            # The ledger writes its tiles just after the checkpoint they carry. Waiting a
            # moment for them saves asking the ledger for the proofs (a database read per
            # node there, against a few static files read once for the whole catch-up).
            deadline = time.monotonic() + TILES_WAIT_S
            while time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(TILES_POLL_S)
                tiled = self._tiles_head(need)
                if tiled is not None and tiled[1].size >= need:
                    return tiled
        return ledger

    def _tiles_head(self, need: int) -> tuple[str, Checkpoint, TileProofs] | None:
        """The checkpoint of the first tile source that covers ``need`` leaves, or of the
        last one that checks; None if none does (stale, unwitnessed or bad: a copy, never
        evidence against the ledger)."""
        found: tuple[str, Checkpoint, TileProofs] | None = None
        latest = self.store.latest_checkpoint()
        for tiles in self.tiles:
            try:
                note = tiles.checkpoint()
                if latest is not None and self._verify_note(note).size < latest[0]:
                    log.debug("tiles at %s are behind the checkpoint trusted", tiles.url)
                    continue
                found = note, self._trust(note, tiles), tiles
            except SyncError as e:
                log.warning("tiles at %s: %s", tiles.url, e)
                continue
            if found[1].size >= need:
                return found
        return found

    def _ledger_head(self, need: int, hint: str | None) -> tuple[str, Checkpoint, None]:
        """The ledger's checkpoint, trusted: ``hint`` if it covers ``need`` leaves (not in a
        witnessed election: an upload's answer need not carry the cosignatures), else asked."""
        if hint is not None and not self.witnessed and self._fresh(hint, need):
            return hint, self._trust(hint), None
        note = self.client.checkpoint()
        return note, self._trust(note), None

    def _fresh(self, note: str, need: int) -> bool:
        """Whether ``note`` (an upload's answer) covers ``need`` leaves and is no older than
        the checkpoint last trusted (a tile source may have shown a newer one meanwhile)."""
        size = self._verify_note(note).size
        latest = self.store.latest_checkpoint()
        return size >= need and (latest is None or size >= latest[0])

    def _outgoing(self, start: int) -> Iterator[OutgoingBlock]:
        """The kiosk's blocks from height ``start``, as stored (not decoded) when the store
        can give them so."""
        if isinstance(self.store, StoredBlocks):
            return (OutgoingBlock(*row) for row in self.store.stored_blocks(start))
        return (OutgoingBlock.of(block) for block in self.store.blocks(start))

    def _blocks_at(self, heights: set[int]) -> dict[int, OutgoingBlock]:
        if not heights:
            return {}
        found: dict[int, OutgoingBlock] = {}
        last = max(heights)
        for block in self._outgoing(min(heights)):
            if block.height in heights:
                found[block.height] = block
            if block.height >= last:
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


def upload_batches(blocks: Iterator[OutgoingBlock]) -> Iterator[list[OutgoingBlock]]:
    """``blocks`` in uploads of at most ``BATCH`` blocks and ``UPLOAD_BYTES`` of encoded
    blocks (the ledger refuses a request body past 4 MiB); one block at least in each."""
    batch: list[OutgoingBlock] = []
    size = 0
    for block in blocks:
        length = len(block.encoded)
        if batch and (len(batch) == BATCH or size + length > UPLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(block)
        size += length
    if batch:
        yield batch
