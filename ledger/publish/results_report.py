"""The human report of an election's results: an HTML page with charts, and the same as a PDF.

It reads only published records (results.json as docs/tally.md describes it, and the election
package), so anyone can rebuild it from the bundle. Korean comes first, English second. Charts
are SVG drawn with the shipped Korean font, and every chart sits above a table with the same
numbers, so nothing is said by a chart or a colour alone. The public pages
(ledger/web/public_pages.py) show the same pieces, from results_view.py and report_charts.py.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from kiosk.core.election import ElectionPackage
from ledger.publish.report_fonts import embedded_fonts_css
from ledger.publish.results_view import results_view

TEMPLATES = Path(__file__).with_name("templates")

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
