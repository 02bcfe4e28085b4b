"""A small closed election's published records, built in memory: for tests of the exports,
the report and the public pages, which only read what the count publishes (results.json, the
kiosk chains)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from kiosk.core.block import SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import Channel, ElectionPackage
from kiosk.core.tally import count_plaintexts
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    SyntheticElection,
    build_election,
    card_of,
    random_ballot,
    review_definition,
    test_voter,
)


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
    results: dict[str, Any]  # the count's results.json

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
    sources, plaintexts = [], []
    counted: Counter[str] = Counter()
    for n, (name, channel, people) in enumerate(plans):
        key = SigningKey.generate()
        step = timedelta(minutes=180 / max(1, len(people)))
        writer = ChainWriter(package, key, start + timedelta(minutes=n), step)
        writer.mode(Mode.TEST)
        writer.open_session()
        for t in range(len(election.test_card_keys)):
            tester = test_voter(election, t)
            writer.cast(tester, random_ballot(package, tester, rng), card_of(election, tester))
        writer.close_session()
        writer.mode(Mode.OFFICIAL)
        writer.open_session()
        for voter in people:
            assert voter is not None
            ballot = random_ballot(package, voter, rng)
            writer.cast(voter, ballot, card_of(election, voter))
            plaintexts.append(ballot.plaintext())
        writer.close_session()
        kiosk = kiosk_id_for(key.public_key)
        counted[kiosk] = len(people)
        sources.append(Source(kiosk, name, channel, tuple(writer.blocks)))

    # The trustees' part (shuffles and decryptions, ledger count) gives the results of the
    # plaintexts the test kept: the end-to-end tests check exactly that equality.
    results = count_plaintexts(package, plaintexts)
    results |= {
        "title": package.title.to_json(),
        "closed": {
            "checkpoint": "(the final signed checkpoint note)",
            "size": sum(len(s.blocks) for s in sources),
            "closed_at": "2017-11-25T09:05:00+00:00",
        },
        "tallied_at": "2017-11-25T09:30:00+00:00",
        "selection": {"counted": len(plaintexts), "left_out": {}},
        "sources": [
            {
                "kiosk": s.kiosk,
                "name": s.name,
                "channel": s.channel.value,
                "ballots_counted": counted[s.kiosk],
            }
            for s in sources
        ],
        "trustees": {"shuffled": [1, 2, 3], "decrypted": [1, 2, 3], "bad": {}, "not_signed": {}},
    }
    return Published(election, tuple(sources), results)
