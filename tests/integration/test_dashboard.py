"""The admin fleet dashboard: alarms computed right, sorted by urgency, and shown in a browser."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64e
from testkit.browser import Browser
from testkit.elections import SyntheticElection
from testkit.ledger_requests import LATE_REASON, enrol, signed_post, upload
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.mirror_server import MirrorServer
from testkit.postgres_standby import PrimaryWithStandby
from testkit.stores import make_chain
from testkit.witness_server import WitnessServer

SCREENSHOTS = Path(os.environ.get("HANPYO_SCREENSHOTS", "test-output/screenshots"))


def beat(server: LedgerServer, key: SigningKey, kiosk: str, /, **changes: object) -> None:
    status = {
        "mode": "official",
        "session": "open",
        "height": 3,
        "pending_blocks": 0,
        "ballots_session": 1,
        "reader": "ok",
        "printer": "ok",
        "version": "0.1.0",
    }
    answer = signed_post(server, key, f"/v1/kiosks/{kiosk}/heartbeat", status | changes)
    assert answer.status_code == 200, answer.text


def test_the_dashboard_puts_the_kiosks_needing_attention_first(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        kiosks = {}
        for name in (
            "A-1 정상",
            "A-2 리더",
            "A-3 리더 없음",
            "B-1 용지",
            "B-2 시험",
            "C-1 격리",
            "C-2 무응답",
            "D-1 지연",
        ):
            key = SigningKey.generate()
            kiosks[name] = (key, enrol(server, key, name))
            chain = make_chain(tmp_path / name, election, key, [("resident", len(kiosks))])
            assert upload(server, key, chain).status_code == 200
        states: list[tuple[str, dict[str, str | int]]] = [
            ("A-1 정상", {}),
            ("A-2 리더", {"reader": "missing"}),
            ("A-3 리더 없음", {"reader": "none"}),  # a source with no reader (online platform)
            ("B-1 용지", {"printer": "no_paper"}),
            ("B-2 시험", {"mode": "test"}),
            ("C-1 격리", {}),
            ("D-1 지연", {"height": 9, "pending_blocks": 5}),
        ]
        for name, changes in states:
            beat(server, *kiosks[name], **changes)
        key, _ = kiosks["C-1 격리"]
        fork = make_chain(tmp_path / "fork", election, key, [("expert", 2)])
        assert upload(server, key, [fork[3]]).status_code == 409

        fleet = requests.get(
            f"{server.url}/v1/admin/fleet", headers=server.admin(), timeout=10
        ).json()
        alarms = {k["name"]: k["alarms"] for k in fleet}
        assert alarms == {
            "A-1 정상": [],
            "A-2 리더": ["reader_missing"],
            "A-3 리더 없음": [],
            "B-1 용지": ["printer"],
            "B-2 시험": ["test_mode_mismatch"],
            "C-1 격리": ["quarantined"],
            "C-2 무응답": ["silent"],
            "D-1 지연": ["behind"],
        }
        assert [k["name"] for k in fleet] == [
            "C-1 격리",
            "A-2 리더",
            "B-2 시험",
            "B-1 용지",
            "C-2 무응답",
            "D-1 지연",
            "A-1 정상",
            "A-3 리더 없음",
        ]
        assert requests.get(f"{server.url}/v1/admin/fleet", timeout=10).status_code == 401

        with Browser(height=1100) as browser:
            sign_in(browser, server, server.admin_token)
            shows(browser, "need attention")
            shows(browser, "Ballots 8")
            dom = browser.dom()
            assert "6 of 8 need attention" in dom
            assert "⚠ 격리됨 · Quarantined" in dom and "⚠ 카드 리더 없음 · Reader missing" in dom
            assert "열림 · Open" in dom
            assert dom.index("C-1 격리") < dom.index("A-2 리더") < dom.index("A-1 정상")
            font = browser.wait_for(f"{FONT} !== 'loading' && {FONT}")
            assert font == "true", "the shipped Korean font did not load"
            assert "Ballots 8, counted 8" in dom
            assert "✗ 격리된 단말기 없음 · No kiosk quarantined" in dom
            assert "✓ 중복 처리 일치 · Duplicates add up" in dom
            assert f"Enrolled after the opening: C-1 격리 — {LATE_REASON}" in dom
            # Browsers do not pass the page's font on to buttons and fields: "로그아웃" drew as
            # empty boxes until they inherited it.
            assert USES_KOREAN_FONT in str(browser.evaluate(BUTTON_FONT))
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            browser.screenshot(SCREENSHOTS / "ledger-dashboard.png")


FONT = "document.documentElement.dataset.font"
BUTTON_FONT = "getComputedStyle(document.querySelector('button')).fontFamily"
FIELD_FONT = "getComputedStyle(document.querySelector('input')).fontFamily"
USES_KOREAN_FONT = "Hanpyo Sans"
LOADED = "document.readyState === 'complete'"


def shows(browser: Browser, text: str) -> None:
    browser.wait_for(f"document.body.innerText.includes({json.dumps(text)})")


def sign_in(browser: Browser, server: LedgerServer, token: str) -> str:
    """Open the dashboard, get sent to the login, type the token into its form and send it;
    the page it ends on."""
    browser.open(f"{server.url}/admin/dashboard")
    browser.wait_for(f"location.pathname === '/admin/login' && {LOADED}")
    assert USES_KOREAN_FONT in str(browser.evaluate(BUTTON_FONT))  # "로그인" on the button
    assert USES_KOREAN_FONT in str(browser.evaluate(FIELD_FONT))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(SCREENSHOTS / "ledger-login.png")
    # The mark tells the page we left from the one the form's answer loads.
    browser.evaluate(
        f"window.leaving = true; document.getElementById('token').value = {json.dumps(token)};"
        "document.querySelector('form').submit(); true"
    )
    browser.wait_for(f"!window.leaving && {LOADED}")
    return str(browser.evaluate("location.pathname"))


def refusal(browser: Browser) -> str:
    return str(browser.evaluate("document.getElementById('refusal').textContent"))


def test_the_dashboard_login_keeps_the_token_out_of_every_url(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, SigningKey.generate(), "A-1")
        viewer = server.cli("admin-token", "--label", "dashboard", "--scope", "read").stdout.strip()
        enroller = server.cli("admin-token", "--label", "installer", "--scope", "enrol")
        with Browser() as browser:
            assert sign_in(browser, server, viewer) == "/admin/dashboard"
            shows(browser, "of 1 need attention")
            urls = browser.requested_urls()
            assert any(u.endswith("/v1/admin/fleet") for u in urls), urls
            assert not [u for u in urls if viewer in u], "a URL carried the token"
            cookie = next(c for c in browser.cookies() if c["name"] == "hanpyo_admin")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert viewer not in cookie["value"]
            assert browser.evaluate("document.cookie") == ""  # no script can read the session
            # The session only reads: enrolling with it, as a forged form would, is refused.
            session = {"hanpyo_admin": cookie["value"]}
            url = f"{server.url}/v1/admin/kiosks"
            assert requests.get(url, cookies=session, timeout=10).status_code == 200
            body = {"public_key": b64e(SigningKey.generate().public_key), "name": "x"}
            write = requests.post(url, json=body, cookies=session, timeout=10)
            assert write.status_code == 401, write.text

            browser.evaluate(
                "window.leaving = true; document.querySelector('header form').submit()"
            )
            browser.wait_for(f"!window.leaving && location.pathname === '/admin/login' && {LOADED}")
            assert not [c for c in browser.cookies() if c["name"] == "hanpyo_admin"]

            # Revoking the token ends its session at once: the page goes back to the login.
            assert sign_in(browser, server, viewer) == "/admin/dashboard"
            assert server.cli("admin-token", "revoke", "--label", "dashboard").returncode == 0
            browser.wait_for(f"location.pathname === '/admin/login' && {LOADED}")
            # A revoked token, one without the read scope and a wrong one cannot sign in.
            for token, why in (
                (viewer, "revoked"),
                (enroller.stdout.strip(), "'read' scope"),
                ("wrong", "not an admin token"),
            ):
                assert sign_in(browser, server, token) == "/admin/login"
                assert why in refusal(browser)
            assert not [u for u in browser.requested_urls() if viewer in u]

        page = requests.get(f"{server.url}/admin/dashboard", allow_redirects=False, timeout=10)
        assert page.status_code == 303 and page.headers["location"] == "/admin/login"
        forged = requests.get(
            f"{server.url}/v1/admin/fleet", cookies={"hanpyo_admin": "x.1.y"}, timeout=10
        )
        assert forged.status_code == 401


def log_health(server: LedgerServer) -> dict[str, Any]:
    answer = requests.get(f"{server.url}/v1/admin/log", headers=server.admin(), timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def settles(server: LedgerServer, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The log panel's figures once ``done`` holds of them (the integrator, the publisher and
    the mirror watch all work in the background)."""
    deadline = time.monotonic() + 30
    while True:
        health = log_health(server)
        if done(health) or time.monotonic() > deadline:
            return health
        time.sleep(0.1)


def test_the_dashboard_shows_the_log_its_witness_and_how_far_a_mirror_lags(
    tmp_path: Path, election: SyntheticElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = LedgerServer(tmp_path / "ledger", election)
    witness = WitnessServer(tmp_path / "witness", "witness.test/w1", {ORIGIN: ledger.log_key})
    mirror = MirrorServer.of(tmp_path / "mirror", ledger, election)
    tiles = ledger.data / "tiles"
    # `ledger serve` reads these as it would its --witness, --mirror and --tiles-dir.
    monkeypatch.setenv("HANPYO_WITNESSES", witness.spec("w1"))
    monkeypatch.setenv("HANPYO_MIRRORS", f"관악-사본={mirror.url}")
    monkeypatch.setenv("HANPYO_TILES_DIR", str(tiles))
    with ledger, witness, mirror:
        key = SigningKey.generate()
        enrol(ledger, key, "A-1")
        chain = make_chain(tmp_path / "chain", election, key, [("resident", n) for n in range(6)])
        assert upload(ledger, key, chain[:3]).status_code == 200
        first = settles(ledger, lambda h: h["witnesses"][0]["cosigned_newest"])
        assert first["sequenced"] == first["integrated"] == 3
        assert first["integration_delay_s"] == 0
        assert first["witnesses"][0]["last_cosigned_size"] == first["checkpoint_size"] == 3
        assert first["standby"] == {"database": "sqlite"}
        followed = mirror.follow(str(tiles))
        assert followed.returncode == 0, followed.stderr
        assert upload(ledger, key, chain[3:6]).status_code == 200
        settles(ledger, lambda h: h["witnesses"][0]["last_cosigned_size"] == 6)
        # A witness that is down: the newest checkpoint goes without its cosignature, and the
        # panel still knows the size it cosigned last.
        witness.stop()
        assert upload(ledger, key, chain[6:]).status_code == 200
        size = len(chain)
        seen = settles(ledger, lambda h: h["integrated"] == size and h["mirrors"][0]["size"] == 3)
        assert seen["checkpoint_size"] == size
        assert seen["witnesses"][0]["cosigned_newest"] is False
        assert seen["witnesses"][0]["last_cosigned_size"] == 6
        assert seen["mirrors"][0] | {"answered_s_ago": None, "verified_at": None} == {
            "name": "관악-사본",
            "url": mirror.url,
            "answering": True,
            "failing": None,
            "size": 3,
            "lag": size - 3,
            "verified_at": None,
            "answered_s_ago": None,
        }

        with Browser(height=1300) as browser:
            sign_in(browser, ledger, ledger.admin_token)
            shows(browser, f"{size - 3} 블록 · blocks")
            text = str(browser.evaluate("document.getElementById('log').innerText"))
            assert f"Blocks sequenced\n{size}\n" in text, text
            assert f"Blocks in the signed tree\n{size}\n" in text
            assert "Integration delay\n0.0 s\n" in text
            assert f"크기 {size} · size {size}" in text
            assert "w1\t✗ 서명 없음 · Not cosigned\t6 (" in text
            assert "관악-사본\t3\t" in text
            assert "One machine: no standby" in text
            # A mirror that stops answering says so, and keeps the size it last gave.
            mirror.stop()
            shows(browser, "Not answering")
            text = str(browser.evaluate("document.getElementById('log').innerText"))
            assert f"관악-사본\t3\t{size - 3} 블록 · blocks\t✗ 응답 없음 · Not answering" in text
            font = browser.wait_for(f"{FONT} !== 'loading' && {FONT}")
            assert font == "true", "the shipped Korean font did not load"
            browser.evaluate("document.getElementById('log').scrollIntoView(); true")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            browser.screenshot(SCREENSHOTS / "ledger-dashboard-log.png")
        health = log_health(ledger)
        assert health["mirrors"][0]["answering"] is False
        assert health["mirrors"][0]["size"] == 3 and health["mirrors"][0]["failing"]


def test_the_dashboard_says_whether_acknowledgements_wait_for_the_standby(
    tmp_path: Path, election: SyntheticElection
) -> None:
    with PrimaryWithStandby() as pair:
        assert pair.primary is not None
        server = LedgerServer(tmp_path / "ledger", election, db=pair.url)
        with server:
            key = SigningKey.generate()
            enrol(server, key, "A-1")
            chain = make_chain(tmp_path / "chain", election, key, [("resident", 1)])
            assert upload(server, key, chain).status_code == 200
            standby = log_health(server)["standby"]
            assert standby["database"] == "postgresql" and standby["commits_wait"] is True
            assert standby["synchronous_connected"] == 1
            assert [(r["name"], r["sync_state"]) for r in standby["replicas"]] == [
                ("hanpyo_standby", "sync")
            ]
            with Browser(height=1300) as browser:
                sign_in(browser, server, server.admin_token)
                shows(browser, "Commits wait for a synchronous standby")
                shows(browser, "hanpyo_standby (sync): ")
                # The operator lets commits stop waiting: the panel says acknowledgements are
                # on one disk now.
                with pair.connect(pair.primary) as conn:
                    conn.autocommit = True
                    conn.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
                    conn.execute("SELECT pg_reload_conf()")
                shows(browser, "Commits do not wait for a standby")
                assert "acknowledgements are on one disk" in browser.dom()
                browser.evaluate("document.getElementById('log').scrollIntoView(); true")
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                browser.screenshot(SCREENSHOTS / "ledger-dashboard-standby.png")
