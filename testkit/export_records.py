"""Published records to write the standard exports from, for tests: the small closed review
and a mixed election with every contest kind."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionPackage
from kiosk.core.tally import count_plaintexts
from testkit.chain_writer import ChainWriter
from testkit.elections import build_election, card_of, mixed_definition, random_ballot, test_voter
from testkit.published_sample import sample_published


@dataclass(frozen=True)
class Records:
    """What the count published, as ``write_v2_exports`` takes it."""

    package: ElectionPackage
    results: dict[str, Any]
    chains: dict[str, tuple[SignedBlock, ...]]

    @property
    def sources(self) -> list[dict[str, Any]]:
        sources: list[dict[str, Any]] = self.results["sources"]
        return sources


@cache
def review() -> Records:
    """The small closed review: two halls and an online platform, scores and likes."""
    p = sample_published()
    chains = {s.kiosk: s.blocks for s in p.sources}
    return Records(p.package, p.results, chains)


@cache
def mixed() -> Records:
    """One kiosk, every contest kind (a criteria-scored contest and a yes/no question), a
    paused session and test ballots."""
    election = build_election(
        mixed_definition(groups=2, per_group=3, election_id="exports-mixed"),
        seed="exports",
        experts_per_group=1,
        online_per_proposal=1,
    )
    package = election.package
    voters = [package.voter_for_card(e.card_key) for e in package.roll]
    rng = random.Random(7)
    key = SigningKey.generate()
    writer = ChainWriter(
        package, key, datetime(2026, 11, 22, 1, 0, tzinfo=UTC), timedelta(minutes=3)
    )
    writer.mode(Mode.TEST)
    writer.open_session()
    for t in range(len(election.test_card_keys)):
        tester = test_voter(election, t)
        writer.cast(tester, random_ballot(package, tester, rng), card_of(election, tester))
    writer.close_session()
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    plaintexts = []
    for n, voter in enumerate(voters):
        assert voter is not None
        if n == len(voters) // 2:
            writer.append(BlockKind.SESSION_PAUSE, {"session": 2})
            writer.append(BlockKind.SESSION_RESUME, {"session": 2})
        ballot = random_ballot(package, voter, rng)
        writer.cast(voter, ballot, card_of(election, voter))
        plaintexts.append(ballot.plaintext())
    writer.close_session()
    kiosk = kiosk_id_for(key.public_key)
    # What the count's decryption gives for these ballots (the end-to-end tests check that it
    # equals this recount of the kept plaintexts).
    results = count_plaintexts(package, plaintexts)
    source = {
        "kiosk": kiosk,
        "name": "대강당 키오스크",
        "channel": "kiosk",
        "ballots_counted": len(plaintexts),
    }
    results |= {"sources": [source], "tallied_at": "2026-11-22T09:30:12.345678+00:00"}
    return Records(package, results, {kiosk: tuple(writer.blocks)})


SCENARIOS = {"review": review, "mixed": mixed}


Exported = tuple[Records, dict[str, Path]]


def load(exported: Exported, name: str) -> Any:
    return json.loads(exported[1][name].read_text(encoding="utf-8"))
