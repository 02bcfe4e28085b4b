"""NIST SP 1500-100 election results: the totals of the election and of each kiosk or
online platform."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kiosk import __version__
from kiosk.core.election import Contest, ContestKind, ElectionPackage
from ledger.publish.export_common import (
    ANSWERS,
    SCOPE_ID,
    ReportingDevice,
    ballot_size,
    both_languages,
    by_contest,
    candidate_id,
    contest_id,
    contests_with_results,
    device_class,
    devices_of,
    itext,
    itext_once,
    kiosk_of,
    nist_time,
    option_score_sum,
    package_option,
    selection_id,
    vote_variation,
)

# -- NIST SP 1500-100: election results -------------------------------------------------------


def nist_results(
    package: ElectionPackage, results: Mapping[str, Any], sources: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """An ElectionReport (NIST SP 1500-100 version 2) with the totals of the whole election
    and of each kiosk or online platform (one ReportingDevice each)."""
    devices = devices_of(sources, results, {})
    per_device = [(d, by_contest(d.contests)) for d in devices]
    ranking = {r["option"]: r for r in results.get("ranking", {}).get("options", [])}
    invalid = Counter(kiosk_of(i.get("source")) for i in results.get("invalid", []))
    counted = results["ballots"]
    candidates = []
    for option in package.options:
        candidate: dict[str, Any] = {
            "@id": candidate_id(option.id),
            "@type": "ElectionResults.Candidate",
            "BallotName": itext(option.title),
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
        "Name": itext(package.title),
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
            for n, (contest, result) in enumerate(contests_with_results(package, results), start=1)
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
            "Name": itext(package.title),
            "ComposingGpUnitIds": [d.ref for d in devices],
        }
    ]
    units += [
        {
            "@id": d.ref,
            "@type": "ElectionResults.ReportingDevice",
            "Name": itext_once(d.name),
            "SerialNumber": d.kiosk,
            "DeviceClass": device_class(d.channel),
        }
        for d in devices
    ]
    return {
        "@type": "ElectionResults.ElectionReport",
        "Format": "precinct-level",  # totals are broken down by device, below the election
        "GeneratedDate": nist_time(results.get("tallied_at")),
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
    per_device: Sequence[tuple[ReportingDevice, dict[str, dict[str, Any]]]],
    sequence: int,
) -> dict[str, Any]:
    head: dict[str, Any] = {
        "@id": contest_id(contest.id),
        "Name": both_languages(contest.title),
        "BallotTitle": itext(contest.title),
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
                    "@id": selection_id(contest.id, answer),
                    "@type": "ElectionResults.BallotMeasureSelection",
                    "Selection": itext(ANSWERS[answer]),
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
        option = package_option(package, option_result["id"])
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
            total = option_score_sum(option_result)
            per_category = []
            for c, cell in option_result["by_category"].items():
                per_category += [(f"score-sum:{c}", cell["sum"]), (f"scores:{c}", cell["count"])]
                if cell["mean"] is not None:
                    per_category.append((f"mean:{c}", cell["mean"]))
            per_category += [
                (f"criterion-sum:{k}", v) for k, v in option_result.get("criteria", {}).items()
            ]
            per_device_count = [(d.ref, option_score_sum(o)) for d, o in on_devices]
        selections.append(
            {
                "@id": selection_id(contest.id, option.id),
                "@type": "ElectionResults.CandidateSelection",
                "CandidateIds": [candidate_id(option.id)],
                "SequenceOrder": n,
                "VoteCounts": _vote_counts(total, per_category, per_device_count),
            }
        )
    out = head | {
        "@type": "ElectionResults.CandidateContest",
        "VoteVariation": vote_variation(package, contest),
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
        out["VotesAllowed"] = ballot_size(package, contest)  # one score per option shown
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
