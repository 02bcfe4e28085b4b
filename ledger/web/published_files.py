"""The files the public pages offer for download from the ledger's published directory: an
allow-list by name, each a regular file really inside the directory (never a link out of it),
listed with its size and SHA-256.

The ceremony transcript, the exports and the bundle side by side, and the count directory's
files under ``count/`` (ledger/publish/bundle_writer.py), served at /downloads/count/<name>.
There is never a plaintext cast vote record or opened ballots to list.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.election import Text
from ledger.publish.bundle_writer import COUNT_DIR, count_files

V2_FILES = {
    "results.csv": Text("결과 표", "The results as a table"),
    "report.pdf": Text("결과 보고서(인쇄용)", "The results report, for printing"),
    "report.html": Text("결과 보고서(웹 페이지)", "The results report, as a web page"),
    "ceremony.json": Text(
        "신탁인들의 열쇠 생성 기록: 선거 열쇠가 어디서 왔는지 누구나 검사할 수 있습니다",
        "The trustees' key ceremony transcript: anyone can check where the election key came from",
    ),
    "final-checkpoint.txt": Text(
        "마지막 체크포인트와 증인들의 서명: 마감 때의 기록 전체를 증인들이 확인한 것",
        "The final checkpoint with the witnesses' cosignatures: the whole log at the close, as "
        "the witnesses confirmed it",
    ),
    "bundle.zip": Text(
        "검증 묶음: 서명된 선거 정보와 열쇠 생성 기록, 원장 키, 모든 블록, 마감 기록과 "
        "개표 파일 모두 (ledger verify-bundle로 검사)",
        "The bundle: the signed package and the ceremony transcript, the log key, every block, "
        "the close and every count file (check it with ledger verify-bundle)",
    ),
}
COUNT_TEXTS = {
    "close.json": Text(
        "마감 기록: 서명된 마감 문서와 마지막 체크포인트",
        "The close: the signed close statement and the final checkpoint",
    ),
    "selection.json": Text(
        "개표한 투표지와 빠진 투표지 모두, 빠진 이유와 함께",
        "Every ballot counted and every ballot left out, with the reason",
    ),
    "tally-input.json": Text(
        "암호화된 합계와 점수 열: 아무도 열지 않은 투표지로 만든 것",
        "The encrypted sums and score columns, made from ballots nobody opened",
    ),
    "results.json": Text("결과 문서", "The results document"),
    "nist-1500-100-results.json": Text(
        "NIST 표준 형식의 결과 (SP 1500-100)", "The results in the NIST format (SP 1500-100)"
    ),
}
SHUFFLE_TEXT = Text(
    "신탁인 한 명이 점수 열을 섞은 결과와 그 증명",
    "One trustee's shuffle of the score columns, with its proof",
)
DECRYPTION_TEXT = Text(
    "신탁인 한 명의 복호화 몫과 그 증명", "One trustee's decryption shares, with their proofs"
)
NIST_EXPORT = re.compile(r"nist-[a-z0-9][a-z0-9_-]{0,62}\.json")
NIST_TEXT = Text("NIST 표준 형식 내보내기", "Export in the NIST common data format")
_NUMBERED = re.compile(r"(shuffle|decryption)-[1-9][0-9]{0,3}\.json")


class PublishedFiles:
    """The downloadable files of ``published``."""

    def __init__(self, published: Path) -> None:
        self.published = published
        self.texts = V2_FILES

    @property
    def results(self) -> Path:
        """Where the results document is: the count directory's."""
        return self.published / COUNT_DIR / "results.json"

    @property
    def selection(self) -> Path:
        """The count's selection: every ballot counted or left out, with the reason."""
        return self.published / COUNT_DIR / "selection.json"

    def close(self) -> Path | None:
        return self.file(f"{COUNT_DIR}/close.json")

    def names(self) -> list[str]:
        """The published files present, in the order they are listed."""
        if not self.published.is_dir():
            return []
        top = [n for n in self.texts if n != "bundle.zip"]
        nist = sorted(p.name for p in self.published.iterdir() if NIST_EXPORT.fullmatch(p.name))
        order = [*top[:1], *nist, *top[1:]]  # the NIST exports follow the results table
        counted = [f"{COUNT_DIR}/{n}" for n in count_files(self.published)]
        order = [f"{COUNT_DIR}/close.json", *counted, *order]
        return [n for n in [*order, "bundle.zip"] if self.file(n) is not None]

    def file(self, name: str) -> Path | None:
        """The file ``name`` if it is one we publish and it is really there: a name from the
        list, a regular file, not a link out of its directory."""
        directory, _, base = name.rpartition("/")
        if directory == "" and (base in self.texts or NIST_EXPORT.fullmatch(base)):
            root = self.published
        elif directory == COUNT_DIR and self._count_name(base):
            root = self.published / COUNT_DIR
        else:
            return None
        try:
            top = self.published.resolve(strict=True)
            real_root = root.resolve(strict=True)
            path = (real_root / base).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        expected = top if root == self.published else top / COUNT_DIR
        inside = real_root == expected and path.parent == real_root
        return path if inside and path.is_file() else None

    def describe(self, name: str) -> dict[str, Any]:
        path = self.file(name)
        if path is None:
            raise FileNotFoundError(name)
        stat = path.stat()
        return {
            "name": name,
            "text": self._text(name),
            "size": _size(stat.st_size),
            "sha256": _sha256(path, (stat.st_mtime_ns, stat.st_size)),
        }

    def _count_name(self, base: str) -> bool:
        return base in COUNT_TEXTS or bool(_NUMBERED.fullmatch(base))

    def _text(self, name: str) -> Text:
        directory, _, base = name.rpartition("/")
        if directory == COUNT_DIR:
            if base in COUNT_TEXTS:
                return COUNT_TEXTS[base]
            return SHUFFLE_TEXT if base.startswith("shuffle-") else DECRYPTION_TEXT
        return self.texts.get(base, NIST_TEXT)


@dataclass
class _Digest:
    key: tuple[int, int]
    sha256: str


_DIGESTS: dict[Path, _Digest] = {}
_DIGESTS_LOCK = threading.Lock()


def _sha256(path: Path, key: tuple[int, int]) -> str:
    """The file's SHA-256, computed again only when its size or time changed."""
    with _DIGESTS_LOCK:
        cached = _DIGESTS.get(path)
        if cached is None or cached.key != key:
            with path.open("rb") as f:
                cached = _Digest(key, hashlib.file_digest(f, "sha256").hexdigest())
            _DIGESTS[path] = cached
        return cached.sha256


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    return f"{n / 1024:,.1f} KB" if n < 1024**2 else f"{n / 1024**2:,.1f} MB"
