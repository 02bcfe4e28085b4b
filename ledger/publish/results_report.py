"""The human report of an election's results: an HTML page with charts, and the same as a PDF.

It reads only published records (results.json as docs/tally.md describes it, and the election
package), so anyone can rebuild it from the bundle. Korean comes first, English second. Charts
are SVG drawn with the shipped Korean font, and every chart sits above a table with the same
numbers, so nothing is said by a chart or a colour alone. The public pages (ledger/pages.py)
show the same pieces.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from fontTools import subset  # type: ignore[import-untyped]
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kiosk.assets import asset_path
from kiosk.core.election import TIE_BREAK, ElectionPackage, Text

TEMPLATES = Path(__file__).with_name("templates")
FONT_FILES = {"normal": "NanumGothic.ttf", "bold": "NanumGothicBold.ttf"}
CHART_ROWS = 40  # the ranking chart shows this many proposals; the table below shows all
CHART_PART = 15  # rows per bar chart: one part fits on a printed page
CHART_KIOSKS = 6  # turnout shows this many kiosks one by one, the rest together

CHANNELS = {"kiosk": Text("현장", "On site"), "online": Text("온라인", "Online")}
ANSWERS = {"yes": Text("찬성", "Yes"), "no": Text("반대", "No"), "blank": Text("기권", "Blank")}
# Fill and hatch per series: told apart in grey print and by people who see no colour.
PALETTE = (
    ("#0b2545", ""),
    ("#f0b060", "//"),
    ("#ffffff", "xx"),
    ("#8fb3d9", ".."),
    ("#d9d9d9", "\\\\"),
    ("#ffffff", "oo"),
    ("#5a5a5a", ""),
)
WIDTH = 10.0  # inches; the page scales the SVG to its width
FONT_SIZE = 15  # points at that width: about 20 px on a 1000 px page
CHART_STYLE: dict[Any, Any] = {
    "font.family": ["NanumGothic"],
    "font.size": FONT_SIZE,
    "axes.unicode_minus": False,  # the font has no U+2212
    "svg.fonttype": "none",  # real text in the page's font: searchable, and quick to print
    "svg.hashsalt": "hanpyo",  # the same records give the same file
    "hatch.linewidth": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#111111",
    "text.color": "#111111",
    "axes.labelcolor": "#111111",
    "xtick.color": "#111111",
    "ytick.color": "#111111",
    "legend.frameon": False,
}
# Always in the embedded font, whatever the page holds: digits, Latin letters, the marks we use.
_ASCII = "".join(chr(c) for c in range(32, 127)) + "·—…★✓✗="
_CHART_LOCK = threading.Lock()  # rc_context changes matplotlib's process-wide settings

ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# -- the report -------------------------------------------------------------------------------
def render_report_html(package: ElectionPackage, results: dict[str, Any]) -> str:
    """The report as one self-contained HTML file: styles, charts and a subset of the Korean
    font are inside it, so it opens offline and looks the same everywhere."""
    view = results_view(package, results)
    template = ENVIRONMENT.get_template("report.html")
    draft = template.render(view=view, page_title=view["title"], fonts=Markup(""))
    return template.render(view=view, page_title=view["title"], fonts=embedded_fonts_css(draft))


def write_report(out: Path, package: ElectionPackage, results: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.pdf`` (the same page, printed) into ``out``."""
    import weasyprint  # type: ignore[import-untyped]  # slow to import; only the tally needs it

    out.mkdir(parents=True, exist_ok=True)
    html = render_report_html(package, results)
    html_path, pdf_path = out / "report.html", out / "report.pdf"
    html_path.write_text(html, "utf-8")
    printer_log = logging.getLogger("weasyprint")
    level = printer_log.level
    # It reads the charts' SVG style attributes as page CSS too, and warns about each one.
    printer_log.setLevel(logging.ERROR)
    try:
        weasyprint.HTML(string=html, base_url=str(out)).write_pdf(pdf_path)
    finally:
        printer_log.setLevel(level)
    return html_path, pdf_path


def embedded_fonts_css(text: str) -> Markup:
    """@font-face rules carrying NanumGothic (regular and bold) cut down to the characters of
    ``text``: a few kilobytes instead of 4 MB each."""
    rules = []
    for weight, name in FONT_FILES.items():
        data = base64.b64encode(_font_subset(name, "".join(sorted(set(text))))).decode()
        rules.append(
            f'@font-face {{ font-family: "Hanpyo Sans"; font-weight: {weight}; '
            f'src: url("data:font/woff;base64,{data}") format("woff"); }}'
        )
    rules.append('body { font-family: "Hanpyo Sans", sans-serif; }')
    return Markup("\n".join(rules))  # noqa: S704  # our own CSS, with base64 data only


def served_fonts_css() -> Markup:
    """For the ledger's own pages: a Korean system font when the device has one (a phone on
    mobile data is spared 4 MB), else the shipped font from /assets/fonts."""
    rules = [
        f'@font-face {{ font-family: "Hanpyo Sans"; font-weight: {weight}; '
        f'src: local("NanumGothic"), url("/assets/fonts/{name}"); }}'
        for weight, name in FONT_FILES.items()
    ]
    stack = '"Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans KR", "Noto Sans CJK KR"'
    rules.append(f'body {{ font-family: {stack}, "Hanpyo Sans", sans-serif; }}')
    return Markup("\n".join(rules))  # noqa: S704  # our own CSS, no input in it


def _font_subset(name: str, characters: str) -> bytes:
    options = subset.Options()
    options.flavor = "woff"  # zlib: brotli (woff2) takes longer than the rest of the report
    options.layout_features = ["*"]
    font = subset.load_font(str(asset_path("fonts", name)), options)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters + _ASCII)
        subsetter.subset(font)
        buffer = io.BytesIO()
        subset.save_font(font, buffer, options)
    finally:
        font.close()  # it reads the file lazily and holds it open until then
    return buffer.getvalue()


# -- what the templates show ------------------------------------------------------------------
def results_view(package: ElectionPackage, results: dict[str, Any]) -> dict[str, Any]:
    """Everything the report and the results page show, from results.json and the package."""
    zone = _election_zone(package)
    winners = {
        r["option"] for r in results.get("ranking", {}).get("options", []) if r.get("winner")
    }
    names = {s["kiosk"]: s["name"] for s in results.get("sources", [])}
    closed = results.get("closed") or {}
    return {
        "title": Text(**results["title"]) if "title" in results else package.title,
        "election": results.get("election", package.id),
        "package_hash": results.get("package_hash", package.package_hash.hex()),
        "short_hash": package.short_hash,
        "tallied_at": _local_time(results.get("tallied_at"), zone),
        "trustees": results.get("trustees"),
        "ballots": _ballots(package, results),
        "ranking": _ranking(package, results.get("ranking", {})),
        "contests": [_contest(package, c, winners, n) for n, c in enumerate(results["contests"])],
        "turnout": _turnout(results.get("turnout", []), names, zone),
        "sources": [
            {"name": s["name"], "channel": _channel(s["channel"]), "counted": s["ballots_counted"]}
            for s in results.get("sources", [])
        ],
        "invalid": [
            i | {"source_name": names.get(str(i.get("source", "")).partition("@")[0], "")}
            for i in results.get("invalid", [])
        ],
        "closed": {
            "checkpoint": closed.get("checkpoint", ""),
            "size": closed.get("size"),
            "at": _local_time(closed.get("closed_at"), zone),
        },
    }


def _ballots(package: ElectionPackage, results: dict[str, Any]) -> dict[str, Any]:
    ballots = results["ballots"]
    return {
        "counted": ballots["counted"],
        "invalid": ballots["invalid"],
        "by_category": [
            {"title": _category(package, c), "count": n}
            for c, n in ballots.get("by_category", {}).items()
        ],
    }


def _ranking(package: ElectionPackage, ranking: dict[str, Any]) -> dict[str, Any]:
    channels = list(ranking.get("channels", {}))
    weighted = ranking.get("method") == "weighted_sum"
    rows = [
        {
            "rank": r["rank"],
            "option": _option(package, r["option"]),
            "measures": [_fixed(r.get("channels", {}).get(c), 3) for c in channels],
            "result": _fixed(r.get("result"), 3),
            "winner": bool(r.get("winner")),
            "won_by": _channel(r["won_by"]) if r.get("won_by") else None,
            "tied": bool(r.get("tied")),
        }
        for r in ranking.get("options", [])
    ]
    shown = rows[:CHART_ROWS]
    labels = [
        f"{'★ ' if r['winner'] else ''}{r['rank']}. {_short(r['option']['ko'])}" for r in shown
    ]
    if weighted:
        series = [(Text("결과", "Result"), [_number(r["result"]) for r in shown])]
    else:
        series = [
            (_channel(c), [_number(r["measures"][i]) for r in shown])
            for i, c in enumerate(channels)
        ]
    charts = (
        _bar_chart(
            "ranking",
            Text("제안 순위 그래프", "Ranking chart"),
            labels,
            series,
            limit=max([v or 0 for _, vs in series for v in vs] + [1.0]),
            decimals=3,
            bold=[r["winner"] for r in shown],
        )
        if rows
        else []
    )
    return {
        "method": ranking.get("method"),
        "weighted": weighted,
        "channels": [_channel(c) for c in channels],
        "rules": _ranking_rules(ranking),
        "winners": [r for r in rows if r["winner"]],
        "rows": rows,
        "charts": charts,
        "chart_truncated": len(rows) > CHART_ROWS,
        "chart_rows": CHART_ROWS,
    }


def _ranking_rules(ranking: dict[str, Any]) -> list[Text]:
    """The announced rules, in words: how winners are picked, how ties are broken."""
    channels = ranking.get("channels", {})
    rules = []
    if ranking.get("method") == "quota":
        order = [(CHANNELS.get(c, Text(c, c)), v.get("winners", 0)) for c, v in channels.items()]
        rules.append(
            Text(
                "할당 방식: "
                + ", 이어서 ".join(f"{t.ko}에서 {n}건" for t, n in order)
                + "을 선정합니다. 각 채널은 앞 채널이 고르지 않은 제안 중 그 채널에서 "
                "점수가 높은 순으로 고릅니다(그 채널에서 한 표 이상 받은 제안만).",
                "Quota: "
                + ", then ".join(f"{n} {t.en.lower()}" for t, n in order)
                + ". Each channel picks its best proposals that an earlier channel did not "
                "pick (only proposals with at least one vote or score there).",
            )
        )
    else:
        terms = [(CHANNELS.get(c, Text(c, c)), v.get("weight", 0)) for c, v in channels.items()]
        rules.append(
            Text(
                "가중 합산: 결과 = "
                + " + ".join(f"{t.ko} 점수 × {w:g}" for t, w in terms)
                + f". 결과가 높은 {ranking.get('winners', 0)}건을 선정합니다.",
                "Weighted sum: result = "
                + " + ".join(f"{w:g} × {t.en.lower()} measure" for t, w in terms)
                + f". The {ranking.get('winners', 0)} highest results win.",
            )
        )
    rules.append(
        Text(
            "채널 점수는 그 채널에서 가장 좋은 제안을 1.000으로 한 상대 점수입니다.",
            "A channel's measure is relative: the best proposal there scores 1.000.",
        )
    )
    if ranking.get("drop_extremes"):
        rules.append(
            Text(
                "점수는 투표자 유형마다 가장 높은 점수와 가장 낮은 점수를 하나씩 빼고 "
                "평균을 냅니다(3명 이상이 점수를 준 경우).",
                "Each voter category's highest and lowest score for a proposal are dropped "
                "before the mean (when at least three people scored it).",
            )
        )
    rule = ranking.get("tie_break", TIE_BREAK)
    rules.append(
        Text(
            "동점 처리: 미리 공개한 규칙에 따라 제안 번호가 낮은 제안이 앞섭니다. "
            "동점으로 순서가 정해진 제안에는 ‘= 동점’ 표시가 있습니다.",
            "Ties: by the rule announced before the vote, the lower proposal id ranks first. "
            "Proposals ordered by this rule are marked ‘= tie’.",
        )
        if rule == TIE_BREAK
        else Text(f"동점 처리 규칙: {rule}", f"Tie-break rule: {rule}")
    )
    return rules


def _contest(
    package: ElectionPackage, contest: dict[str, Any], winners: set[str], number: int
) -> dict[str, Any]:
    title = Text(**contest["title"])
    declared = next((c for c in package.contests if c.id == contest["id"]), None)
    view: dict[str, Any] = {"id": contest["id"], "kind": contest["kind"], "title": title}
    view["ballots"] = contest.get("ballots", 0)
    if contest["kind"] == "yesno":
        return view | _yesno(package, contest, number)
    categories: list[str] = list(declared.categories) if declared else _categories_of(contest)
    criteria = [(c.id, c.title) for c in declared.criteria] if declared else []
    view["categories"] = [_category(package, c) for c in categories]
    view["criteria"] = [t for _, t in criteria]
    sections = []
    for g, (group, options) in enumerate(_by_group(package, contest["options"])):
        rows = [
            _option_row(package, o, contest["kind"], categories, criteria, winners) for o in options
        ]
        labels = [f"{'★ ' if r['winner'] else ''}{_short(r['option']['ko'])}" for r in rows]
        if contest["kind"] == "score":
            series = [
                (view["categories"][i], [_number(r["cells"][i]["mean"]) for r in rows])
                for i in range(len(categories))
            ]
            limit, decimals = float(declared.max) if declared else None, 2
        else:
            series = [
                (view["categories"][i], [float(r["cells"][i]["votes"]) for r in rows])
                for i in range(len(categories))
            ]
            limit, decimals = None, 0
        caption = Text(f"{title.ko} — {group.ko}", f"{title.en} — {group.en}")
        charts = _bar_chart(
            f"c{number}g{g}",
            caption,
            labels,
            series,
            limit=limit,
            decimals=decimals,
            bold=[r["winner"] for r in rows],
        )
        sections.append({"group": group, "rows": rows, "charts": charts})
    view["sections"] = sections
    return view


def _option_row(
    package: ElectionPackage,
    option: dict[str, Any],
    kind: str,
    categories: list[str],
    criteria: list[tuple[str, Text]],
    winners: set[str],
) -> dict[str, Any]:
    by_category = option.get("by_category", {})
    cells = []
    for c in categories:
        cell = by_category.get(c, {})
        if kind == "score":
            dropped = cell.get("dropped")
            cells.append(
                {
                    "count": cell.get("count", 0),
                    "mean": _fixed(cell.get("mean"), 2),
                    "dropped": None
                    if not dropped
                    else {"high": _fixed(dropped["high"], 0), "low": _fixed(dropped["low"], 0)},
                }
            )
        else:
            cells.append({"votes": int(cell) if isinstance(cell, int) else 0})
    sums = option.get("criteria", {})
    return {
        "option": _option(package, option["id"]),
        "winner": option["id"] in winners,
        "cells": cells,
        "total": option.get("count", option.get("votes", 0)),
        "criteria": [sums.get(c, 0) for c, _ in criteria],
    }


def _yesno(package: ElectionPackage, contest: dict[str, Any], number: int) -> dict[str, Any]:
    by_category = contest.get("by_category", {})
    rows = [
        {"title": _category(package, c), **{a: counts.get(a, 0) for a in ANSWERS}}
        for c, counts in by_category.items()
    ]
    total = {"title": Text("전체", "All"), **{a: contest.get(a, 0) for a in ANSWERS}}
    return {
        "answers": list(ANSWERS.values()),
        "rows": rows,
        "total": total,
        "chart": _stacked_chart(
            f"c{number}yn",
            Text(contest["title"]["ko"], contest["title"]["en"]),
            [f"{r['title'].ko}" for r in [*rows, total]],
            [(ANSWERS[a], [float(r[a]) for r in [*rows, total]]) for a in ANSWERS],
        ),
    }


def _turnout(turnout: list[dict[str, Any]], names: dict[str, str], zone: tzinfo) -> dict[str, Any]:
    """Counted ballots per kiosk per hour, in the election's own time zone."""
    hours = sorted({t["hour"] for t in turnout})
    kiosks = sorted({t["kiosk"] for t in turnout}, key=lambda k: names.get(k, k))
    counts = {(t["kiosk"], t["hour"]): int(t["ballots"]) for t in turnout}
    rows = [
        {
            "name": names.get(k, k),
            "counts": [counts.get((k, h), 0) for h in hours],
            "total": sum(counts.get((k, h), 0) for h in hours),
        }
        for k in kiosks
    ]
    totals = [sum(r["counts"][i] for r in rows) for i in range(len(hours))]
    labels = [_hour_label(h, zone, len({h[:10] for h in hours}) > 1) for h in hours]
    series = [(Text(r["name"], r["name"]), [float(n) for n in r["counts"]]) for r in rows]
    if len(series) > CHART_KIOSKS:
        rest = [sum(v) for v in zip(*(s for _, s in series[CHART_KIOSKS - 1 :]), strict=True)]
        series = [*series[: CHART_KIOSKS - 1], (Text("그 밖의 단말기", "Other kiosks"), rest)]
    return {
        "hours": labels,
        "zone": _zone_label(zone),
        "rows": rows,
        "totals": totals,
        "total": sum(totals),
        "chart": _columns_chart("turnout", labels, series) if hours else None,
    }


# -- small helpers ----------------------------------------------------------------------------
def _option(package: ElectionPackage, option_id: str) -> dict[str, str]:
    option = package.option(option_id)
    if option is None:  # results for another package: show the id rather than fail
        return {"id": option_id, "ko": option_id, "en": option_id, "group_ko": "", "group_en": ""}
    group = next((g.title for g in package.groups if g.id == option.group), Text("", ""))
    return {
        "id": option_id,
        "ko": option.title.ko,
        "en": option.title.en,
        "group_ko": group.ko,
        "group_en": group.en,
    }


def _by_group(
    package: ElectionPackage, options: list[dict[str, Any]]
) -> list[tuple[Text, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for o in options:
        found = package.option(o["id"])
        groups.setdefault(found.group if found else "", []).append(o)
    titles: dict[str, Text] = {g.id: g.title for g in package.groups}
    return [(titles.get(g, Text("기타", "Other")), items) for g, items in groups.items()]


def _categories_of(contest: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for o in contest.get("options", []):
        seen.update(dict.fromkeys(o.get("by_category", {})))
    return list(seen)


def _category(package: ElectionPackage, category_id: str) -> Text:
    found = package.category(category_id)
    return found.title if found else Text(category_id, category_id)


def _channel(channel: str) -> Text:
    return CHANNELS.get(channel, Text(channel, channel))


def _fixed(value: float | None, places: int) -> str | None:
    return None if value is None else f"{value:.{places}f}"


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def _short(title: str, length: int = 16) -> str:
    return title if len(title) <= length else title[: length - 1] + "…"


def election_time(stamp: str | None, package: ElectionPackage) -> str | None:
    """An ISO time as the election's local time, e.g. ``2017-11-25 18:05 (UTC+09:00)``."""
    return _local_time(stamp, _election_zone(package))


def _election_zone(package: ElectionPackage) -> tzinfo:
    """The election's time zone, from the offset of its announced opening time."""
    try:
        return datetime.fromisoformat(package.opens).tzinfo or UTC
    except ValueError:
        return UTC


def _zone_label(zone: tzinfo) -> str:
    offset = datetime.now(zone).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def _local_time(stamp: str | None, zone: tzinfo) -> str | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({_zone_label(zone)})"


def _hour_label(hour: str, zone: tzinfo, with_date: bool) -> str:
    """A block-time hour (UTC, ``2026-11-22T01``) as the local hour it began."""
    try:
        moment = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).astimezone(zone)
    except ValueError:
        return hour
    return f"{moment:%m-%d %H:00}" if with_date else f"{moment:%H:00}"


# -- charts -----------------------------------------------------------------------------------
@cache
def _register_fonts() -> None:
    for name in FONT_FILES.values():
        font_manager.fontManager.addfont(str(asset_path("fonts", name)))


def _figure(
    labels: Sequence[str], body: float, legend: Sequence[str], bottom: float = 0.6
) -> tuple[Figure, Axes]:
    """A chart ``body`` inches tall with margins that fit its row labels and its legend,
    worked out here: matplotlib's layout engine would draw every chart twice."""
    left = 0.3 + max((_ems(label) for label in labels), default=0) * FONT_SIZE / 72
    columns = _legend_columns(legend)
    top = 0.3 + (0.42 * -(-len(legend) // columns) if legend else 0)
    height = top + body + bottom
    figure = Figure(figsize=(WIDTH, height))
    figure.subplots_adjust(
        left=left / WIDTH, right=1 - 0.45 / WIDTH, top=1 - top / height, bottom=bottom / height
    )
    return figure, figure.subplots()


def _legend(figure: Figure, legend: Sequence[str]) -> None:
    if legend:
        figure.legend(
            loc="upper left",
            bbox_to_anchor=(0.01, 1.0),
            ncols=_legend_columns(legend),
            fontsize=FONT_SIZE - 1,
            handlelength=2.2,
            handleheight=1.1,
        )


def _legend_columns(legend: Sequence[str]) -> int:
    widest = max((_ems(label) for label in legend), default=0) * (FONT_SIZE - 1) / 72 + 1.0
    return max(1, min(len(legend), int((WIDTH - 0.4) // widest)))


def _ems(text: str) -> float:
    """About how many ems ``text`` spans: Hangul one, Latin letters and digits about 0.6."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WFA" else 0.62 for c in text)


def _bar_chart(
    name: str,
    caption: Text,
    labels: Sequence[str],
    series: Sequence[tuple[Text, Sequence[float | None]]],
    *,
    limit: float | None,
    decimals: int,
    bold: Sequence[bool],
) -> list[Markup]:
    """Horizontal bar charts of at most ``CHART_PART`` rows each, so that each fits on a
    printed page; every part has the same scale."""
    top = max([v or 0 for _, vs in series for v in vs] + [limit or 0, 1])
    return [
        _bar_chart_part(
            f"{name}p{n}",
            caption,
            labels[start : start + CHART_PART],
            [(title, values[start : start + CHART_PART]) for title, values in series],
            top=top,
            decimals=decimals,
            bold=bold[start : start + CHART_PART],
        )
        for n, start in enumerate(range(0, len(labels), CHART_PART))
    ]


def _bar_chart_part(
    name: str,
    caption: Text,
    labels: Sequence[str],
    series: Sequence[tuple[Text, Sequence[float | None]]],
    *,
    top: float,
    decimals: int,
    bold: Sequence[bool],
) -> Markup:
    """Horizontal bars, one row per label and one bar per series, values written at the
    bars' ends; winners' labels in bold (and starred by the caller)."""
    _register_fonts()
    rows, k = len(labels), len(series)
    legend = [f"{t.ko} · {t.en}" for t, _ in series] if k > 1 else []
    with _CHART_LOCK, rc_context(CHART_STYLE):
        figure, axes = _figure(labels, rows * (0.26 * k + 0.18), legend)
        height = 1.0 / (k + 0.6)
        for i, (title, values) in enumerate(series):
            face, hatch = PALETTE[i % len(PALETTE)]
            bars = axes.barh(
                [r + (i - (k - 1) / 2) * height for r in range(rows)],
                [v or 0 for v in values],
                height=height,
                color=face,
                edgecolor="#111111",
                hatch=hatch or None,
                linewidth=1,
                label=f"{title.ko} · {title.en}",
            )
            axes.bar_label(
                bars,
                labels=["—" if v is None else f"{v:.{decimals}f}" for v in values],
                padding=4,
                fontsize=FONT_SIZE - 2,
            )
        axes.set_yticks(range(rows), labels)
        for label, strong in zip(axes.get_yticklabels(), bold, strict=True):
            label.set_fontweight(600 if strong else 400)  # NanumGothicBold is weight 600
        axes.set_ylim(rows - 0.5, -0.5)  # the first row on top
        axes.set_xlim(0, top * 1.15)  # room for the numbers at the bars' ends
        if decimals == 0:  # counts of votes: whole-number ticks
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.xaxis.grid(True, color="#bbbbbb")
        axes.set_axisbelow(True)
        _legend(figure, legend)
        return _svg(figure, name, caption)


def _stacked_chart(
    name: str,
    caption: Text,
    labels: Sequence[str],
    series: Sequence[tuple[Text, Sequence[float]]],
) -> Markup:
    """One horizontal bar per label, split into the series (yes, no, blank) with counts."""
    _register_fonts()
    legend = [f"{t.ko} · {t.en}" for t, _ in series]
    with _CHART_LOCK, rc_context(CHART_STYLE):
        figure, axes = _figure(labels, 0.6 * len(labels), legend)
        left = [0.0] * len(labels)
        for i, (title, values) in enumerate(series):
            face, hatch = PALETTE[i % len(PALETTE)]
            bars = axes.barh(
                range(len(labels)),
                values,
                left=left,
                height=0.7,
                color=face,
                edgecolor="#111111",
                hatch=hatch or None,
                label=f"{title.ko} · {title.en}",
            )
            texts = axes.bar_label(
                bars,
                labels=[f"{v:.0f}" if v else "" for v in values],
                label_type="center",
                fontsize=FONT_SIZE - 1,
                fontweight=600,
            )
            for text in texts:
                text.set_color("#ffffff" if face == PALETTE[0][0] else "#111111")
                if face != PALETTE[0][0]:  # keep numbers readable over the hatching
                    text.set_bbox({"facecolor": "#ffffff", "edgecolor": "none", "pad": 1.5})
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_yticks(range(len(labels)), labels)
        axes.set_ylim(len(labels) - 0.5, -0.5)
        axes.set_xlim(0, max([*left, 1]))
        _legend(figure, legend)
        return _svg(figure, name, caption)


def _columns_chart(
    name: str, labels: Sequence[str], series: Sequence[tuple[Text, Sequence[float]]]
) -> Markup:
    """Columns per hour, stacked by kiosk, with each hour's total on top."""
    _register_fonts()
    legend = [t.ko if t.ko == t.en else f"{t.ko} · {t.en}" for t, _ in series]
    with _CHART_LOCK, rc_context(CHART_STYLE):
        figure, axes = _figure(["투표 수 000"], 4.0, legend)
        bottom = [0.0] * len(labels)
        bars = None
        for i, (_title, values) in enumerate(series):
            face, hatch = PALETTE[i % len(PALETTE)]
            bars = axes.bar(
                range(len(labels)),
                values,
                bottom=bottom,
                width=0.7,
                color=face,
                edgecolor="#111111",
                hatch=hatch or None,
                label=legend[i],
            )
            bottom = [a + b for a, b in zip(bottom, values, strict=True)]
        if bars is not None:
            axes.bar_label(
                bars, labels=[f"{t:.0f}" for t in bottom], padding=3, fontsize=FONT_SIZE - 1
            )
        axes.set_xticks(range(len(labels)), labels)
        axes.set_ylim(0, max([*bottom, 1]) * 1.15)
        axes.set_ylabel("투표 수 · Ballots")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.grid(True, color="#bbbbbb")
        axes.set_axisbelow(True)
        _legend(figure, legend)
        return _svg(figure, name, Text("시간대별 단말기 투표 수", "Ballots per kiosk and hour"))


_MPL_FAMILY = "font-family: 'NanumGothic'"
_PAGE_FAMILY = "font-family: 'Hanpyo Sans', 'NanumGothic'"  # the page's @font-face
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_HREF = re.compile(r'href="#([^"]+)"')
_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')


def _svg(figure: Figure, name: str, caption: Text) -> Markup:
    """The figure as inline SVG: ids made unique to this chart (a page holds many), no fixed
    size (it scales with the page), and a label for screen readers."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = _METADATA.sub("", _COMMENT.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1)))
    text = text.replace(_MPL_FAMILY, _PAGE_FAMILY)
    text = _ID.sub(lambda m: f'id="{name}-{m[1]}"', text)
    text = _URL.sub(lambda m: f"url(#{name}-{m[1]})", text)
    text = _HREF.sub(lambda m: f'href="#{name}-{m[1]}"', text)
    end = text.index(">")
    label = escape(f"{caption.ko} · {caption.en}")
    root = _SIZE.sub("", text[:end]) + f' class="chart" role="img" aria-label="{label}"'
    return Markup(root + text[end:])  # noqa: S704  # drawn here from escaped text only
