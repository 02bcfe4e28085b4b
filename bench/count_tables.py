"""The count benchmark's tables (markdown) from the JSON files `bench.count_bench --out` writes:
one row per stage, a column per run (1 process, 2 processes, Dask), each beside the stage's
floor; the 100,000-ballot stages that were not run extrapolated from the 10,000-ballot run's
time per score ciphertext (or per ballot), labelled so.

Run: `.venv/bin/python -m bench.count_tables RUN.json [RUN.json ...]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ONE_CORE = "1 worker(s)"


def _time(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds >= 1 else f"{seconds * 1e3:,.0f} ms"


def spent(row: dict[str, Any], where: str) -> float:
    """CPU time for a one-process run (the machine is shared), wall-clock otherwise."""
    return float(row["cpu"] if where == ONE_CORE else row["wall"])


def table(runs: list[dict[str, Any]]) -> list[str]:
    wheres = [r["where"] for r in runs]
    head = "| stage (floor's calls) | floor | " + " | ".join(wheres) + " |"
    lines = [head, "|---" * (2 + len(runs)) + "|"]
    stages: list[str] = []
    for r in runs:
        stages += [row["stage"] for row in r["rows"] if row["stage"] not in stages]
    for stage in stages:
        found = [next((x for x in r["rows"] if x["stage"] == stage), None) for r in runs]
        first = next(x for x in found if x is not None)
        cells = []
        for r, x in zip(runs, found, strict=True):
            if x is None:
                cells.append("—")
                continue
            t = spent(x, r["where"])
            cells.append(f"{_time(t)} ({t / x['floor']:.2f}x)" if x["floor"] else _time(t))
        lines.append(
            f"| {stage} [{first['formula']}] | {_time(first['floor'])} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def extrapolated(small: dict[str, Any], large: list[dict[str, Any]], size: int) -> list[str]:
    """The stages the large runs did not reach, from the small one-process run: its time per
    score ciphertext (per ballot for the selection) times the large log's count. The shape
    scales by whole groups (156 score cells and 122 ballots a group), so both are the same
    factor, the ratio of the groups."""
    done = {row["stage"] for r in large for row in r["rows"]}
    factor = large[0]["groups"] / small["groups"]
    cells_small = 156 * small["groups"]
    lines = []
    for row in small["rows"]:
        if row["stage"] in done:
            continue
        t = spent(row, small["where"])
        rate = t / cells_small * 1e3
        lines.append(
            f"| {row['stage']} | extrapolated: {_time(t * factor)} | {rate:.3f} ms per score "
            f"ciphertext ({t / small['ballots'] * 1e3:.3f} ms per ballot) × {factor:g} |"
        )
    if not lines:
        return []
    head = [
        f"\n{size:,} ballots, stages not run (one process, CPU time)\n",
        "| stage | time | rate used |",
        "|---|---|---|",
    ]
    return head + lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    runs = [json.loads(p.read_text()) for p in args.runs]
    by_size: dict[int, list[dict[str, Any]]] = {}
    for r in runs:
        by_size.setdefault(r["ballots"], []).append(r)
    for size, group in sorted(by_size.items()):
        print(f"\n{size:,} ballots ({group[0]['groups']} groups, {group[0]['blocks']:,} blocks)\n")
        print("\n".join(table(group)))
        for r in group:
            v = r.get("verify")
            if v:
                print(
                    f"\nverify-bundle ({r['where']}): ok={v['ok']}, {v['wall']:.1f} s wall, "
                    f"{v['cpu']:.1f} s CPU of its processes, "
                    f"peak RSS {v['peak_kib'] / 1024:,.0f} MiB"
                )
            print(f"load average {r['load_start']:.1f} → {r['load_end']:.1f}")
    sizes = sorted(by_size)
    if len(sizes) > 1:
        small = next(r for r in by_size[sizes[0]] if r["where"] == ONE_CORE)
        print("\n".join(extrapolated(small, by_size[sizes[-1]], sizes[-1])))


if __name__ == "__main__":
    main()
