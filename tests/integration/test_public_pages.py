"""The ledger's public pages over real HTTP and in a real browser: results, the tracking-code
check a receipt's QR code leads to, the checkpoint, and the published files."""

from __future__ import annotations

import http.client
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from pypdf import PdfWriter

from kiosk.core.block import BlockKind
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d
from ledger.publish.results_report import render_report_html
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from testkit.browser import dump_dom, screenshot
from testkit.ledger_server import LedgerServer
from testkit.published_sample import Published, sample_published

SCREENSHOTS = Path(os.environ.get("HANPYO_SCREENSHOTS", "test-output/screenshots")) / "ledger"


def load_sample_chains(data: Path, sample: Published) -> None:
    """Enrol the sample's kiosks and ingest their chains, as `ledger import` would."""
    seed = b64d((data / "log.key").read_text().strip(), length=32, name="log key")
    ledger = Ledger(db.connect(db.database_url(None, data / "ledger.db")), SigningKey(seed))
    for source in sample.sources:
        key = b64d(source.blocks[0].block.body["kiosk_key"], length=32, name="kiosk key")
        assert ledger.enrol(key, source.name, "", source.channel) == source.kiosk
        result = ledger.ingest(source.kiosk, [b.encode() for b in source.blocks])
        assert result.rejection is None, result.rejection
    ledger.engine.dispose()


def publish(published: Path, sample: Published) -> None:
    """What the count and `ledger publish` write: the results in the count directory, and the
    report (its PDF is tested in tests/unit/test_report.py; a one-page stand-in keeps this test
    quick)."""
    (published / "count").mkdir(exist_ok=True)
    results = json.dumps(sample.results, ensure_ascii=False)
    (published / "count" / "results.json").write_text(results)
    report = render_report_html(sample.package, sample.results)
    (published / "report.html").write_text(report, "utf-8")
    pdf = PdfWriter()
    pdf.add_blank_page(595, 842)
    with (published / "report.pdf").open("wb") as f:
        pdf.write(f)


def raw_get(url: str, path: str) -> int:
    """GET ``path`` sent exactly as written: no client tidies up ``..`` or escapes."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture(scope="module")
def sample() -> Published:
    return sample_published()


def test_the_public_pages_show_results_checks_and_files(tmp_path: Path, sample: Published) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "ledger"
    server = LedgerServer(data, sample.election)
    load_sample_chains(data, sample)
    published = data / "published"
    with server:
        # Before the tally: every page says so plainly.
        answer = requests.get(f"{server.url}/", timeout=10)
        assert answer.status_code == 200
        assert "결과가 아직 공개되지 않았습니다" in answer.text
        assert "results are not published yet" in answer.text
        downloads = requests.get(f"{server.url}/downloads", timeout=10)
        assert "not published yet" in downloads.text and "results.json" not in downloads.text

        (published / "count").mkdir(parents=True)
        (published / "count" / "results.json").write_text('{"election": "another-vote"}')
        answer = requests.get(f"{server.url}/results", timeout=10)
        assert answer.status_code == 503
        assert "The results file cannot be read" in answer.text and "another-vote" in answer.text

        publish(published, sample)

        # The browser's part runs beside the plain HTTP checks below: Chromium takes a while.
        url = f"{server.url}/results"
        assert requests.get(url, timeout=60).status_code == 200  # charts drawn once, here
        hall_a = sample.sources[0]
        ballot = next(b for b in hall_a.blocks if b.block.kind is BlockKind.BALLOT)
        code = ballot.tracking_code
        browser = ThreadPoolExecutor(4)
        rendered = browser.submit(dump_dom, url)
        shots = [
            browser.submit(screenshot, url, SCREENSHOTS / "results.png", 1280, 2600),
            browser.submit(
                screenshot, f"{server.url}/check?code={code}", SCREENSHOTS / "check.png", 1280, 2500
            ),
            browser.submit(
                screenshot,
                f"{server.url}/downloads/report.html",
                SCREENSHOTS / "report.png",
                1280,
                2600,
            ),
        ]

        # The results, rendered in a browser: Korean title, winners, charts.
        dom = rendered.result()
        assert sample.package.title.ko in dom and sample.package.title.en in dom
        winners = [r for r in sample.results["ranking"]["options"] if r["winner"]]
        assert len(winners) == 10
        for winner in winners:
            option = sample.package.option(winner["option"])
            assert option is not None
            assert f"★ {option.title.ko}" in dom
        assert "선정된 제안 10건" in dom and "10 proposals selected" in dom
        assert len(re.findall(r'<svg [^>]*class="chart"', dom)) >= 5
        assert "동점" in dom and "lower proposal id ranks first" in dom

        # A voter's tracking code from the receipt, typed in any case.
        answer = requests.get(f"{server.url}/check", params={"code": code.lower()}, timeout=10)
        assert answer.status_code == 200, answer.text
        index = next(i for i, b in enumerate(hall_a.blocks) if b is ballot)  # Hall A went first
        size = sum(len(s.blocks) for s in sample.sources)
        assert f"at position {index + 1} of {size}" in answer.text
        assert f"원장의 기록 {size}개 중 {index + 1}번째" in answer.text
        assert "Inclusion proof" in answer.text and "✓ This server checked the proof" in answer.text
        assert "What this check proves" in answer.text and "Your choices." in answer.text
        assert hall_a.name in answer.text

        test_ballot = next(b for b in hall_a.blocks if b.block.kind is BlockKind.TEST_BALLOT)
        answer = requests.get(
            f"{server.url}/check", params={"code": test_ballot.tracking_code}, timeout=10
        )
        assert answer.status_code == 200 and "test ballots are never counted" in answer.text

        bogus = requests.get(
            f"{server.url}/check", params={"code": "0000-0000-0000-0000"}, timeout=10
        )
        assert bogus.status_code == 404
        assert "This tracking code is not in the ledger" in bogus.text
        for malformed in ("!!!!-????", "ABC", "U" * 16, "x" * 5000):
            answer = requests.get(f"{server.url}/check", params={"code": malformed}, timeout=10)
            assert answer.status_code == 400, malformed
            assert "That is not a tracking code" in answer.text
        form = requests.get(f"{server.url}/check", timeout=10)
        assert form.status_code == 200 and 'name="code"' in form.text

        # The checkpoint, with the log key to check it.
        checkpoint = requests.get(f"{server.url}/checkpoint", timeout=10)
        note = requests.get(f"{server.url}/v1/checkpoint", timeout=10).text
        assert checkpoint.status_code == 200
        assert note.splitlines()[2] in checkpoint.text  # the root hash
        assert server.log_key in checkpoint.text and "ledger verify-proof" in checkpoint.text
        close = {
            "checkpoint": note,
            "closed_at": "2017-11-25T09:05:00+00:00",
            "waivers": {"f" * 32: "화면 고장 · broken screen"},
        }
        (published / "count" / "close.json").write_text(json.dumps(close, ensure_ascii=False))
        checkpoint = requests.get(f"{server.url}/checkpoint", timeout=10)
        assert "This is the final checkpoint, signed at the close." in checkpoint.text
        assert "2017-11-25 18:05 (UTC+09:00)" in checkpoint.text
        assert "화면 고장 · broken screen" in checkpoint.text

        # The published files: those present are listed and served, nothing else is.
        listing = requests.get(f"{server.url}/downloads", timeout=10).text
        for name in ("count/results.json", "report.pdf", "report.html", "count/close.json"):
            assert f'href="/downloads/{name}"' in listing
        assert 'href="/downloads/bundle.zip"' not in listing
        served = requests.get(f"{server.url}/downloads/count/results.json", timeout=10)
        assert served.status_code == 200 and served.json() == sample.results
        pdf = requests.get(f"{server.url}/downloads/report.pdf", timeout=10)
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"

        (published / "results.csv").symlink_to(data / "log.key")
        for path in (
            "/downloads/../log.key",
            "/downloads/..%2Flog.key",
            "/downloads/%2e%2e%2flog.key",
            "/downloads/%2E%2E/log.key",
            "/downloads/..%5Clog.key",
            "/downloads/log.key",
            "/downloads/ledger.db",
            "/downloads/results.csv",  # a link out of the directory
            "/downloads/.",
        ):
            assert raw_get(server.url, path) == 404, path
        assert (
            'href="/downloads/results.csv"'
            not in requests.get(f"{server.url}/downloads", timeout=10).text
        )
        for shot in shots:
            assert shot.result().stat().st_size > 0
        browser.shutdown()
