"""results.json: the count of the opened ballots and what the ledger adds to it (docs/tally.md).
Pure: the tally writes it, tests build samples with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kiosk.core.election import ElectionPackage
from kiosk.core.tally import Tally


def results_document(
    package: ElectionPackage,
    total: Tally,
    per_source: Mapping[str, Tally],
    sources: Sequence[tuple[str, str, str]],
    hours: Mapping[tuple[str, str], int],
    closed: Mapping[str, Any],
    trustees: Mapping[str, int],
    tallied_at: str,
) -> dict[str, Any]:
    """results.json: the count, and what the ledger adds (docs/tally.md). ``sources`` are
    (kiosk id, name, channel); ``hours`` count ballots per (kiosk, hour of block time)."""
    results = total.results()
    results |= {
        "title": package.title.to_json(),
        "closed": dict(closed),
        "tallied_at": tallied_at,
        "trustees": dict(trustees),
        "sources": [
            {
                "kiosk": kiosk,
                "name": name,
                "channel": channel,
                "ballots_counted": per_source[kiosk].valid if kiosk in per_source else 0,
                "contests": (per_source.get(kiosk) or Tally(package)).results()["contests"],
            }
            for kiosk, name, channel in sources
        ],
        "turnout": [{"kiosk": k, "hour": h, "ballots": n} for (k, h), n in sorted(hours.items())],
    }
    return results
