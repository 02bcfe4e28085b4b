"""The ledger as one object: enrolment, ingest, the log and its proofs, over one database."""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from kiosk.core.block import normalise_tracking_code
from kiosk.core.crypto import (
    Domain,
    SigningKey,
    is_valid_ed25519_point,
    kiosk_id_for,
    verify_signature,
)
from kiosk.core.election import (
    Channel,
    DuplicatePolicy,
    ElectionPackage,
    read_package,
    verify_package,
)
from kiosk.core.errors import EncodingError, VerificationError
from ledger.rules.errors import LedgerError
from ledger.service.ingest import ElectionInfo, IngestResult, ingest
from ledger.store import schema as db
from ledger.store.merkle_log import LogKey, initialise, latest_checkpoint, read_log

MAX_RANGE = 1000  # proofs per range request: one upload batch at most


@dataclass(frozen=True, slots=True)
class Source:
    kiosk_id: str
    public_key: bytes
    name: str
    location: str
    channel: Channel
    quarantined: bool
    quarantine_reason: str | None
    height: int  # -1 before the genesis block arrives


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    size: int
    proof: list[bytes]
    block: bytes  # the signed block, verbatim: the leaf is its hash
    checkpoint: str  # the signed checkpoint of the tree of ``size``


class Ledger:
    def __init__(self, engine: Engine, log_key: SigningKey) -> None:
        self.engine = engine
        self.reader = db.reader(engine)
        try:
            with engine.connect() as conn:
                row = conn.execute(select(db.election)).first()
        except SQLAlchemyError as e:
            raise LedgerError("not_initialised", f"no ledger database: {e}") from e
        if row is None:
            raise LedgerError("not_initialised", "no election: run `ledger init` first")
        self.key = LogKey(row.log_origin, log_key)
        self.election = ElectionInfo(row.id, bytes(row.package_hash))
        self.signed_package = str(row.signed)

    # -- setting up ----------------------------------------------------------------------------
    @staticmethod
    def initialise(
        engine: Engine, key: LogKey, signed_package: dict[str, Any], authority_key: bytes
    ) -> ElectionPackage:
        """Create the tables, store the election (verified) and start an empty log."""
        package = verify_package(signed_package, authority_key)
        db.create_schema(engine)
        with engine.begin() as conn:
            existing = conn.execute(select(db.election.c.id)).first()
            if existing is not None and existing.id != package.id:
                raise LedgerError("other_election", f"this database holds election {existing.id}")
            if existing is None:
                conn.execute(
                    db.election.insert().values(
                        id=package.id,
                        signed=json.dumps(signed_package, ensure_ascii=False),
                        package_hash=package.package_hash,
                        authority_key=authority_key,
                        log_origin=key.origin,
                    )
                )
            initialise(conn, key)
        return package

    def enrol(
        self, public_key: bytes, name: str, location: str = "", channel: Channel = Channel.KIOSK
    ) -> str:
        """Enrol a kiosk or online platform by its public key; return its kiosk id."""
        if not is_valid_ed25519_point(public_key):
            raise LedgerError("bad_key", "a kiosk key is a valid 32-byte Ed25519 public key")
        kiosk_id = kiosk_id_for(public_key)
        with self.engine.begin() as conn:
            if (
                conn.execute(
                    select(db.sources.c.kiosk_id).where(db.sources.c.kiosk_id == kiosk_id)
                ).first()
                is not None
            ):
                raise LedgerError("already_enrolled", f"kiosk {kiosk_id} is already enrolled")
            conn.execute(
                db.sources.insert().values(
                    kiosk_id=kiosk_id,
                    public_key=public_key,
                    name=name,
                    location=location,
                    channel=channel.value,
                    quarantined=False,
                    enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
        return kiosk_id

    def create_admin_token(self, label: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                db.admin_tokens.insert().values(
                    token_hash=hashlib.sha256(token.encode()).digest(),
                    label=label,
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
        return token

    def check_admin_token(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        with self.reader.connect() as conn:
            return (
                conn.execute(
                    select(db.admin_tokens.c.label).where(db.admin_tokens.c.token_hash == digest)
                ).first()
                is not None
            )

    # -- writing -------------------------------------------------------------------------------
    def ingest(self, kiosk_id: str, encoded_blocks: list[bytes]) -> IngestResult:
        return ingest(self.engine, self.key, self.election, kiosk_id, encoded_blocks)

    def verify_request(self, kiosk_id: str, message: bytes, signature: bytes) -> None:
        """Check that an enrolled source signed ``message`` (a request) with its key."""
        source = self.source(kiosk_id)
        if source is None:
            raise LedgerError("unknown_kiosk", f"kiosk {kiosk_id} is not enrolled")
        try:
            verify_signature(Domain.REQUEST, source.public_key, message, signature)
        except VerificationError as e:
            raise LedgerError("bad_request_signature", str(e)) from e

    # -- reading -------------------------------------------------------------------------------
    def sources(self) -> list[Source]:
        with self.reader.connect() as conn:
            heads = dict(
                conn.execute(select(db.chain_heads.c.kiosk_id, db.chain_heads.c.height)).all()
            )
            rows = conn.execute(select(db.sources).order_by(db.sources.c.name)).all()
        return [
            Source(
                r.kiosk_id,
                bytes(r.public_key),
                r.name,
                r.location,
                Channel(r.channel),
                bool(r.quarantined),
                r.quarantine_reason,
                int(heads.get(r.kiosk_id, -1)),
            )
            for r in rows
        ]

    def source(self, kiosk_id: str) -> Source | None:
        return next((s for s in self.sources() if s.kiosk_id == kiosk_id), None)

    def head(self, kiosk_id: str) -> tuple[int, bytes | None]:
        with self.reader.connect() as conn:
            row = conn.execute(
                select(db.blocks.c.height, db.blocks.c.hash)
                .where(db.blocks.c.kiosk_id == kiosk_id)
                .order_by(db.blocks.c.height.desc())
                .limit(1)
            ).first()
        return (-1, None) if row is None else (int(row.height), bytes(row.hash))

    def checkpoint(self) -> str:
        with self.reader.connect() as conn:
            return latest_checkpoint(conn)

    def inclusion(self, leaf_index: int, size: int | None = None) -> InclusionProof:
        """The proof for ``leaf_index`` in the tree of a published checkpoint (the latest, or
        the one of ``size``), read with that checkpoint in one snapshot so the two agree."""
        with self.reader.begin() as conn:
            query = select(db.checkpoints.c.size, db.checkpoints.c.note)
            query = (
                query.order_by(db.checkpoints.c.size.desc()).limit(1)
                if size is None
                else query.where(db.checkpoints.c.size == size)
            )
            row = conn.execute(query).first()
            if row is None:
                raise LedgerError("not_found", f"no checkpoint was published at size {size}")
            size = int(row.size)
            log = read_log(conn)  # read after the checkpoint: the log only grows
            if not 0 <= leaf_index < size <= log.size:
                raise LedgerError(
                    "out_of_range",
                    f"leaf {leaf_index} is not in a log of size {size} (the log holds {log.size})",
                )
            block = conn.execute(
                select(db.blocks.c.encoded).where(db.blocks.c.leaf_index == leaf_index)
            ).scalar_one()
            return InclusionProof(
                leaf_index, size, log.inclusion_proof(leaf_index, size), bytes(block), str(row.note)
            )

    def inclusion_range(self, first: int, count: int, size: int) -> list[list[bytes]]:
        """Inclusion proofs for leaves ``first`` .. ``first + count - 1`` in the tree of the
        published checkpoint of ``size``: one request proves a whole uploaded batch."""
        with self.reader.begin() as conn:
            published = conn.execute(
                select(db.checkpoints.c.size).where(db.checkpoints.c.size == size)
            ).first()
            if published is None:
                raise LedgerError("not_found", f"no checkpoint was published at size {size}")
            log = read_log(conn)
            if not (first >= 0 and 1 <= count <= MAX_RANGE and first + count <= size <= log.size):
                raise LedgerError(
                    "out_of_range",
                    f"leaves {first}..{first + count - 1} are not "
                    f"all in the tree of size {size} (at most {MAX_RANGE})",
                )
            return [log.inclusion_proof(i, size) for i in range(first, first + count)]

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        with self.reader.connect() as conn:
            log = read_log(conn)
            if not 0 <= old_size <= new_size <= log.size:
                raise LedgerError(
                    "out_of_range",
                    f"sizes {old_size}..{new_size} are not within the log's {log.size}",
                )
            return log.consistency_proof(old_size, new_size)

    def find_tracking_code(self, code: str) -> int:
        """The leaf index of the block whose tracking code is ``code``."""
        try:
            normalised = normalise_tracking_code(code)
        except EncodingError as e:
            raise LedgerError("bad_tracking_code", str(e)) from e
        with self.reader.connect() as conn:
            row = conn.execute(
                select(db.blocks.c.leaf_index).where(db.blocks.c.tracking == normalised)
            ).first()
        if row is None:
            raise LedgerError("not_found", f"no block has tracking code {normalised}")
        return int(row[0])

    def has_voted(self, nullifier: bytes) -> list[str]:
        """The channels through which ``nullifier`` cast an official ballot (empty: none)."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(db.nullifiers.c.channel)
                .where(db.nullifiers.c.nullifier == nullifier, db.nullifiers.c.kind == "ballot")
                .distinct()
            ).all()
        return sorted(r[0] for r in rows)

    @functools.cached_property
    def package(self) -> ElectionPackage:
        """The election package the ledger was initialised with (verified then)."""
        return read_package(json.loads(self.signed_package)["package"])

    @property
    def duplicate_policy(self) -> DuplicatePolicy:
        return self.package.duplicate_policy

    def log_size(self) -> int:
        with self.reader.connect() as conn:
            return read_log(conn).size
