"""Published records to write the standard exports from, for tests: the small closed review
and a mixed election with every contest kind."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from kiosk.core.block import BlockKind, SignedBlock, body_bytes
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionPackage
from kiosk.core.tally import Tally
from testkit.chain_writer import ChainWriter
from testkit.elections import build_election, mixed_definition, random_ballot
from testkit.published_sample import sample_published


@dataclass(frozen=True)
class Records:
    """What the tally published, as ``write_exports`` takes it."""

    package: ElectionPackage
    results: dict[str, Any]
    ballots: tuple[dict[str, Any], ...]
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
    return Records(p.package, p.results, p.ballots, chains)


@cache
def mixed() -> Records:
    """One kiosk, every contest kind (a criteria-scored contest and a yes/no question), a
    paused session, test ballots, and one ballot that did not open."""
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
    for voter in voters[:2]:
        assert voter is not None
        writer.cast(voter, random_ballot(package, voter, rng))
    writer.close_session()
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    for n, voter in enumerate(voters):
        assert voter is not None
        if n == len(voters) // 2:
            writer.append(BlockKind.SESSION_PAUSE, {"session": 2})
            writer.append(BlockKind.SESSION_RESUME, {"session": 2})
        writer.cast(voter, random_ballot(package, voter, rng))
    writer.close_session()
    kiosk = kiosk_id_for(key.public_key)
    opened = [
        election.ballot_key.open(body_bytes(b.block.body, "sealed"))
        for b in writer.blocks
        if b.block.kind is BlockKind.BALLOT
    ]
    random.Random(3).shuffle(opened)
    tally = Tally(package)
    records: list[dict[str, Any]] = []
    for n, raw in enumerate(opened):
        assert tally.add_plaintext(raw, n, kiosk)
        records.append({"n": n, "source": kiosk, "ballot": json.loads(raw)})
    garbage = b"not a ballot"
    assert not tally.add_plaintext(garbage, len(records), kiosk)
    records.append(
        {
            "n": len(records),
            "source": kiosk,
            "invalid": tally.invalid[0].reason,
            "plaintext": base64.b64encode(garbage).decode(),
        }
    )
    results = tally.results()
    source = {
        "kiosk": kiosk,
        "name": "대강당 키오스크",
        "channel": "kiosk",
        "ballots_counted": tally.valid,
        "contests": results["contests"],
    }
    results |= {"sources": [source], "tallied_at": "2026-11-22T09:30:12.345678+00:00"}
    return Records(package, results, tuple(records), {kiosk: tuple(writer.blocks)})


SCENARIOS = {"review": review, "mixed": mixed}


Exported = tuple[Records, dict[str, Path]]


def load(exported: Exported, name: str) -> Any:
    return json.loads(exported[1][name].read_text(encoding="utf-8"))
