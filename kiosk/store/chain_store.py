"""The kiosk chain in a SQLCipher file: one transaction per block, acknowledged after commit."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import sqlcipher3

from kiosk.core.block import (
    Block,
    BlockKind,
    SignedBlock,
    block_time,
    decode_signed_block,
    sign_block,
)
from kiosk.core.bodies import genesis_body
from kiosk.core.chain import ChainState, next_state, verify_chain
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionId, ElectionPackage
from kiosk.core.errors import BlockError, ChainError
from kiosk.core.secret_file import sync_folder
from kiosk.store.errors import AlreadyVotedError, StoreDamagedError, StoreError, StoreLockedError

SCHEMA_VERSION = 1
STORE_KEY_BYTES = 32

log = logging.getLogger(__name__)

# The table "nullifiers" holds one row per ballot: the voter id that cast it. It keeps protocol
# 1's names (the table and its column), so the schema of stores already made is unchanged.
_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blocks (
    height  INTEGER PRIMARY KEY,
    hash    BLOB NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    encoded BLOB NOT NULL
);
-- What the ledger has acknowledged, kept beside the chain so syncing never adds blocks.
CREATE TABLE sync_acks (
    height     INTEGER PRIMARY KEY REFERENCES blocks(height),
    leaf_index INTEGER,  -- null when known only from the ledger's head
    proof_size INTEGER,  -- the tree the inclusion proof below was verified in
    proof      BLOB      -- that proof's hashes, concatenated, deepest first
);
CREATE TABLE sync_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    verified_at TEXT NOT NULL
);
CREATE TABLE nullifiers (
    kind      TEXT NOT NULL,
    nullifier BLOB NOT NULL,
    height    INTEGER NOT NULL REFERENCES blocks(height),
    PRIMARY KEY (kind, nullifier)
);
"""


class ChainStore:
    """One kiosk's chain on disk. Every append is one committed transaction.

    The store keeps the chain state in memory; it is rebuilt by verifying the whole chain
    on open, so a store whose file was tampered with does not open.
    """

    def __init__(
        self, conn: Any, path: Path, key: SigningKey, state: ChainState, repeats: bool = False
    ) -> None:
        self._conn = conn
        # An online platform's store whose election counts a later online ballot: a voter
        # may be recorded more than once (kiosk.core.duplicates.chain_may_repeat).
        self.repeats = repeats
        self._path = path
        self._key = key
        self._state = state
        self._lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path,
        store_key: bytes,
        kiosk_key: SigningKey,
        package: ElectionPackage,
        *,
        repeats: bool = False,
    ) -> ChainStore:
        """Create a new store at ``path`` with its genesis block, atomically.

        The store is built under a hidden name beside ``path`` and renamed only once its
        genesis block is committed and on disk, so a power cut at any instant leaves either
        no store or a whole one: never a file the kiosk would refuse (issue 20).
        """
        if path.exists():
            raise StoreError(f"{path} already exists; refusing to overwrite a store")
        building = creating_path(path)
        _discard_unfinished(building, store_key)
        _build(building, store_key, kiosk_key, package)
        _publish_store(building, path)
        return cls.open(path, store_key, kiosk_key, package, repeats=repeats)

    @classmethod
    def open_or_create(
        cls,
        path: Path,
        store_key: bytes,
        kiosk_key: SigningKey,
        package: ElectionPackage,
        *,
        repeats: bool = False,
    ) -> ChainStore:
        """Open this kiosk's store for ``package``, or create it if it was never finished.

        What a kiosk does on every start. A store that holds a block is only ever opened
        (and refused if its chain does not verify); a creation cut off by a power cut is
        finished, or started again when it never reached its genesis block.
        """
        building = creating_path(path)
        if path.exists() and building.exists() and os.path.samefile(path, building):
            # Killed after the link, before the building name was removed: the same file.
            building.unlink()
            sync_folder(path.parent)
        if not path.exists() and building.exists() and _holds_a_block(building, store_key):
            # Killed after the genesis commit but before the rename: finish the rename.
            # open() below verifies it is this kiosk's chain for this package.
            _publish_store(building, path)
        if path.exists():
            try:
                return cls.open(path, store_key, kiosk_key, package, repeats=repeats)
            except StoreDamagedError:
                # Looked at only when the store does not open (the usual start opens it once):
                # one left by a kiosk older than atomic creation, killed while it made the
                # store, holds no block, so nothing recorded is lost by making it again.
                if _holds_a_block(path, store_key):
                    raise
            log.warning("%s was never finished (no genesis block); creating it again", path)
            _remove_store_files(path)
        return cls.create(path, store_key, kiosk_key, package, repeats=repeats)

    @classmethod
    def open(
        cls,
        path: Path,
        store_key: bytes,
        kiosk_key: SigningKey,
        package: ElectionPackage | None = None,
        *,
        repeats: bool = False,
    ) -> ChainStore:
        """Open an existing store, verify its whole chain, and check it is this kiosk's."""
        if not path.is_file():
            raise StoreError(f"there is no store at {path}")
        conn = _connect(path, store_key)
        try:
            version = _read_meta(conn, "schema")
            if version != str(SCHEMA_VERSION):
                raise StoreDamagedError(f"{path}: unknown store schema {version!r}")
            state = verify_chain(
                _iter_blocks(conn, 0),
                kiosk=kiosk_id_for(kiosk_key.public_key),
                election=package.id if package else None,
                package_hash=package.package_hash if package else None,
                repeats=repeats,
            )
        except ChainError as e:
            conn.close()
            raise StoreDamagedError(f"{path}: the chain does not verify: {e}") from e
        except (StoreError, BlockError) as e:
            conn.close()
            raise StoreDamagedError(f"{path}: {e}") from e
        except sqlcipher3.DatabaseError as e:
            conn.close()
            raise StoreDamagedError(f"{path} is damaged: {e}") from e
        return cls(conn, path, kiosk_key, state, repeats)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ChainStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------
    @property
    def state(self) -> ChainState:
        return self._state

    @property
    def path(self) -> Path:
        return self._path

    @property
    def kiosk_id(self) -> str:
        return kiosk_id_for(self._key.public_key)

    def blocks(self, start: int = 0) -> Iterator[SignedBlock]:
        """The signed blocks from height ``start`` up to the head, read in one snapshot."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT encoded FROM blocks WHERE height >= ? ORDER BY height", (start,)
            ).fetchall()
        for (encoded,) in rows:
            yield decode_signed_block(bytes(encoded))

    def blocks_of(self, kind: BlockKind) -> Iterator[SignedBlock]:
        """The signed blocks of one ``kind``, in chain order, read in one snapshot; blocks of
        other kinds are never decoded (the online platform reads its checked ballots so)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT encoded FROM blocks WHERE kind = ? ORDER BY height", (kind.value,)
            ).fetchall()
        for (encoded,) in rows:
            yield decode_signed_block(bytes(encoded))

    def stored_blocks(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
        """(height, hash, encoded signed block) from height ``start`` up to the head, read in
        one snapshot and not decoded: what the sync sends and proves (the chain was verified
        when the store was opened, and decoding a ballot costs far more than sending it)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT height, hash, encoded FROM blocks WHERE height >= ? ORDER BY height",
                (start,),
            ).fetchall()
        for height, digest, encoded in rows:
            yield int(height), bytes(digest), bytes(encoded)

    def has_voted(self, kind: BlockKind, voter: bytes) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM nullifiers WHERE kind = ? AND nullifier = ?", (kind.value, voter)
            ).fetchone()
        return row is not None

    # -- sync records ------------------------------------------------------------------------
    def acknowledged_height(self) -> int:
        """The highest height up to which the ledger holds every block (-1: none)."""
        with self._lock:
            rows = self._conn.execute("SELECT height FROM sync_acks ORDER BY height").fetchall()
        height = -1
        for (h,) in rows:  # contiguous from 0: a gap means the ledger lacks that block
            if h != height + 1:
                break
            height = h
        return height

    def record_sync(
        self,
        leaves: dict[int, int | None],
        checkpoint: str | None,
        checkpoint_size: int | None,
        verified_at: str,
        proofs: dict[int, list[bytes]] | None = None,
    ) -> None:
        """Store the ledger's acknowledgement of ``leaves`` (height -> leaf index, or None when
        known only from the ledger's head), the verified inclusion ``proofs`` by height (in
        the tree of ``checkpoint_size``), and that checkpoint, in one transaction."""
        proofs = proofs or {}
        rows = [
            (
                h,
                leaf,
                checkpoint_size if h in proofs else None,
                b"".join(proofs[h]) if h in proofs else None,
            )
            for h, leaf in sorted(leaves.items())
        ]
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR REPLACE INTO sync_acks (height, leaf_index, proof_size, proof) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                if checkpoint is not None and checkpoint_size is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO sync_checkpoints (size, note, verified_at) "
                        "VALUES (?, ?, ?)",
                        (checkpoint_size, checkpoint, verified_at),
                    )
                conn.execute("COMMIT")
            except sqlcipher3.Error as e:
                with suppress(sqlcipher3.Error):
                    conn.execute("ROLLBACK")
                raise StoreError(f"could not record the ledger's acknowledgement: {e}") from e

    def inclusion_proof(self, height: int) -> tuple[int, int, list[bytes]] | None:
        """The verified (leaf index, tree size, proof) of block ``height``, if synced."""
        with self._lock:
            row = self._conn.execute(
                "SELECT leaf_index, proof_size, proof FROM sync_acks WHERE height = ?", (height,)
            ).fetchone()
        if row is None or row[2] is None:
            return None
        proof = bytes(row[2])
        return int(row[0]), int(row[1]), [proof[i : i + 32] for i in range(0, len(proof), 32)]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The largest verified ledger checkpoint (size, note), if any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT size, note FROM sync_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def next_block_time(self) -> str:
        """The time the next block would carry: the later of the clock and the last block's
        (a clock stepping back never breaks the chain)."""
        return max(block_time(), self._state.time)

    # -- writing -------------------------------------------------------------------------------
    def append(
        self,
        kind: BlockKind,
        body: Mapping[str, Any],
        *,
        voter: bytes | None = None,
        election: str | None = None,
    ) -> SignedBlock:
        """Sign and commit the next block; return it only once it is durably on disk.

        With ``voter`` (a voter id) the block is a ballot, refused if that voter already cast one of
        this kind on this kiosk (unless the store ``repeats``). Raises ``StateError`` if the kind
        is not allowed now.
        """
        with self._lock:
            state = self._state
            block = Block(
                election=ElectionId(election or state.election),
                kiosk=self.kiosk_id,
                height=state.next_height,
                prev=state.head,
                time=max(block_time(), state.time),  # as next_block_time
                kind=kind,
                body=dict(body),
            )
            signed = sign_block(block, self._key)
            new_state = next_state(state, signed)  # raises StateError before anything is written
            self._commit(signed, voter)
            self._state = new_state
            return signed

    def _commit(self, signed: SignedBlock, voter: bytes | None) -> None:
        conn, block = self._conn, signed.block
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO blocks (height, hash, kind, encoded) VALUES (?, ?, ?, ?)",
                    (block.height, signed.hash, block.kind.value, signed.encode()),
                )
                if voter is not None:
                    # The voter index keeps a voter's first ballot here; in a store that may
                    # record a voter again (``repeats``), a later one is in the chain only.
                    verb = "INSERT OR IGNORE" if self.repeats else "INSERT"
                    conn.execute(
                        f"{verb} INTO nullifiers (kind, nullifier, height) VALUES (?, ?, ?)",
                        (block.kind.value, voter, block.height),
                    )
                conn.execute("COMMIT")
            except BaseException:
                with suppress(sqlcipher3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlcipher3.IntegrityError as e:
            if voter is not None and "nullifiers" in str(e):
                raise AlreadyVotedError("this voter already cast a ballot on this kiosk") from e
            raise StoreDamagedError(
                f"block {block.height} conflicts with the stored chain: {e}"
            ) from e
        except sqlcipher3.Error as e:
            raise StoreError(f"block {block.height} could not be written: {e}") from e


def _connect(path: Path, store_key: bytes) -> Any:
    if len(store_key) != STORE_KEY_BYTES:
        raise StoreLockedError(f"the store key must be {STORE_KEY_BYTES} bytes")
    try:
        conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    except sqlcipher3.Error as e:
        raise StoreError(f"cannot open {path}: {e}") from e
    try:
        # Failures are reported through our own errors; keep SQLCipher's logger quiet.
        conn.execute("PRAGMA cipher_log_level = NONE")
        # A raw 256-bit key: no passphrase derivation, the key itself is random.
        conn.execute(f"PRAGMA key = \"x'{store_key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as e:
        conn.close()
        raise StoreLockedError(
            f"{path} cannot be unlocked: wrong store key, or not a Hanpyo store ({e})",
        ) from e
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlcipher3.DatabaseError as e:
        conn.close()
        raise StoreDamagedError(f"{path} is damaged: {e}") from e
    if mode != "wal":
        conn.close()
        raise StoreError(f"{path}: write-ahead logging could not be enabled ({mode})")
    return conn


def _set_meta(conn: Any, name: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))


def _read_meta(conn: Any, name: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def _iter_blocks(conn: Any, start: int) -> Iterator[SignedBlock]:
    cursor = conn.execute(
        "SELECT height, encoded FROM blocks WHERE height >= ? ORDER BY height", (start,)
    )
    for height, encoded in cursor:
        try:
            yield decode_signed_block(bytes(encoded))
        except BlockError as e:
            raise ChainError(height, "unreadable", str(e)) from e


# -- creating ---------------------------------------------------------------------------------
_SIDE_FILES = ("-wal", "-shm", "-journal")


def creating_path(path: Path) -> Path:
    """The hidden name a store is built under before it becomes ``path``."""
    return path.with_name(f".{path.name}.creating")


def _build(path: Path, store_key: bytes, kiosk_key: SigningKey, package: ElectionPackage) -> None:
    """Write the schema and the genesis block into a new file at ``path``, then fold the
    write-ahead log into it and close it, so the file alone holds the store."""
    conn = _connect(path, store_key)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        _set_meta(conn, "schema", str(SCHEMA_VERSION))
        conn.execute("COMMIT")
        store = ChainStore(conn, path, kiosk_key, ChainState())
        store.append(
            BlockKind.GENESIS,
            genesis_body(kiosk_key.public_key, package),
            election=package.id,
        )
        # The WAL file's name follows the database's: empty it before the rename.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlcipher3.DatabaseError as e:
        raise StoreError(f"cannot create the store at {path}: {e}") from e
    finally:
        conn.close()
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _publish_store(building: Path, path: Path) -> None:
    """Give the finished store its name, never replacing a file that has it already."""
    for suffix in _SIDE_FILES:  # a WAL left by a kill is folded in by opening; see _holds_a_block
        if Path(f"{building}{suffix}").exists():
            raise StoreError(f"{building} still has its {suffix} file; it was not closed")
    try:
        os.link(building, path)  # fails if path exists: a store is never replaced
    except FileExistsError as e:
        raise StoreError(f"{path} already exists; refusing to overwrite a store") from e
    except OSError:  # a file system without hard links: rename, having just checked
        if path.exists():
            raise StoreError(f"{path} already exists; refusing to overwrite a store") from None
        os.rename(building, path)
        sync_folder(path.parent)
        return
    sync_folder(path.parent)
    building.unlink()
    sync_folder(path.parent)


def _holds_a_block(path: Path, store_key: bytes) -> bool:
    """Whether the store file at ``path`` holds at least one block (read with its WAL, which
    a clean close of this connection folds back into the file)."""
    conn = _connect(path, store_key)
    try:
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blocks'"
        ).fetchone()
        held = bool(has_table) and conn.execute("SELECT 1 FROM blocks LIMIT 1").fetchone()
        if held:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return bool(held)
    except sqlcipher3.DatabaseError as e:
        raise StoreDamagedError(f"{path} is damaged: {e}") from e
    finally:
        conn.close()


def _discard_unfinished(building: Path, store_key: bytes) -> None:
    """Remove a build cut off before its genesis block; refuse one that holds a block."""
    if not building.exists():
        for suffix in _SIDE_FILES:
            Path(f"{building}{suffix}").unlink(missing_ok=True)
        return
    if _holds_a_block(building, store_key):
        raise StoreError(f"{building} holds a finished store; open it instead of creating one")
    _remove_store_files(building)


def _remove_store_files(path: Path) -> None:
    for name in (str(path), *(f"{path}{suffix}" for suffix in _SIDE_FILES)):
        Path(name).unlink(missing_ok=True)
    sync_folder(path.parent)
