"""Ingest: verify a batch of one kiosk's blocks, append what is new to the log, catch forks.

The API and `ledger import` both come through ``ingest``: one path, one set of checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kiosk.core.block import SignedBlock, decode_signed_block, verify_block
from kiosk.core.chain import ChainState, ChainVerifier, Schedule
from kiosk.core.errors import BlockError, ChainError, VerificationError
from kiosk.core.merkle import leaf_hash
from ledger.store.ingest_rows import IngestRows, ingest_transaction
from ledger.store.merkle_log import LogKey
from ledger.store.schema import Engine

MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    height: int | None
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to a batch. Blocks before a rejected one stay accepted."""

    kiosk: str
    accepted: int
    already_had: int
    head_height: int
    log_size: int
    checkpoint: str | None
    rejection: Rejection | None = None
    leaves: dict[int, int] = field(default_factory=dict)  # height -> leaf index, new blocks


@dataclass(frozen=True, slots=True)
class ElectionInfo:
    id: str
    package_hash: bytes
    schedule: Schedule  # the package's: official ballots are dated in it


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ingest(
    engine: Engine,
    key: LogKey,
    election: ElectionInfo,
    kiosk_id: str,
    encoded_blocks: list[bytes],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IngestResult:
    """Verify and record ``encoded_blocks`` (consecutive signed blocks of ``kiosk_id``);
    ``clock`` is the ledger's, against which a block's time is checked on arrival."""
    with ingest_transaction(engine, kiosk_id) as rows:
        return _Batch(rows, key, election, kiosk_id, clock()).run(encoded_blocks)


class _Batch:
    def __init__(
        self, rows: IngestRows, key: LogKey, election: ElectionInfo, kiosk_id: str, now: datetime
    ) -> None:
        self.rows, self.key, self.election, self.kiosk_id = rows, key, election, kiosk_id
        self.now = now
        self.accepted: list[tuple[SignedBlock, bytes]] = []
        self.already_had = 0
        self.closed = False

    def run(self, encoded_blocks: list[bytes]) -> IngestResult:
        if len(encoded_blocks) > MAX_BATCH:
            return self._result(
                -1, 0, Rejection(None, "batch_too_large", f"at most {MAX_BATCH} blocks per request")
            )
        # Take the log first: the source row read after it is current, so a batch that waited
        # behind a fork sees the quarantine that fork caused.
        log = self.rows.lock_log()  # from here on this transaction is the only appender
        source = self.rows.source()
        if source is None:
            return self._result(
                -1, 0, Rejection(None, "unknown_kiosk", f"kiosk {self.kiosk_id} is not enrolled")
            )
        # After the close the log is frozen: blocks the ledger already has are acknowledged
        # as before (uploads stay idempotent), a new one is refused.
        self.closed = self.rows.is_closed()
        if source.quarantined:
            return self._result(
                -1,
                0,
                Rejection(None, "quarantined", f"kiosk is quarantined: {source.quarantine_reason}"),
            )
        state = self.rows.head_state()
        # The one chain verifier (kiosk/core/chain.py), resumed from the stored head; it asks
        # the database which voters this source already recorded, so ingest refuses what
        # verify-bundle would refuse.
        verifier = ChainVerifier(
            election=self.election.id,
            kiosk=self.kiosk_id,
            package_hash=self.election.package_hash,
            kiosk_key=source.public_key,
            state=state,
            voted_here=self.rows.voted_here,
            arrived_at=self.now,
            schedule=self.election.schedule,
        )
        rejection = None
        for raw in encoded_blocks:
            try:
                state = self._one(verifier, raw, source.public_key, source.channel, log.size)
            except _Rejected as r:
                rejection = r.rejection
                break
        leaves = {s.block.height: log.size + i for i, (s, _) in enumerate(self.accepted)}
        note = None
        if self.accepted:
            log.append([leaf_hash(encoded) for _, encoded in self.accepted])
            self.rows.save_head(state)
            note = self.rows.publish(log, self.key)
        return IngestResult(
            self.kiosk_id,
            len(self.accepted),
            self.already_had,
            state.height,
            log.size,
            note,
            rejection,
            leaves,
        )

    def _result(self, head: int, size: int, rejection: Rejection) -> IngestResult:
        return IngestResult(self.kiosk_id, 0, 0, head, size, None, rejection)

    def _one(
        self, verifier: ChainVerifier, raw: bytes, public_key: bytes, channel: str, log_size: int
    ) -> ChainState:
        state = verifier.state
        try:
            signed = decode_signed_block(raw)
        except BlockError as e:
            raise _Rejected(None, "malformed", str(e)) from e
        block = signed.block
        if block.kiosk != self.kiosk_id:
            raise _Rejected(
                block.height,
                "wrong_kiosk",
                f"block is from kiosk {block.kiosk}, uploaded as {self.kiosk_id}",
            )
        if block.height <= state.height:
            self._seen_before(signed, raw, public_key)
            return state
        if block.election != self.election.id:
            raise _Rejected(
                block.height,
                "wrong_election",
                f"block is for {block.election}, this ledger is {self.election.id}",
            )
        try:
            new_state = verifier.add(signed)
        except ChainError as e:
            raise _Rejected(e.height, e.reason, str(e)) from e
        if self.closed:
            raise _Rejected(
                block.height,
                "election_closed",
                "the election is closed and its log is frozen; no block can be added",
            )
        self._record(signed, raw, channel, log_size + len(self.accepted))
        return new_state

    def _record(self, signed: SignedBlock, raw: bytes, channel: str, leaf_index: int) -> None:
        self.rows.record_block(signed, raw, channel, leaf_index)
        self.accepted.append((signed, raw))

    def _seen_before(self, signed: SignedBlock, raw: bytes, public_key: bytes) -> None:
        """A block at a height we hold: a harmless resend, or a fork signed by the kiosk."""
        height = signed.block.height
        committed = self.rows.held_hash(height)
        if committed is None:  # accepted earlier in this very batch
            held = next(s.hash for s, _ in self.accepted if s.block.height == height)
        else:
            held = committed
        if held == signed.hash:
            self.already_had += 1
            return
        try:
            verify_block(signed, public_key)
        except (VerificationError, BlockError) as e:
            raise _Rejected(
                height,
                "bad_signature",
                f"a different block at height {height}, not signed by the kiosk",
            ) from e
        self.rows.record_fork(height, held, raw)
        raise _Rejected(
            height,
            "equivocation",
            f"the kiosk signed two different blocks at height {height}; both are "
            "kept as evidence and the kiosk is quarantined",
        )


class _Rejected(Exception):
    def __init__(self, height: int | None, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.rejection = Rejection(height, reason, detail)
