"""What a stranger can do to the online platform without a voting code, as a real `hanpyo-online
serve` process on a loopback port meets it: another web site making visitors' browsers post
to it, a flood of challenges, made-up and replayed sign-ins, and many addresses of one IPv6
network. None of it may keep members from signing in or lock their address out."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import requests

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from online.files import admin_token
from testkit.elections import SyntheticElection
from testkit.online_platform import (
    OnlinePlatform,
    challenge,
    member_key,
    post,
    refused,
    session_signature,
    sign_in,
)


def signed_answer(key: SigningKey, election_id: str, fresh: bytes) -> dict[str, str]:
    """The sign-in body the page sends for the challenge ``fresh``."""
    return {
        "key": b64e(key.public_key),
        "challenge": b64e(fresh),
        "signature": b64e(session_signature(key, election_id, fresh)),
    }


def send(url: str, path: str, body: Any, content_type: str | None, **headers: str) -> Any:
    """A POST whose Content-Type is exactly ``content_type`` (none at all for None), as a
    form or a script on another site can send it."""
    if content_type is not None:
        headers["Content-Type"] = content_type
    return requests.post(f"{url}{path}", data=json.dumps(body), headers=headers, timeout=30)


CROSS_SITE_TYPES = (None, "text/plain", "text/plain;charset=UTF-8",
                    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                    "application/json-seq", "application/json; charset=latin-1")  # fmt: skip


def test_posts_not_sent_as_json_are_refused_and_change_nothing(
    tmp_path: Path, election: SyntheticElection
) -> None:
    eid = election.package.id
    # one failed sign-in would lock the address: none of the refused posts may count as one
    with OnlinePlatform(tmp_path / "p", election, serve_args=("--signin-failures", "1")) as p:
        staff = {"Authorization": f"Bearer {admin_token(p.keys_dir)}"}
        doc = refused(send(p.url, "/admin/open", {"mode": "official"}, "text/plain", **staff),
                      415, "not_json")  # fmt: skip
        assert "JSON" in doc["message"]["en"]
        assert p.staff("status")["session"] == "closed"
        p.staff("open")
        for kind in CROSS_SITE_TYPES:
            refused(send(p.url, "/api/session/challenge", {}, kind), 415, "not_json")
        for kind in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
            assert send(p.url, "/api/session/challenge", {}, kind).status_code == 200
        # A stranger's key (each would be a failure) and then a member's real answer, both
        # as a cross-site form would send them: refused unread, the challenge not used up.
        fresh = challenge(p.url)
        stranger = signed_answer(SigningKey.generate(), eid, fresh)
        member = signed_answer(member_key(election, 0), eid, fresh)
        for body in (stranger, stranger, member):
            refused(send(p.url, "/api/session", body, "text/plain"), 415, "not_json")
        session = post(p.url, "/api/session", None, member)
        assert session.status_code == 200, session.text
        token = session.json()["session"]
        sent = send(p.url, "/api/ballots", {}, "text/plain", Authorization=f"Bearer {token}")
        refused(sent, 415, "not_json")
        assert p.staff("status")["ballots"] == 0


def test_made_up_forged_and_replayed_challenges_never_lock_an_address(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """Only a signature that does not verify, or a key not on the roll, is a failed sign-in:
    anyone can make up a challenge, so counting those would let anyone lock an address."""
    eid = election.package.id
    with OnlinePlatform(tmp_path / "p", election, serve_args=("--signin-failures", "2")) as p:
        p.staff("open")
        member = member_key(election, 0)
        for _ in range(10):  # made up: never issued here
            made_up = signed_answer(member, eid, secrets.token_bytes(32))
            refused(post(p.url, "/api/session", None, made_up), 401, "bad_signature")
        real = challenge(p.url)
        for at in (0, 9, 31):  # issued here, then altered: its MAC no longer fits
            forged = bytearray(real)
            forged[at] ^= 1
            answer = signed_answer(member, eid, bytes(forged))
            refused(post(p.url, "/api/session", None, answer), 401, "bad_signature")
        once = signed_answer(member, eid, real)
        assert post(p.url, "/api/session", None, once).status_code == 200
        for _ in range(3):  # replayed: used already
            refused(post(p.url, "/api/session", None, once), 401, "bad_signature")
        assert sign_in(p.url, member_key(election, 1), eid)["voter"]
        # Real failures still count: two keys off the roll lock the address.
        for _ in range(2):
            stranger = signed_answer(SigningKey.generate(), eid, challenge(p.url))
            refused(post(p.url, "/api/session", None, stranger), 401, "unknown_code")
        locked = post(p.url, "/api/session", None, signed_answer(member, eid, challenge(p.url)))
        refused(locked, 429, "too_many_attempts")


def test_a_flood_of_challenges_leaves_sign_in_working(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """Issuing a challenge stores nothing, so far more challenges than the platform holds
    entries for (sessions, tracked addresses) are open at once and a member still signs in."""
    eid = election.package.id
    flood = ("--max-entries", "20", "--challenges-per-minute", "1000")
    with OnlinePlatform(tmp_path / "p", election, serve_args=flood) as p:
        p.staff("open")
        issued = [challenge(p.url) for _ in range(100)]
        assert len(set(issued)) == 100 and all(len(c) == 32 for c in issued)
        assert sign_in(p.url, member_key(election, 0), eid)["voter"]
        # the first challenge of the flood is still good for its own sign-in
        answer = post(p.url, "/api/session", None, signed_answer(member_key(election, 1), eid,
                                                                 issued[0]))  # fmt: skip
        assert answer.status_code == 200, answer.text


def test_ipv6_clients_are_limited_per_64_and_ipv4_per_address(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """Behind a proxy that names the client (X-Forwarded-For), three challenges a minute per
    client: every address of one IPv6 /64 shares the three, another /64 has its own."""
    limits = ("--forwarded-allow-ips", "127.0.0.1", "--challenges-per-minute", "3")
    with OnlinePlatform(tmp_path / "p", election, serve_args=limits) as p:

        def ask(client: str) -> Any:
            return send(p.url, "/api/session/challenge", {}, "application/json",
                        **{"X-Forwarded-For": client})  # fmt: skip

        for n in range(3):
            assert ask(f"2001:db8:1:1::{n + 1}").status_code == 200
        refused(ask("2001:db8:1:1:ffff:ffff:ffff:fffe"), 429, "too_many_attempts")
        assert ask("2001:db8:1:2::1").status_code == 200  # the next /64
        for _ in range(3):
            assert ask("198.51.100.7").status_code == 200
        refused(ask("198.51.100.7"), 429, "too_many_attempts")
        refused(ask("::ffff:198.51.100.7"), 429, "too_many_attempts")  # the same IPv4 client
        assert ask("198.51.100.8").status_code == 200  # IPv4: each address its own


def test_staff_routes_answer_on_the_loopback_admin_port_only(
    tmp_path: Path, election: SyntheticElection
) -> None:
    """The voters' listener has no staff routes (review H1): even the right token gets a 404
    there, while the staff commands reach the platform on its loopback admin port."""
    with OnlinePlatform(tmp_path / "online", election) as platform:
        token = admin_token(platform.keys_dir)
        headers = {"Authorization": f"Bearer {token}"}
        public = requests.get(f"{platform.url}/admin/status", headers=headers, timeout=10)
        assert public.status_code == 404, public.text
        opened = send(platform.url, "/admin/open", {"mode": "official"},
                      "application/json", Authorization=f"Bearer {token}")  # fmt: skip
        assert opened.status_code == 404, opened.text
        assert platform.staff("status")["session"] == "closed"  # nothing was opened
        assert platform.staff("open")["session"] == "open"  # the staff command's own port
        served = json.loads((platform.data / "serve.json").read_text())
        assert served["url"].startswith("http://127.0.0.1:") and served["url"] != platform.url
