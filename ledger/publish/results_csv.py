"""results.csv: one row per contest and option, which opens in Excel with Hangul intact."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from kiosk.core.election import ContestKind, ElectionPackage
from ledger.publish.export_common import (
    ANSWERS,
    contests_with_results,
    option_score_sum,
    package_option,
)

# -- results.csv ------------------------------------------------------------------------------


def write_results_csv(out: TextIO, package: ElectionPackage, results: Mapping[str, Any]) -> None:
    """One row per contest and option (yes, no and blank for a yes/no question), with the
    counts and means of each voter category and the option's place in the ranking."""
    base = ["contest", "kind", "contest_title_ko", "contest_title_en"]
    base += [
        "option",
        "option_title_ko",
        "option_title_en",
        "group",
        "votes",
        "scores",
        "score_sum",
    ]
    rows = list(_csv_rows(package, results))
    counts = _ordered_union(r[1] for r in rows)
    ranks = _ordered_union(r[2] for r in rows)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(base + counts + ranks)
    for first, second, third in rows:
        line = first | second | third
        writer.writerow([_cell(line.get(column)) for column in base + counts + ranks])


def _csv_rows(
    package: ElectionPackage, results: Mapping[str, Any]
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    ranking = {r["option"]: r for r in results.get("ranking", {}).get("options", [])}
    for contest, result in contests_with_results(package, results):
        head: dict[str, Any] = {
            "contest": contest.id,
            "kind": contest.kind.value,
            "contest_title_ko": contest.title.ko,
            "contest_title_en": contest.title.en,
        }
        if contest.kind is ContestKind.YESNO:
            for answer, title in ANSWERS.items():
                row = head | {"option": answer, "option_title_ko": title.ko}
                row |= {"option_title_en": title.en, "votes": result[answer]}
                yield row, {f"votes_{c}": n[answer] for c, n in result["by_category"].items()}, {}
            continue
        for option_result in result["options"]:
            option = package_option(package, option_result["id"])
            row = head | {"option": option.id, "option_title_ko": option.title.ko}
            row |= {"option_title_en": option.title.en, "group": option.group}
            per: dict[str, Any] = {}
            if contest.kind is ContestKind.CHOICE:
                row["votes"] = option_result["votes"]
                per |= {f"votes_{c}": n for c, n in option_result["by_category"].items()}
            else:
                row["scores"] = option_result["count"]
                row["score_sum"] = option_score_sum(option_result)
                for c, cell in option_result["by_category"].items():
                    per |= {f"scores_{c}": cell["count"], f"score_sum_{c}": cell["sum"]}
                    per[f"mean_{c}"] = cell["mean"]
                    if "dropped" in cell:
                        per[f"dropped_high_{c}"] = cell["dropped"]["high"]
                        per[f"dropped_low_{c}"] = cell["dropped"]["low"]
                for criterion, total in option_result.get("criteria", {}).items():
                    per[f"criterion_sum_{criterion}"] = total
            yield row, per, _rank_columns(ranking.get(option.id))


def _rank_columns(rank: Mapping[str, Any] | None) -> dict[str, Any]:
    if rank is None:
        return {}
    out = {k: rank.get(k) for k in ("rank", "winner", "won_by", "result")}
    out |= {f"measure_{channel}": m for channel, m in rank.get("channels", {}).items()}
    return out | {"tied": rank.get("tied")}


def _ordered_union(dicts: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        seen.update(dict.fromkeys(d))
    return list(seen)


# The first characters that make a spreadsheet read a cell as a formula or command (OWASP,
# "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection): = + - @, tab, CR.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """Spreadsheet text: TRUE/FALSE for flags (Excel reads them as such), empty for none,
    numbers as they are, and text defused against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return defused_text(value)
    return str(value)  # an int or float we counted: "-1" stays the number -1


def defused_text(text: str) -> str:
    """A text cell (a title, an id, a channel: anything from the election's data) that a
    spreadsheet shows as text: one that starts with ``= + - @``, tab or carriage return gets a
    leading apostrophe, as OWASP advises, so ``=HYPERLINK(...)`` is shown and never run. Only
    ``str`` values come here; numbers never do, so a score of -1 is still a number. The csv
    module quotes the cell, so a quote or separator inside it cannot start a new cell."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
