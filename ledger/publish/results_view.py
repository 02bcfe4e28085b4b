"""What the report and the results page show, made from results.json and the package: the
ranking, each contest, turnout, in Korean and English, with times in the election's zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from kiosk.core.election import TIE_BREAK, ElectionPackage, Text
from ledger.publish.report_charts import bar_chart, columns_chart, stacked_chart

CHART_ROWS = 40  # the ranking chart shows this many proposals; the table below shows all
CHART_KIOSKS = 6  # turnout shows this many kiosks one by one, the rest together

CHANNELS = {"kiosk": Text("현장", "On site"), "online": Text("온라인", "Online")}
ANSWERS = {"yes": Text("찬성", "Yes"), "no": Text("반대", "No"), "blank": Text("기권", "Blank")}


# -- what the templates show ------------------------------------------------------------------
def results_view(package: ElectionPackage, results: dict[str, Any]) -> dict[str, Any]:
    """Everything the report and the results page show, from results.json and the package."""
    zone = _election_zone(package)
    winners = {
        r["option"] for r in results.get("ranking", {}).get("options", []) if r.get("winner")
    }
    names = {s["kiosk"]: s["name"] for s in results.get("sources", [])}
    closed = results.get("closed") or {}
    return {
        "title": Text(**results["title"]) if "title" in results else package.title,
        "election": results.get("election", package.id),
        "package_hash": results.get("package_hash", package.package_hash.hex()),
        "short_hash": package.short_hash,
        "tallied_at": _local_time(results.get("tallied_at"), zone),
        "trustees": results.get("trustees"),
        "ballots": _ballots(package, results),
        "ranking": _ranking(package, results.get("ranking", {})),
        "contests": [_contest(package, c, winners, n) for n, c in enumerate(results["contests"])],
        "turnout": _turnout(results.get("turnout", []), names, zone),
        "sources": [
            {"name": s["name"], "channel": _channel(s["channel"]), "counted": s["ballots_counted"]}
            for s in results.get("sources", [])
        ],
        "invalid": [
            i | {"source_name": names.get(str(i.get("source", "")).partition("@")[0], "")}
            for i in results.get("invalid", [])
        ],
        "closed": {
            "checkpoint": closed.get("checkpoint", ""),
            "size": closed.get("size"),
            "at": _local_time(closed.get("closed_at"), zone),
        },
    }


def _ballots(package: ElectionPackage, results: dict[str, Any]) -> dict[str, Any]:
    ballots = results["ballots"]
    return {
        "counted": ballots["counted"],
        "invalid": ballots["invalid"],
        "by_category": [
            {"title": _category(package, c), "count": n}
            for c, n in ballots.get("by_category", {}).items()
        ],
    }


def _ranking(package: ElectionPackage, ranking: dict[str, Any]) -> dict[str, Any]:
    channels = list(ranking.get("channels", {}))
    weighted = ranking.get("method") == "weighted_sum"
    rows = [
        {
            "rank": r["rank"],
            "option": _option(package, r["option"]),
            "measures": [_fixed(r.get("channels", {}).get(c), 3) for c in channels],
            "result": _fixed(r.get("result"), 3),
            "winner": bool(r.get("winner")),
            "won_by": _channel(r["won_by"]) if r.get("won_by") else None,
            "tied": bool(r.get("tied")),
        }
        for r in ranking.get("options", [])
    ]
    shown = rows[:CHART_ROWS]
    labels = [
        f"{'★ ' if r['winner'] else ''}{r['rank']}. {_short(r['option']['ko'])}" for r in shown
    ]
    if weighted:
        series = [(Text("결과", "Result"), [_number(r["result"]) for r in shown])]
    else:
        series = [
            (_channel(c), [_number(r["measures"][i]) for r in shown])
            for i, c in enumerate(channels)
        ]
    charts = (
        bar_chart(
            "ranking",
            Text("제안 순위 그래프", "Ranking chart"),
            labels,
            series,
            limit=max([v or 0 for _, vs in series for v in vs] + [1.0]),
            decimals=3,
            bold=[r["winner"] for r in shown],
        )
        if rows
        else []
    )
    return {
        "method": ranking.get("method"),
        "weighted": weighted,
        "channels": [_channel(c) for c in channels],
        "rules": _ranking_rules(ranking),
        "winners": [r for r in rows if r["winner"]],
        "rows": rows,
        "charts": charts,
        "chart_truncated": len(rows) > CHART_ROWS,
        "chart_rows": CHART_ROWS,
    }


def _ranking_rules(ranking: dict[str, Any]) -> list[Text]:
    """The announced rules, in words: how winners are picked, how ties are broken."""
    channels = ranking.get("channels", {})
    rules = []
    if ranking.get("method") == "quota":
        order = [(CHANNELS.get(c, Text(c, c)), v.get("winners", 0)) for c, v in channels.items()]
        rules.append(
            Text(
                "할당 방식: "
                + ", 이어서 ".join(f"{t.ko}에서 {n}건" for t, n in order)
                + "을 선정합니다. 각 채널은 앞 채널이 고르지 않은 제안 중 그 채널에서 "
                "점수가 높은 순으로 고릅니다(그 채널에서 한 표 이상 받은 제안만).",
                "Quota: "
                + ", then ".join(f"{n} {t.en.lower()}" for t, n in order)
                + ". Each channel picks its best proposals that an earlier channel did not "
                "pick (only proposals with at least one vote or score there).",
            )
        )
    else:
        terms = [(CHANNELS.get(c, Text(c, c)), v.get("weight", 0)) for c, v in channels.items()]
        rules.append(
            Text(
                "가중 합산: 결과 = "
                + " + ".join(f"{t.ko} 점수 × {w:g}" for t, w in terms)
                + f". 결과가 높은 {ranking.get('winners', 0)}건을 선정합니다.",
                "Weighted sum: result = "
                + " + ".join(f"{w:g} × {t.en.lower()} measure" for t, w in terms)
                + f". The {ranking.get('winners', 0)} highest results win.",
            )
        )
    rules.append(
        Text(
            "채널 점수는 그 채널에서 가장 좋은 제안을 1.000으로 한 상대 점수입니다.",
            "A channel's measure is relative: the best proposal there scores 1.000.",
        )
    )
    if ranking.get("drop_extremes"):
        rules.append(
            Text(
                "점수는 투표자 유형마다 가장 높은 점수와 가장 낮은 점수를 하나씩 빼고 "
                "평균을 냅니다(3명 이상이 점수를 준 경우).",
                "Each voter category's highest and lowest score for a proposal are dropped "
                "before the mean (when at least three people scored it).",
            )
        )
    rule = ranking.get("tie_break", TIE_BREAK)
    rules.append(
        Text(
            "동점 처리: 미리 공개한 규칙에 따라 제안 번호가 낮은 제안이 앞섭니다. "
            "동점으로 순서가 정해진 제안에는 ‘= 동점’ 표시가 있습니다.",
            "Ties: by the rule announced before the vote, the lower proposal id ranks first. "
            "Proposals ordered by this rule are marked ‘= tie’.",
        )
        if rule == TIE_BREAK
        else Text(f"동점 처리 규칙: {rule}", f"Tie-break rule: {rule}")
    )
    return rules


def _contest(
    package: ElectionPackage, contest: dict[str, Any], winners: set[str], number: int
) -> dict[str, Any]:
    title = Text(**contest["title"])
    declared = next((c for c in package.contests if c.id == contest["id"]), None)
    view: dict[str, Any] = {"id": contest["id"], "kind": contest["kind"], "title": title}
    view["ballots"] = contest.get("ballots", 0)
    if contest["kind"] == "yesno":
        return view | _yesno(package, contest, number)
    categories: list[str] = list(declared.categories) if declared else _categories_of(contest)
    criteria = [(c.id, c.title) for c in declared.criteria] if declared else []
    view["categories"] = [_category(package, c) for c in categories]
    view["criteria"] = [t for _, t in criteria]
    sections = []
    for g, (group, options) in enumerate(_by_group(package, contest["options"])):
        rows = [
            _option_row(package, o, contest["kind"], categories, criteria, winners) for o in options
        ]
        labels = [f"{'★ ' if r['winner'] else ''}{_short(r['option']['ko'])}" for r in rows]
        if contest["kind"] == "score":
            series = [
                (view["categories"][i], [_number(r["cells"][i]["mean"]) for r in rows])
                for i in range(len(categories))
            ]
            limit, decimals = float(declared.max) if declared else None, 2
        else:
            series = [
                (view["categories"][i], [float(r["cells"][i]["votes"]) for r in rows])
                for i in range(len(categories))
            ]
            limit, decimals = None, 0
        caption = Text(f"{title.ko} — {group.ko}", f"{title.en} — {group.en}")
        charts = bar_chart(
            f"c{number}g{g}",
            caption,
            labels,
            series,
            limit=limit,
            decimals=decimals,
            bold=[r["winner"] for r in rows],
        )
        sections.append({"group": group, "rows": rows, "charts": charts})
    view["sections"] = sections
    return view


def _option_row(
    package: ElectionPackage,
    option: dict[str, Any],
    kind: str,
    categories: list[str],
    criteria: list[tuple[str, Text]],
    winners: set[str],
) -> dict[str, Any]:
    by_category = option.get("by_category", {})
    cells = []
    for c in categories:
        cell = by_category.get(c, {})
        if kind == "score":
            dropped = cell.get("dropped")
            cells.append(
                {
                    "count": cell.get("count", 0),
                    "mean": _fixed(cell.get("mean"), 2),
                    "dropped": None
                    if not dropped
                    else {"high": _fixed(dropped["high"], 0), "low": _fixed(dropped["low"], 0)},
                }
            )
        else:
            cells.append({"votes": int(cell) if isinstance(cell, int) else 0})
    sums = option.get("criteria", {})
    return {
        "option": _option(package, option["id"]),
        "winner": option["id"] in winners,
        "cells": cells,
        "total": option.get("count", option.get("votes", 0)),
        "criteria": [sums.get(c, 0) for c, _ in criteria],
    }


def _yesno(package: ElectionPackage, contest: dict[str, Any], number: int) -> dict[str, Any]:
    by_category = contest.get("by_category", {})
    rows = [
        {"title": _category(package, c), **{a: counts.get(a, 0) for a in ANSWERS}}
        for c, counts in by_category.items()
    ]
    total = {"title": Text("전체", "All"), **{a: contest.get(a, 0) for a in ANSWERS}}
    return {
        "answers": list(ANSWERS.values()),
        "rows": rows,
        "total": total,
        "chart": stacked_chart(
            f"c{number}yn",
            Text(contest["title"]["ko"], contest["title"]["en"]),
            [f"{r['title'].ko}" for r in [*rows, total]],
            [(ANSWERS[a], [float(r[a]) for r in [*rows, total]]) for a in ANSWERS],
        ),
    }


def _turnout(turnout: list[dict[str, Any]], names: dict[str, str], zone: tzinfo) -> dict[str, Any]:
    """Counted ballots per kiosk per hour, in the election's own time zone."""
    hours = sorted({t["hour"] for t in turnout})
    kiosks = sorted({t["kiosk"] for t in turnout}, key=lambda k: names.get(k, k))
    counts = {(t["kiosk"], t["hour"]): int(t["ballots"]) for t in turnout}
    rows = [
        {
            "name": names.get(k, k),
            "counts": [counts.get((k, h), 0) for h in hours],
            "total": sum(counts.get((k, h), 0) for h in hours),
        }
        for k in kiosks
    ]
    totals = [sum(r["counts"][i] for r in rows) for i in range(len(hours))]
    labels = [_hour_label(h, zone, len({h[:10] for h in hours}) > 1) for h in hours]
    series = [(Text(r["name"], r["name"]), [float(n) for n in r["counts"]]) for r in rows]
    if len(series) > CHART_KIOSKS:
        rest = [sum(v) for v in zip(*(s for _, s in series[CHART_KIOSKS - 1 :]), strict=True)]
        series = [*series[: CHART_KIOSKS - 1], (Text("그 밖의 단말기", "Other kiosks"), rest)]
    return {
        "hours": labels,
        "zone": _zone_label(zone),
        "rows": rows,
        "totals": totals,
        "total": sum(totals),
        "chart": columns_chart("turnout", labels, series) if hours else None,
    }


# -- small helpers ----------------------------------------------------------------------------
def _option(package: ElectionPackage, option_id: str) -> dict[str, str]:
    option = package.option(option_id)
    if option is None:  # results for another package: show the id rather than fail
        return {"id": option_id, "ko": option_id, "en": option_id, "group_ko": "", "group_en": ""}
    group = next((g.title for g in package.groups if g.id == option.group), Text("", ""))
    return {
        "id": option_id,
        "ko": option.title.ko,
        "en": option.title.en,
        "group_ko": group.ko,
        "group_en": group.en,
    }


def _by_group(
    package: ElectionPackage, options: list[dict[str, Any]]
) -> list[tuple[Text, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for o in options:
        found = package.option(o["id"])
        groups.setdefault(found.group if found else "", []).append(o)
    titles: dict[str, Text] = {g.id: g.title for g in package.groups}
    return [(titles.get(g, Text("기타", "Other")), items) for g, items in groups.items()]


def _categories_of(contest: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for o in contest.get("options", []):
        seen.update(dict.fromkeys(o.get("by_category", {})))
    return list(seen)


def _category(package: ElectionPackage, category_id: str) -> Text:
    found = package.category(category_id)
    return found.title if found else Text(category_id, category_id)


def _channel(channel: str) -> Text:
    return CHANNELS.get(channel, Text(channel, channel))


def _fixed(value: float | None, places: int) -> str | None:
    return None if value is None else f"{value:.{places}f}"


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def _short(title: str, length: int = 16) -> str:
    return title if len(title) <= length else title[: length - 1] + "…"


def election_time(stamp: str | None, package: ElectionPackage) -> str | None:
    """An ISO time as the election's local time, e.g. ``2017-11-25 18:05 (UTC+09:00)``."""
    return _local_time(stamp, _election_zone(package))


def _election_zone(package: ElectionPackage) -> tzinfo:
    """The election's time zone, from the offset of its announced opening time."""
    try:
        return datetime.fromisoformat(package.opens).tzinfo or UTC
    except ValueError:
        return UTC


def _zone_label(zone: tzinfo) -> str:
    offset = datetime.now(zone).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def _local_time(stamp: str | None, zone: tzinfo) -> str | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({_zone_label(zone)})"


def _hour_label(hour: str, zone: tzinfo, with_date: bool) -> str:
    """A block-time hour (UTC, ``2026-11-22T01``) as the local hour it began."""
    try:
        moment = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).astimezone(zone)
    except ValueError:
        return hour
    return f"{moment:%m-%d %H:00}" if with_date else f"{moment:%H:00}"
