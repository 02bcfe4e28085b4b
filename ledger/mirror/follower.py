"""One round of following a log through its tiles (C2SP tlog-tiles), verifying everything
before keeping it, in the order C2SP tlog-mirror's "Updating a Mirror" keeps a mirror
consistent: first the checkpoint (the log's signature, the witness policy, consistency with the
mirror checkpoint), then the pending entries (each hashing to its leaf, each a signed block in a
valid chain of its source), and only then the mirror checkpoint, after its tiles.

Nothing the mirror holds is ever overwritten: a checkpoint that is not consistent with the
mirror's own is refused and kept as evidence beside the mirror's checkpoint, and the copy stays
on the tree it had. Bad tiles are refused the same way, as 'invalid' rather than 'fork'."""

from __future__ import annotations

import base64
import fcntl
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kiosk.core.block import BlockKind, SignedBlock, ballot_identity, decode_signed_block
from kiosk.core.chain import ChainVerifier, Schedule, state_from_json, state_to_json
from kiosk.core.checkpoint import MAX_NOTE_BYTES, Checkpoint, verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures
from kiosk.core.errors import BlockError, HanpyoError, VerificationError
from kiosk.core.merkle import EMPTY_ROOT, NodeStore, leaf_hash, node_hash, verify_consistency
from kiosk.core.tiles import (
    ENTRIES,
    TILE_WIDTH,
    TileFetcher,
    TileNodes,
    TileNotFound,
    decode_bundle,
    tile_path,
    tile_width,
    tree_from_tiles,
)
from ledger.mirror.store import (
    PENDING,
    TILES,
    ElectionFacts,
    MirrorConfig,
    MirrorDb,
    PendingEntries,
    PendingReader,
    Refusal,
    load_config,
    now,
)
from ledger.publish.tiles import checkpoint_of, published_size, write_tiles

CODE_BYTES = 10  # a tracking code is the first 10 bytes of the block hash
LOCK = "follow.lock"


class MirrorRefused(VerificationError):
    """The mirror refused what the log (or whoever serves its tiles) offered; ``kind`` is
    'fork' when the log signed a tree that does not extend the mirror's, else 'invalid'."""

    def __init__(self, kind: str, detail: str, proof: str = "") -> None:
        super().__init__(detail)
        self.kind, self.proof = kind, proof


class NotWitnessed(HanpyoError):
    """The log's checkpoint lacks the cosignatures the mirror's policy asks for (yet)."""


def config_policy(config: MirrorConfig) -> str:
    return f"{config.witness_threshold} of its {len(config.witnesses)} witnesses' cosignatures"


@dataclass(frozen=True, slots=True)
class Followed:
    previous_size: int
    size: int  # the mirror checkpoint's size after this round
    offered_size: int  # the log's checkpoint's size
    entries: int  # entries verified and added this round


def follow(directory: Path, fetch: TileFetcher, source: str) -> Followed:
    """One round against the tiles ``fetch`` reads (``source`` names them in the evidence).
    ``MirrorRefused`` after keeping the evidence; other ``HanpyoError`` when the log cannot
    be read (it may be down): nothing is kept then, and the next round tries again."""
    config = load_config(directory)
    with _only_follower(directory):
        return _follow(directory, config, fetch, source)


@contextmanager
def _only_follower(directory: Path) -> Iterator[None]:
    """One round at a time per mirror (a cron job and a `--every` loop may overlap): they
    would share the pending file."""
    with (directory / LOCK).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HanpyoError(f"another `ledger mirror follow` is running on {directory}") from None
        yield


def _follow(directory: Path, config: MirrorConfig, fetch: TileFetcher, source: str) -> Followed:
    db = MirrorDb(directory)
    try:
        finish_pending(directory, db)
        held_size, held_note = db.verified()
        offered_note = ""
        try:
            offered_note = fetch("checkpoint").decode("utf-8", "replace")
            return _Round(directory, config, db, fetch).run(held_size, held_note, offered_note)
        except MirrorRefused as e:
            (directory / PENDING).unlink(missing_ok=True)
            offered = offered_note[:MAX_NOTE_BYTES]  # a checkpoint is never longer
            db.keep_refused(
                Refusal(e.kind, e.detail, source, held_note or "", offered, e.proof, now())
            )
            raise
    finally:
        db.close()


def finish_pending(directory: Path, db: MirrorDb) -> None:
    """Write the tiles of a checkpoint whose entries were verified but whose tiles were not
    all written (the mirror stopped in between); then drop the pending entries."""
    size, note = db.verified()
    tiles = directory / TILES
    pending = directory / PENDING
    if note is not None and size > published_size(tiles):
        reader = PendingReader(pending)
        try:
            if reader.first != published_size(tiles) or reader.end != size:
                raise HanpyoError(
                    f"the pending entries ({reader.first}..{reader.end}) do not fill the tiles "
                    f"to the verified checkpoint ({published_size(tiles)}..{size})"
                )
            write_tiles(tiles, _leaf_hashes(reader), reader.entries, size, note)
        finally:
            reader.close()
    pending.unlink(missing_ok=True)


def _leaf_hashes(reader: PendingReader) -> partial[list[bytes]]:
    def hashes(read: PendingReader, start: int, end: int) -> list[bytes]:
        return [leaf_hash(e) for e in read.entries(start, end)]

    return partial(hashes, reader)


class Frontier:
    """The roots of the perfect subtrees a tree of n leaves splits into (largest first): with
    them, MTH (RFC 9162 section 2.1.1) of the tree after more leaves needs no other node."""

    def __init__(self, nodes: NodeStore, size: int) -> None:
        self._stack: list[tuple[int, bytes]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                self._stack.append((level, nodes.get(level, start >> level)))
                start += 1 << level

    def append(self, leaf: bytes) -> None:
        level, node = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            node = node_hash(self._stack.pop()[1], node)
            level += 1
        self._stack.append((level, node))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, node in reversed(self._stack[:-1]):
            acc = node_hash(node, acc)
        return acc


class _Round:
    def __init__(
        self, directory: Path, config: MirrorConfig, db: MirrorDb, fetch: TileFetcher
    ) -> None:
        self.directory, self.config, self.db, self.fetch = directory, config, db, fetch
        self.tiles = directory / TILES

    def run(self, held_size: int, held_note: str | None, offered_note: str) -> Followed:
        offered = self._checkpoint(offered_note)
        witnessed = self._witnessed(offered_note)
        held = checkpoint_of(held_note) if held_note else None
        mine = tree_from_tiles(directory_fetcher(self.tiles), held_size)
        if offered.size <= held_size:
            if mine.root(offered.size) != offered.root:
                raise MirrorRefused(
                    "fork",
                    f"the log signed root {offered.root.hex()} for size {offered.size}; the "
                    f"mirror holds root {mine.root(offered.size).hex()} for that size",
                )
            same = held is not None and offered.size == held_size and offered_note != held_note
            if same and witnessed:
                self._take_note(held_size, offered_note)  # e.g. more witnesses' cosignatures
            return Followed(held_size, held_size, offered.size, 0)
        # A fork is evidence whoever cosigned it; entries are kept only under the policy.
        self._check_consistent(held, held_size, offered)
        if not witnessed:
            raise NotWitnessed(
                f"the log's checkpoint of size {offered.size} does not carry "
                f"{config_policy(self.config)} yet: nothing taken, the next round asks again"
            )
        added = self._take_entries(held_size, offered, offered_note)
        finish_pending(self.directory, self.db)
        return Followed(held_size, offered.size, offered.size, added)

    def _checkpoint(self, note: str) -> Checkpoint:
        """The log's signature and origin: anything less is refused as invalid."""
        try:
            checkpoint = verify_checkpoint(note, self.config.log_key, self.config.origin)
        except VerificationError as e:
            raise MirrorRefused("invalid", f"the checkpoint is refused: {e}") from e
        return checkpoint

    def _witnessed(self, note: str) -> bool:
        """Whether the note meets the mirror's witness policy (k of n). Too few cosignatures
        is not evidence of anything (a witness may be down); a line that names a known witness
        and does not verify rejects the note, as signed-note's "Signatures" says."""
        config = self.config
        if not config.witnesses and not config.witness_threshold:
            return True
        try:
            found = cosignatures(note, [CosignerKey.parse(k) for k in config.witnesses])
        except VerificationError as e:
            raise MirrorRefused("invalid", f"the checkpoint's cosignatures: {e}") from e
        return len(found) >= config.witness_threshold

    def _check_consistent(
        self, held: Checkpoint | None, held_size: int, offered: Checkpoint
    ) -> None:
        """The offered tiles must hash to the offered root, and prove (RFC 9162 section
        2.1.4.2) that the mirror's tree is a prefix of it."""
        remote = tree_from_tiles(self.fetch, offered.size)
        try:
            root = remote.root()
        except VerificationError as e:
            raise MirrorRefused("invalid", f"the log's tiles are malformed: {e}") from e
        if root != offered.root:
            raise MirrorRefused(
                "invalid",
                f"the tiles hash to {root.hex()}, not to the signed root {offered.root.hex()}",
            )
        if held is None:
            return
        proof = remote.consistency_proof(held_size)
        try:
            verify_consistency(held_size, offered.size, held.root, offered.root, proof)
        except VerificationError as e:
            raise MirrorRefused(
                "fork",
                f"the log's tree of size {offered.size} does not extend the mirror's tree of "
                f"size {held_size}: {e}",
                " ".join(base64.b64encode(h).decode("ascii") for h in proof),
            ) from e

    def _take_entries(self, held_size: int, offered: Checkpoint, note: str) -> int:
        frontier = Frontier(TileNodes(directory_fetcher(self.tiles), held_size), held_size)
        pending = PendingEntries(self.directory, held_size)
        package = self.config.facts()
        try:
            with self.db.transaction() as conn:
                chains = _Chains(conn, package)
                for first in bundles(held_size, offered.size):
                    entries = self._bundle_entries(first, offered.size)
                    for i, entry in enumerate(entries):
                        chains.add(_block(entry, first + i), first + i)
                        frontier.append(leaf_hash(entry))
                    pending.add(entries)
                if frontier.root() != offered.root:
                    raise MirrorRefused(
                        "invalid",
                        f"the entries hash to root {frontier.root().hex()}, not to the signed "
                        f"root {offered.root.hex()}",
                    )
                pending.seal()
                chains.save()
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", (offered.size, note)
                )
                _set_verified(conn, offered.size, note)
        except BaseException:
            pending.seal()
            raise
        return offered.size - held_size

    def _bundle_entries(self, first: int, size: int) -> list[bytes]:
        """Entries ``first`` .. the end of its bundle (or of the tree), each checked against
        its leaf in the level-0 tile of the offered tree."""
        bundle, offset = divmod(first, TILE_WIDTH)
        width = tile_width(0, bundle, size)
        try:
            try:
                entries = decode_bundle(self.fetch(tile_path(ENTRIES, bundle, width)), width)
            except TileNotFound:
                if width == TILE_WIDTH:
                    raise
                entries = decode_bundle(self.fetch(tile_path(ENTRIES, bundle)), TILE_WIDTH)
            leaves = TileNodes(self.fetch, size).tile(0, bundle)
        except VerificationError as e:
            raise MirrorRefused("invalid", f"entry bundle {bundle}: {e}") from e
        for i in range(offset, width):
            if leaf_hash(entries[i]) != leaves[i]:
                raise MirrorRefused(
                    "invalid",
                    f"entry {bundle * TILE_WIDTH + i} does not hash to its leaf in the "
                    "level-0 tile: the bundle or the tile was altered",
                )
        return entries[offset:width]

    def _take_note(self, size: int, note: str) -> None:
        write_tiles(self.tiles, lambda a, b: [], lambda a, b: [], size, note)
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", (size, note))
            _set_verified(conn, size, note)


def _block(entry: bytes, leaf: int) -> SignedBlock:
    try:
        return decode_signed_block(entry)
    except BlockError as e:
        raise MirrorRefused("invalid", f"entry {leaf} is not a signed block: {e}") from e


def _set_verified(conn: sqlite3.Connection, size: int, note: str) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [("verified_size", str(size)), ("verified_note", note), ("verified_at", now())],
    )


class _Chains:
    """The one chain verifier (``ChainVerifier``) per source, resumed from the state the
    mirror stored for it, with the nullifiers that source already used."""

    def __init__(self, conn: sqlite3.Connection, package: ElectionFacts) -> None:
        self.conn, self.package = conn, package
        self.schedule = Schedule.of(package.opens, package.closes)
        self.verifiers: dict[str, ChainVerifier] = {}

    def add(self, signed: SignedBlock, leaf: int) -> None:
        block = signed.block
        verifier = self.verifiers.get(block.kiosk) or self._resume(block.kiosk)
        try:
            verifier.add(signed)
        except VerificationError as e:
            raise MirrorRefused(
                "invalid", f"entry {leaf} breaks the chain of source {block.kiosk}: {e}"
            ) from e
        if block.kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
            self.conn.execute(
                "INSERT OR IGNORE INTO nullifiers VALUES (?, ?, ?)",
                (block.kiosk, block.kind.value, ballot_identity(block.body)),
            )
        self.conn.execute(
            "INSERT OR IGNORE INTO codes VALUES (?, ?)", (signed.hash[:CODE_BYTES], leaf)
        )

    def _resume(self, kiosk: str) -> ChainVerifier:
        row = self.conn.execute("SELECT state FROM chains WHERE kiosk = ?", (kiosk,)).fetchone()
        verifier = ChainVerifier(
            election=self.package.id,
            kiosk=kiosk,
            package_hash=self.package.package_hash,
            state=None if row is None else state_from_json(json.loads(row[0])),
            voted_here=partial(self._voted, kiosk),
            schedule=self.schedule,
            repeats=self.package.repeats,
        )
        self.verifiers[kiosk] = verifier
        return verifier

    def _voted(self, kiosk: str, kind: BlockKind, nullifier: bytes) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM nullifiers WHERE kiosk = ? AND kind = ? AND nullifier = ?",
            (kiosk, kind.value, nullifier),
        ).fetchone()
        return row is not None

    def save(self) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO chains VALUES (?, ?)",
            [(k, json.dumps(state_to_json(v.state))) for k, v in self.verifiers.items()],
        )


def directory_fetcher(directory: Path) -> TileFetcher:
    def fetch(path: str) -> bytes:
        try:
            return (directory / path).read_bytes()
        except FileNotFoundError:
            raise TileNotFound(f"no {path} in the mirror's copy") from None

    return fetch


def bundles(first: int, size: int) -> Iterable[int]:
    """The first leaf of each step of a catch-up: ``first``, then every bundle boundary."""
    yield first
    yield from range(first - first % TILE_WIDTH + TILE_WIDTH, size, TILE_WIDTH)
