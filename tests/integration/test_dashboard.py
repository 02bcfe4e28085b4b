"""The admin fleet dashboard: alarms computed right, sorted by urgency, and shown in a browser."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from kiosk.core.crypto import SigningKey
from testkit.browser import dump_dom, screenshot
from testkit.elections import SyntheticElection
from testkit.ledger_requests import enrol, signed_post, upload
from testkit.ledger_server import LedgerServer
from testkit.stores import make_chain

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
        ]
        assert requests.get(f"{server.url}/v1/admin/fleet", timeout=10).status_code == 401

        url = f"{server.url}/admin/dashboard#token={server.admin_token}"
        dom = dump_dom(url)
        assert "6 of 7 need attention" in dom
        assert "⚠ 격리됨 · Quarantined" in dom and "⚠ 카드 리더 없음 · Reader missing" in dom
        assert "열림 · Open" in dom
        assert dom.index("C-1 격리") < dom.index("A-2 리더") < dom.index("A-1 정상")
        assert 'data-font="true"' in dom, "the shipped Korean font did not load"
        assert "Ballots 7, counted 7" in dom
        assert "✗ 격리된 단말기 없음 · No kiosk quarantined" in dom
        assert "✓ 중복 처리 일치 · Duplicates add up" in dom
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        screenshot(url, SCREENSHOTS / "ledger-dashboard.png", height=1100)

        denied = dump_dom(f"{server.url}/admin/dashboard#token=wrong")
        assert "Cannot reach the ledger" in denied or "not an admin token" in denied
