"""The ledger as one object: enrolment, ingest, the log and its proofs, over one database.
Every query it makes is in ledger/store."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kiosk.core.block import normalise_tracking_code
from kiosk.core.chain import Schedule
from kiosk.core.crypto import (
    SigningKey,
    is_valid_ed25519_point,
    kiosk_id_for,
)
from kiosk.core.election import (
    Channel,
    DuplicatePolicy,
    ElectionPackage,
    read_package,
    verify_package,
)
from kiosk.core.errors import EncodingError
from ledger.rules.admin_access import TOKEN_PREFIX_LENGTH, AdminGrant, Scope
from ledger.rules.errors import LedgerError
from ledger.service.block_readers import BlockReaders
from ledger.service.ingest import ElectionInfo, IngestResult, UploadedBlocks, ingest
from ledger.service.integrator import CheckpointHook, Integrator
from ledger.store import log_reads, registry
from ledger.store import schema as db
from ledger.store.added_columns import add_missing_columns
from ledger.store.integration import published
from ledger.store.log_reads import InclusionProof
from ledger.store.merkle_log import LogKey, ensure_sequence
from ledger.store.registry import Source
from ledger.store.request_nonces import RequestNonce
from ledger.store.schema import Engine

__all__ = ["InclusionProof", "Ledger", "Source", "token_hash"]

# How long an upload's answer waits for the integrator to sign a checkpoint covering its
# blocks (normally tens of milliseconds). Past it the answer still comes: the blocks are
# committed and their leaves given, with the latest checkpoint, which does not cover them yet.
INTEGRATION_WAIT_S = 5.0


def token_hash(token: str) -> bytes:
    """How an admin token is stored: the token is 256 random bits, so a plain hash will do."""
    return hashlib.sha256(token.encode()).digest()


class Ledger:
    def __init__(self, engine: Engine, log_key: SigningKey) -> None:
        self.engine = engine
        self.reader = db.reader(engine)
        record = registry.election_record(engine)
        add_missing_columns(engine)  # a database made by an older ledger
        ensure_sequence(engine)  # ...or one made before sequencing was separate
        self.integrator: Integrator | None = None
        # Called as hook(checkpoint, size) after every checkpoint this ledger's integration
        # signs (the background integrator's, or the one ``ingest`` runs itself when there is
        # none): where tiles are written and witnesses asked to cosign.
        self.on_checkpoint: list[CheckpointHook] = []
        self.key = LogKey(record.log_origin, log_key)
        # A pool that reads large uploads on several cores (``read_uploads_with``); None: every
        # upload is read in the calling thread.
        self.readers: BlockReaders | None = None
        self.signed_package = record.signed
        schedule = json.loads(record.signed)["package"]["schedule"]  # verified when stored
        self.election = ElectionInfo(
            record.id,
            record.package_hash,
            Schedule.of(schedule["opens"], schedule["closes"]),
            self.package,  # ingest checks v2 ballots against its rolls on arrival
        )

    # -- setting up ----------------------------------------------------------------------------
    @staticmethod
    def initialise(
        engine: Engine, key: LogKey, signed_package: dict[str, Any], authority_key: bytes
    ) -> ElectionPackage:
        """Create the tables, store the election (verified) and start an empty log."""
        package = verify_package(signed_package, authority_key)
        registry.store_election(engine, key, package, signed_package, authority_key)
        return package

    def enrol(
        self,
        public_key: bytes,
        name: str,
        location: str = "",
        channel: Channel = Channel.KIOSK,
        *,
        late_reason: str | None = None,
    ) -> str:
        """Enrol a kiosk or online platform by its public key; return its kiosk id. This does
        not look at the clock: the API and the CLI go through ledger.service.enrolment, which
        refuses a late enrolment with no ``late_reason``."""
        if not is_valid_ed25519_point(public_key):
            raise LedgerError("bad_key", "a kiosk key is a valid 32-byte Ed25519 public key")
        kiosk_id = kiosk_id_for(public_key)
        registry.add_source(self.engine, kiosk_id, public_key, name, location, channel, late_reason)
        return kiosk_id

    def create_admin_token(self, label: str, scopes: frozenset[Scope], expires: datetime) -> str:
        """A new admin token; only its hash and first characters are stored."""
        token = secrets.token_urlsafe(32)
        registry.add_admin_token(
            self.engine, token_hash(token), label, scopes, expires, token[:TOKEN_PREFIX_LENGTH]
        )
        return token

    def admin_grant(self, token: str) -> AdminGrant | None:
        """What ``token`` may do, or None if the ledger never made it."""
        return registry.admin_grant(self.reader, token_hash(token))

    # -- writing -------------------------------------------------------------------------------
    def start_integrator(self, on_checkpoint: Sequence[CheckpointHook] = ()) -> Integrator:
        """Run the integrator in this process (`ledger serve` does, in every worker: one is
        elected). Without it, ``ingest`` extends the tree itself before it returns."""
        self.on_checkpoint.extend(on_checkpoint)
        if self.integrator is None:
            self.integrator = Integrator(self.engine, self.key, on_checkpoint=self.on_checkpoint)
            self.integrator.start()
        return self.integrator

    def read_uploads_with(self, workers: int) -> None:
        """Read uploads of PARALLEL_FROM blocks or more with ``workers`` processes (0: none),
        started with the first such upload (ledger/service/block_readers.py)."""
        if self.readers is not None:
            self.readers.close()
        self.readers = BlockReaders(self.signed_package, workers) if workers > 0 else None

    def ingest(
        self,
        kiosk_id: str,
        encoded_blocks: Sequence[bytes] | UploadedBlocks,
        *,
        wait: bool = True,
        nonce: RequestNonce | None = None,
    ) -> IngestResult:
        """Verify and sequence the batch (committed when this returns), then wait for a
        checkpoint that covers its new blocks: the answer carries it and their leaves.
        Without ``wait`` (a kiosk catching up sends its next batch at once and proves them
        all against one later checkpoint) the integrator is only woken, and the answer
        carries the latest checkpoint, which may not cover the batch yet. ``nonce``: the
        signed upload's, recorded with the batch (ingest.ingest)."""
        result = ingest(
            self.engine,
            self.election,
            kiosk_id,
            encoded_blocks,
            nonce=nonce,
            readers=self.readers,
        )
        if result.leaves and wait:
            self._integrated(max(result.leaves.values()) + 1)
        elif result.leaves and self.integrator is not None:
            self.integrator.wake()
        latest = published(self.reader)
        return dataclasses.replace(
            result,
            log_size=latest.size,
            checkpoint=latest.checkpoint if result.leaves else None,
        )

    def _integrated(self, size: int) -> None:
        if self.integrator is not None:
            self.integrator.wake()
            self.integrator.wait_for(size, INTEGRATION_WAIT_S)
            return
        # No integrator thread here (`ledger import`, tools, tests): integrate in this call;
        # beside a running one this queues on the log's lock and finds its work done.
        inline = Integrator(self.engine, self.key, on_checkpoint=self.on_checkpoint)
        while inline.integrate_once() is not None and published(self.reader).size < size:
            pass

    # -- reading -------------------------------------------------------------------------------
    def sources(self) -> list[Source]:
        return registry.sources(self.reader)

    def source(self, kiosk_id: str) -> Source | None:
        return registry.source(self.reader, kiosk_id)

    def head(self, kiosk_id: str) -> tuple[int, bytes | None]:
        return log_reads.head(self.reader, kiosk_id)

    def checkpoint(self) -> str:
        return log_reads.checkpoint(self.reader)

    def inclusion(self, leaf_index: int, size: int | None = None) -> InclusionProof:
        """The proof for ``leaf_index`` in the tree of a published checkpoint (the latest, or
        the one of ``size``), read with that checkpoint in one snapshot so the two agree."""
        return log_reads.inclusion(self.reader, leaf_index, size)

    def inclusion_range(self, first: int, count: int, size: int) -> list[list[bytes]]:
        """Inclusion proofs for leaves ``first`` .. ``first + count - 1`` in the tree of the
        published checkpoint of ``size``: one request proves a whole uploaded batch."""
        return log_reads.inclusion_range(self.reader, first, count, size)

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        return log_reads.consistency(self.reader, old_size, new_size)

    def find_tracking_code(self, code: str) -> int:
        """The leaf index of the block whose tracking code is ``code``."""
        try:
            normalised = normalise_tracking_code(code)
        except EncodingError as e:
            raise LedgerError("bad_tracking_code", str(e)) from e
        index = log_reads.leaf_of_tracking_code(self.reader, normalised)
        if index is None:
            raise LedgerError("not_found", f"no block has tracking code {normalised}")
        return index

    def has_voted(self, voter: bytes) -> list[str]:
        """The channels through which ``voter`` (a voter id) cast an official ballot (empty:
        none)."""
        return log_reads.ballot_channels(self.reader, voter)

    @functools.cached_property
    def package(self) -> ElectionPackage:
        """The election package the ledger was initialised with (verified then)."""
        return read_package(json.loads(self.signed_package)["package"])

    @property
    def duplicate_policy(self) -> DuplicatePolicy:
        return self.package.duplicate_policy

    def log_size(self) -> int:
        return log_reads.log_size(self.reader)
