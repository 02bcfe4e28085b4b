"""Logs built straight into a tiles directory, as the ledger would publish them, with no
ledger running: for the mirror's tests (logs the ledger itself would never accept) and its
bench (a large log in minutes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.core.chain import Mode
from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint
from kiosk.core.crypto import SigningKey
from kiosk.core.election import sign_package
from kiosk.core.merkle import MemoryNodeStore, leaf_hash
from ledger.mirror.follower import Frontier
from ledger.publish.tiles import write_tiles
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection

ORIGIN = "ledger.test/built"
START = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)


class BuiltLog:
    """A log key and a tiles directory that grows by ``publish``."""

    def __init__(self, directory: Path, origin: str = ORIGIN) -> None:
        self.directory, self.origin = directory, origin
        self.key = SigningKey.generate()
        self.vkey = NoteVerifier(origin, self.key.public_key).vkey
        self.entries: list[bytes] = []

    def publish(self, entries: Sequence[bytes]) -> str:
        """Append ``entries``, write the tiles and sign the checkpoint; the signed note."""
        self.entries.extend(entries)
        frontier = Frontier(MemoryNodeStore(), 0)
        for entry in self.entries:
            frontier.append(leaf_hash(entry))
        size = len(self.entries)
        note = sign_checkpoint(self.origin, size, frontier.root(), self.origin, self.key)
        write_tiles(
            self.directory,
            lambda a, b: [leaf_hash(e) for e in self.entries[a:b]],
            lambda a, b: self.entries[a:b],
            size,
            note,
        )
        return note


def session_chain(election: SyntheticElection, sessions: int) -> list[bytes]:
    """One kiosk's chain: genesis, official mode, then ``sessions`` opened and closed."""
    writer = ChainWriter(election.package, SigningKey.generate(), START, timedelta(minutes=1))
    writer.mode(Mode.OFFICIAL)
    for _ in range(sessions):
        writer.open_session()
        writer.close_session()
    return [b.encode() for b in writer.blocks]


def write_package(path: Path, election: SyntheticElection) -> Path:
    path.write_text(json.dumps(sign_package(election.package, election.authority).to_json()))
    return path
