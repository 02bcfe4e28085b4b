"""The online platform as a voter's browser and staff meet it: a real `hanpyo-online serve`
process on a loopback port over a real SQLCipher store. Ballots are made in Python as the page
makes them (testkit/v2_ballots.py); the credential is a key on the voter's roll entry."""

from __future__ import annotations

import copy
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.core.chain import Session
from kiosk.core.crypto import SigningKey
from kiosk.core.election import public_part, verify_public_signature
from kiosk.core.encoding import b64d, b64e
from kiosk.core.encrypted_ballot import read_encrypted_ballot
from kiosk.core.online_credential import credential_key, new_code
from kiosk.store.chain_store import ChainStore
from online.files import store_path
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.online_platform import (
    OnlinePlatform,
    challenge,
    member_index,
    member_key,
    post,
    refused,
    session_signature,
    sign_in,
    try_sign_in,
    with_credential,
)
from testkit.v2_ballots import cast_ballot, roll_index, signed_body, spoiled

SHARED = ("--signin-failures", "50")


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, election: SyntheticElection
) -> Iterator[OnlinePlatform]:
    """One platform for the module, open in official mode; each test uses its own voters."""
    with OnlinePlatform(tmp_path_factory.mktemp("online"), election, serve_args=SHARED) as p:
        p.staff("open")
        yield p


def test_the_page_is_served_with_strict_headers_and_no_roll(
    tmp_path: Path, election: SyntheticElection
) -> None:
    web = tmp_path / "web"
    (web / "dist").mkdir(parents=True)
    with OnlinePlatform(tmp_path / "p", election, serve_args=("--web", str(web))) as p:
        missing = requests.get(f"{p.url}/", timeout=10)
        assert missing.status_code == 503
        assert "not built" in missing.text
        (web / "index.html").write_text('<!doctype html><script src="/dist/app.js"></script>')
        (web / "dist" / "app.js").write_text("export const x = 1;\n" * 200)
        page = requests.get(f"{p.url}/", timeout=10)
        assert page.status_code == 200 and "/dist/app.js" in page.text
        headers = page.headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        bundle = requests.get(
            f"{p.url}/dist/app.js", headers={"Accept-Encoding": "gzip"}, timeout=10
        )
        assert bundle.status_code == 200 and bundle.headers["Content-Encoding"] == "gzip"
        assert bundle.text.startswith("export const x")
        assert requests.get(f"{p.url}/dist/../keys/x", timeout=10).status_code == 404
        doc = requests.get(f"{p.url}/api/election", timeout=10).json()
        assert (
            doc["status"] == "not_open" and doc["revote"] is True
        )  # in_person_wins: the last online ballot counts
        # the package's public part (rolls by hash) with the authority's signature over it,
        # which the voting page checks (review F3), and the test roll it checks by its hash
        assert doc["public"] == public_part(election.package)
        assert "roll" not in doc["public"] and "package" not in doc
        verify_public_signature(
            election.package, election.authority.public_key, b64d(doc["public_signature"])
        )
        assert doc["authority"] == b64e(election.authority.public_key)
        assert doc["test_roll"] == [e.to_json() for e in election.package.test_roll]


def test_sign_in_with_a_good_key_and_refusals_for_the_wrong_ones(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    eid = election.package.id
    good = sign_in(platform.url, member_key(election, 0), eid)
    voter_id = election.package.roll[member_index(election, 0)].voter_id
    assert voter_id is not None and good["voter"] == voter_id.hex()
    assert good["entry"]["category"] == "online" and good["entry"]["excluded"]
    assert good["test"] is False and good["voted"] is False
    refused(try_sign_in(platform.url, SigningKey.generate(), eid), 401, "unknown_code")
    # An on-site voter's card key is on the roll, but not for online voting.
    resident = election.voter_keys[roll_index(election, "resident", 0)]
    refused(try_sign_in(platform.url, resident, eid), 401, "unknown_code")
    # The roll's key, but a signature by someone else, or for another election.
    fresh = challenge(platform.url)
    forged = {
        "key": b64e(member_key(election, 1).public_key),
        "challenge": b64e(fresh),
        "signature": b64e(session_signature(SigningKey.generate(), eid, fresh)),
    }
    refused(post(platform.url, "/api/session", None, forged), 401, "bad_signature")
    fresh = challenge(platform.url)
    other = forged | {
        "challenge": b64e(fresh),
        "signature": b64e(session_signature(member_key(election, 1), "other-election", fresh)),
    }
    refused(post(platform.url, "/api/session", None, other), 401, "bad_signature")
    # A challenge is used once: the same signed answer again is refused.
    fresh = challenge(platform.url)
    once = forged | {
        "challenge": b64e(fresh),
        "signature": b64e(session_signature(member_key(election, 1), eid, fresh)),
    }
    assert post(platform.url, "/api/session", None, once).status_code == 200
    refused(post(platform.url, "/api/session", None, once), 401, "bad_signature")


def test_a_cast_ballot_is_committed_and_the_member_may_vote_again(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    """in_person_wins: with no ballot in person a member's last online ballot counts, so the
    platform lets a member vote again (the page warns that the new ballot replaces the
    earlier one) and its chain holds both."""
    eid, n = election.package.id, 2
    before = platform.staff("status")["ballots"]
    session = sign_in(platform.url, member_key(election, n), eid)
    made = cast_ballot(election, member_index(election, n), random.Random(n))
    answer = post(platform.url, "/api/ballots", session["session"], made.body)
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert receipt["fingerprint"] == made.encrypted.fingerprint
    assert receipt["ballot_id"] == made.encrypted.ballot_id.hex()
    assert receipt["check_url"].endswith(f"/check?code={receipt['tracking_code']}")
    status = platform.staff("status")
    assert status["ballots"] == before + 1 and status["height"] >= receipt["height"]
    # The session ends with the ballot; signing in again says the voter has voted.
    again = post(platform.url, "/api/ballots", session["session"], made.body)
    refused(again, 401, "session_expired")
    assert requests.get(f"{platform.url}/api/election", timeout=10).json()["revote"] is True
    second = sign_in(platform.url, member_key(election, n), eid)
    assert second["voted"] is True
    remade = cast_ballot(election, member_index(election, n), random.Random(n + 100))
    answer = post(platform.url, "/api/ballots", second["session"], remade.body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["height"] > receipt["height"]
    assert platform.staff("status")["ballots"] == before + 2
    # The same ballot sent again in a new session is a replay the count would never take
    # twice; the platform records it (its chain may hold a member again) but the count's
    # rule 9 lists it: tested in tests/unit/test_selection.py.


def test_under_the_first_ballot_policy_a_member_votes_once(tmp_path: Path) -> None:
    election = build_election(
        mixed_definition() | {"duplicate_policy": "first"},
        seed="first-only",
        experts_per_group=1,
        online_per_proposal=1,
    )
    eid = election.package.id
    with OnlinePlatform(tmp_path / "p", election) as p:
        p.staff("open")
        assert requests.get(f"{p.url}/api/election", timeout=10).json()["revote"] is False
        session = sign_in(p.url, member_key(election, 0), eid)
        assert session["voted"] is False
        made = cast_ballot(election, member_index(election, 0), random.Random(0))
        assert post(p.url, "/api/ballots", session["session"], made.body).status_code == 201
        refused(try_sign_in(p.url, member_key(election, 0), eid), 409, "already_voted")
        # One live session per member: signing in again ends the earlier session, and once
        # the ballot is in no session is left to send a second one, nor can one be opened.
        early = sign_in(p.url, member_key(election, 1), eid)["session"]
        late = sign_in(p.url, member_key(election, 1), eid)["session"]
        one = cast_ballot(election, member_index(election, 1), random.Random(1))
        refused(post(p.url, "/api/ballots", early, one.body), 401, "session_expired")
        assert post(p.url, "/api/ballots", late, one.body).status_code == 201
        refused(post(p.url, "/api/ballots", late, one.body), 401, "session_expired")
        refused(try_sign_in(p.url, member_key(election, 1), eid), 409, "already_voted")
        assert p.staff("status")["ballots"] == 2


def _tampered_proof(body: dict[str, Any], voter_id: bytes, key: SigningKey) -> dict[str, Any]:
    """The ballot with one cell's proof swapped for another cell's (each a real proof, of the
    right kind), signed by the voter's own key: what a broken or hostile page would send."""
    ballot = copy.deepcopy(body["ballot"])
    cells = ballot["contests"][0]["cells"]
    cells[0]["proof"], cells[1]["proof"] = cells[1]["proof"], cells[0]["proof"]
    return signed_body(voter_id, read_encrypted_ballot(ballot), key)


def test_bad_ballots_are_refused_and_nothing_is_recorded(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    eid, n = election.package.id, 3
    index = member_index(election, n)
    session = sign_in(platform.url, member_key(election, n), eid)["session"]
    made = cast_ballot(election, index, random.Random(n))
    before = platform.staff("status")["height"]

    def reason(body: Any) -> str:
        return str(refused(post(platform.url, "/api/ballots", session, body), 422, "bad_ballot")
                   ["reason"])  # fmt: skip

    # a card signature by another key, claimed as the voter's
    voter_id = election.package.roll[index].voter_id or b""
    forged = signed_body(voter_id, made.encrypted, SigningKey.generate())
    forged = made.body | {"card_sig": forged["card_sig"]}
    assert reason(forged) == "bad_card_signature"
    # another voter's ballot and key, sent in this voter's session
    other = cast_ballot(election, member_index(election, 4), random.Random(4))
    assert reason(other.body) == "other_voter"
    # signed by another online voter's key for this voter
    stolen = signed_body(voter_id, made.encrypted, member_key(election, 4))
    assert reason(stolen) == "other_key"
    assert reason(_tampered_proof(made.body, voter_id, member_key(election, n))) == "bad_proof"
    assert reason(made.body | {"ballot": {"v": 2}}) == "bad_form"
    # the same voter's ballot for another election (same voters and keys, another id)
    elsewhere = build_election(
        mixed_definition(election_id="other-review"),
        seed="test",
        experts_per_group=1,
        online_per_proposal=1,
    )
    foreign = cast_ballot(elsewhere, index, random.Random(n))
    assert reason(foreign.body) == "other_election"
    assert platform.staff("status")["height"] == before
    # The session is still good: the voter's real ballot goes in.
    assert post(platform.url, "/api/ballots", session, made.body).status_code == 201


def test_missing_or_unknown_sessions_are_refused(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    made = cast_ballot(election, member_index(election, 5), random.Random(5))
    refused(post(platform.url, "/api/ballots", None, made.body), 401, "session_expired")
    refused(post(platform.url, "/api/ballots", "not-a-session", made.body), 401, "session_expired")
    refused(post(platform.url, "/api/spoiled", None, spoiled(made)), 401, "session_expired")


def test_checked_ballots_are_opened_recorded_and_limited_per_session(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    eid, n = election.package.id, 6
    index = member_index(election, n)
    session = sign_in(platform.url, member_key(election, n), eid)["session"]
    made = cast_ballot(election, index, random.Random(n))
    answer = post(platform.url, "/api/spoiled", session, spoiled(made))
    assert answer.status_code == 201, answer.text
    assert answer.json()["fingerprint"] == made.encrypted.fingerprint
    # A page that encrypted something else than the plaintext it shows is caught.
    other = next(
        c
        for c in (cast_ballot(election, index, random.Random(s)) for s in range(100, 130))
        if spoiled(c)["plaintext"] != spoiled(made)["plaintext"]
    )
    lying = spoiled(made) | {"plaintext": spoiled(other)["plaintext"]}
    doc = refused(post(platform.url, "/api/spoiled", session, lying), 422, "bad_ballot")
    assert doc["reason"] == "does_not_open"
    assert post(platform.url, "/api/spoiled", session, spoiled(other)).status_code == 201
    limited = post(platform.url, "/api/spoiled", session, spoiled(other))
    refused(limited, 429, "too_many_attempts")
    # Checks never use up the vote; a checked ballot is never cast, a new one is.
    refused(post(platform.url, "/api/ballots", session, made.body), 422, "checked_ballot")
    fresh = cast_ballot(election, index, random.Random(999))
    assert post(platform.url, "/api/ballots", session, fresh.body).status_code == 201


JSON = {"Content-Type": "application/json"}


def test_huge_and_malformed_bodies_get_a_clear_4xx(platform: OnlinePlatform) -> None:
    url = platform.url

    def send(path: str, body: bytes, **headers: str) -> requests.Response:
        return requests.post(f"{url}{path}", data=body, headers=JSON | headers, timeout=30)

    refused(send("/api/session", b"{" + b" " * 100_000 + b"}"), 413, "too_large")
    refused(send("/api/session", b"[" * 4000), 400, "bad_request")
    refused(send("/api/session", b"\xff\xfe not json"), 400, "bad_request")
    wrong = requests.post(f"{url}/api/session", json={"key": "AAAA"}, timeout=30)
    refused(wrong, 400, "bad_request")
    nested = b'{"voter": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    deep_ballot = send("/api/ballots", nested, Authorization="Bearer x")
    refused(deep_ballot, 401, "session_expired")  # no session: the body is never read
    refused(requests.get(f"{url}/api/nothing", timeout=10), 404, "not_found")
    # the voters' port has no staff routes (test_online_abuse: on the admin port only)
    assert requests.get(f"{url}/admin/status", timeout=10).status_code == 404


def test_a_large_body_in_a_live_session_is_refused_unread(
    platform: OnlinePlatform, election: SyntheticElection
) -> None:
    session = sign_in(platform.url, member_key(election, 7), election.package.id)["session"]
    huge = b'{"voter": "' + b"a" * 300_000 + b'"}'
    answer = requests.post(
        f"{platform.url}/api/ballots",
        data=huge,
        headers=JSON | {"Authorization": f"Bearer {session}"},
        timeout=30,
    )
    refused(answer, 413, "too_large")
    deep = b"[" * 50_000 + b"]" * 50_000  # under the limit, but nested past any parser
    answer = requests.post(
        f"{platform.url}/api/ballots",
        data=deep,
        headers=JSON | {"Authorization": f"Bearer {session}"},
        timeout=30,
    )
    refused(answer, 400, "bad_request")


def test_repeated_failed_sign_ins_are_rate_limited(
    tmp_path: Path, election: SyntheticElection
) -> None:
    limits = ("--signin-failures", "3")
    with OnlinePlatform(tmp_path / "p", election, serve_args=limits) as p:
        p.staff("open")
        for _ in range(3):
            refused(try_sign_in(p.url, SigningKey.generate(), election.package.id), 401,
                    "unknown_code")  # fmt: skip
        locked = try_sign_in(p.url, member_key(election, 0), election.package.id)
        refused(locked, 429, "too_many_attempts")
        assert int(locked.headers["Retry-After"]) > 0


def test_a_closed_platform_takes_no_ballot_and_a_restart_keeps_every_ballot(
    tmp_path: Path, election: SyntheticElection
) -> None:
    eid = election.package.id
    p = OnlinePlatform(tmp_path / "p", election)
    receipts = []
    with p:
        refused(try_sign_in(p.url, member_key(election, 0), eid), 403, "not_open")
        p.staff("open")
        for n in (0, 1):
            session = sign_in(p.url, member_key(election, n), eid)["session"]
            made = cast_ballot(election, member_index(election, n), random.Random(n))
            receipts.append(post(p.url, "/api/ballots", session, made.body).json())
        waiting = sign_in(p.url, member_key(election, 2), eid)["session"]
        closed = p.staff("close")
        assert closed["session"] == "closed" and closed["ballots"] == 2
        made = cast_ballot(election, member_index(election, 2), random.Random(2))
        refused(post(p.url, "/api/ballots", waiting, made.body), 403, "not_open")
        refused(try_sign_in(p.url, member_key(election, 2), eid), 403, "not_open")
    with p:  # the same data folder, a new process
        status = p.staff("status")
        assert status["ballots"] == 2 and status["session"] == "closed"
        p.staff("open")
        # Sessions do not outlive the process; the voters' ballots do.
        refused(post(p.url, "/api/ballots", waiting, made.body), 401, "session_expired")
        for n in (0, 1):  # the restarted platform still knows who voted
            assert sign_in(p.url, member_key(election, n), eid)["voted"] is True
        p.staff("close")
    keys = p.source_keys()
    path = store_path(p.data, election.package)
    with ChainStore.open(path, keys.store_key, keys.kiosk_key, election.package) as store:
        assert store.state.session is Session.CLOSED and store.state.ballots == 2
        codes = {b.tracking_code for b in store.blocks() if b.block.kind.value == "ballot"}
    assert codes == {r["tracking_code"] for r in receipts}


def test_test_credentials_vote_only_in_test_mode(tmp_path: Path) -> None:
    # seven test cards: the sixth (index 5) is an online member's profile
    election = build_election(
        mixed_definition(), seed="test", experts_per_group=1, online_per_proposal=1, test_cards=7
    )
    test_key = election.test_card_keys[5]
    assert election.package.test_roll[5].category == "online"
    eid = election.package.id
    with OnlinePlatform(tmp_path / "p", election) as p:
        p.staff("open")
        refused(try_sign_in(p.url, test_key, eid), 403, "not_open")
        p.staff("close")
        p.staff("open", "--mode", "test")
        refused(try_sign_in(p.url, member_key(election, 0), eid), 403, "not_open")
        session = sign_in(p.url, test_key, eid)
        assert session["test"] is True
        made = cast_ballot(election, 5, random.Random(5), test=True)
        assert post(p.url, "/api/ballots", session["session"], made.body).status_code == 201
        status = p.staff("close")
        assert status["test_ballots"] == 1 and status["ballots"] == 0


def test_after_the_close_of_the_schedule_the_election_is_closed(tmp_path: Path) -> None:
    definition = mixed_definition()
    definition["schedule"] = {"opens": "2017-11-25T09:00:00+09:00",
                              "closes": "2017-11-25T18:00:00+09:00"}  # fmt: skip
    election = build_election(definition, seed="test", experts_per_group=1, online_per_proposal=1)
    with OnlinePlatform(tmp_path / "p", election) as p:
        p.staff("open")
        assert requests.get(f"{p.url}/api/election", timeout=10).json()["status"] == "closed"
        refused(try_sign_in(p.url, member_key(election, 0), election.package.id), 410,
                "election_closed")  # fmt: skip


def test_a_letter_code_signs_in_and_casts(tmp_path: Path, election: SyntheticElection) -> None:
    """The credential as the letter gives it: the key derived from the code (as typed, in
    lower case with spaces) is on the member's roll entry beside their card's."""
    code = new_code()
    index = member_index(election, 8)
    enrolled = with_credential(election, index, code)
    credential = credential_key(code.lower().replace("-", " "), enrolled.package.id)
    with OnlinePlatform(tmp_path / "p", enrolled) as p:
        p.staff("open")
        refused(try_sign_in(p.url, credential_key(new_code(), enrolled.package.id),
                            enrolled.package.id), 401, "unknown_code")  # fmt: skip
        session = sign_in(p.url, credential, enrolled.package.id)
        voter_id = enrolled.package.roll[index].voter_id
        assert voter_id is not None and session["voter"] == voter_id.hex()
        made = cast_ballot(enrolled, index, random.Random(8))
        body = signed_body(voter_id, made.encrypted, credential)
        answer = post(p.url, "/api/ballots", session["session"], body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["fingerprint"] == made.encrypted.fingerprint


def test_an_expired_session_casts_nothing(tmp_path: Path, election: SyntheticElection) -> None:
    with OnlinePlatform(tmp_path / "p", election, serve_args=("--session-minutes", "0.01")) as p:
        p.staff("open")
        session = sign_in(p.url, member_key(election, 9), election.package.id)
        made = cast_ballot(election, member_index(election, 9), random.Random(9))
        time.sleep(1.0)  # past the 0.6 s the session lives
        refused(post(p.url, "/api/ballots", session["session"], made.body), 401, "session_expired")
        assert p.staff("status")["ballots"] == 0


def test_a_killed_platform_keeps_every_ballot_it_answered(
    tmp_path: Path, election: SyntheticElection
) -> None:
    eid = election.package.id
    p = OnlinePlatform(tmp_path / "p", election)
    with p:
        p.staff("open")
        session = sign_in(p.url, member_key(election, 10), eid)["session"]
        made = cast_ballot(election, member_index(election, 10), random.Random(10))
        receipt = post(p.url, "/api/ballots", session, made.body).json()
        assert p.process is not None
        os.killpg(p.process.pid, signal.SIGKILL)  # no shutdown: the power goes
        p.process.wait()
    with p:
        status = p.staff("status")
        assert status["ballots"] == 1 and status["height"] == receipt["height"]
        assert status["session"] == "open"  # the chain says so; staff close it as usual
        assert sign_in(p.url, member_key(election, 10), eid)["voted"] is True


def test_before_the_opening_only_a_test_session_takes_ballots(tmp_path: Path) -> None:
    definition = mixed_definition()
    definition["schedule"] = {"opens": "2099-01-01T09:00:00+09:00",
                              "closes": "2099-01-01T18:00:00+09:00"}  # fmt: skip
    election = build_election(
        definition, seed="test", experts_per_group=1, online_per_proposal=1, test_cards=7
    )
    eid = election.package.id
    with OnlinePlatform(tmp_path / "p", election) as p:
        p.staff("open")  # official mode, but the schedule has not begun
        assert requests.get(f"{p.url}/api/election", timeout=10).json()["status"] == "not_open"
        refused(try_sign_in(p.url, member_key(election, 0), eid), 403, "not_open")
        p.staff("close")
        p.staff("open", "--mode", "test")  # staff try the platform before the opening
        assert requests.get(f"{p.url}/api/election", timeout=10).json()["status"] == "open"
        session = sign_in(p.url, election.test_card_keys[5], eid)["session"]
        made = cast_ballot(election, 5, random.Random(5), test=True)
        assert post(p.url, "/api/ballots", session, made.body).status_code == 201
