"""Ingest: verify a batch of one kiosk's blocks, then sequence what is new, catching forks.

The shape of the transparency logs it is compared with (Tessera, Trillian, Sunlight): the
signatures and chain links are verified before any lock, from a snapshot of the source's
stored head; then one short transaction serialised on that source's own row records the
batch and takes its leaf indices. The tree is extended afterwards by the integrator
(ledger/service/integrator.py). The API and `ledger import` both come through ``ingest``:
one path, one set of checks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kiosk.core.block import (
    BlockKind,
    DecodedBlock,
    EnrolledKey,
    SignedBlock,
    ballot_identity,
    decode_block,
    decode_uploaded_block,
    verify_block,
)
from kiosk.core.chain import ChainState, ChainVerifier, Schedule
from kiosk.core.duplicates import chain_may_repeat
from kiosk.core.election import ElectionPackage
from kiosk.core.errors import BlockError, ChainError, VerificationError
from kiosk.core.request import RequestFault
from ledger.rules.ballot_arrival import BallotRefused, check_ballot_arrival
from ledger.service.block_readers import PARALLEL_FROM, Arrival, BlockReaders
from ledger.store import request_nonces
from ledger.store import schema as db
from ledger.store.ingest_rows import EnrolledSource, Fork, Outcome, SourceSnapshot, sequence
from ledger.store.ingest_rows import snapshot as source_snapshot
from ledger.store.request_nonces import RequestNonce
from ledger.store.schema import Engine

MAX_BATCH = 1000
# A batch verified from a head that another batch of the same kiosk moved meanwhile is
# verified again from the new head (a resend then counts as already held); after this many
# tries the kiosk is told to send again.
SEQUENCE_ATTEMPTS = 3


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
    log_size: int  # of the tree the checkpoint signs (the sequenced size until integrated)
    checkpoint: str | None
    rejection: Rejection | None = None
    leaves: dict[int, int] = field(default_factory=dict)  # height -> leaf index, new blocks


@dataclass(frozen=True, slots=True)
class ElectionInfo:
    id: str
    package_hash: bytes
    schedule: Schedule  # the package's: official ballots are dated in it
    # The package itself: its protocol, and in v2 the rolls a ballot is checked against on
    # arrival (ledger.rules.ballot_arrival). None: chain rules only, as before v2.
    package: ElectionPackage | None = None


@dataclass(frozen=True, slots=True)
class UploadedBlocks:
    """An upload's blocks as the API's JSON parser gave them: each is read from that value,
    with one canonical encoding (what the ledger stores), and never parsed again."""

    items: Sequence[Any]


def ingest(
    engine: Engine,
    election: ElectionInfo,
    kiosk_id: str,
    encoded_blocks: Sequence[bytes] | UploadedBlocks,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    nonce: RequestNonce | None = None,
    readers: BlockReaders | None = None,
) -> IngestResult:
    """Verify ``encoded_blocks`` (consecutive signed blocks of ``kiosk_id``) and sequence the
    new ones; ``clock`` is the ledger's, against which a block's time is checked on arrival.
    When this returns, the accepted blocks are committed with their leaf indices; the
    result's checkpoint is None (the caller waits for the integrator's). ``nonce``: the
    signed upload request's, recorded in the same transaction; a nonce already taken is
    refused as ``replayed_request`` before any verification, and one taken meanwhile by a
    copy of the same request rolls the batch back and is refused alike. ``readers``: a pool
    that reads an upload of PARALLEL_FROM blocks or more on several cores
    (ledger/service/block_readers.py), with the same outcome as reading it here."""
    count = len(
        encoded_blocks.items if isinstance(encoded_blocks, UploadedBlocks) else encoded_blocks
    )
    if count > MAX_BATCH:
        return _refused(
            kiosk_id, Rejection(None, "batch_too_large", f"at most {MAX_BATCH} blocks per request")
        )
    if nonce is not None and request_nonces.seen(engine, kiosk_id, nonce.nonce):
        return _refused(kiosk_id, _REPLAYED)
    now = clock()
    # Decoded once, before any database read; a source that may send nothing is refused
    # before any of it is looked at (the API refused it before reading the body).
    package = election.package
    decoded: Sequence[DecodedBlock | Arrival | BlockError] | None = None
    if (
        readers is not None
        and package is not None
        and isinstance(encoded_blocks, UploadedBlocks)
        and count >= PARALLEL_FROM
    ):
        decoded = readers.read(encoded_blocks.items)  # None: the pool failed; read here
    if decoded is None:
        decoded = _decode(encoded_blocks, None if package is None else package.enrols_card_key)
    for _ in range(SEQUENCE_ATTEMPTS):
        with source_snapshot(db.reader(engine), kiosk_id) as rows:
            batch = _Batch(rows, election, kiosk_id, now)
            early = batch.verify(decoded)
        if early is not None:
            return early
        done = sequence(
            engine,
            kiosk_id,
            verified_from=batch.start.height,
            blocks=batch.accepted,
            state=batch.state,
            channel=batch.channel,
            fork=batch.fork,
            nonce=nonce,
        )
        match done.outcome:
            case Outcome.SEQUENCED:
                return batch.result(done.first_leaf)
            case Outcome.QUARANTINED:
                return _refused(
                    kiosk_id, Rejection(None, "quarantined", f"kiosk is quarantined: {done.reason}")
                )
            case Outcome.CLOSED:
                return batch.closed_meanwhile()
            case Outcome.HEAD_MOVED:
                continue
            case Outcome.REPLAYED:
                return _refused(kiosk_id, _REPLAYED)
    return _refused(
        kiosk_id,
        Rejection(
            None,
            "concurrent_upload",
            "another upload of this kiosk's chain was recorded at the same moment; "
            "ask for the head and send again",
        ),
    )


_REPLAYED = Rejection(
    None,
    RequestFault.REPLAYED.value,
    "this signed request was already taken; a kiosk signs every request afresh",
)


def _refused(kiosk_id: str, rejection: Rejection) -> IngestResult:
    return IngestResult(kiosk_id, 0, 0, -1, 0, None, rejection)


class _Batch:
    """One verification pass over a batch, from a snapshot of the source's head."""

    def __init__(
        self, rows: SourceSnapshot, election: ElectionInfo, kiosk_id: str, now: datetime
    ) -> None:
        self.rows, self.election, self.kiosk_id, self.now = rows, election, kiosk_id, now
        self.accepted: list[tuple[SignedBlock, bytes]] = []
        self.already_had = 0
        self.closed = False
        self.start = self.state = ChainState()
        self.channel = ""
        self.fork: Fork | None = None
        self.rejection: Rejection | None = None

    def verify(self, decoded: Sequence[DecodedBlock | Arrival | BlockError]) -> IngestResult | None:
        """Verify every block it can; an IngestResult at once if the source may send none."""
        source = self.rows.source()
        if source is None:
            return _refused(
                self.kiosk_id,
                Rejection(None, "unknown_kiosk", f"kiosk {self.kiosk_id} is not enrolled"),
            )
        if source.quarantined:
            return _refused(
                self.kiosk_id,
                Rejection(None, "quarantined", f"kiosk is quarantined: {source.quarantine_reason}"),
            )
        # After the close the log is frozen: blocks the ledger already has are acknowledged
        # as before (uploads stay idempotent), a new one is refused.
        self.closed = self.rows.is_closed()
        self.channel = source.channel
        self.start = self.state = self.rows.head_state()
        verifier = self._verifier(source, decoded)
        for block in decoded:
            try:
                self.state = self._one(verifier, block, source.public_key)
            except _Rejected as r:
                self.rejection = r.rejection
                break
        return None

    def _verifier(
        self, source: EnrolledSource, decoded: Sequence[DecodedBlock | Arrival | BlockError]
    ) -> ChainVerifier:
        # The one chain verifier (kiosk/core/chain.py), resumed from the stored head; it asks
        # which voters this source already recorded (looked up for the whole batch at once),
        # so ingest refuses what verify-bundle would refuse.
        signed = [
            (d.decoded if isinstance(d, Arrival) else d).signed
            for d in decoded
            if not isinstance(d, BlockError)
        ]
        ballots = [
            (s.block.kind, ballot_identity(s.block.body))
            for s in signed
            if s.block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT)
            and s.block.height > self.start.height
        ]
        package = self.election.package
        repeats = package is not None and chain_may_repeat(package.duplicate_policy, source.channel)
        held = self.rows.voters_held(ballots) if ballots and not repeats else set()
        return ChainVerifier(
            election=self.election.id,
            kiosk=self.kiosk_id,
            package_hash=self.election.package_hash,
            kiosk_key=source.public_key,
            state=self.state,
            voted_here=lambda kind, voter: (kind, voter) in held,
            arrived_at=self.now,
            schedule=self.election.schedule,
            decoded=True,  # every block comes from _decode: body and hash checked there
            repeats=repeats,  # an online platform whose members may vote again
        )

    def result(self, first_leaf: int) -> IngestResult:
        leaves = {s.block.height: first_leaf + i for i, (s, _) in enumerate(self.accepted)}
        return IngestResult(
            self.kiosk_id,
            len(self.accepted),
            self.already_had,
            self.state.height,
            first_leaf + len(self.accepted) if self.accepted else 0,
            None,
            self.rejection,
            leaves,
        )

    def closed_meanwhile(self) -> IngestResult:
        """The election closed between verification and sequencing: nothing new was taken."""
        height = self.accepted[0][0].block.height
        rejection = Rejection(
            height,
            "election_closed",
            "the election is closed and its log is frozen; no block can be added",
        )
        return IngestResult(
            self.kiosk_id, 0, self.already_had, self.start.height, 0, None, rejection
        )

    def _one(
        self,
        verifier: ChainVerifier,
        read: DecodedBlock | Arrival | BlockError,
        public_key: bytes,
    ) -> ChainState:
        state = verifier.state
        if isinstance(read, BlockError):
            raise _Rejected(None, "malformed", str(read)) from read
        decoded = read.decoded if isinstance(read, Arrival) else read
        signed, raw = decoded.signed, decoded.raw
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
        self._check_arrival(read)
        if self.closed:
            raise _Rejected(
                block.height,
                "election_closed",
                "the election is closed and its log is frozen; no block can be added",
            )
        self.accepted.append((signed, raw))
        return new_state

    def _check_arrival(self, read: DecodedBlock | Arrival) -> None:
        """A v2 ballot's voter, card key and signature, election and form, against the roll:
        checked here, before any lock, like the chain (one Ed25519 verification, no group
        operation), or by the reader that read the block (``Arrival``). A refused block stops
        the batch as a chain fault does: the kiosk is told why, and the blocks before it stay
        accepted."""
        if self.election.package is None:
            return
        if isinstance(read, Arrival):
            if read.refused is not None:
                raise _Rejected(read.decoded.signed.block.height, *read.refused)
            return
        try:
            check_ballot_arrival(self.election.package, read.signed, read.ballot)
        except BallotRefused as e:
            raise _Rejected(read.signed.block.height, e.reason, e.explanation) from e

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
        self.fork = Fork(height, held, raw)
        raise _Rejected(
            height,
            "equivocation",
            f"the kiosk signed two different blocks at height {height}; both are "
            "kept as evidence and the kiosk is quarantined",
        )


def _decode(
    blocks: Sequence[bytes] | UploadedBlocks, enrolled: EnrolledKey | None
) -> list[DecodedBlock | BlockError]:
    """Each block decoded, up to and including the first that is malformed (the batch stops
    there: the blocks after it are never looked at). ``enrolled``: the package's rolls, whose
    card keys need no second point check."""
    decoded: list[DecodedBlock | BlockError] = []
    items: Sequence[Any] = blocks.items if isinstance(blocks, UploadedBlocks) else blocks
    read = decode_uploaded_block if isinstance(blocks, UploadedBlocks) else decode_block
    for item in items:
        try:
            decoded.append(read(item, enrolled))
        except BlockError as e:
            decoded.append(e)
            break
    return decoded


class _Rejected(Exception):
    def __init__(self, height: int | None, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.rejection = Rejection(height, reason, detail)
