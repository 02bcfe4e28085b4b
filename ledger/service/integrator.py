"""The integrator: one per database, elected, extends the Merkle tree in the background over
the leaves ingest sequenced, and signs a checkpoint whenever there is anything new (it looks
every INTERVAL_S, and at once when this process sequenced a batch), well within the second
the design allows. After each checkpoint it calls ``on_checkpoint(checkpoint, size)``: where
tiles are written and witnesses asked to cosign.

A crash at any point loses nothing: each round is one transaction, and the next integrator
(this one restarted, or another process elected when the lock is dropped) resumes from the
tree size that was committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from kiosk.core.errors import HanpyoError
from ledger.store.integration import (
    Lease,
    integrate_round,
    lease_for,
    published_size,
    write_back_wal,
)
from ledger.store.merkle_log import Integrated, LogKey
from ledger.store.schema import Engine

log = logging.getLogger("hanpyo.ledger.integrator")

INTERVAL_S = 0.02  # how often the leader looks for leaves another process sequenced
ELECTION_RETRY_S = 1.0  # how often a process that is not the integrator tries to become it
MAX_LEAVES = 4096  # leaves per round: one round's transaction stays short
WAIT_POLL_S = 0.01  # how often a process that is not the integrator reads the tree's size
WAL_WRITE_BACK_S = 1.0  # how often the integrator's process writes SQLite's WAL back

CheckpointHook = Callable[[str, int], None]


class Integrator:
    """``Integrator(engine, key).start()`` in every ledger process; one of them integrates.

    ``on_checkpoint`` is a list: append a hook before ``start``."""

    def __init__(
        self,
        engine: Engine,
        key: LogKey,
        *,
        on_checkpoint: Sequence[CheckpointHook] = (),
        lease: Lease | None = None,
    ) -> None:
        self.engine, self.key = engine, key
        # A list given is kept, not copied: Ledger.on_checkpoint is shared with its integrator.
        self.on_checkpoint: list[CheckpointHook] = (
            on_checkpoint if isinstance(on_checkpoint, list) else list(on_checkpoint)
        )
        self._lease = lease or lease_for(engine)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._published = threading.Condition()
        self._size = -1  # the tree's size as this process last saw it
        self._leading = False  # set by the thread only: the lease is not shared between threads
        self._thread = threading.Thread(target=self._run, name="hanpyo-integrator", daemon=True)
        # A thread of its own: writing back a large database's pages can take a second, and
        # the rounds (which uploads wait for) must not wait for it.
        self._keeper = threading.Thread(target=self._keep_wal, name="hanpyo-wal", daemon=True)

    # -- the thread ----------------------------------------------------------------------------
    def start(self) -> Integrator:
        self._thread.start()
        self._keeper.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._keeper):
            if thread.is_alive():
                thread.join(timeout=30)
        self._lease.release()
        self._leading = False

    def wake(self) -> None:
        """A batch was sequenced here: integrate now rather than at the next look."""
        self._wake.set()

    @property
    def leading(self) -> bool:
        """Whether this process's thread is the elected integrator."""
        return self._leading

    def _run(self) -> None:
        while not self._stop.is_set():
            self._leading = self._lease.held() or self._lease.acquire()
            if not self._leading:
                self._stop.wait(ELECTION_RETRY_S)
                continue
            try:
                done = self.integrate_once()
            except HanpyoError as e:
                log.error("integration failed, retrying: %s", e)
                self._stop.wait(ELECTION_RETRY_S)
                continue
            if done is not None and done.added == MAX_LEAVES:
                continue  # more is waiting
            self._wake.wait(INTERVAL_S)
            self._wake.clear()

    def _keep_wal(self) -> None:
        while not self._stop.wait(WAL_WRITE_BACK_S):
            if self._leading:
                try:
                    write_back_wal(self.engine)
                except HanpyoError as e:
                    log.warning("%s", e)

    # -- one round -----------------------------------------------------------------------------
    def integrate_once(self) -> Integrated | None:
        """One round: extend the tree over what is sequenced and sign a checkpoint, then tell
        the waiters and the hooks. Safe beside another integrator (they queue on the log's
        row lock), so ``Ledger`` calls it directly when no integrator thread runs."""
        done = integrate_round(self.engine, self.key, MAX_LEAVES)
        if done is None:
            return None
        with self._published:
            self._size = max(self._size, done.size)
            self._published.notify_all()
        for hook in self.on_checkpoint:
            try:
                hook(done.checkpoint, done.size)
            except Exception:  # a hook (tiles, witnesses) must never stop the log
                log.exception("a checkpoint hook failed for size %d", done.size)
        return done

    def wait_for(self, size: int, timeout_s: float) -> bool:
        """Wait until the tree holds ``size`` leaves; False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._published:
            while True:
                if self._size >= size:
                    return True
                if not self.leading:  # the integrator is another process: read its progress
                    self._size = max(self._size, published_size(self.engine))
                    if self._size >= size:
                        return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._published.wait(min(left, WAIT_POLL_S if not self.leading else left))
