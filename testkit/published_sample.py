"""A small closed election's published records, built in memory: for tests of the exports,
the report and the public pages, which only read what the tally publishes (docs/tally.md)."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from kiosk.core.block import BlockKind, SignedBlock, body_bytes
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import Channel, ElectionPackage
from kiosk.core.tally import Tally
from ledger.rules.results import results_document
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition


@dataclass(frozen=True)
class Source:
    kiosk: str
    name: str
    channel: Channel
    blocks: tuple[SignedBlock, ...]


@dataclass(frozen=True)
class Published:
    election: SyntheticElection
    sources: tuple[Source, ...]
    results: dict[str, Any]  # results.json
    ballots: tuple[dict[str, Any], ...]  # ballots.jsonl, in order

    @property
    def package(self) -> ElectionPackage:
        return self.election.package


@cache
def sample_published(groups: int = 4, per_group: int = 5) -> Published:
    """Two hall kiosks and one online platform; a few test ballots before official mode;
    every voter casts once (no duplicates); ballots spread over three hours."""
    definition = review_definition(groups, per_group, election_id="sample-review")
    # the reference event's quota rule, scaled down: 6 winners on site and 4 online
    definition["tally"]["channels"]["kiosk"]["winners"] = 6
    definition["tally"]["channels"]["online"]["winners"] = 4
    election = build_election(
        definition,
        seed="published",
        experts_per_group=2,
        online_per_proposal=2,
    )
    package = election.package
    voters = [package.voter_for_card(e.card_key) for e in package.roll]
    rng = random.Random(11)
    start = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)  # 09:30 in Seoul
    plans = [
        ("Hall A", Channel.KIOSK, [v for v in voters if v and v.category != "online"][0::2]),
        ("Hall B", Channel.KIOSK, [v for v in voters if v and v.category != "online"][1::2]),
        ("Online", Channel.ONLINE, [v for v in voters if v and v.category == "online"]),
    ]
    sources = []
    for n, (name, channel, people) in enumerate(plans):
        key = SigningKey.generate()
        step = timedelta(minutes=180 / max(1, len(people)))
        writer = ChainWriter(package, key, start + timedelta(minutes=n), step)
        writer.mode(Mode.TEST)
        writer.open_session()
        for voter in people[:2]:
            assert voter is not None
            writer.cast(voter, random_ballot(package, voter, rng))
        writer.close_session()
        writer.mode(Mode.OFFICIAL)
        writer.open_session()
        for voter in people:
            assert voter is not None
            writer.cast(voter, random_ballot(package, voter, rng))
        writer.close_session()
        sources.append(Source(kiosk_id_for(key.public_key), name, channel, tuple(writer.blocks)))

    # The trustees' part, done here with the whole key: open, shuffle, count per source.
    opened = [
        (s.kiosk, election.ballot_key.open(body_bytes(b.block.body, "sealed")), b.block.time)
        for s in sources
        for b in s.blocks
        if b.block.kind is BlockKind.BALLOT
    ]
    secrets.SystemRandom().shuffle(opened)
    total, per_source = Tally(package), {s.kiosk: Tally(package) for s in sources}
    records = []
    for position, (kiosk, raw, _time) in enumerate(opened):
        per_source[kiosk].add_plaintext(raw, position, kiosk)
        records.append({"n": position, "source": kiosk, "ballot": json.loads(raw)})
    for t in per_source.values():
        total.merge(t)
    turnout: Counter[tuple[str, str]] = Counter((k, time[:13]) for k, _raw, time in opened)
    results = results_document(
        package,
        total,
        per_source,
        [(s.kiosk, s.name, s.channel.value) for s in sources],
        turnout,
        {
            "checkpoint": "(the final signed checkpoint note)",
            "size": sum(len(s.blocks) for s in sources),
            "closed_at": "2017-11-25T09:05:00+00:00",
        },
        {"threshold": 3, "shares": 3},
        "2017-11-25T09:30:00+00:00",
    )
    return Published(election, tuple(sources), results, tuple(records))
