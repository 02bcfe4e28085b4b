"""Standard exports of the published tally records: a results spreadsheet and the NIST
SP 1500-100 (results), 1500-103 (cast vote records) and 1500-101 (event log) JSON documents.

They are built only from what the tally publishes (docs/tally.md): the results document, the
opened ballots in their shuffled order, and the kiosk chains, so anyone can rebuild them from
the bundle. Nothing that links a ballot to a voter goes in: no nullifier, no sealed ballot, and
no block, hash or time next to a ballot.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kiosk import __version__
from kiosk.core.block import BlockKind, SignedBlock
from kiosk.core.election import Contest, ContestKind, ElectionPackage, Option, Scope, Text
from kiosk.core.errors import HanpyoError

RESULTS_CSV = "results.csv"
NIST_RESULTS = "nist-1500-100-results.json"
NIST_CVR = "nist-1500-103-cvr.json"
NIST_EVENTS = "nist-1500-101-events.json"

SCOPE_ID = "gpu-election"  # the one reporting unit: the whole election
ELECTION_ID = "election"  # the cast vote record report's one election
LEDGER_DEVICE_ID = "device-ledger"  # the ledger's tally, which writes the CVR report
MANUFACTURER = "Hanpyo"
ANSWERS: dict[str, Text] = {
    "yes": Text("찬성", "Yes"),
    "no": Text("반대", "No"),
    "blank": Text("기권", "Blank"),
}

# What an event log may say about each kind of block. An allow-list, so that a ballot's
# nullifier and sealed box can never reach the log, whatever a block body carries.
_PUBLIC_BODY: dict[BlockKind, tuple[str, ...]] = {
    BlockKind.GENESIS: ("kiosk_key", "package"),
    BlockKind.MODE: ("mode",),
    BlockKind.SESSION_OPEN: ("session",),
    BlockKind.SESSION_PAUSE: ("session",),
    BlockKind.SESSION_RESUME: ("session",),
    BlockKind.SESSION_CLOSE: ("session", "ballots", "test_ballots", "checkpoint"),
    BlockKind.BALLOT: (),
    BlockKind.TEST_BALLOT: (),
}


class ExportError(HanpyoError):
    """Published records that do not fit the election package or each other."""

    user_message = (
        "공개 기록이 선거 패키지와 맞지 않아 내보낼 수 없습니다.",
        "The published records do not match the election package, so they cannot be exported.",
    )


def write_exports(
    out: Path,
    package: ElectionPackage,
    results: dict[str, Any],
    ballots: Iterable[dict[str, Any]],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[dict[str, Any]],
) -> list[Path]:
    """Write the four standard exports into ``out`` and return their paths.

    ``ballots`` is read once, in order, and the cast vote records are written as they come,
    so a million ballots never sit in memory. Each file appears only when it is complete.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / RESULTS_CSV, out / NIST_RESULTS, out / NIST_CVR, out / NIST_EVENTS]
    with _replacing(paths[0], encoding="utf-8-sig") as f:  # the BOM tells Excel it is UTF-8
        write_results_csv(f, package, results)
    with _replacing(paths[1]) as f:
        json.dump(nist_results(package, results, sources), f, ensure_ascii=False, indent=1)
    with _replacing(paths[2]) as f:
        _write_json(f, _cvr_report(package, results, ballots, sources))
        f.write("\n")
    with _replacing(paths[3]) as f:
        _write_json(f, _event_log(package, results, chains, sources))
        f.write("\n")
    return paths


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
    for contest, result in _contests(package, results):
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
            option = _option(package, option_result["id"])
            row = head | {"option": option.id, "option_title_ko": option.title.ko}
            row |= {"option_title_en": option.title.en, "group": option.group}
            per: dict[str, Any] = {}
            if contest.kind is ContestKind.CHOICE:
                row["votes"] = option_result["votes"]
                per |= {f"votes_{c}": n for c, n in option_result["by_category"].items()}
            else:
                row["scores"] = option_result["count"]
                row["score_sum"] = _score_sum(option_result)
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


def _cell(value: Any) -> str:
    """Spreadsheet text: TRUE/FALSE for flags (Excel reads them as such), empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


# -- NIST SP 1500-100: election results -------------------------------------------------------


def nist_results(
    package: ElectionPackage, results: Mapping[str, Any], sources: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """An ElectionReport (NIST SP 1500-100 version 2) with the totals of the whole election
    and of each kiosk or online platform (one ReportingDevice each)."""
    devices = _devices(sources, results, {})
    per_device = [(d, _by_contest(d.contests)) for d in devices]
    ranking = {r["option"]: r for r in results.get("ranking", {}).get("options", [])}
    invalid = Counter(_kiosk_of(i.get("source")) for i in results.get("invalid", []))
    counted = results["ballots"]
    candidates = []
    for option in package.options:
        candidate: dict[str, Any] = {
            "@id": _candidate_id(option.id),
            "@type": "ElectionResults.Candidate",
            "BallotName": _itext(option.title),
            "ExternalIdentifier": [
                _err_code("hanpyo-option", option.id),
                _err_code("hanpyo-group", option.group),
            ],
            "PreElectionStatus": "qualified",
        }
        if option.id in ranking:
            winner = ranking[option.id]["winner"]
            candidate["PostElectionStatus"] = "winner" if winner else "defeated"
        candidates.append(candidate)  # proposals stand for no party: no PartyId
    ballot_counts = [_ballot_counts(SCOPE_ID, counted["counted"], counted["invalid"])]
    ballot_counts += [
        _ballot_counts(d.ref, d.ballots_counted, invalid[d.kiosk])
        for d in devices
        if d.ballots_counted is not None
    ]
    election = {
        "@type": "ElectionResults.Election",
        "Name": _itext(package.title),
        "Type": "other",
        "OtherType": "participatory vote",
        "ElectionScopeId": SCOPE_ID,
        "StartDate": datetime.fromisoformat(package.opens).date().isoformat(),
        "EndDate": datetime.fromisoformat(package.closes).date().isoformat(),
        "ExternalIdentifier": [
            _err_code("hanpyo-election", package.id),
            _err_code("package-sha256", package.package_hash.hex()),
        ],
        "Candidate": candidates,
        "Contest": [
            _err_contest(package, contest, result, per_device, n)
            for n, (contest, result) in enumerate(_contests(package, results), start=1)
        ],
        "BallotCounts": ballot_counts,
        "CountStatus": [_count_status()],
    }
    units: list[dict[str, Any]] = [
        {
            "@id": SCOPE_ID,
            "@type": "ElectionResults.ReportingUnit",
            "Type": "other",
            "OtherType": "election",
            "Name": _itext(package.title),
            "ComposingGpUnitIds": [d.ref for d in devices],
        }
    ]
    units += [
        {
            "@id": d.ref,
            "@type": "ElectionResults.ReportingDevice",
            "Name": _itext_once(d.name),
            "SerialNumber": d.kiosk,
            "DeviceClass": _device_class(d.channel),
        }
        for d in devices
    ]
    return {
        "@type": "ElectionResults.ElectionReport",
        "Format": "precinct-level",  # totals are broken down by device, below the election
        "GeneratedDate": _nist_time(results.get("tallied_at")),
        "Issuer": "Hanpyo ledger",
        "IssuerAbbreviation": "Hanpyo",
        "IsTest": False,
        "SequenceStart": 1,
        "SequenceEnd": 1,
        # The trustees' count of the closed log is complete; certifying it is the election
        # authority's act, which the software cannot claim.
        "Status": "unofficial-complete",
        "VendorApplicationId": f"Hanpyo {__version__}",
        "Notes": f"election {package.id}, package SHA-256 {package.package_hash.hex()}",
        "Election": [election],
        "GpUnit": units,
    }


def _err_contest(
    package: ElectionPackage,
    contest: Contest,
    result: Mapping[str, Any],
    per_device: Sequence[tuple[_Device, dict[str, dict[str, Any]]]],
    sequence: int,
) -> dict[str, Any]:
    head: dict[str, Any] = {
        "@id": _contest_id(contest.id),
        "Name": _both(contest.title),
        "BallotTitle": _itext(contest.title),
        "ElectionDistrictId": SCOPE_ID,
        "SequenceOrder": sequence,
        "CountStatus": [_count_status()],
    }
    devices = [(d, by[contest.id]) for d, by in per_device if contest.id in by]
    if contest.kind is ContestKind.YESNO:
        # A yes/no question is a ballot measure; a blank answer is an undervote. The kiosk
        # cannot record two answers, so there are never overvotes.
        selections = []
        for n, answer in enumerate(("yes", "no"), start=1):
            per_category = [(f"category:{c}", v[answer]) for c, v in result["by_category"].items()]
            selections.append(
                {
                    "@id": _selection_id(contest.id, answer),
                    "@type": "ElectionResults.BallotMeasureSelection",
                    "Selection": _itext(ANSWERS[answer]),
                    "SequenceOrder": n,
                    "VoteCounts": _vote_counts(
                        result[answer], per_category, [(d.ref, r[answer]) for d, r in devices]
                    ),
                }
            )
        undervotes = [(SCOPE_ID, result["blank"])] + [(d.ref, r["blank"]) for d, r in devices]
        return head | {
            "@type": "ElectionResults.BallotMeasureContest",
            "Type": "ballot-measure",
            "ContestSelection": selections,
            "OtherCounts": [_other_counts(gp, n) for gp, n in undervotes],
        }
    device_options = [(d, {o["id"]: o for o in r["options"]}) for d, r in devices]
    selections = []
    for n, option_result in enumerate(result["options"], start=1):
        option = _option(package, option_result["id"])
        on_devices = [(d, by[option.id]) for d, by in device_options if option.id in by]
        if contest.kind is ContestKind.CHOICE:
            total: float = option_result["votes"]
            per_category = [(f"category:{c}", v) for c, v in option_result["by_category"].items()]
            per_device_count = [(d.ref, o["votes"]) for d, o in on_devices]
        else:
            # A score contest maps onto a candidate contest of the "range" vote variation:
            # an option's vote count is the sum of the scores it received (criterion-weighted
            # when the contest has criteria), which is what a range vote totals. The number
            # of scores and the mean of each voter category, which the ranking uses, follow
            # as counts of type "other", named in OtherType.
            total = _score_sum(option_result)
            per_category = []
            for c, cell in option_result["by_category"].items():
                per_category += [(f"score-sum:{c}", cell["sum"]), (f"scores:{c}", cell["count"])]
                if cell["mean"] is not None:
                    per_category.append((f"mean:{c}", cell["mean"]))
            per_category += [
                (f"criterion-sum:{k}", v) for k, v in option_result.get("criteria", {}).items()
            ]
            per_device_count = [(d.ref, _score_sum(o)) for d, o in on_devices]
        selections.append(
            {
                "@id": _selection_id(contest.id, option.id),
                "@type": "ElectionResults.CandidateSelection",
                "CandidateIds": [_candidate_id(option.id)],
                "SequenceOrder": n,
                "VoteCounts": _vote_counts(total, per_category, per_device_count),
            }
        )
    out = head | {
        "@type": "ElectionResults.CandidateContest",
        "VoteVariation": _vote_variation(package, contest),
        "ContestSelection": selections,
    }
    if contest.kind is ContestKind.CHOICE:
        # A voter who may choose up to N and chooses fewer leaves the rest as undervotes.
        out["VotesAllowed"] = contest.max
        gps = [(SCOPE_ID, result)] + [(d.ref, r) for d, r in devices]
        out["OtherCounts"] = [
            _other_counts(gp, r["ballots"] * contest.max - sum(o["votes"] for o in r["options"]))
            for gp, r in gps
        ]
    else:
        out["VotesAllowed"] = _ballot_size(package, contest)  # one score per option shown
    return out


def _vote_counts(
    total: float, per_category: Iterable[tuple[str, float]], per_device: Iterable[tuple[str, float]]
) -> list[dict[str, Any]]:
    counts = [_vote_count(SCOPE_ID, total)]
    counts += [_vote_count(SCOPE_ID, n, other) for other, n in per_category]
    return counts + [_vote_count(gp, n) for gp, n in per_device]


def _vote_count(gp_unit: str, count: float, other: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "ElectionResults.VoteCounts", "GpUnitId": gp_unit}
    out |= {"Type": "total"} if other is None else {"Type": "other", "OtherType": other}
    return out | {"Count": count}


def _other_counts(gp_unit: str, undervotes: int) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.OtherCounts",
        "GpUnitId": gp_unit,
        "Undervotes": undervotes,
        "Overvotes": 0,  # the kiosk and the online platform refuse them
    }


def _ballot_counts(gp_unit: str, counted: int, rejected: int) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.BallotCounts",
        "GpUnitId": gp_unit,
        "Type": "total",
        "BallotsCast": counted + rejected,
        "BallotsRejected": rejected,
    }


def _count_status() -> dict[str, Any]:
    return {"@type": "ElectionResults.CountStatus", "Status": "completed", "Type": "total"}


def _err_code(kind: str, value: str) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.ExternalIdentifier",
        "Type": "other",
        "OtherType": kind,
        "Value": value,
    }


def _itext(text: Text) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [_language_string("ko", text.ko), _language_string("en", text.en)],
    }


def _itext_once(name: str) -> dict[str, Any]:
    """A name staff typed in one unknown language ("und" in BCP 47)."""
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [_language_string("und", name)],
    }


def _language_string(language: str, content: str) -> dict[str, Any]:
    return {"@type": "ElectionResults.LanguageString", "Language": language, "Content": content}


def _device_class(channel: str) -> dict[str, Any]:
    out = {"@type": "ElectionResults.DeviceClass", "Manufacturer": MANUFACTURER}
    out["Model"] = _model(channel)
    if channel == "online":
        return out | {"Type": "other", "OtherType": "online platform"}
    return out | {"Type": "dre"}  # each ballot recorded electronically, with no paper


def _model(channel: str) -> str:
    return "Hanpyo online platform" if channel == "online" else "Hanpyo kiosk"


# -- NIST SP 1500-103: cast vote records ------------------------------------------------------


def nist_cvr(
    package: ElectionPackage,
    results: Mapping[str, Any],
    ballots: Iterable[dict[str, Any]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A CastVoteRecordReport (NIST SP 1500-103) with one anonymous CVR per published ballot,
    in the published (shuffled) order. ``write_exports`` streams the same document."""
    document: dict[str, Any] = _materialise(_cvr_report(package, results, ballots, sources))
    return document


def _cvr_report(
    package: ElectionPackage,
    results: Mapping[str, Any],
    ballots: Iterable[dict[str, Any]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    devices = _devices(sources, results, {})
    recorder = _CvrWriter(package, {d.kiosk for d in devices})
    reporting: list[dict[str, Any]] = [
        {
            "@id": LEDGER_DEVICE_ID,
            "@type": "CVR.ReportingDevice",
            "Application": f"Hanpyo {__version__} ledger tally",
            "Manufacturer": MANUFACTURER,
        }
    ]
    reporting += [
        {
            "@id": d.ref,
            "@type": "CVR.ReportingDevice",
            "Manufacturer": MANUFACTURER,
            "Model": _model(d.channel),
            "SerialNumber": d.kiosk,
            "Notes": [d.name, d.channel],
        }
        for d in devices
    ]
    return {
        "@type": "CVR.CastVoteRecordReport",
        "Version": "1.0.0",
        "GeneratedDate": _nist_time(results.get("tallied_at")),
        "ReportType": ["aggregated"],  # the ledger gathers every kiosk's ballots
        "Notes": "Anonymous records of the opened ballots, in the tally's published random "
        f"order; election {package.id}, package SHA-256 {package.package_hash.hex()}.",
        "ReportGeneratingDeviceIds": [LEDGER_DEVICE_ID],
        "ReportingDevice": reporting,
        "GpUnit": [
            {
                "@id": SCOPE_ID,
                "@type": "CVR.GpUnit",
                "Type": "other",
                "OtherType": "election",
                "Name": _both(package.title),
                "ReportingDeviceIds": [d.ref for d in devices],
            }
        ],
        "Election": [
            {
                "@id": ELECTION_ID,
                "@type": "CVR.Election",
                "Name": _both(package.title),
                "ElectionScopeId": SCOPE_ID,
                "Code": [_cvr_code("hanpyo-election", package.id)],
                "Candidate": [
                    {
                        "@id": _candidate_id(o.id),
                        "@type": "CVR.Candidate",
                        "Name": _both(o.title),
                        "Code": [_cvr_code("hanpyo-option", o.id)],
                    }
                    for o in package.options
                ],
                "Contest": [_cvr_contest_definition(package, c) for c in package.contests],
            }
        ],
        "CVR": _Lazy(recorder.cvr(record) for record in ballots),
    }


def _cvr_contest_definition(package: ElectionPackage, contest: Contest) -> dict[str, Any]:
    head = {"@id": _contest_id(contest.id), "Name": _both(contest.title)}
    if contest.kind is ContestKind.YESNO:
        return head | {
            "@type": "CVR.BallotMeasureContest",
            "ContestSelection": [
                {
                    "@id": _selection_id(contest.id, answer),
                    "@type": "CVR.BallotMeasureSelection",
                    "Selection": answer,
                }
                for answer in ("yes", "no")
            ],
        }
    return head | {
        "@type": "CVR.CandidateContest",
        "VoteVariation": _vote_variation(package, contest),
        "VotesAllowed": contest.max
        if contest.kind is ContestKind.CHOICE
        else _ballot_size(package, contest),
        "ContestSelection": [
            {
                "@id": _selection_id(contest.id, o.id),
                "@type": "CVR.CandidateSelection",
                "CandidateIds": [_candidate_id(o.id)],
            }
            for o in package.options
        ],
    }


class _CvrWriter:
    """Turns published ballot records into CVRs, checking them against the package."""

    def __init__(self, package: ElectionPackage, kiosks: set[str]) -> None:
        self.contests = {c.id: c for c in package.contests}
        self.order = {c.id: n for n, c in enumerate(package.contests)}
        self.options = {o.id for o in package.options}
        self.kiosks = kiosks

    def cvr(self, record: Mapping[str, Any]) -> dict[str, Any]:
        n, source = record["n"], record["source"]
        if source not in self.kiosks:
            raise ExportError(f"ballot {n} comes from {source!r}, which is not a listed source")
        snapshot: dict[str, Any] = {"@id": f"cvr-{n}", "@type": "CVR.CVRSnapshot"}
        snapshot["Type"] = "original"  # the ballot as the voter cast it; nothing adjudicated
        cvr: dict[str, Any] = {
            "@type": "CVR.CVR",
            "ElectionId": ELECTION_ID,
            "CreatingDeviceId": _device_id(source),
            "UniqueId": str(n),  # the published position, which says nothing about the voter
            "CurrentSnapshotId": snapshot["@id"],
        }
        ballot = record.get("ballot")
        if ballot is None:
            # An invalid ballot stays in the report, marked, with the tally's reason and the
            # opened bytes, so that no ballot disappears between the tally and the export.
            snapshot |= {"Status": ["other"], "OtherStatus": "invalid"}
            message = [f"invalid: {record.get('invalid', 'no reason given')}"]
            if record.get("plaintext") is not None:
                message.append(f"plaintext (base64): {record['plaintext']}")
            snapshot["Annotation"] = [{"@type": "CVR.Annotation", "Message": message}]
            return cvr | {"CVRSnapshot": [snapshot]}
        cvr["BallotStyleId"] = f"{ballot['category']}/{ballot.get('group') or '-'}"
        answered = ballot["contests"]
        unknown = sorted(set(answered) - set(self.contests))
        if unknown:
            raise ExportError(f"ballot {n} answers {unknown}, which the package does not have")
        snapshot["CVRContest"] = [
            self._contest(self.contests[cid], answered[cid], n)
            for cid in sorted(answered, key=self.order.__getitem__)
        ]
        return cvr | {"CVRSnapshot": [snapshot]}

    def _contest(self, contest: Contest, selection: Any, n: int) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": "CVR.CVRContest", "ContestId": _contest_id(contest.id)}
        marks: list[dict[str, Any]] = []
        match contest.kind:
            case ContestKind.CHOICE:
                marks = [self._mark(contest, o, n, [_position(1)]) for o in selection]
                out["Undervotes"] = max(0, contest.max - len(marks))
            case ContestKind.SCORE:
                # A score is the number of votes the option receives (as in range voting);
                # with criteria, each criterion's score is its own position, in the package's
                # criterion order, named by a code.
                for option, score in selection.items():
                    if isinstance(score, Mapping):
                        positions = [
                            _position(score[c.id], k, c.id)
                            for k, c in enumerate(contest.criteria, start=1)
                        ]
                        marks.append(self._mark(contest, option, n, positions))
                    else:
                        mark = self._mark(contest, option, n, [_position(score)])
                        marks.append(mark | {"TotalNumberVotes": score})
            case ContestKind.YESNO:
                if selection in ("yes", "no"):
                    marks = [self._mark(contest, selection, n, [_position(1)])]
                out["Undervotes"] = 0 if marks else 1  # a blank answer
        if not marks:
            out["Status"] = ["not-indicated"]
        return out | {"Selections": len(marks), "CVRContestSelection": marks}

    def _mark(
        self, contest: Contest, choice: str, n: int, positions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        if contest.kind is not ContestKind.YESNO and choice not in self.options:
            raise ExportError(f"ballot {n}: {contest.id} names option {choice!r}, which is unknown")
        return {
            "@type": "CVR.CVRContestSelection",
            "ContestSelectionId": _selection_id(contest.id, choice),
            "SelectionPosition": positions,
        }


def _position(
    votes: int, position: int | None = None, criterion: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@type": "CVR.SelectionPosition",
        "HasIndication": "yes",
        "IsAllocable": "yes",
        "NumberVotes": votes,
    }
    if position is not None and criterion is not None:
        out |= {"Position": position, "Code": [_cvr_code("criterion", criterion)]}
    return out


def _cvr_code(kind: str, value: str) -> dict[str, Any]:
    return {"@type": "CVR.Code", "Type": "other", "OtherType": kind, "Value": value}


# -- NIST SP 1500-101: election event log -----------------------------------------------------


def nist_event_log(
    package: ElectionPackage,
    results: Mapping[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """An ElectionEventLog (NIST SP 1500-101): one Device per kiosk or online platform and one
    Event per block of its chain, in height order. A ballot's event says only that a ballot
    was cast: never its nullifier or its sealed box."""
    document: dict[str, Any] = _materialise(_event_log(package, results, chains, sources))
    return document


def _event_log(
    package: ElectionPackage,
    results: Mapping[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    devices = [
        {
            "@type": "EventLogging.Device",
            "Id": d.kiosk,
            "Type": "electronic-cast" if d.channel == "online" else "dre",
            "Manufacturer": MANUFACTURER,
            "Model": _model(d.channel),
            "Version": __version__,
            "Details": f"{d.name} ({d.channel})",
            "HashType": "sha-256",
            "Event": _Lazy(_event(b) for b in chains.get(d.kiosk, ())),
        }
        for d in _devices(sources, results, chains)
    ]
    return {
        "@type": "EventLogging.ElectionEventLog",
        "GeneratedTime": _nist_time(results.get("tallied_at")),
        "ElectionId": package.id,
        "Details": "Every block of every kiosk chain: Sequence is the block height, Hash the "
        "block's SHA-256 (over its canonical JSON, without the signature), TimeStamp the block "
        "time, which kiosks record to the minute.",
        "Device": _Lazy(devices),
    }


def _event(signed: SignedBlock) -> dict[str, Any]:
    block = signed.block
    body = block.body
    event: dict[str, Any] = {
        "@type": "EventLogging.Event",
        "Id": f"hanpyo.{block.kind.value}",
        "Type": block.kind.value,
        "Sequence": str(block.height),
        "TimeStamp": _nist_time(block.time),
        "Hash": signed.hash.hex(),
        "Disposition": "success",
        "Description": _describe(block.kind, body),
    }
    public = {k: body[k] for k in _PUBLIC_BODY[block.kind] if body.get(k) is not None}
    if public:
        event["Details"] = json.dumps(public, ensure_ascii=False, sort_keys=True)
    return event


def _describe(kind: BlockKind, body: Mapping[str, Any]) -> str:
    session = body.get("session")
    match kind:
        case BlockKind.GENESIS:
            return "Chain started for the election package"
        case BlockKind.MODE:
            return f"Mode set to {body.get('mode')}"
        case BlockKind.SESSION_OPEN:
            return f"Session {session} opened"
        case BlockKind.SESSION_PAUSE:
            return f"Session {session} paused"
        case BlockKind.SESSION_RESUME:
            return f"Session {session} resumed"
        case BlockKind.SESSION_CLOSE:
            return (
                f"Session {session} closed: {body.get('ballots')} ballots, "
                f"{body.get('test_ballots')} test ballots"
            )
        case BlockKind.BALLOT:
            return "Ballot cast"
        case BlockKind.TEST_BALLOT:
            return "Test ballot cast"
    return kind.value


# -- shared -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Device:
    """A kiosk or online platform, with its own contest results when the tally gave them."""

    kiosk: str
    name: str
    channel: str
    ballots_counted: int | None
    contests: Sequence[Mapping[str, Any]]

    @property
    def ref(self) -> str:
        return _device_id(self.kiosk)


def _devices(
    sources: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
) -> list[_Device]:
    """The listed sources in order, then any other that the results or the chains name."""
    published = {s["kiosk"]: s for s in results.get("sources", [])}
    entries: dict[str, Mapping[str, Any]] = {}
    for s in [*sources, *published.values()]:
        entries.setdefault(s["kiosk"], s)
    for kiosk in sorted(set(chains) - set(entries)):
        entries[kiosk] = {"kiosk": kiosk}
    devices = []
    for kiosk, s in entries.items():
        tallied = published.get(kiosk, {})
        devices.append(
            _Device(
                kiosk,
                str(s.get("name") or kiosk),
                str(s.get("channel") or "kiosk"),
                s.get("ballots_counted", tallied.get("ballots_counted")),
                s.get("contests") or tallied.get("contests") or (),
            )
        )
    return devices


def _contests(
    package: ElectionPackage, results: Mapping[str, Any]
) -> Iterator[tuple[Contest, Mapping[str, Any]]]:
    by_id = {c.id: c for c in package.contests}
    for result in results["contests"]:
        contest = by_id.get(result["id"])
        if contest is None or contest.kind.value != result["kind"]:
            raise ExportError(f"the results name contest {result['id']!r}, unlike the package")
        yield contest, result


def _option(package: ElectionPackage, option_id: str) -> Option:
    option = package.option(option_id)
    if option is None:
        raise ExportError(f"the results name option {option_id!r}, which the package lacks")
    return option


def _by_contest(contests: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: dict(c) for c in contests}


def _score_sum(option_result: Mapping[str, Any]) -> float:
    total: float = sum(cell["sum"] for cell in option_result["by_category"].values())
    return round(total, 6)


def _ballot_size(package: ElectionPackage, contest: Contest) -> int:
    """The most options one voter can see in ``contest``."""
    if contest.scope is Scope.ALL:
        return len(package.options)
    return max((len(package.options_in_group(g.id)) for g in package.groups), default=0)


def _vote_variation(package: ElectionPackage, contest: Contest) -> str:
    if contest.kind is ContestKind.SCORE:
        return "range"
    if contest.max == 1:
        return "plurality"
    return "approval" if contest.max >= _ballot_size(package, contest) else "n-of-m"


def _kiosk_of(source: str | None) -> str:
    """The kiosk id of an invalid ballot's source, given as "kiosk" or "kiosk@height"."""
    return (source or "").split("@", 1)[0]


def _device_id(kiosk: str) -> str:
    return f"device-{kiosk}"


def _contest_id(contest: str) -> str:
    return f"contest-{contest}"


def _candidate_id(option: str) -> str:
    return f"candidate-{option}"


def _selection_id(contest: str, choice: str) -> str:
    return f"selection-{contest}-{choice}"


def _both(text: Text) -> str:
    return f"{text.ko} / {text.en}"


def _nist_time(moment: str | None) -> str:
    """An ISO time (a block's "2017-11-25T00:30Z" too) as UTC to the second, which every NIST
    date-time pattern accepts; now when the records carry none."""
    if moment is None:
        parsed = datetime.now(UTC)
    else:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Lazy:
    """A JSON array made item by item while the file is written (a million CVRs, a chain of a
    million blocks), so that it never sits in memory whole."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def _write_json(out: TextIO, value: Any) -> None:
    """Write ``value`` as JSON; a ``_Lazy`` may stand as a value of a dict or an item of another
    ``_Lazy``. Each array item goes on a line of its own."""
    if isinstance(value, _Lazy):
        out.write("[")
        for n, item in enumerate(value.items):
            out.write(",\n" if n else "\n")
            _write_json(out, item)
        out.write("\n]")
    elif isinstance(value, dict) and any(isinstance(v, _Lazy) for v in value.values()):
        out.write("{")
        for n, (key, item) in enumerate(value.items()):
            out.write((",\n" if n else "") + json.dumps(key) + ":")
            _write_json(out, item)
        out.write("}")
    else:
        out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _materialise(value: Any) -> Any:
    if isinstance(value, _Lazy):
        return [_materialise(item) for item in value.items]
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialise(item) for item in value]
    return value


@contextmanager
def _replacing(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write to a side file and move it into place at the end: a reader never sees half an
    export, and a failure leaves the previous file (if any) as it was."""
    part = path.with_name(path.name + ".part")
    try:
        with part.open("w", encoding=encoding, newline="") as f:
            yield f
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
