"""Whether the count took a ballot, for the check page: read from the count's published
``selection.json`` (ledger/rules/selection.py writes it; every ballot of the closed log is
either counted or left out with a stable reason). Nothing is said before the count exists.

The file is read again only when it changes, and looked up by the block's kiosk and height,
which the check page already knows from the tracking code.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.election import Text

log = logging.getLogger(__name__)

COUNTED = Text("✓ 개표에 들어갔습니다.", "✓ This ballot was counted.")
# The selection's stable reasons (notes/v2_contract.md, "The count"), in plain words.
REASONS = {
    "no_card_signature": Text(
        "투표자 카드의 서명이 없습니다.", "It carries no voter card signature."
    ),
    "bad_card_signature": Text(
        "투표자 카드의 서명이 맞지 않습니다.", "Its voter card signature does not verify."
    ),
    "key_not_on_roll": Text(
        "서명한 카드가 명부에 없습니다.", "The card that signed it is not on the roll."
    ),
    "voter_not_on_roll": Text("투표자가 명부에 없습니다.", "Its voter is not on the roll."),
    "key_of_another_voter": Text(
        "다른 투표자의 카드로 서명되었습니다.", "It was signed with another voter's card."
    ),
    "category_or_group": Text(
        "투표자 유형이나 조가 명부와 다릅니다.", "Its voter category or group is not the roll's."
    ),
    "bad_form": Text(
        "투표지의 모양이 선거 정보와 맞지 않습니다.",
        "Its form does not match the election package.",
    ),
    "bad_proof": Text("투표지의 증명이 맞지 않습니다.", "Its proofs do not check out."),
    "other_election": Text("다른 선거의 투표지입니다.", "It belongs to another election."),
    "replayed_ballot": Text(
        "이미 개표한 투표지를 다시 보낸 것입니다.", "It repeats a ballot already counted."
    ),
    "test_ballot": Text("시험 투표는 개표하지 않습니다.", "Test ballots are never counted."),
    "spoiled": Text("확인한 투표지는 개표하지 않습니다.", "Checked ballots are never counted."),
    "superseded": Text(
        "같은 투표자의 다른 투표지가 선거의 중복 규칙에 따라 개표되었습니다.",
        "Another ballot of the same voter counts, by the election's duplicate rule.",
    ),
    "outside_schedule": Text(
        "투표 시간 밖에 기록되었습니다.", "It was recorded outside the voting hours."
    ),
}


@dataclass(frozen=True, slots=True)
class CountStatus:
    counted: bool
    reason: str | None  # the selection's stable reason when left out
    text: Text
    detail: str  # the selection's own words, in English


@dataclass
class _Loaded:
    key: tuple[int, int]
    by_block: dict[tuple[str, int], CountStatus]


class Selection:
    """The published selection.json at ``path``, looked up by (kiosk, height)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def status(self, kiosk: str, height: int) -> CountStatus | None:
        """What the count did with this block's ballot; None before the count is published
        (or when the block is not a ballot the selection lists)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._loaded is None or self._loaded.key != key:
                self._loaded = _Loaded(key, self._read())
            return self._loaded.by_block.get((kiosk, height))

    def _read(self) -> dict[tuple[str, int], CountStatus]:
        try:
            document = json.loads(self.path.read_text("utf-8"))
            return _statuses(document)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            log.error("selection.json cannot be read: %s", e)
            return {}


def _statuses(document: dict[str, Any]) -> dict[tuple[str, int], CountStatus]:
    out = {}
    for entry in document["counted"]:
        out[(str(entry["source"]), int(entry["height"]))] = CountStatus(True, None, COUNTED, "")
    for entry in document["left_out"]:
        reason = str(entry["reason"])
        text = REASONS.get(reason, Text(reason, reason))
        left = CountStatus(False, reason, text, str(entry.get("detail", "")))
        out[(str(entry["source"]), int(entry["height"]))] = left
    return out
