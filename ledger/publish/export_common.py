"""What the standard exports share: the election's one reporting unit, its devices, contests
and options as NIST names them, and the export's error."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.core.block import SignedBlock
from kiosk.core.election import Contest, ContestKind, ElectionPackage, Option, Scope, Text
from kiosk.core.errors import HanpyoError

SCOPE_ID = "gpu-election"  # the one reporting unit: the whole election
ELECTION_ID = "election"  # the cast vote record report's one election
LEDGER_DEVICE_ID = "device-ledger"  # the ledger's tally, which writes the CVR report
MANUFACTURER = "Hanpyo"
ANSWERS: dict[str, Text] = {
    "yes": Text("찬성", "Yes"),
    "no": Text("반대", "No"),
    "blank": Text("기권", "Blank"),
}


class StandardExportError(HanpyoError):
    """Published records that do not fit the election package or each other."""

    user_message = (
        "공개 기록이 선거 패키지와 맞지 않아 내보낼 수 없습니다.",
        "The published records do not match the election package, so they cannot be exported.",
    )


def itext(text: Text) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [_language_string("ko", text.ko), _language_string("en", text.en)],
    }


def itext_once(name: str) -> dict[str, Any]:
    """A name staff typed in one unknown language ("und" in BCP 47)."""
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [_language_string("und", name)],
    }


def _language_string(language: str, content: str) -> dict[str, Any]:
    return {"@type": "ElectionResults.LanguageString", "Language": language, "Content": content}


def device_class(channel: str) -> dict[str, Any]:
    out = {"@type": "ElectionResults.DeviceClass", "Manufacturer": MANUFACTURER}
    out["Model"] = device_model(channel)
    if channel == "online":
        return out | {"Type": "other", "OtherType": "online platform"}
    return out | {"Type": "dre"}  # each ballot recorded electronically, with no paper


def device_model(channel: str) -> str:
    return "Hanpyo online platform" if channel == "online" else "Hanpyo kiosk"


# -- shared -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportingDevice:
    """A kiosk or online platform, with its own contest results when the tally gave them."""

    kiosk: str
    name: str
    channel: str
    ballots_counted: int | None
    contests: Sequence[Mapping[str, Any]]

    @property
    def ref(self) -> str:
        return device_id(self.kiosk)


def devices_of(
    sources: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    chains: Mapping[str, Iterable[SignedBlock]],
) -> list[ReportingDevice]:
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
            ReportingDevice(
                kiosk,
                str(s.get("name") or kiosk),
                str(s.get("channel") or "kiosk"),
                s.get("ballots_counted", tallied.get("ballots_counted")),
                s.get("contests") or tallied.get("contests") or (),
            )
        )
    return devices


def contests_with_results(
    package: ElectionPackage, results: Mapping[str, Any]
) -> Iterator[tuple[Contest, Mapping[str, Any]]]:
    by_id = {c.id: c for c in package.contests}
    for result in results["contests"]:
        contest = by_id.get(result["id"])
        if contest is None or contest.kind.value != result["kind"]:
            raise StandardExportError(
                f"the results name contest {result['id']!r}, unlike the package"
            )
        yield contest, result


def package_option(package: ElectionPackage, option_id: str) -> Option:
    option = package.option(option_id)
    if option is None:
        raise StandardExportError(f"the results name option {option_id!r}, which the package lacks")
    return option


def by_contest(contests: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: dict(c) for c in contests}


def option_score_sum(option_result: Mapping[str, Any]) -> float:
    """Every category's scores for one option, as the count summed them exactly and rounded
    once (never a sum of the rounded per-category sums)."""
    total: float = option_result["sum"]
    return total


def ballot_size(package: ElectionPackage, contest: Contest) -> int:
    """The most options one voter can see in ``contest``."""
    if contest.scope is Scope.ALL:
        return len(package.options)
    return max((len(package.options_in_group(g.id)) for g in package.groups), default=0)


def vote_variation(package: ElectionPackage, contest: Contest) -> str:
    if contest.kind is ContestKind.SCORE:
        return "range"
    if contest.max == 1:
        return "plurality"
    return "approval" if contest.max >= ballot_size(package, contest) else "n-of-m"


def kiosk_of(source: str | None) -> str:
    """The kiosk id of an invalid ballot's source, given as "kiosk" or "kiosk@height"."""
    return (source or "").split("@", 1)[0]


def device_id(kiosk: str) -> str:
    return f"device-{kiosk}"


def contest_id(contest: str) -> str:
    return f"contest-{contest}"


def candidate_id(option: str) -> str:
    return f"candidate-{option}"


def selection_id(contest: str, choice: str) -> str:
    return f"selection-{contest}-{choice}"


def both_languages(text: Text) -> str:
    return f"{text.ko} / {text.en}"


def nist_time(moment: str | None) -> str:
    """An ISO time (a block's "2017-11-25T00:30Z" too) as UTC to the second, which every NIST
    date-time pattern accepts; now when the records carry none."""
    if moment is None:
        parsed = datetime.now(UTC)
    else:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
