"""The online platform as one more source: its chain reaches a real ledger process with the
kiosk's sync code, the ledger's has-voted answer applies the duplicate policy across channels,
and ballots accepted while the ledger is down reach it once it is back."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import requests

from kiosk.core.crypto import SigningKey
from kiosk.store.ballot_box import BallotBox
from kiosk.sync.client import LedgerClient
from kiosk.sync.worker import SyncWorker
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.ledger_requests import enrol
from testkit.ledger_server import LedgerServer
from testkit.online_platform import OnlinePlatform, post, sign_in, try_sign_in
from testkit.stores import official_store
from testkit.v2_ballots import box_cast, cast_ballot, roll_index

WAIT_S = 60  # how long a block may take to reach the ledger on a busy machine


def wait_in_ledger(ledger: LedgerServer, tracking_code: str) -> dict[str, object]:
    """The ledger's inclusion answer for ``tracking_code`` once the ledger holds the block."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        answer = requests.get(
            f"{ledger.url}/v1/proofs/inclusion",
            params={"tracking_code": tracking_code},
            timeout=10,
        )
        if answer.status_code == 200:
            return dict(answer.json())
        time.sleep(0.2)
    raise AssertionError(f"the ledger never received the block {tracking_code}")


def has_voted(ledger: LedgerServer, platform: OnlinePlatform, voter_id: bytes) -> list[str]:
    """The ledger's signed has-voted answer, asked as the platform asks it."""
    client = LedgerClient(ledger.url, platform.source_keys().kiosk_key, log_key=ledger.log_key)
    try:
        voted, channels = client.has_voted(voter_id)
    finally:
        client.close()
    assert voted is bool(channels)
    return channels


def cast_online(
    platform: OnlinePlatform, election: SyntheticElection, n: int, seed: int | None = None
) -> dict[str, str]:
    index = roll_index(election, "online", n)
    session = sign_in(platform.url, election.voter_keys[index], election.package.id)
    made = cast_ballot(election, index, random.Random(n if seed is None else seed))
    answer = post(platform.url, "/api/ballots", session["session"], made.body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def voter_id_of(election: SyntheticElection, n: int) -> bytes:
    voter_id = election.package.roll[roll_index(election, "online", n)].voter_id
    assert voter_id is not None
    return voter_id


def test_a_ballot_cast_online_is_synced_to_the_ledger(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as ledger:
        platform = OnlinePlatform(tmp_path / "online", election, ledger=ledger)
        listed = ledger.cli("kiosks", "list").stdout
        assert platform.source_keys().kiosk_id in listed and "online" in listed
        with platform:
            platform.staff("open")
            receipt = cast_online(platform, election, 0)
            held = wait_in_ledger(ledger, receipt["tracking_code"])
            assert held["leaf_index"] == receipt["height"]  # the platform's only chain
            assert has_voted(ledger, platform, voter_id_of(election, 0)) == ["online"]
            assert has_voted(ledger, platform, voter_id_of(election, 1)) == []
            deadline = time.monotonic() + WAIT_S
            while platform.staff("status")["synced_height"] < receipt["height"]:
                assert time.monotonic() < deadline, platform.serve_log()
                time.sleep(0.2)
            # The fleet dashboard shows the platform as an online source, reporting, unalarmed.
            source = platform.source_keys().kiosk_id
            deadline = time.monotonic() + WAIT_S
            while True:
                fleet = requests.get(f"{ledger.url}/v1/admin/fleet", headers=ledger.admin(),
                                     timeout=10).json()  # fmt: skip
                shown = next(k for k in fleet if k["kiosk"] == source)
                if shown["report"] is not None:
                    break
                assert time.monotonic() < deadline, "the platform never reported"
                time.sleep(0.2)
            assert shown["channel"] == "online" and shown["alarms"] == []
            assert shown["report"]["mode"] == "official" and shown["report"]["session"] == "open"


def test_ballots_accepted_while_the_ledger_is_down_reach_it_later(
    tmp_path: Path, election: SyntheticElection
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election)  # made and enrolled, not started
    with OnlinePlatform(tmp_path / "online", election, ledger=ledger) as platform:
        platform.staff("open")
        receipts = [cast_online(platform, election, n) for n in (2, 3)]
        status = platform.staff("status")
        assert status["ballots"] == 2 and status["synced_height"] == -1
        with ledger:
            platform.staff("sync")  # staff bring the ledger back and push at once
            for receipt in receipts:
                wait_in_ledger(ledger, receipt["tracking_code"])
            assert has_voted(ledger, platform, voter_id_of(election, 2)) == ["online"]


def _voted_at_a_kiosk(ledger: LedgerServer, election: SyntheticElection, n: int, tmp: Path) -> None:
    """Online member ``n`` votes in person first: a kiosk's chain with their ballot, synced."""
    key = SigningKey.generate()
    enrol(ledger, key, "hall A")
    store = official_store(tmp / "kiosk.db", os.urandom(32), key, election.package)
    card = election.voter_keys[roll_index(election, "online", n)]
    voter = election.package.voter_for_card(card.public_key)
    assert voter is not None
    made = cast_ballot(election, roll_index(election, "online", n), random.Random(n))
    box_cast(BallotBox(store, election.package), election, voter, made.plaintext)
    client = LedgerClient(ledger.url, key, log_key=ledger.log_key)
    try:
        SyncWorker(store, client, ledger.log_key).sync_once()
    finally:
        client.close()
        store.close()


@pytest.mark.parametrize(
    ("policy", "allowed"), [("first", False), ("last", True), ("in_person_wins", False)]
)
def test_a_voter_who_voted_in_person_votes_online_as_the_policy_says(
    tmp_path: Path, policy: str, allowed: bool
) -> None:
    definition = mixed_definition() | {"duplicate_policy": policy}
    election = build_election(definition, seed="test", experts_per_group=1, online_per_proposal=1)
    with LedgerServer(tmp_path / "ledger", election) as ledger:
        platform = OnlinePlatform(tmp_path / "online", election, ledger=ledger)
        _voted_at_a_kiosk(ledger, election, 0, tmp_path)
        assert has_voted(ledger, platform, voter_id_of(election, 0)) == ["kiosk"]
        with platform:
            platform.staff("open")
            key = election.voter_keys[roll_index(election, "online", 0)]
            answer = try_sign_in(platform.url, key, election.package.id)
            if not allowed:
                assert answer.status_code == 409, answer.text
                assert answer.json()["error"] == "already_voted"
                return
            assert answer.status_code == 200 and answer.json()["voted"] is True
            receipt = cast_online(platform, election, 0)
            wait_in_ledger(ledger, receipt["tracking_code"])
            channels = has_voted(ledger, platform, voter_id_of(election, 0))
            assert sorted(channels) == ["kiosk", "online"]
            # "last": the member may vote online again; the ledger takes the platform's
            # second ballot of the voter (its chain may repeat a voter under this policy).
            again = try_sign_in(platform.url, key, election.package.id)
            assert again.status_code == 200 and again.json()["voted"] is True
            second = cast_online(platform, election, 0, seed=100)
            wait_in_ledger(ledger, second["tracking_code"])
            channels = has_voted(ledger, platform, voter_id_of(election, 0))
            assert sorted(channels) == ["kiosk", "online"]  # each channel once


def test_the_platform_stops_taking_ballots_once_the_ledger_refuses_its_chain(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """The ledger's admin closes the election early, waiving the platform whose session is
    still open (security review F5a): the ledger refuses every later block, so the platform,
    told so by its next sync pass, refuses ballots (503, nothing recorded) instead of telling
    members "recorded" for ballots that would never count; staff see why in the status."""
    with LedgerServer(tmp_path / "ledger", election) as ledger:
        platform = OnlinePlatform(tmp_path / "online", election, ledger=ledger)
        with platform:
            platform.staff("open")
            first = cast_online(platform, election, 0)
            wait_in_ledger(ledger, first["tracking_code"])
            source = platform.source_keys().kiosk_id
            closed = ledger.cli("election", "close", "--waive", source, "platform left open")
            assert closed.returncode == 0, closed.stderr
            early = cast_online(platform, election, 1)  # before its next pass: still taken
            platform.staff("sync")
            deadline = time.monotonic() + WAIT_S
            while platform.staff("status")["sync_refused"] is None:
                assert time.monotonic() < deadline, platform.serve_log()
                time.sleep(0.2)
            status = platform.staff("status")
            assert status["sync_refused"] == "election_closed", status
            index = roll_index(election, "online", 2)
            answer = try_sign_in(platform.url, election.voter_keys[index], election.package.id)
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "unavailable"
            assert answer.json()["message"]["ko"] and answer.json()["message"]["en"]
            assert platform.staff("status")["height"] == status["height"]  # nothing recorded
            assert early["height"] <= status["height"]
