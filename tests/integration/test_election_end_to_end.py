"""An election like the reference event, from creation to the verified bundle, through the
real commands and a real ledger on a loopback port.

Many groups of proposals; resident representatives and expert judges scoring in two halls;
a third hall kiosk that never reaches the network and syncs only by USB; online members
liking proposals through an online platform (the second channel); the quota rule. Test
ballots before official mode; voters who voted online and then in a hall, and one who voted
in two halls. Then the close, the reconciliation, a 3-of-5 trustee tally, the exports and
the bundle's verification. The results must equal a direct count of the plaintext ballots.
"""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from kiosk.core.ballot import Ballot
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionPackage, Voter, read_package
from kiosk.core.encoding import b64e
from kiosk.core.export import export_bytes
from kiosk.core.tally import count_plaintexts
from testkit.chain_writer import ChainWriter
from testkit.elections import SyntheticElection, build_election, random_ballot, review_definition
from testkit.ledger_requests import LATE_REASON, upload
from testkit.ledger_server import LedgerServer, ledger_cli
from testkit.nist_schemas import validate

START = datetime(2017, 11, 25, 0, 0, tzinfo=UTC)  # 09:00 in Seoul


def run(*args: str, data: Path | None = None, ok: bool = True) -> str:
    done = ledger_cli(*args, data=data)
    if ok:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0, done.stdout
    return done.stdout + done.stderr


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    tmp: Path
    election: SyntheticElection
    package: ElectionPackage


@pytest.fixture(scope="module")
def event(tmp_path_factory: pytest.TempPathFactory) -> Event:
    """The election as the admin creates it: a real ballot key split 3-of-5 by the CLI."""
    tmp = tmp_path_factory.mktemp("event")
    definition = review_definition(8, 6, election_id="review-end-to-end")
    definition["tally"]["channels"] = {
        "kiosk": {"weight": 0.5, "winners": 12},
        "online": {"weight": 0.5, "winners": 8},
    }
    synthetic = build_election(
        definition, seed="end-to-end", experts_per_group=2, online_per_proposal=3
    )
    roll = tmp / "roll.json"
    document = synthetic.package.to_json()
    roll.write_text(json.dumps({"roll": document["roll"], "staff": document["staff"]}))
    (tmp / "definition.json").write_text(json.dumps(definition, ensure_ascii=False))
    run(
        "election",
        "create",
        "--definition",
        str(tmp / "definition.json"),
        "--roll",
        str(roll),
        "--trustees",
        "5",
        "--threshold",
        "3",
        "--shares",
        str(tmp / "shares"),
        "--out",
        str(tmp / "unsigned.json"),
    )
    package = read_package(json.loads((tmp / "unsigned.json").read_text()))
    # The ledger server fixture signs the package with the authority key it is given.
    election = dataclasses.replace(synthetic, package=package)
    return Event(tmp, election, package)


def people(package: ElectionPackage, category: str) -> list[Voter]:
    found = [package.voter_for_card(e.card_key) for e in package.roll]
    return [v for v in found if v is not None and v.category == category]


def test_an_election_from_the_halls_to_the_verified_results(event: Event, tmp_path: Path) -> None:
    package, election = event.package, event.election
    rng = random.Random(2017)
    with LedgerServer(tmp_path / "ledger", election) as server:
        data = server.data
        writers: dict[str, ChainWriter] = {}
        keys: dict[str, SigningKey] = {}
        for n, (name, channel) in enumerate(
            [("Hall A", "kiosk"), ("Hall B", "kiosk"), ("Hall C", "kiosk"), ("Online", "online")]
        ):
            keys[name] = SigningKey.generate()
            answer = requests.post(
                f"{server.url}/v1/admin/kiosks",
                headers=server.admin(),
                json={
                    "public_key": b64e(keys[name].public_key),
                    "name": name,
                    "channel": channel,
                    "late_reason": LATE_REASON,
                },
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            writers[name] = ChainWriter(
                package, keys[name], START + timedelta(minutes=n), timedelta(minutes=2)
            )
            writers[name].mode(Mode.TEST)
            writers[name].open_session()

        residents, experts, online = (people(package, c) for c in ("resident", "expert", "online"))
        counted: list[Ballot] = []

        def vote(where: str, voter: Voter, counts: bool = True) -> None:
            ballot = random_ballot(package, voter, rng)
            writers[where].cast(voter, ballot)
            if counts:
                counted.append(ballot)

        # The logic-and-accuracy test in Hall A and Hall C, then official mode everywhere.
        for v in residents[:4]:
            vote("Hall A", v, counts=False)
            vote("Hall C", v, counts=False)
        for w in writers.values():
            w.close_session()
            w.mode(Mode.OFFICIAL)
            w.open_session()
        # Morning: three residents vote online first (in person wins later).
        for v in residents[:3]:
            vote("Online", v, counts=False)
        halls = ["Hall A", "Hall B", "Hall C"]
        for i, v in enumerate(residents + experts):
            vote(halls[i % 3], v)
        vote("Hall B", residents[0], counts=False)  # also voted in Hall A: the first counts
        for v in online[3:]:
            vote("Online", v)
        for v in online[:3]:  # and three online members who voted only online
            vote("Online", v)
        for w in writers.values():
            w.close_session()

        # Hall A and the online platform sync over the network; Hall B too, after Hall A.
        for name in ("Hall A", "Hall B", "Online"):
            answer = upload(server, keys[name], list(writers[name].blocks))
            assert answer.status_code == 200, answer.text

        # Hall C never reached the network: the close names it until its USB export arrives.
        refused = run("election", "close", data=data, ok=False)
        assert "Hall C" in refused and "no blocks have arrived" in refused
        usb = tmp_path / "hall-c.jsonl"
        usb.write_bytes(export_bytes(writers["Hall C"].blocks, keys["Hall C"]))
        run("import", str(usb), data=data)
        closed = run("election", "close", data=data)
        assert "the log is frozen" in closed

        # The trustees meet: two shares are not enough, three are.
        shares = sorted((event.tmp / "shares").glob("trustee-*.txt"))
        published = data / "published"
        too_few = run(
            "tally", "--share", str(shares[0]), "--share", str(shares[1]),
            "--out", str(published), "--quiet", data=data, ok=False,
        )  # fmt: skip
        assert "do not combine" in too_few
        assert not published.exists()
        run(
            "tally", "--share", str(shares[4]), "--share", str(shares[0]),
            "--share", str(shares[2]), "--out", str(published), "--quiet", data=data,
        )  # fmt: skip

        results = json.loads((published / "results.json").read_text())
        expected = count_plaintexts(package, [b.plaintext() for b in counted])
        assert results["ballots"]["counted"] == len(counted)
        assert results["contests"] == expected["contests"]
        assert results["ranking"] == expected["ranking"]
        assert results["ranking"]["winners"] == 20
        by_name = {s["name"]: s["ballots_counted"] for s in results["sources"]}
        assert by_name["Online"] == len(online)
        assert sum(by_name.values()) == len(counted)

        reconciliation = json.loads((published / "reconciliation.json").read_text())
        assert reconciliation["adds_up"] is True
        assert reconciliation["totals"]["voters_with_duplicates"] == 3
        tests = {k["name"]: k["test_ballots"] for k in reconciliation["kiosks"]}
        assert tests == {"Hall A": 4, "Hall B": 0, "Hall C": 4, "Online": 0}
        # Every source was enrolled after the 2017 opening: the published record says why.
        late_sources = {k["name"]: k["reason"] for k in reconciliation["late_enrolments"]}
        assert late_sources == dict.fromkeys(("Hall A", "Hall B", "Hall C", "Online"), LATE_REASON)

        # The standard exports validate against NIST's published schemas.
        for name, schema in (
            ("nist-1500-100-results.json", "NIST_V2_election_results_reporting.json"),
            ("nist-1500-103-cvr.json", "NIST_V0_cast_vote_records.json"),
            ("nist-1500-101-events.json", "NIST_V1_election_event_logging.json"),
        ):
            validate(json.loads((published / name).read_text()), schema)
        cvr = json.loads((published / "nist-1500-103-cvr.json").read_text())
        assert len(cvr["CVR"]) == len(counted)
        devices = json.loads((published / "nist-1500-101-events.json").read_text())["Device"]
        assert len(devices) == 4
        assert "results.csv" in {p.name for p in published.iterdir()}

        # Anyone can re-check it all from the bundle, on another machine, with no database.
        verified = run(
            "verify-bundle", str(published / "bundle.zip"),
            f"--authority={b64e(election.authority.public_key)}",
            f"--log-key={server.log_key}",
        )  # fmt: skip
        assert "every check passed" in verified
        assert verified.count("FAILED") == 0
        # An auditor sitting with three trustees also checks every opening.
        audited = run(
            "verify-bundle", str(published / "bundle.zip"),
            "--share", str(shares[1]), "--share", str(shares[2]), "--share", str(shares[3]),
        )  # fmt: skip
        assert f"{len(counted)} sealed ballots opened, each published once" in audited

        # The log is frozen: a late block is refused with a clear reason.
        late = upload(server, keys["Hall A"], [writers["Hall A"].blocks[-1]])
        assert late.status_code == 200  # the ledger already has it: nothing new
        writers["Hall A"].open_session()
        late = upload(server, keys["Hall A"], [writers["Hall A"].blocks[-1]])
        assert late.status_code == 409 and late.json()["reason"] == "election_closed"
        assert kiosk_id_for(keys["Hall A"].public_key) in late.json()["kiosk"]
