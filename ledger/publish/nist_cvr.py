"""NIST SP 1500-103 cast vote records: one anonymous record per published ballot, in the
published (shuffled) order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kiosk import __version__
from kiosk.core.election import Contest, ContestKind, ElectionPackage
from ledger.publish.export_common import (
    ELECTION_ID,
    LEDGER_DEVICE_ID,
    MANUFACTURER,
    SCOPE_ID,
    StandardExportError,
    ballot_size,
    both_languages,
    candidate_id,
    contest_id,
    device_id,
    device_model,
    devices_of,
    nist_time,
    selection_id,
    vote_variation,
)
from ledger.publish.streamed_json import Lazy, materialise

# -- NIST SP 1500-103: cast vote records ------------------------------------------------------


def nist_cvr(
    package: ElectionPackage,
    results: Mapping[str, Any],
    ballots: Iterable[dict[str, Any]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A CastVoteRecordReport (NIST SP 1500-103) with one anonymous CVR per published ballot,
    in the published (shuffled) order. ``write_exports`` streams the same document."""
    document: dict[str, Any] = materialise(cvr_report(package, results, ballots, sources))
    return document


def cvr_report(
    package: ElectionPackage,
    results: Mapping[str, Any],
    ballots: Iterable[dict[str, Any]],
    sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    devices = devices_of(sources, results, {})
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
            "Model": device_model(d.channel),
            "SerialNumber": d.kiosk,
            "Notes": [d.name, d.channel],
        }
        for d in devices
    ]
    return {
        "@type": "CVR.CastVoteRecordReport",
        "Version": "1.0.0",
        "GeneratedDate": nist_time(results.get("tallied_at")),
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
                "Name": both_languages(package.title),
                "ReportingDeviceIds": [d.ref for d in devices],
            }
        ],
        "Election": [
            {
                "@id": ELECTION_ID,
                "@type": "CVR.Election",
                "Name": both_languages(package.title),
                "ElectionScopeId": SCOPE_ID,
                "Code": [_cvr_code("hanpyo-election", package.id)],
                "Candidate": [
                    {
                        "@id": candidate_id(o.id),
                        "@type": "CVR.Candidate",
                        "Name": both_languages(o.title),
                        "Code": [_cvr_code("hanpyo-option", o.id)],
                    }
                    for o in package.options
                ],
                "Contest": [_cvr_contest_definition(package, c) for c in package.contests],
            }
        ],
        "CVR": Lazy(recorder.cvr(record) for record in ballots),
    }


def _cvr_contest_definition(package: ElectionPackage, contest: Contest) -> dict[str, Any]:
    head = {"@id": contest_id(contest.id), "Name": both_languages(contest.title)}
    if contest.kind is ContestKind.YESNO:
        return head | {
            "@type": "CVR.BallotMeasureContest",
            "ContestSelection": [
                {
                    "@id": selection_id(contest.id, answer),
                    "@type": "CVR.BallotMeasureSelection",
                    "Selection": answer,
                }
                for answer in ("yes", "no")
            ],
        }
    return head | {
        "@type": "CVR.CandidateContest",
        "VoteVariation": vote_variation(package, contest),
        "VotesAllowed": contest.max
        if contest.kind is ContestKind.CHOICE
        else ballot_size(package, contest),
        "ContestSelection": [
            {
                "@id": selection_id(contest.id, o.id),
                "@type": "CVR.CandidateSelection",
                "CandidateIds": [candidate_id(o.id)],
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
            raise StandardExportError(
                f"ballot {n} comes from {source!r}, which is not a listed source"
            )
        snapshot: dict[str, Any] = {"@id": f"cvr-{n}", "@type": "CVR.CVRSnapshot"}
        snapshot["Type"] = "original"  # the ballot as the voter cast it; nothing adjudicated
        cvr: dict[str, Any] = {
            "@type": "CVR.CVR",
            "ElectionId": ELECTION_ID,
            "CreatingDeviceId": device_id(source),
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
            raise StandardExportError(
                f"ballot {n} answers {unknown}, which the package does not have"
            )
        snapshot["CVRContest"] = [
            self._contest(self.contests[cid], answered[cid], n)
            for cid in sorted(answered, key=self.order.__getitem__)
        ]
        return cvr | {"CVRSnapshot": [snapshot]}

    def _contest(self, contest: Contest, selection: Any, n: int) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": "CVR.CVRContest", "ContestId": contest_id(contest.id)}
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
            raise StandardExportError(
                f"ballot {n}: {contest.id} names option {choice!r}, which is unknown"
            )
        return {
            "@type": "CVR.CVRContestSelection",
            "ContestSelectionId": selection_id(contest.id, choice),
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
