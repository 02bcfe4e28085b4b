"""A large upload (a kiosk catching up) is read on several processes (ledger/service/
block_readers.py). That must change nothing a kiosk or an observer can see: the same batches,
sent to two fresh ledgers, one reading them in the ingesting thread and one on a pool of
reader processes, give the same answers (accepted, refused, at which block and why) and the
same log, byte for byte. A reader killed mid-election costs nothing: the batch is read in the
ingesting process, and the next large one starts a new pool. And through `ledger serve`, the
readers stop with the server."""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from ledger.service.block_readers import PARALLEL_FROM, BlockReaders
from ledger.service.ingest import IngestResult, UploadedBlocks
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.ballot_chains import ballot_chain
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition
from testkit.ledger_requests import enrol, upload
from testkit.ledger_server import LedgerServer

BALLOTS = 320  # above PARALLEL_FROM: every upload of a whole chain goes to the readers


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    return build_election(
        review_definition(groups=4, per_group=12, election_id="ingest-readers"),
        seed="ingest-readers",
    )


@pytest.fixture(scope="module")
def chain(election: SyntheticElection) -> ChainWriter:
    return ballot_chain(election, BALLOTS, random.Random(3))


@pytest.fixture(scope="module")
def readers(election: SyntheticElection) -> Iterator[BlockReaders]:
    """One pool for the module's in-process ledgers (each reads the same package)."""
    signed = json.dumps(election.signed().to_json())
    pool = BlockReaders(signed, workers=2)
    yield pool
    pool.close()


class Twin:
    """A fresh ledger in this process (SQLite), reading uploads with or without the pool."""

    def __init__(self, directory: Path, election: SyntheticElection, readers: BlockReaders | None):
        init = LedgerServer(directory, election)  # `ledger init` only; never served
        key = SigningKey(b64d((init.data / "log.key").read_text().strip(), length=32))
        self.engine = db.connect(f"sqlite:///{(init.data / 'ledger.db').resolve()}")
        self.ledger = Ledger(self.engine, key)
        self.ledger.readers = readers

    def enrol(self, chain: ChainWriter) -> str:
        if self.ledger.source(chain.kiosk_id) is None:
            self.ledger.enrol(chain.key.public_key, "kiosk")
        return chain.kiosk_id

    def send(self, kiosk: str, items: Sequence[Any]) -> IngestResult:
        return self.ledger.ingest(kiosk, UploadedBlocks(copy.deepcopy(list(items))))

    def log(self) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    db.blocks.c.leaf_index,
                    db.blocks.c.kiosk_id,
                    db.blocks.c.height,
                    db.blocks.c.hash,
                    db.blocks.c.encoded,
                ).order_by(db.blocks.c.leaf_index)
            )
            return [tuple(r) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def twins(
    tmp_path: Path, election: SyntheticElection, readers: BlockReaders
) -> Iterator[tuple[Twin, Twin]]:
    here, pooled = (
        Twin(tmp_path / "here", election, None),
        Twin(tmp_path / "pool", election, readers),
    )
    yield here, pooled
    here.close()
    pooled.close()


def _items(chain: ChainWriter) -> list[Any]:
    return [json.loads(b.encode()) for b in chain.blocks]


def _answer(result: IngestResult) -> tuple[Any, ...]:
    return (result.accepted, result.already_had, result.head_height, result.rejection)


def _both(twins: tuple[Twin, Twin], chain: ChainWriter, batches: Sequence[Sequence[Any]]) -> None:
    """Send ``batches`` to both ledgers; every answer and the stored log must agree."""
    here, pooled = twins
    kiosks = here.enrol(chain), pooled.enrol(chain)
    assert kiosks[0] == kiosks[1]
    for batch in batches:
        a, b = here.send(kiosks[0], batch), pooled.send(kiosks[1], batch)
        assert _answer(a) == _answer(b)
        assert a.leaves == b.leaves
    assert here.log() == pooled.log()


def test_a_whole_chain_is_read_alike_on_the_pool(
    twins: tuple[Twin, Twin], chain: ChainWriter, readers: BlockReaders
) -> None:
    items = _items(chain)
    assert len(items) >= PARALLEL_FROM
    _both(twins, chain, [items, items])  # the second time: every block already held
    _, pooled = twins
    assert pooled.log()[-1][2] == len(items) - 1  # the whole chain is in the log
    assert readers._pool is not None  # and it went through the pool


def _bad_card_chain(election: SyntheticElection, at: int) -> ChainWriter:
    """A chain whose ballot at ``at`` is signed by another voter's card."""
    rng = random.Random(5)
    chain = ballot_chain(election, 0, rng)
    package = election.package
    cards = rng.sample(election.voter_keys, BALLOTS)
    for i, card in enumerate(cards):
        voter = package.voter_for_card(card.public_key)
        assert voter is not None
        signer = cards[(i + 1) % len(cards)] if i == at else card
        chain.cast(voter, random_ballot(package, voter, rng), signer)
    return chain


def test_a_ballot_refused_on_arrival_stops_the_batch_at_the_same_block(
    twins: tuple[Twin, Twin], election: SyntheticElection
) -> None:
    chain = _bad_card_chain(election, at=250)
    _both(twins, chain, [_items(chain)])
    here, _ = twins
    assert len(here.log()) == 3 + 250  # genesis, mode, session, then the 250 good ballots
    again = here.send(here.enrol(chain), _items(chain))
    assert again.rejection is not None and again.rejection.height == 3 + 250
    assert again.rejection.reason == "key_of_another_voter"


@pytest.mark.parametrize(
    "fault",
    ["no_proof", "float", "unknown_member", "bad_kiosk_signature", "wrong_prev"],
)
def test_a_bad_block_in_the_middle_is_refused_alike(
    twins: tuple[Twin, Twin], chain: ChainWriter, fault: str
) -> None:
    items = _items(chain)
    at = 150  # in the pool's second slice or later
    block = items[at]
    match fault:
        case "no_proof":
            del block["body"]["ballot"]["contests"][0]["cells"][0]["proof"]
        case "float":  # read the long way (canonical JSON's 2.0 is 2): the same block
            block["body"]["ballot"]["v"] = 2.0
        case "unknown_member":
            block["body"]["note"] = "added"
        case "bad_kiosk_signature":
            sig = bytearray(b64d(block["sig"], length=64))
            sig[0] ^= 1
            block["sig"] = b64e(bytes(sig))
        case "wrong_prev":
            block["prev"] = items[at - 2]["prev"]
    _both(twins, chain, [items])
    here, _ = twins
    result = here.send(here.enrol(chain), items)  # once more: the same answer, nothing new
    if fault == "float":
        assert result.rejection is None and result.already_had == len(items)
        assert len(here.log()) == len(items)
        return
    assert result.rejection is not None and result.rejection.height in (at, None)
    assert len(here.log()) == at


def test_a_killed_reader_costs_nothing(
    tmp_path: Path, election: SyntheticElection, chain: ChainWriter
) -> None:
    pool = BlockReaders(json.dumps(election.signed().to_json()), workers=2)
    twin = Twin(tmp_path / "killed", election, pool)
    try:
        kiosk = twin.enrol(chain)
        items = _items(chain)
        first = twin.send(kiosk, items[:PARALLEL_FROM])
        assert first.rejection is None and first.accepted == PARALLEL_FROM
        assert pool._pool is not None
        for process in list(pool._pool._processes.values()):
            process.kill()  # a reader dies (out of memory, an operator's mistake)
        second = twin.send(kiosk, items)  # the first blocks again, and the rest
        assert second.rejection is None and second.already_had == PARALLEL_FROM
        assert second.accepted == len(items) - PARALLEL_FROM
        assert [row[2] for row in twin.log()] == list(range(len(items)))
        assert pool._pool is None  # the broken pool was let go ...
        again = twin.send(kiosk, items)  # ... and the next large upload starts a new one
        assert again.rejection is None and again.already_had == len(items)
        assert pool._pool is not None
    finally:
        pool.close()
        twin.close()


def test_ledger_serve_reads_a_large_upload_on_readers_that_stop_with_it(
    tmp_path: Path, election: SyntheticElection, chain: ChainWriter
) -> None:
    server = LedgerServer(tmp_path / "served", election, serve_args=("--read-workers", "2"))
    with server:
        assert server.process is not None
        group = server.process.pid  # `ledger serve` runs in a session of its own
        kiosk = enrol(server, chain.key, "catching up")
        before = _processes_of(group)
        answer = upload(server, chain.key, chain.blocks)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == len(chain.blocks)
        assert answer.json()["kiosk"] == kiosk
        started = _processes_of(group) - before
        assert len(started) >= 3  # the fork server and its two readers
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _processes_of(group) & started:
        time.sleep(0.1)
    assert not _processes_of(group) & started, "reader processes outlived the server"


def _processes_of(group: int) -> set[int]:
    """The live (not zombie) processes of a process group, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            found.add(int(stat.parent.name))
    return found
