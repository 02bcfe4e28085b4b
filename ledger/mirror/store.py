"""The mirror's own disk: its configuration (which log, which keys, which election), the copy
of the log as tiles (``tiles/``, written by the same writer as the ledger's), and one SQLite
file (standard library) with what it needs to resume and to answer: each source's chain state,
the nullifiers each source has used, the leaf of every tracking code, every checkpoint it
accepted, and every checkpoint it refused, kept as evidence.

Entries verified but not yet written as tiles wait in ``pending`` (C2SP tlog-mirror, "Updating
a Mirror": the pending entries of a pending checkpoint), so a mirror that stops between the
two finishes writing them when it starts again."""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.cosignature import CosignerKey
from kiosk.core.duplicates import chain_may_repeat
from kiosk.core.election import Channel, ElectionPackage, verify_package
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import EncodingError, HanpyoError
from kiosk.core.tiles import MAX_ENTRY_BYTES

CONFIG = "mirror.json"
DATABASE = "mirror.db"
TILES = "tiles"
PENDING = "pending"  # entries verified for the pending checkpoint, in bundle encoding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chains (kiosk TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nullifiers (
    kiosk TEXT NOT NULL, kind TEXT NOT NULL, nullifier BLOB NOT NULL,
    PRIMARY KEY (kiosk, kind, nullifier)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS codes (code BLOB PRIMARY KEY, leaf INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,       -- 'fork' (two trees signed by the log) or 'invalid'
    reason TEXT NOT NULL,
    source TEXT NOT NULL,     -- where the mirror was following from
    held TEXT NOT NULL,       -- the mirror's own checkpoint at the time, as the log signed it
    offered TEXT NOT NULL,    -- the checkpoint it was offered, as received
    detail TEXT NOT NULL,     -- e.g. the consistency proof, base64
    at TEXT NOT NULL
);
"""


class MirrorSetupError(HanpyoError):
    """The mirror directory is missing, not a mirror's, or already set up."""


@dataclass(frozen=True, slots=True)
class ElectionFacts:
    """What the chain rules need of the election package, taken from it once its authority
    signature verified at ``init`` and kept on the mirror's own disk: a follow round then
    never parses the package (with a national roll, seconds each time)."""

    id: str
    package_hash: bytes
    opens: str
    closes: str
    # Whether a source may record one voter more than once: the mirror cannot tell an online
    # platform from a kiosk (enrolment is the ledger's), so it allows it for every source when
    # the policy lets an online member vote again (kiosk.core.duplicates.chain_may_repeat),
    # and the count applies the policy to whatever the chains hold.
    repeats: bool = False

    @classmethod
    def of(cls, package: ElectionPackage) -> ElectionFacts:
        repeats = chain_may_repeat(package.duplicate_policy, Channel.ONLINE)
        return cls(package.id, package.package_hash, package.opens, package.closes, repeats)

    def to_json(self) -> dict[str, str | bool]:
        return {
            "id": self.id,
            "package_hash": b64e(self.package_hash),
            "opens": self.opens,
            "closes": self.closes,
            "repeats": self.repeats,
        }


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    origin: str
    log_key: str  # the log's vkey
    witnesses: tuple[str, ...]  # cosigner vkeys of the witness policy
    witness_threshold: int
    authority: str  # base64url authority key the package is checked against
    signed_package: dict[str, Any]
    election: ElectionFacts | None = None  # set by ``create_mirror`` from the verified package

    def package(self) -> ElectionPackage:
        return verify_package(self.signed_package, b64d(self.authority, length=32))

    def facts(self) -> ElectionFacts:
        if self.election is None:
            raise MirrorSetupError("the mirror's configuration lacks its election")
        return self.election

    def to_json(self) -> dict[str, Any]:
        return {
            "election": None if self.election is None else self.election.to_json(),
            "origin": self.origin,
            "log_key": self.log_key,
            "witnesses": list(self.witnesses),
            "witness_threshold": self.witness_threshold,
            "authority": self.authority,
            "package": self.signed_package,
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: str
    reason: str
    source: str
    held: str
    offered: str
    detail: str
    at: str


def create_mirror(directory: Path, config: MirrorConfig) -> None:
    """Check everything ``config`` names, then set up ``directory`` (never over a mirror)."""
    verifier = NoteVerifier.parse(config.log_key)
    if verifier.name != config.origin:
        # The ledger signs its checkpoints with a key named after its origin.
        raise MirrorSetupError(f"the log key is named {verifier.name!r}, not {config.origin!r}")
    keys = {CosignerKey.parse(k).public_key for k in config.witnesses}
    if not 0 <= config.witness_threshold <= len(keys):
        raise MirrorSetupError(
            f"a witness threshold of {config.witness_threshold} with {len(keys)} witnesses"
        )
    try:  # the authority's signature, before anything is written
        facts = ElectionFacts.of(config.package())
    except (HanpyoError, EncodingError) as e:
        raise MirrorSetupError(f"the election package: {e}") from e
    if (directory / CONFIG).exists():
        raise MirrorSetupError(f"{directory / CONFIG} exists: this is already a mirror")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / TILES).mkdir(exist_ok=True)
    MirrorDb(directory).close()
    kept = replace(config, election=facts)
    (directory / CONFIG).write_text(json.dumps(kept.to_json(), indent=1) + "\n", "utf-8")


def load_config(directory: Path) -> MirrorConfig:
    try:
        doc = json.loads((directory / CONFIG).read_text("utf-8"))
        config = MirrorConfig(
            str(doc["origin"]),
            str(doc["log_key"]),
            tuple(str(k) for k in doc["witnesses"]),
            int(doc["witness_threshold"]),
            str(doc["authority"]),
            dict(doc["package"]),
            ElectionFacts(
                str(doc["election"]["id"]),
                b64d(str(doc["election"]["package_hash"]), length=32),
                str(doc["election"]["opens"]),
                str(doc["election"]["closes"]),
                bool(doc["election"].get("repeats", False)),  # absent: a mirror made before
            ),
        )
    except (OSError, ValueError, KeyError, TypeError, EncodingError) as e:
        raise MirrorSetupError(
            f"{directory} is not a mirror: run `ledger mirror init` first ({e})"
        ) from e
    return config


class MirrorDb:
    """The mirror's SQLite file. The follower writes one checkpoint's rows in one transaction
    (``transaction``); the server opens it read-only."""

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        path = directory / DATABASE
        if read_only:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")  # the server reads while we write
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def verified(self) -> tuple[int, str | None]:
        """The size and note of the last checkpoint whose entries were all verified."""
        note = self.meta("verified_note")
        return (0, None) if note is None else (int(self.meta("verified_size") or 0), note)

    def leaf_of_code(self, code: bytes) -> int | None:
        row = self.conn.execute("SELECT leaf FROM codes WHERE code = ?", (code,)).fetchone()
        return None if row is None else int(row[0])

    def checkpoint_note(self, size: int) -> str | None:
        row = self.conn.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
        return None if row is None else str(row[0])

    def keep_refused(self, refusal: Refusal) -> None:
        """Keep ``refusal``, unless it repeats the last one (a `--every` loop meeting the same
        fork each round keeps it once)."""
        last = self.conn.execute(
            "SELECT kind, reason, held, offered FROM refused ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if last == (refusal.kind, refusal.reason, refusal.held, refusal.offered):
            return
        self.conn.execute(
            "INSERT INTO refused (kind, reason, source, held, offered, detail, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                refusal.kind,
                refusal.reason,
                refusal.source,
                refusal.held,
                refusal.offered,
                refusal.detail,
                refusal.at,
            ),
        )

    def refused(self) -> list[Refusal]:
        rows = self.conn.execute(
            "SELECT kind, reason, source, held, offered, detail, at FROM refused ORDER BY id"
        ).fetchall()
        return [Refusal(*(str(v) for v in row)) for row in rows]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PendingEntries:
    """Entries ``first .. first + n - 1`` verified for the pending checkpoint, in one file
    (each behind its uint16 length, as in a bundle), fsynced before the database records
    that checkpoint as verified."""

    def __init__(self, directory: Path, first: int) -> None:
        self.path = directory / PENDING
        self.first = first
        self._out = self.path.open("wb")
        self._out.write(first.to_bytes(8, "big"))

    def add(self, entries: Sequence[bytes]) -> None:
        for entry in entries:
            if len(entry) > MAX_ENTRY_BYTES:
                raise HanpyoError(f"an entry of {len(entry)} bytes is longer than a tile allows")
            self._out.write(len(entry).to_bytes(2, "big") + entry)

    def seal(self) -> None:
        if self._out.closed:
            return
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()


class PendingReader:
    """Reads the pending file back by leaf range, for the tile writer, mapped rather than read
    so that a large catch-up is never held in memory."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            self._data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.first = int.from_bytes(self._data[:8], "big")
        self._offsets = array("Q")
        at = 8
        while at < len(self._data):
            self._offsets.append(at)
            at += 2 + int.from_bytes(self._data[at : at + 2], "big")
        if at != len(self._data):
            raise HanpyoError(f"{path} ends inside an entry: verify again from the log")

    @property
    def end(self) -> int:
        return self.first + len(self._offsets)

    def entries(self, start: int, end: int) -> list[bytes]:
        if not self.first <= start <= end <= self.end:
            raise HanpyoError(
                f"the pending entries are {self.first}..{self.end}, not {start}..{end}"
            )
        out = []
        for i in range(start - self.first, end - self.first):
            at = self._offsets[i]
            length = int.from_bytes(self._data[at : at + 2], "big")
            out.append(self._data[at + 2 : at + 2 + length])
        return out

    def close(self) -> None:
        self._data.close()
