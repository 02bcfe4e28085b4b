"""Reconciliation: per kiosk and per channel, what was recorded, and where numbers differ."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from kiosk.core.duplicates import cast_order
from kiosk.core.election import DuplicatePolicy
from ledger.rules.duplicate_policy import counted_ballot
from ledger.store.registry import late_enrolments
from ledger.store.schema import Engine
from ledger.store.snapshots import reconciliation_snapshot, repeated_ballots


def duplicates(engine: Engine, policy: DuplicatePolicy) -> list[dict[str, Any]]:
    """Every voter with more than one official ballot, in the order they were cast, and which
    one counts. ``nullifier`` is the ledger's voter index key (kiosk.core.block.ballot_identity):
    the public voter id (the report keeps protocol 1's field name)."""
    groups: dict[bytes, list[dict[str, Any]]] = {}
    for r in repeated_ballots(engine):
        groups.setdefault(r.nullifier, []).append(
            {
                "kiosk": r.kiosk,
                "height": r.height,
                "channel": r.channel,
                "leaf_index": r.leaf_index,
                "time": r.time,
            }
        )
    out = []
    for nullifier, ballots in groups.items():
        ballots.sort(key=lambda b: cast_order(b["time"], b["kiosk"], b["height"]))  # as cast
        counts = counted_ballot(policy, ballots)
        out.append(
            {
                "nullifier": nullifier.hex(),
                "policy": policy.value,
                "ballots": [b | {"counts": b is counts} for b in ballots],
            }
        )
    return out


def reconciliation(
    engine: Engine, policy: DuplicatePolicy, waived: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Counts per kiosk and per channel that must add up, and the checks that say if they do.

    A kiosk ``waived`` at the close (kiosk id -> the admin's reason) is listed with its reason
    and left out of the session, sync and quarantine checks: the waiver is the explanation.
    A source enrolled after the opening is listed with the reason the admin gave for it."""
    waived = waived or {}
    snapshot = reconciliation_snapshot(engine)
    # Read after the snapshot: every source in it was enrolled, reason and all, before.
    late = late_enrolments(engine)
    sources, beats, heads = snapshot.sources, snapshot.reports, snapshot.heights
    per_kind = snapshot.block_kinds
    dupes = duplicates(engine, policy)
    not_counted = Counter(x["kiosk"] for d in dupes for x in d["ballots"] if not x["counts"])
    kiosks: list[dict[str, Any]] = []
    for s in sources:
        k = per_kind.get(s.kiosk_id, Counter())
        reported = beats.get(s.kiosk_id, {}).get("height")
        height = int(heads.get(s.kiosk_id, -1))
        kiosks.append(
            {
                "kiosk": s.kiosk_id,
                "name": s.name,
                "channel": s.channel,
                "sessions_opened": k["session_open"],
                "sessions_closed": k["session_close"],
                "ballots": k["ballot"],
                "test_ballots": k["test_ballot"],
                "spoiled": k["spoiled"],  # v2: ballots voters checked; never counted
                "duplicates_not_counted": not_counted[s.kiosk_id],
                "ballots_counted": k["ballot"] - not_counted[s.kiosk_id],
                "ledger_height": height,
                "kiosk_reported_height": reported,
                "unsynced_blocks": max(0, reported - height) if reported is not None else None,
                "quarantined": bool(s.quarantined),
                "waived": waived.get(s.kiosk_id),
                "late_enrolment": late.get(s.kiosk_id),
            }
        )
    channels: dict[str, Counter[str]] = {}
    for row in kiosks:
        for field in ("ballots", "test_ballots", "duplicates_not_counted", "ballots_counted"):
            channels.setdefault(row["channel"], Counter())[field] += row[field]
    voters = len({d["nullifier"] for d in dupes})
    total_ballots = sum(k["ballots"] for k in kiosks)
    total_counted = sum(k["ballots_counted"] for k in kiosks)
    held = [k for k in kiosks if k["waived"] is None]
    checks = {
        # every duplicate group keeps exactly one ballot
        "duplicates_add_up": total_ballots - total_counted
        == sum(len(d["ballots"]) - 1 for d in dupes),
        "all_sessions_closed": all(k["sessions_opened"] == k["sessions_closed"] for k in held),
        "all_synced": all(k["unsynced_blocks"] in (0, None) for k in held),
        "no_quarantine": not any(k["quarantined"] for k in held),
    }
    return {
        "policy": policy.value,
        "kiosks": kiosks,
        "channels": {c: dict(v) for c, v in channels.items()},
        "totals": {
            "ballots": total_ballots,
            "ballots_counted": total_counted,
            "voters_with_duplicates": voters,
        },
        "late_enrolments": [
            {"kiosk": k["kiosk"], "name": k["name"], "reason": k["late_enrolment"]}
            for k in kiosks
            if k["late_enrolment"] is not None
        ],
        "checks": checks,
        "adds_up": all(checks.values()),
    }
