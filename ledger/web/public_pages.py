"""The ledger's public pages, open to anyone with no login: the results with charts, the latest
signed checkpoint, the check of a receipt's tracking code, and the published files.

They read the tally's records from the ``published`` directory (docs/tally.md) on every
request, so files published while the ledger runs show at once, and say so plainly while
there is nothing to show yet. No page runs a script.
"""

# No "from __future__ import annotations": FastAPI reads the route annotations at run time.

import functools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup

from kiosk.core.block import BlockKind, decode_signed_block
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.election import ElectionPackage, Text
from kiosk.core.encoding import b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.merkle import leaf_hash
from ledger.publish.report_fonts import embedded_fonts_css, served_fonts_css
from ledger.publish.results_report import ENVIRONMENT
from ledger.publish.results_view import election_time, results_view
from ledger.rules.errors import LedgerError
from ledger.service.ledger import Ledger
from ledger.verify.inclusion_proof import verify_inclusion_answer
from ledger.web.ballot_check import SPOILED, BallotView, ballot_view
from ledger.web.check_witnesses import witnessed_inclusion
from ledger.web.count_status import Selection
from ledger.web.published_files import PublishedFiles

log = logging.getLogger(__name__)

MEDIA_TYPES = {
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".zip": "application/zip",
    ".txt": "text/plain; charset=utf-8",
}
MAX_CODE = 64  # characters of a typed tracking code we look at
# Pages carry their styles inline and run no script; fonts come from /assets/fonts or data:.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a tracking code in the URL stays here
}
NOT_PUBLISHED = Text(
    "결과가 아직 공개되지 않았습니다. 투표가 마감되고 신탁인들이 개표를 마치면 이곳에 나옵니다.",
    "The results are not published yet. They appear here once voting has closed and the "
    "trustees have counted the ballots.",
)


@dataclass
class _RenderedResults:
    key: tuple[int, int]
    html: str


class _ResultsPage:
    """The results page, rendered once per version of results.json: charts take a while."""

    def __init__(self, path: Path, package: ElectionPackage) -> None:
        self.path = path
        self.package = package
        self._lock = threading.Lock()
        self._rendered: _RenderedResults | None = None

    def html(self) -> str | None:
        """The page, or None when results.json is not there; ``ValueError`` when unreadable."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._rendered is None or self._rendered.key != key:
                self._rendered = _RenderedResults(key, self._render())
            return self._rendered.html

    def _render(self) -> str:
        try:
            results = json.loads(self.path.read_text("utf-8"))
            if results.get("election") != self.package.id:
                raise ValueError(
                    f"it is for election {results.get('election')!r}, not {self.package.id!r}"
                )
            view = results_view(self.package, results)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"results.json cannot be read: {e}") from e
        template = ENVIRONMENT.get_template("results_page.html")
        context = {"view": view, "package": self.package, "current": "results"}
        context["page_title"] = Text("개표 결과", "Results")
        draft = template.render(context, fonts=Markup(""))
        # The charts' labels are text in the page's font: embed it, cut to what is shown.
        return template.render(context, fonts=embedded_fonts_css(draft))


def public_pages(ledger: Ledger, published: Path) -> APIRouter:
    """The public pages over ``ledger``, with the tally's records read from ``published``."""
    router = APIRouter(include_in_schema=False)
    package = ledger.package
    files = PublishedFiles(published)
    results_page = _ResultsPage(files.results, package)

    # Opening a checked ballot and checking its proofs costs milliseconds of group operations:
    # each block is done once, however often its code is checked (blocks never change).
    @functools.lru_cache(maxsize=4096)
    def views(kind: str, block: bytes) -> BallotView | None:
        return ballot_view(package, kind, decode_signed_block(block).block.body)

    # What the count did with a ballot, once selection.json is published
    selection = Selection(files.selection)

    def page(name: str, title: Text, status: int = 200, **context: Any) -> HTMLResponse:
        html = ENVIRONMENT.get_template(name).render(
            context, package=package, page_title=title, fonts=served_fonts_css()
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    @router.get("/", response_class=HTMLResponse)
    @router.get("/results", response_class=HTMLResponse)
    def results() -> HTMLResponse:
        try:
            html = results_page.html()
        except ValueError as e:
            log.error("the results page cannot be shown: %s", e)
            problem = Text(
                "결과 파일을 읽을 수 없습니다. 선거 관리자에게 알려 주세요.",
                f"The results file cannot be read ({e}). Please tell the election office.",
            )
            return page("message.html", Text("개표 결과", "Results"), 503, message=problem)
        if html is None:
            return page("message.html", Text("개표 결과", "Results"), message=NOT_PUBLISHED)
        return HTMLResponse(html, headers=HEADERS)

    @router.get("/checkpoint", response_class=HTMLResponse)
    def checkpoint(request: Request) -> HTMLResponse:
        note = ledger.checkpoint()
        signed = verify_checkpoint(note, ledger.key.verifier)
        return page(
            "checkpoint.html",
            Text("서명된 체크포인트", "Signed checkpoint"),
            current="checkpoint",
            note=note,
            checkpoint={"origin": signed.origin, "size": signed.size, "root": b64e(signed.root)},
            vkey=ledger.key.verifier.vkey,
            base_url=str(request.base_url).rstrip("/"),
            close=_close_record(files.close(), package),
        )

    @router.get("/check", response_class=HTMLResponse)
    def check(request: Request, code: str = "") -> HTMLResponse:
        title = Text("내 투표 확인", "Check my ballot")
        typed = code.strip()
        context: dict[str, Any] = {"current": "check", "code": typed[:MAX_CODE]}
        context |= {"base_url": str(request.base_url).rstrip("/")}
        context["vkey"] = ledger.key.verifier.vkey
        if not typed:
            return page("check.html", title, **context)
        try:
            if len(typed) > MAX_CODE:
                raise LedgerError("bad_tracking_code", "too long for a tracking code")
            found = _found_ballot(ledger, views, typed)
            if selection is not None and found["kind"] != SPOILED:  # a checked one says so
                found["count"] = selection.status(found["kiosk_id"], found["height"])
        except LedgerError as e:
            status = {"bad_tracking_code": 400, "not_found": 404}.get(e.reason, 503)
            return page("check.html", title, status, problem=e.reason, **context)
        return page("check.html", title, found=found, **context)

    @router.get("/downloads", response_class=HTMLResponse)
    def downloads() -> HTMLResponse:
        return page(
            "downloads.html",
            Text("공개 자료 내려받기", "Downloads"),
            current="downloads",
            files=[files.describe(name) for name in files.names()],
            not_published=NOT_PUBLISHED,
        )

    @router.get("/downloads/{name:path}")
    def download(name: str) -> Response:
        path = files.file(name)
        if path is None:
            return page(
                "message.html",
                Text("공개 자료 내려받기", "Downloads"),
                404,
                message=Text(
                    "그런 공개 자료가 없습니다.", f"There is no published file named {name!r}."
                ),
            )
        suffix = path.suffix
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
            filename=path.name,
            content_disposition_type="inline" if suffix in (".pdf", ".html") else "attachment",
            headers=HEADERS,
        )

    return router


# -- the tracking-code check ------------------------------------------------------------------
def _found_ballot(
    ledger: Ledger, views: Callable[[str, bytes], BallotView | None], code: str
) -> dict[str, Any]:
    """Where ``code``'s block stands in the log, with its inclusion proof checked here against
    the signed checkpoint the same way `ledger verify-proof` checks it."""
    index = ledger.find_tracking_code(code)
    # against a checkpoint meeting the package's witness policy when one holds the block
    proof, witnesses = witnessed_inclusion(ledger, index)
    answer = {
        "leaf_index": proof.leaf_index,
        "size": proof.size,
        "proof": [b64e(h) for h in proof.proof],
        "block": b64e(proof.block),
        "checkpoint": proof.checkpoint,
    }
    try:
        block = verify_inclusion_answer(answer, ledger.key.verifier.vkey, code)
        recorded = decode_signed_block(proof.block).block
    except HanpyoError as e:  # the ledger's own data does not add up: say so, never hide it
        log.error("inclusion proof for %s does not verify: %s", code, e)
        raise LedgerError("proof_failed", str(e)) from e
    source = ledger.source(block.kiosk)
    kind = recorded.kind.value
    return {
        "tracking_code": block.tracking_code,
        "position": block.leaf_index + 1,
        "leaf_index": block.leaf_index,
        "size": block.size,
        "kiosk": source.name if source else block.kiosk,
        "kiosk_id": block.kiosk,
        "height": block.height,
        "kind": kind,
        "is_ballot": recorded.kind is BlockKind.BALLOT,
        "is_test": recorded.kind is BlockKind.TEST_BALLOT,
        "is_spoiled": kind == SPOILED,
        # the fingerprint, and a spoiled ballot opened for anyone; None for a kiosk record
        "v2": views(kind, proof.block),
        "leaf_hash": b64e(leaf_hash(proof.block)),
        "proof": answer["proof"],
        "checkpoint": proof.checkpoint,
        "witnesses": witnesses,  # None: the package asks for no witness (check_witnesses.py)
    }


def _close_record(path: Path | None, package: ElectionPackage) -> dict[str, Any] | None:
    """close.json, when the close is published: its time and waivers, shown as they are."""
    if path is None:
        return None
    try:
        record = json.loads(path.read_text("utf-8"))
        return {
            "closed_at": election_time(str(record.get("closed_at", "")), package) or "",
            "checkpoint": str(record.get("checkpoint", "")),
            "waivers": [  # kiosk id -> the admin's reason (ledger/rules/close_statement.py)
                {"kiosk": str(kiosk), "reason": str(reason)}
                for kiosk, reason in sorted(dict(record.get("waivers", {})).items())
            ],
        }
    except (OSError, ValueError, AttributeError, TypeError) as e:
        log.error("close.json cannot be read: %s", e)
        return None
