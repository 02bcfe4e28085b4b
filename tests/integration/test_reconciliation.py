"""Duplicates across kiosks and channels, the policy that picks one, and counts that add up."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from kiosk.core.block import SignedBlock
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.store.ballot_box import BallotBox
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    SyntheticElection,
    build_election,
    card_of,
    mixed_definition,
    random_ballot,
    voter_of,
)
from testkit.ledger_requests import upload
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store
from testkit.v2_ballots import box_cast


def chain(
    tmp: Path,
    election: SyntheticElection,
    key: SigningKey,
    voters: list[tuple[str, int]],
    close: bool,
) -> list[SignedBlock]:
    tmp.mkdir(parents=True, exist_ok=True)
    with official_store(tmp / "k.db", os.urandom(32), key, election.package) as store:
        box = BallotBox(store, election.package)
        for category, n in voters:
            voter = voter_of(election, category, n)
            ballot = random_ballot(election.package, voter, random.Random(n))
            box_cast(box, election, voter, ballot)
        if close:
            box.close_session()
        return list(store.blocks())


def timed_chain(
    election: SyntheticElection, key: SigningKey, voters: list[tuple[str, int]], start: datetime
) -> list[SignedBlock]:
    """An official session whose ballots are cast a minute apart from ``start``."""
    writer = ChainWriter(election.package, key, start, timedelta(minutes=1))
    writer.mode(Mode.OFFICIAL)
    writer.open_session()
    for category, n in voters:
        voter = voter_of(election, category, n)
        ballot = random_ballot(election.package, voter, random.Random(n))
        writer.cast(voter, ballot, card_of(election, voter))
    writer.close_session()
    return writer.blocks


def test_duplicates_follow_the_policy_and_the_numbers_add_up(
    tmp_path: Path, election: SyntheticElection
) -> None:
    assert election.package.duplicate_policy.value == "in_person_wins"
    with LedgerServer(tmp_path / "ledger", election) as server:
        sources = {}
        for name, channel in (("hall A", "kiosk"), ("hall B", "kiosk"), ("online", "online")):
            key = SigningKey.generate()
            answer = requests.post(
                f"{server.url}/v1/admin/kiosks",
                headers=server.admin(),
                timeout=10,
                json={
                    "public_key": b64e(key.public_key),
                    "name": name,
                    "channel": channel,
                    # the test election opened in 2017
                    "late_reason": "replaying the 2017 review",
                },
            )
            sources[name] = (key, answer.json()["kiosk"])
        # resident 0 votes online first (09:31), then in hall A (09:41): the hall ballot
        # counts. resident 1 votes in hall A (09:42) and again in hall B (09:51): the first
        # in-person ballot counts, although hall B's chain reaches the ledger first.
        plans = {
            "online": ([("resident", 0), ("online", 0)], 30),
            "hall A": ([("resident", 0), ("resident", 1), ("expert", 0)], 40),
            "hall B": ([("resident", 1), ("resident", 2)], 50),
        }
        for name in ("online", "hall B", "hall A"):
            key, _ = sources[name]
            voters, minute = plans[name]
            start = datetime(2017, 11, 25, 0, minute, tzinfo=UTC)  # 09:30 KST and on
            blocks = timed_chain(election, key, voters, start)
            if name == "hall B":
                blocks = blocks[:-1]  # its session is still open
            assert upload(server, key, blocks).status_code == 200

        dupes = requests.get(
            f"{server.url}/v1/admin/duplicates", headers=server.admin(), timeout=10
        ).json()
        assert len(dupes) == 2
        by_voter = {d["nullifier"]: d["ballots"] for d in dupes}
        online_first = by_voter[voter_of(election, "resident", 0).voter_id.hex()]
        assert [(b["channel"], b["counts"]) for b in online_first] == [
            ("online", False),
            ("kiosk", True),
        ]
        twice_in_person = by_voter[voter_of(election, "resident", 1).voter_id.hex()]
        assert [(b["kiosk"], b["counts"]) for b in twice_in_person] == [
            (sources["hall A"][1], True),
            (sources["hall B"][1], False),
        ]

        report = requests.get(
            f"{server.url}/v1/admin/reconciliation", headers=server.admin(), timeout=10
        ).json()
        assert report["totals"] == {"ballots": 7, "ballots_counted": 5, "voters_with_duplicates": 2}
        assert report["channels"]["online"]["duplicates_not_counted"] == 1
        assert report["channels"]["kiosk"]["ballots_counted"] == 4
        assert report["checks"]["duplicates_add_up"]
        assert not report["checks"]["all_sessions_closed"]  # hall B is still open
        assert not report["adds_up"]
        hall_b = next(k for k in report["kiosks"] if k["name"] == "hall B")
        assert hall_b["sessions_opened"] == 1 and hall_b["sessions_closed"] == 0


def enrol_request(server: LedgerServer, name: str, late_reason: str | None) -> requests.Response:
    body = {"public_key": b64e(SigningKey.generate().public_key), "name": name}
    if late_reason is not None:
        body["late_reason"] = late_reason
    return requests.post(
        f"{server.url}/v1/admin/kiosks", headers=server.admin(), json=body, timeout=10
    )


def reconciled(server: LedgerServer) -> dict[str, object]:
    answer = requests.get(
        f"{server.url}/v1/admin/reconciliation", headers=server.admin(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, object] = answer.json()
    return report


def test_enrolment_is_frozen_at_the_opening_unless_a_reason_is_recorded(
    tmp_path: Path, election: SyntheticElection
) -> None:
    assert datetime.fromisoformat(election.package.opens) < datetime.now(UTC)
    with LedgerServer(tmp_path / "ledger", election) as server:
        for reason in (None, "", "   "):
            refused = enrol_request(server, "hall C spare", reason)
            assert refused.status_code == 409, refused.text
            assert refused.json()["reason"] == "enrolment_frozen"
            assert election.package.opens in refused.json()["detail"]
        why = "hall C kiosk 2 replaced after its screen broke at 10:40"
        accepted = enrol_request(server, "hall C spare", why)
        assert accepted.status_code == 200, accepted.text
        kiosk = accepted.json()["kiosk"]

        key = b64e(SigningKey.generate().public_key)
        cli = server.cli("kiosks", "enrol", "--public-key", key, "--name", "online platform")
        assert cli.returncode == 2 and "enrolment closed" in cli.stderr
        late = "the online platform's key was rotated"
        cli = server.cli(
            "kiosks", "enrol", "--public-key", key, "--name", "online", "--late-reason", late
        )
        assert cli.returncode == 0, cli.stderr

        report = reconciled(server)
        assert report["late_enrolments"] == [
            {"kiosk": kiosk, "name": "hall C spare", "reason": why},
            {"kiosk": cli.stdout.split()[-1], "name": "online", "reason": late},
        ]
        assert isinstance(report["kiosks"], list)
        assert {k["name"]: k["late_enrolment"] for k in report["kiosks"]} == {
            "hall C spare": why,
            "online": late,
        }


def test_before_the_opening_enrolment_needs_no_reason(tmp_path: Path) -> None:
    opens = datetime.now(UTC) + timedelta(days=30)
    definition = mixed_definition() | {
        "schedule": {
            "opens": opens.isoformat(timespec="seconds"),
            "closes": (opens + timedelta(hours=9)).isoformat(timespec="seconds"),
        }
    }
    upcoming = build_election(definition, seed="upcoming", experts_per_group=1)
    with LedgerServer(tmp_path / "ledger", upcoming) as server:
        answer = enrol_request(server, "hall A 1", None)
        assert answer.status_code == 200, answer.text
        report = reconciled(server)
        assert report["late_enrolments"] == []
        assert isinstance(report["kiosks"], list)
        assert [k["late_enrolment"] for k in report["kiosks"]] == [None]
