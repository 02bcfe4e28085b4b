"""The report's charts: matplotlib figures in the shipped Korean font, written as SVG that
sits inline in the page with ids of its own.

Every label comes from the election package (proposal, group and category titles), so it is
text and never markup: matplotlib's mathtext and TeX are off for every Text drawn here, and a
title such as ``$\\frac{x$`` is drawn as it is written instead of stopping the report."""

from __future__ import annotations

import io
import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any

from markupsafe import Markup, escape
from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text as MplText
from matplotlib.ticker import MaxNLocator

from hanpyo_assets import asset_path
from kiosk.core.election import Text
from ledger.publish.report_fonts import FONT_FILES

CHART_PART = 15  # rows per bar chart: one part fits on a printed page
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
    # Titles are text, never markup. matplotlib reads a string with two unescaped "$" as
    # mathtext (https://matplotlib.org/stable/users/explain/text/mathtext.html), and a title
    # such as "$\\frac{x$" then raises instead of drawing. rcParams["text.parse_math"] is the
    # default of every Text's parse_math (Text.set_parse_math: "If False, this Text will never
    # use mathtext", https://matplotlib.org/stable/api/text_api.html), so setting it here
    # covers the tick labels, legends and bar labels matplotlib makes while drawing too.
    "text.parse_math": False,
    "text.usetex": False,  # TeX would read the same titles as TeX source
}
_CHART_LOCK = threading.Lock()  # rc_context changes matplotlib's process-wide settings


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


def bar_chart(
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


def stacked_chart(
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


def columns_chart(
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
# matplotlib writes text content with < > & escaped (but not quotes), so tags split cleanly.
_TAG = re.compile(r"(<[^>]*>)")


def _svg(figure: Figure, name: str, caption: Text) -> Markup:
    """The figure as inline SVG: ids made unique to this chart (a page holds many), no fixed
    size (it scales with the page), and a label for screen readers."""
    for drawn in figure.findobj(MplText):  # as CHART_STYLE says, also for Texts made before
        drawn.set_usetex(False)
        drawn.set_parse_math(False)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = _METADATA.sub("", _COMMENT.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1)))
    # Rewrite the markup only: a title that reads like an id or a url stays as written.
    text = "".join(
        _own_ids(part, name) if _TAG.fullmatch(part) else part for part in _TAG.split(text)
    )
    end = text.index(">")
    label = escape(f"{caption.ko} · {caption.en}")
    root = _SIZE.sub("", text[:end]) + f' class="chart" role="img" aria-label="{label}"'
    return Markup(root + text[end:])  # noqa: S704  # drawn here from escaped text only


def _own_ids(tag: str, name: str) -> str:
    """One tag of matplotlib's SVG with its ids and references made unique to chart ``name``,
    in the page's font."""
    tag = tag.replace(_MPL_FAMILY, _PAGE_FAMILY)
    tag = _ID.sub(lambda m: f'id="{name}-{m[1]}"', tag)
    tag = _URL.sub(lambda m: f"url(#{name}-{m[1]})", tag)
    return _HREF.sub(lambda m: f'href="#{name}-{m[1]}"', tag)
