"""Proposal titles are text, never markup or formulas: an election whose titles look like
mathtext, spreadsheet formulas and HTML goes through the count and `ledger publish` (report, CSV,
bundle) and the public results page of a real `ledger serve`, and every title is shown as it was
written."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from markupsafe import escape
from pypdf import PdfReader

from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey
from kiosk.core.election import ElectionPackage, Voter
from kiosk.core.encoding import b64e
from testkit.chain_writer import ChainWriter
from testkit.elections import (
    MARKUP_LIKE_TITLES,
    card_of,
    random_ballot,
    review_definition,
    with_option_titles,
)
from testkit.ledger_requests import upload
from testkit.ledger_server import LedgerServer, ledger_cli
from testkit.v2_record import LOG_ORIGIN, honest_trustees, record_election

START = datetime(2017, 11, 25, 0, 0, tzinfo=UTC)
# The cells a spreadsheet would run as formulas, and what results.csv must hold instead.
DEFUSED = {
    '=HYPERLINK("http://x")': '\'=HYPERLINK("http://x")',
    "+1": "'+1",
    "@SUM(A1)": "'@SUM(A1)",
    "$\\frac{x$": "$\\frac{x$",  # not a formula: as it is
    "<script>alert(1)</script>": "<script>alert(1)</script>",
}


def run(*args: str, data: Path | None = None) -> str:
    done = ledger_cli(*args, data=data)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def people(package: ElectionPackage, category: str) -> list[Voter]:
    found = [package.voter_for_card(e.card_key) for e in package.roll]
    return [v for v in found if v is not None and v.category == category]


def test_titles_that_look_like_markup_or_formulas_are_published_as_written(
    tmp_path: Path,
) -> None:
    definition = with_option_titles(
        review_definition(2, 3, election_id="markup-titles"), MARKUP_LIKE_TITLES
    )
    definition["categories"][0]["title"] = {"ko": "$\\sqrt{$ 주민", "en": "$x^$ residents"}
    election, ceremony, shares, trustee_keys, log_key = record_election(
        seed="markup", definition=definition
    )
    package = election.package
    (tmp_path / "ceremony.json").write_text(json.dumps(ceremony, ensure_ascii=False))
    data = tmp_path / "ledger"
    data.mkdir()
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")  # the key the package names
    rng = random.Random(8)

    with LedgerServer(data, election, origin=LOG_ORIGIN) as server:
        key = SigningKey.generate()
        enrolled = requests.post(
            f"{server.url}/v1/admin/kiosks",
            headers=server.admin(),
            json={
                "public_key": b64e(key.public_key),
                "name": "Hall A",
                "channel": "kiosk",
                "late_reason": "a test: the 2017 election is long open",
            },
            timeout=10,
        )
        assert enrolled.status_code == 200, enrolled.text
        writer = ChainWriter(package, key, START, timedelta(minutes=2))
        writer.mode(Mode.OFFICIAL)
        writer.open_session()
        for voter in people(package, "resident") + people(package, "expert"):
            writer.cast(voter, random_ballot(package, voter, rng), card_of(election, voter))
        writer.close_session()
        assert upload(server, key, list(writer.blocks)).status_code == 200
        run("election", "close", data=server.data)
        published = server.data / "published"
        count = published / "count"
        run("count", "prepare", "--out", str(count), data=server.data)
        honest_trustees(election, count, shares, trustee_keys)
        run("count", "finish", "--count", str(count), data=server.data)
        run("publish", "--ceremony", str(tmp_path / "ceremony.json"), data=server.data)

        # The report, as a page and printed: every title as written, none of it as markup.
        report = (published / "report.html").read_text("utf-8")
        for title in MARKUP_LIKE_TITLES:
            assert str(escape(title)) in report, title
        assert "<script>" not in report
        assert report.count("$\\frac{x$</text>") >= 2  # the ranking's and the group's chart
        assert "$\\sqrt{$ 주민 · $x^$ residents</text>" in report  # a chart's legend
        printed = "".join(page.extract_text() for page in PdfReader(published / "report.pdf").pages)
        for title in ("$\\frac{x$", "@SUM(A1)", "<script>alert(1)</script>"):
            assert title in printed, title

        # The spreadsheet: formula-like titles defused, counts still numbers.
        raw = (published / "results.csv").read_bytes()
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        shown = {r["option"]: r for r in rows if r["contest"] == "review"}
        for option, title in zip(definition["options"], MARKUP_LIKE_TITLES, strict=False):
            row = shown[option["id"]]
            assert row["option_title_ko"] == row["option_title_en"] == DEFUSED[title]
            assert int(row["scores"]) >= 0 and float(row["score_sum"]) >= 0
        assert not any(cell.startswith(("=", "+", "@")) for r in rows for cell in r.values())

        # The bundle holds the same records, and checks out.
        with zipfile.ZipFile(published / "bundle.zip") as bundle:
            assert json.loads(bundle.read("count/results.json")) == json.loads(
                (count / "results.json").read_text("utf-8")
            )
        checked = run(
            "verify-bundle", str(published / "bundle.zip"),
            f"--authority={b64e(election.authority.public_key)}",
            f"--log-key={server.log_key}",
        )  # fmt: skip
        assert "every check passed" in checked

        # The public results page and the download, over HTTP.
        page = requests.get(f"{server.url}/results", timeout=60)
        assert page.status_code == 200, page.text
        for title in MARKUP_LIKE_TITLES:
            assert str(escape(title)) in page.text, title
        assert "<script>" not in page.text
        download = requests.get(f"{server.url}/downloads/results.csv", timeout=10)
        assert download.status_code == 200 and download.content == raw
