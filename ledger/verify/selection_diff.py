"""The published ``selection.json`` against the selection a verifier recomputes from the log,
entry by entry: a ballot the record counts that the verifier would not (or the reverse) is named
by its position, source and height with both sides' reasons."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kiosk.core.errors import VerificationError
from ledger.rules.selection import Selection, selection_bytes

SELECTION = "count/selection.json"
_HEADER = ("election", "package_hash", "checkpoint")
_SHOWN = 5  # differences named in full; the rest are counted


class SelectionMismatch(VerificationError):
    """selection.json is not the selection the log gives."""


def compare_selection(
    mine: Selection, raw: bytes, unreadable: Mapping[int, str] | None = None
) -> None:
    """Raise naming every difference (the first few in full) unless ``raw`` is exactly the
    canonical selection.json of ``mine`` (tally-input.json hashes these bytes). ``unreadable``:
    log positions whose block does not decode, with why (the selection cannot see them)."""
    expected = selection_bytes(mine)
    if raw == expected:
        return
    try:
        published = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SelectionMismatch(f"{SELECTION} is not JSON: {e}") from e
    if not isinstance(published, dict):
        raise SelectionMismatch(f"{SELECTION} is not a JSON object")
    differences = _differences(mine.to_json(), published, unreadable or {})
    if not differences:
        differences = ["the same entries, but not written canonically (the bytes differ)"]
    shown = "; ".join(differences[:_SHOWN])
    more = f" (and {len(differences) - _SHOWN} more)" if len(differences) > _SHOWN else ""
    raise SelectionMismatch(f"{SELECTION} differs from the recomputed selection: {shown}{more}")


def _differences(
    mine: dict[str, Any], published: dict[str, Any], unreadable: Mapping[int, str]
) -> list[str]:
    out = [
        f"{name}: published {published.get(name)!r}, recomputed {mine[name]!r}"
        for name in _HEADER
        if published.get(name) != mine[name]
    ]
    if set(published) != set(mine):
        out.append(f"it has the fields {sorted(published)}, not {sorted(mine)}")
    theirs = _by_position(published, out)
    ours = _by_position(mine, out)
    for position in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(position), ours.get(position)
        if a != b:
            out.append(_one(position, a, b, unreadable.get(position)))
    return out


def _by_position(document: dict[str, Any], out: list[str]) -> dict[int, tuple[str, Any]]:
    """position -> ("counted" | "left out", entry)."""
    found: dict[int, tuple[str, Any]] = {}
    for part, label in (("counted", "counted"), ("left_out", "left out")):
        entries = document.get(part)
        if not isinstance(entries, list):
            out.append(f"{part} is not a list")
            continue
        for entry in entries:
            position = entry.get("position") if isinstance(entry, dict) else None
            if not isinstance(position, int) or position in found:
                out.append(f"an entry of {part} has no position of its own: {entry!r:.120}")
                continue
            found[position] = (label, entry)
    return found


def _one(
    position: int,
    published: tuple[str, Any] | None,
    mine: tuple[str, Any] | None,
    unreadable: str | None,
) -> str:
    where = _place(position, published or mine)
    recomputed = f"not a readable block ({unreadable})" if unreadable else _say(mine)
    return f"{where}: the record says {_say(published)}; recomputed: {recomputed}"


def _place(position: int, side: tuple[str, Any] | None) -> str:
    entry = side[1] if side else {}
    return f"the ballot at log position {position} ({entry.get('source')}@{entry.get('height')})"


def _say(side: tuple[str, Any] | None) -> str:
    if side is None:
        return "no such ballot"
    label, entry = side
    if label == "left out":
        return f"left out, {entry.get('reason')} ({entry.get('detail')})"
    fields = ", ".join(f"{k} {entry.get(k)}" for k in ("voter", "category", "group", "channel"))
    return f"counted ({fields}, ballot {str(entry.get('ballot_hash'))[:16]}…)"
