"""The results report: what it shows, that it needs no network, and that the PDF is readable."""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from pypdf import PdfReader

from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.tally import Tally
from ledger.publish.results_report import render_report_html, write_report
from testkit.elections import MARKUP_LIKE_TITLES, SyntheticElection, random_ballot
from testkit.published_sample import Published, sample_published

CHART = re.compile(r'<svg [^>]*class="chart" role="img" aria-label="[^"]+"')


@pytest.fixture(scope="module")
def sample() -> Published:
    return sample_published()


@pytest.fixture(scope="module")
def report(sample: Published) -> str:
    return render_report_html(sample.package, sample.results)


def title(package: ElectionPackage, option_id: str) -> str:
    option = package.option(option_id)
    assert option is not None
    return option.title.ko


def test_the_report_shows_the_winners_and_how_they_won(sample: Published, report: str) -> None:
    assert sample.package.title.ko in report and sample.package.title.en in report
    ranking = sample.results["ranking"]
    winners = [r for r in ranking["options"] if r["winner"]]
    assert "선정된 제안 10건" in report
    for r in winners:
        assert f"★ {title(sample.package, r['option'])}" in report
    # the quota rule in words, each winner's channel, ties and the rule that broke them
    assert "할당 방식: 현장에서 6건, 이어서 온라인에서 4건을 선정합니다" in report
    assert "Quota: 6 on site, then 4 online." in report
    assert report.count("(chosen on site)") == 6 and report.count("(chosen online)") == 4
    tied = sum(r["tied"] for r in ranking["options"])
    assert tied > 0 and report.count('<span class="tie">') == tied + sum(r["tied"] for r in winners)
    assert "the lower proposal id ranks first" in report
    assert "highest and lowest score for a proposal are dropped" in report


def test_the_report_has_charts_and_the_numbers_beside_them(sample: Published, report: str) -> None:
    charts = CHART.findall(report)
    # ranking (2 parts of 15 rows), a score and a choice chart per group (the count keeps no
    # time of a ballot, so there is no turnout chart)
    assert len(charts) == 2 + 2 * len(sample.package.groups)
    assert "주민 대표 · Resident representative" in report  # a category in a legend
    cell = sample.results["contests"][0]["options"][1]["by_category"]["resident"]
    assert f"{cell['mean']:.2f}" in report
    assert f"최고 {cell['dropped']['high']:.0f} · 최저 {cell['dropped']['low']:.0f} 제외" in report
    assert "Hall A" in report and "Online" in report
    assert "✓ 무효 투표가 없습니다." in report
    assert "(the final signed checkpoint note)" in report


def test_the_report_is_one_self_contained_file(report: str) -> None:
    assert "data:font/woff;base64," in report  # the Korean font travels with it
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", report)
    assert not re.search(r"url\((['\"]?)(https?:)?//", report)
    assert "<script" not in report
    ids = re.findall(r'\bid="([^"]+)"', report)
    assert len(ids) == len(set(ids)), "two charts share an element id"


def test_invalid_ballots_are_listed_and_a_weighted_sum_is_explained(sample: Published) -> None:
    results: dict[str, Any] = copy.deepcopy(sample.results)
    kiosk = results["sources"][0]["kiosk"]
    results["invalid"] = [
        {"position": 3, "reason": "cannot be opened", "contest": None, "source": kiosk},
        {"position": 7, "reason": "<b>too many</b> likes", "contest": "likes", "source": None},
    ]
    results["ballots"]["invalid"] = 2
    ranking = results["ranking"]
    ranking["method"] = "weighted_sum"
    ranking["channels"] = {"kiosk": {"weight": 0.3, "winners": 5}, "online": {"weight": 0.7}}
    ranking["winners"] = 5
    for r in ranking["options"]:
        r["result"] = 0.5
    html = render_report_html(sample.package, results)
    assert "무효 투표 2표" in html and "2 invalid ballots" in html
    assert "cannot be opened" in html and "Hall A" in html  # the source by its name
    assert "&lt;b&gt;too many&lt;/b&gt; likes" in html and "<b>too many" not in html
    assert "가중 합산: 결과 = 현장 점수 × 0.3 + 온라인 점수 × 0.7" in html
    assert "The 5 highest results win." in html


def test_yes_no_questions_and_criteria_show_without_the_ledger_fields(
    election: SyntheticElection,
) -> None:
    """A bare count (a kiosk's test tally has no turnout or close) with every contest kind."""
    package = election.package
    tally = Tally(package)
    rng = random.Random(3)
    for n, entry in enumerate(package.roll):
        voter = package.voter_for_card(entry.card_key)
        assert voter is not None
        tally.add(random_ballot(package, voter, rng), n)
    results = tally.results()
    html = render_report_html(package, results)
    question = next(c for c in results["contests"] if c["kind"] == "yesno")
    assert "심사 규칙에 동의합니까?" in html
    assert "찬성<span" in html and "반대<span" in html and "기권<span" in html
    assert f'<td class="num">{question["yes"]}</td>' in html
    assert "효과 합계" in html and "Feasibility sum" in html
    assert package.title.ko in html


def test_the_pdf_has_the_korean_text_on_every_page(tmp_path: Path) -> None:
    small = sample_published(2, 3)  # a short report: WeasyPrint takes a while per page
    html_path, pdf_path = write_report(tmp_path / "out", small.package, small.results)
    assert html_path.read_text("utf-8") == render_report_html(small.package, small.results)
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    pages = PdfReader(pdf_path).pages
    assert len(pages) >= 2
    first = pages[0].extract_text()
    assert small.package.title.ko in first and "개표 요약" in first
    texts = [page.extract_text() for page in pages]
    assert all(t.strip() for t in texts)
    assert any("제안 순위" in t for t in texts)
    assert any("마감 체크포인트" in t for t in texts)


def retitled(package: ElectionPackage, titles: tuple[str, ...]) -> ElectionPackage:
    """``package`` with its first options titled ``titles``, in both languages."""
    document = copy.deepcopy(package.to_json())
    for option, title in zip(document["options"], titles, strict=False):
        option["title"] = {"ko": title, "en": title}
    return read_package(document)


def test_titles_are_text_in_the_tables_and_the_charts(sample: Published) -> None:
    """A title with two "$" would be mathtext to matplotlib (and "$\\frac{x$" stops it); one with
    "<" would be markup to the page; one that reads like an SVG id would be renamed."""
    titles = (*MARKUP_LIKE_TITLES, 'x id="y" url(#z)')
    package = retitled(sample.package, titles)
    html = render_report_html(package, sample.results)
    for title in titles:
        assert str(escape(title)) in html, title  # the tables
    assert "<script>" not in html
    svg = "".join(re.findall(r"<svg .*?</svg>", html, re.DOTALL))
    assert svg.count("$\\frac{x$</text>") >= 2  # the ranking chart and the group's chart
    assert 'x id="y" url(#z)</text>' in svg  # drawn as written, ids rewritten only in tags
