"""Protocol v2 ballots arriving at a real ledger over HTTP: the ledger takes a ballot only when
the voter is on the roll, the card key is theirs, the card signed this very ballot, and its
form is the roll entry's; every refusal is named with its reason, the blocks before it stay
accepted, and the kiosk's own client reads the refusal. "Has this voter voted" is asked by
voter id."""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.block import Block, BlockKind, SignedBlock, block_time, sign_block
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.sync.client import LedgerClient
from kiosk.sync.worker import SyncStatus, SyncWorker
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    SyntheticElection,
    build_election,
    mixed_definition,
    random_ballot,
)
from testkit.ledger_requests import enrol, signed_post, upload
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.v2_blocks import (
    Card,
    cast_body,
    cast_by,
    encrypt_for,
    spoiled_by,
    test_card,
    voter_card,
)

SEED = "ingest-v2"


def _election(election_id: str) -> SyntheticElection:
    definition = mixed_definition(groups=2, per_group=4, election_id=election_id)
    return build_election(
        definition,
        seed=SEED,
        protocol=2,
        test_cards=2,
        experts_per_group=1,
        online_per_proposal=1,
    )


@pytest.fixture(scope="module")
def v2() -> SyntheticElection:
    return _election("ingest-v2")


@pytest.fixture(scope="module")
def other_election() -> SyntheticElection:
    """Another election made from the same seed: the same voter ids and card keys."""
    return _election("ingest-v2-other")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, v2: SyntheticElection) -> Iterator[Any]:
    with LedgerServer(tmp_path_factory.mktemp("ledger"), v2) as running:
        yield running


def _kiosk(
    server: LedgerServer, v2: SyntheticElection, mode: Mode, channel: str = "kiosk"
) -> ChainWriter:
    """An enrolled kiosk's (or online platform's) chain up to an open session in ``mode``."""
    key = SigningKey.generate()
    enrol(server, key, f"{channel} {key.public_key.hex()[:6]}", channel)
    start = datetime.now(UTC) - timedelta(hours=1)
    writer = ChainWriter(v2.package, key, start, timedelta(minutes=1))
    writer.mode(mode)
    writer.open_session()
    return writer


def _forced(writer: ChainWriter, kind: BlockKind, body: Mapping[str, Any]) -> SignedBlock:
    """The next block signed by the kiosk's key whatever the kiosk's own rules say: what a
    kiosk that is not ours, or has been tampered with, can send."""
    block = Block(
        writer.package.id,
        writer.kiosk_id,
        writer.state.next_height,
        writer.state.head,
        block_time(writer.now),
        kind,
        dict(body),
    )
    signed = sign_block(block, writer.key)
    writer.blocks.append(signed)
    return signed


def _refused(server: LedgerServer, writer: ChainWriter, *, readable: bool = True) -> dict[str, Any]:
    """Upload the chain whose last block is the bad one; the ledger keeps the rest. A block
    that is not ``readable`` has no height the ledger could name."""
    answer = upload(server, writer.key, writer.blocks)
    assert answer.status_code == 422, answer.text
    doc = answer.json()
    bad = len(writer.blocks) - 1
    assert doc["rejected"]["height"] == (bad if readable else None)
    assert doc["accepted"] == bad and doc["head_height"] == bad - 1
    rejected: dict[str, Any] = doc["rejected"]
    return rejected


def _client(server: LedgerServer, writer: ChainWriter) -> LedgerClient:
    return LedgerClient(server.url, writer.key, log_key=server.log_key)


def test_honest_ballots_and_checked_ballots_are_taken_and_the_voter_is_known_by_id(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    resident, expert = voter_card(v2, "resident"), voter_card(v2, "expert")
    writer.append(BlockKind.SPOILED, spoiled_by(v2.package, resident.voter, seed=1))
    writer.append(BlockKind.BALLOT, cast_by(v2.package, resident, seed=2))
    writer.append(BlockKind.BALLOT, cast_by(v2.package, expert, seed=3))
    writer.close_session()
    answer = upload(server, writer.key, writer.blocks)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(writer.blocks) and answer.json()["rejected"] is None

    client = _client(server, writer)
    assert resident.voter.voter_id is not None
    assert client.has_voted(resident.voter.voter_id) == (True, ["kiosk"])
    online = voter_card(v2, "online").voter
    assert online.voter_id is not None
    assert client.has_voted(online.voter_id) == (False, [])


def test_a_v2_ledger_is_asked_by_voter_id_never_by_nullifier(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    upload(server, writer.key, writer.blocks)
    path = f"/v1/kiosks/{writer.kiosk_id}/nullifiers/check"
    by_nullifier = signed_post(server, writer.key, path, {"nullifier": b64e(bytes(32))})
    assert by_nullifier.status_code == 422 and by_nullifier.json()["reason"] == "bad_query"
    upper = signed_post(server, writer.key, path, {"voter": "AB" * 16})
    assert upper.status_code == 422 and upper.json()["reason"] == "bad_query"


def test_a_ballot_with_no_card_signature_is_refused(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    card = voter_card(v2, "resident", 1)
    unsigned = cast_by(v2.package, card)
    del unsigned["card_sig"]
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, unsigned)
    refusal = _refused(server, writer, readable=False)
    assert refusal["reason"] == "malformed" and "card_sig: is missing" in refusal["detail"]

    zeros = cast_by(v2.package, card) | {"card_sig": b64e(bytes(64))}
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, zeros)
    assert _refused(server, writer)["reason"] == "bad_card_signature"


def test_a_ballot_signed_by_another_voters_card_is_refused(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    voter, other = voter_card(v2, "resident", 2), voter_card(v2, "resident", 3)
    assert voter.voter.voter_id is not None
    ballot = encrypt_for(v2.package, voter.voter).ballot
    # The other voter's card signs, naming itself as the key: its key is not this voter's.
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_body(ballot, voter.voter.voter_id, other.key))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "key_of_another_voter"
    assert other.voter.voter_id is not None and other.voter.voter_id.hex() in refusal["detail"]

    # ...or the block names this voter's key over the other card's signature.
    forged = cast_body(ballot, voter.voter.voter_id, other.key)
    forged["card_key"] = b64e(voter.key.public_key)
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, forged)
    assert _refused(server, writer)["reason"] == "bad_card_signature"


def test_a_ballot_signed_by_an_unenrolled_key_is_refused(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    voter = voter_card(v2, "expert")
    assert voter.voter.voter_id is not None
    ballot = encrypt_for(v2.package, voter.voter).ballot
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    stranger = SigningKey.generate()
    _forced(writer, BlockKind.BALLOT, cast_body(ballot, voter.voter.voter_id, stranger))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "key_not_on_roll"


def test_a_card_key_that_is_no_ed25519_point_is_refused_as_malformed(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    """Ingest skips the point check for a key the rolls enrol (the package reader made it);
    any other key is still checked, and one that is not a point is refused by name."""
    voter = voter_card(v2, "expert")
    assert voter.voter.voter_id is not None
    good = cast_body(encrypt_for(v2.package, voter.voter).ballot, voter.voter.voter_id, voter.key)
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, good | {"card_key": b64e(b"\x02" + bytes(31))})
    refusal = _refused(server, writer, readable=False)
    assert refusal["reason"] == "malformed"
    assert "card_key: is not a valid Ed25519 public key" in refusal["detail"]


def test_a_voter_not_on_the_roll_is_refused(server: LedgerServer, v2: SyntheticElection) -> None:
    voter = voter_card(v2, "expert")
    ballot = encrypt_for(v2.package, voter.voter).ballot
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_body(ballot, bytes(16), voter.key))
    assert _refused(server, writer)["reason"] == "voter_not_on_roll"


def test_a_ballot_of_another_category_or_group_than_the_roll_entrys_is_refused(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    resident, expert = voter_card(v2, "resident", 4), voter_card(v2, "expert", 1)
    assert resident.voter.voter_id is not None
    # An expert's ballot (another category, and another group) signed by a resident's card.
    ballot = encrypt_for(v2.package, expert.voter).ballot
    assert (ballot.category, ballot.group) != (resident.voter.category, resident.voter.group)
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_body(ballot, resident.voter.voter_id, resident.key))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "category_or_group"
    assert "the roll entry says 'resident'" in refusal["detail"]


def test_a_ballot_that_scores_the_voters_own_proposal_is_refused(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    card = voter_card(v2, "resident", 5)
    assert card.voter.voter_id is not None and card.voter.excluded
    judge_all = dataclasses.replace(card.voter, excluded=frozenset())
    plain = random_ballot(v2.package, judge_all, random.Random(5))
    ballot, _ = encrypt_ballot(v2.package, plain, frozenset(), test=False)
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_body(ballot, card.voter.voter_id, card.key))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "bad_form"
    assert "not this voter's options" in refusal["detail"]


def test_a_ballot_replayed_from_another_election_is_refused(
    server: LedgerServer, v2: SyntheticElection, other_election: SyntheticElection
) -> None:
    # The same card and voter id in another election: its ballot and signature are genuine
    # there, and worth nothing here.
    there = voter_card(other_election, "online", 2)
    here = voter_card(v2, "online", 2)
    assert there.voter.voter_id == here.voter.voter_id
    assert there.key.public_key == here.key.public_key
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_by(other_election.package, there))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "other_election" and "ingest-v2-other" in refusal["detail"]

    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.SPOILED, spoiled_by(other_election.package, there.voter))
    assert _refused(server, writer)["reason"] == "other_election"


def test_a_test_cards_ballot_never_goes_in_an_official_block(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    card = test_card(v2)
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_by(v2.package, card))  # encrypted to the test key
    refusal = _refused(server, writer)
    assert refusal["reason"] == "not_allowed" and "holds a test ballot" in refusal["detail"]

    official = _as(card, test=False)  # encrypted to the election key instead
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, cast_by(v2.package, official))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "voter_not_on_roll" and "test card" in refusal["detail"]


def test_a_voters_card_never_casts_a_test_ballot(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    card = voter_card(v2, "online", 3)
    writer = _kiosk(server, v2, Mode.TEST)
    _forced(writer, BlockKind.TEST_BALLOT, cast_by(v2.package, card))  # an official ballot
    refusal = _refused(server, writer)
    assert refusal["reason"] == "not_allowed" and "holds an official ballot" in refusal["detail"]

    writer = _kiosk(server, v2, Mode.TEST)
    _forced(writer, BlockKind.TEST_BALLOT, cast_by(v2.package, _as(card, test=True)))
    refusal = _refused(server, writer)
    assert refusal["reason"] == "voter_not_on_roll" and "official roll" in refusal["detail"]

    # A test card's test ballot is taken.
    writer = _kiosk(server, v2, Mode.TEST)
    writer.append(BlockKind.TEST_BALLOT, cast_by(v2.package, test_card(v2, 1)))
    assert upload(server, writer.key, writer.blocks).status_code == 200


def _as(card: Card, *, test: bool) -> Card:
    """``card`` with its voter marked as casting in the other mode: a tampered kiosk encrypts
    to the other key and has the card sign that."""
    return Card(card.key, dataclasses.replace(card.voter, test=test))


def test_a_voter_casting_twice_on_one_kiosk_is_refused_in_one_batch_and_across_two(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    card = voter_card(v2, "online", 4)
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    writer.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=1))
    _forced(writer, BlockKind.BALLOT, cast_by(v2.package, card, seed=2))
    assert _refused(server, writer)["reason"] == "repeat_nullifier"

    writer = _kiosk(server, v2, Mode.OFFICIAL)
    writer.append(BlockKind.BALLOT, cast_by(v2.package, voter_card(v2, "online", 5), seed=1))
    assert upload(server, writer.key, writer.blocks).status_code == 200
    _forced(writer, BlockKind.BALLOT, cast_by(v2.package, voter_card(v2, "online", 5), seed=2))
    answer = upload(server, writer.key, writer.blocks[-1:])
    assert answer.status_code == 422 and answer.json()["rejected"]["reason"] == "repeat_nullifier"


def test_an_online_platform_may_record_a_member_again_where_the_policy_counts_the_later(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    """in_person_wins: a member's last online ballot counts when none was cast in person, so
    the platform's chain may hold a member twice (the count lists the earlier as superseded);
    the same repeat from a source enrolled as a kiosk is still refused."""
    assert v2.package.duplicate_policy.value == "in_person_wins"
    card = voter_card(v2, "online", 0)  # voters no other test of this module uses
    platform = _kiosk(server, v2, Mode.OFFICIAL, channel="online")
    platform.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=1))
    platform.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=2))
    assert upload(server, platform.key, platform.blocks).status_code == 200
    platform.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=3))  # a later upload
    answer = upload(server, platform.key, platform.blocks[-1:])
    assert answer.status_code == 200, answer.text
    client = LedgerClient(server.url, platform.key, log_key=server.log_key)
    try:
        assert client.has_voted(card.voter.voter_id) == (True, ["online"])
    finally:
        client.close()
    kiosk = _kiosk(server, v2, Mode.OFFICIAL)
    kiosk.append(BlockKind.BALLOT, cast_by(v2.package, voter_card(v2, "online", 1), seed=1))
    _forced(kiosk, BlockKind.BALLOT, cast_by(v2.package, voter_card(v2, "online", 1), seed=2))
    assert _refused(server, kiosk)["reason"] == "repeat_nullifier"


def test_a_protocol_1_ballot_is_refused(server: LedgerServer, v2: SyntheticElection) -> None:
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, {"nullifier": b64e(bytes(32)), "sealed": b64e(bytes(60))})
    # refused as it is read: a body with no voter is no ballot block at all
    refused = _refused(server, writer, readable=False)
    assert refused["reason"] == "malformed" and "ballot.body.voter: is missing" in refused["detail"]


def test_the_kiosks_client_reads_the_refusal_and_keeps_what_was_taken(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    card = voter_card(v2, "expert")
    bad = cast_by(v2.package, card) | {"card_key": b64e(SigningKey.generate().public_key)}
    writer = _kiosk(server, v2, Mode.OFFICIAL)
    _forced(writer, BlockKind.BALLOT, bad)
    answer = _client(server, writer).upload(writer.blocks)
    assert answer.rejected is not None
    height, reason, _ = answer.rejected
    assert (height, reason) == (len(writer.blocks) - 1, "key_not_on_roll")
    assert answer.head_height == len(writer.blocks) - 2


def test_the_sync_worker_reports_a_refused_ballot_and_stays_up_without_skipping_it(
    server: LedgerServer, v2: SyntheticElection, tmp_path: Path
) -> None:
    """A refused block stays the kiosk's next one to send: the worker names the reason on the
    staff screen, keeps running (retrying with its back-off, as for every refusal) and never
    sends a block after it."""
    key = SigningKey.generate()
    enrol(server, key, "kiosk with a refused ballot")
    store = official_store(tmp_path / "kiosk.db", os.urandom(32), key, v2.package)
    good, later = voter_card(v2, "resident", 6), voter_card(v2, "resident", 7)
    stranger = SigningKey.generate()
    assert good.voter.voter_id is not None and later.voter.voter_id is not None
    store.append(BlockKind.BALLOT, cast_by(v2.package, good), voter=good.voter.voter_id)
    kept = store.state.height
    unenrolled = cast_body(
        encrypt_for(v2.package, later.voter).ballot, later.voter.voter_id, stranger
    )
    store.append(BlockKind.BALLOT, unenrolled, voter=later.voter.voter_id)
    other = voter_card(v2, "expert", 1)
    assert other.voter.voter_id is not None
    store.append(BlockKind.BALLOT, cast_by(v2.package, other), voter=other.voter.voter_id)
    statuses: list[SyncStatus] = []
    client = LedgerClient(server.url, key, log_key=server.log_key)
    worker = SyncWorker(
        store, client, server.log_key, on_status=statuses.append, idle_s=0.05, backoff_max_s=0.2
    ).start()
    try:
        deadline = time.monotonic() + 60
        while sum("key_not_on_roll" in (s.alarm or "") for s in statuses) < 3:
            assert time.monotonic() < deadline, f"no refusal reported: {statuses[-1:]}"
            time.sleep(0.05)
        assert worker.running
    finally:
        worker.stop()
        client.close()
    assert store.acknowledged_height() == kept
    assert statuses[-1].pending == 2 and f"block {kept + 1}" in (statuses[-1].alarm or "")
    direct = LedgerClient(server.url, key, log_key=server.log_key)
    assert direct.head().height == kept
    direct.close()


def test_a_voter_who_cast_on_two_kiosks_is_one_voter_id_to_the_admins(
    server: LedgerServer, v2: SyntheticElection
) -> None:
    """The duplicate report and the reconciliation work on voter ids; checked (spoiled) ballots
    are counted apart and never as ballots."""
    card = voter_card(v2, "online", 6)
    assert card.voter.voter_id is not None
    first, second = _kiosk(server, v2, Mode.OFFICIAL), _kiosk(server, v2, Mode.OFFICIAL)
    first.append(BlockKind.SPOILED, spoiled_by(v2.package, card.voter, seed=1))
    first.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=2))
    assert upload(server, first.key, first.blocks).status_code == 200
    assert _client(server, second).has_voted(card.voter.voter_id) == (True, ["kiosk"])
    second.append(BlockKind.BALLOT, cast_by(v2.package, card, seed=3))
    assert upload(server, second.key, second.blocks).status_code == 200

    dupes = requests.get(f"{server.url}/v1/admin/duplicates", headers=server.admin(), timeout=30)
    assert dupes.status_code == 200, dupes.text
    mine = [d for d in dupes.json() if d["nullifier"] == card.voter.voter_id.hex()]
    # Listed in cast order (the ballots' block times, then kiosk and height), not upload order.
    cast = sorted(
        (block.block.time, writer.kiosk_id, block.block.height)
        for writer in (first, second)
        for block in writer.blocks
        if block.block.kind is BlockKind.BALLOT
    )
    assert len(mine) == 1 and [b["kiosk"] for b in mine[0]["ballots"]] == [k for _, k, _ in cast]
    report = requests.get(
        f"{server.url}/v1/admin/reconciliation", headers=server.admin(), timeout=30
    ).json()
    row = next(k for k in report["kiosks"] if k["kiosk"] == first.kiosk_id)
    assert (row["ballots"], row["spoiled"]) == (1, 1)
