"""Duplicates across kiosks and channels, the policy that picks one, and counts that add up."""

from __future__ import annotations

import os
import random
from pathlib import Path

import requests

from kiosk.core.block import SignedBlock
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from kiosk.store.ballot_box import BallotBox
from testkit.elections import SyntheticElection, random_ballot, voter_of
from testkit.ledger_requests import upload
from testkit.ledger_server import LedgerServer
from testkit.stores import official_store


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
            box.cast_ballot(voter, random_ballot(election.package, voter, random.Random(n)))
        if close:
            box.close_session()
        return list(store.blocks())


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
                json={"public_key": b64e(key.public_key), "name": name, "channel": channel},
            )
            sources[name] = (key, answer.json()["kiosk"])
        # resident 0 votes online first, then in the hall: the hall ballot counts.
        # resident 1 votes in hall A and again in hall B: the first in-person ballot counts.
        plans = {
            "online": [("resident", 0), ("online", 0)],
            "hall A": [("resident", 0), ("resident", 1), ("expert", 0)],
            "hall B": [("resident", 1), ("resident", 2)],
        }
        for name in ("online", "hall A", "hall B"):
            key, _ = sources[name]
            blocks = chain(tmp_path / name, election, key, plans[name], close=name != "hall B")
            assert upload(server, key, blocks).status_code == 200

        dupes = requests.get(
            f"{server.url}/v1/admin/duplicates", headers=server.admin(), timeout=10
        ).json()
        assert len(dupes) == 2
        by_voter = {d["nullifier"]: d["ballots"] for d in dupes}
        online_first = by_voter[voter_of(election, "resident", 0).nullifier.hex()]
        assert [(b["channel"], b["counts"]) for b in online_first] == [
            ("online", False),
            ("kiosk", True),
        ]
        twice_in_person = by_voter[voter_of(election, "resident", 1).nullifier.hex()]
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
