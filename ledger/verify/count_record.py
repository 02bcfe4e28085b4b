"""The count's files in a v2 record, each recomputed or verified with no secret: tally-input.json
from the recomputed selection, every shuffle in order (at least k of them), every trustee's
decryption shares and their combination, results.json from the decrypted values, and the NIST
SP 1500-100 export from the results. A check whose input did not verify fails and says so."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from kiosk.core.election import ElectionPackage
from kiosk.core.errors import HanpyoError
from ledger.rules.close_statement import Closure
from ledger.rules.count_decryption import (
    CountDecryption,
    combine_count,
    decryption_name,
    read_decryption_file,
)
from ledger.rules.count_files import (
    CountFileError,
    CountInput,
    ShuffleChain,
    read_count_input,
    required_shuffles,
    shuffle_name,
    verify_shuffles,
)
from ledger.rules.count_input import TallyInput, read_tally_input, tally_input
from ledger.rules.selection import Selection
from ledger.rules.v2_results import count_results
from ledger.verify.checks import BundleError
from ledger.verify.parallel import Where
from ledger.verify.record_files import (
    COUNT,
    NIST_RESULTS,
    RESULTS,
    SELECTION,
    TALLY_INPUT,
    RecordFiles,
)

COUNT_FILES = frozenset({SELECTION, TALLY_INPUT, RESULTS, NIST_RESULTS})
_SHOWN = 5


class CountRecord:
    """The count's part of the record; each check fills what the next one needs."""

    def __init__(self, files: RecordFiles, package: ElectionPackage, where: Where) -> None:
        self.files = files
        self.package = package
        self.where = where
        self.selection: Selection | None = None
        self.tally: TallyInput | None = None
        self.count_input: CountInput | None = None
        self.chain: ShuffleChain | None = None
        self.decrypted: CountDecryption | None = None
        self.results: dict[str, Any] | None = None

    def check_tally_input(self, selection: Selection | None) -> str:
        if selection is None:
            raise BundleError("cannot check: the selection was not recomputed")
        self.selection = selection
        mine = tally_input(self.package, selection)
        raw = self.files.raw(TALLY_INPUT)
        if raw != mine.canonical():
            found = tally_difference(raw, mine)
            raise BundleError(f"{TALLY_INPUT} differs from the recomputed one: {found}")
        self.tally = mine
        self.count_input = read_count_input(raw, self.package)
        cts = sum(len(c.cts) for c in mine.columns)
        return f"{len(mine.aggregates)} sums, {len(mine.columns)} score columns ({cts} cells)"

    def check_shuffles(self) -> str:
        if self.count_input is None:
            raise BundleError(f"cannot check: {TALLY_INPUT} did not verify")
        files = self.files.shuffles()
        chain = verify_shuffles(
            self.package, self.count_input, files, workers=self.where.local_workers()
        )
        stated = self._stated("shuffled")
        if isinstance(stated, list) and len(stated) > len(files):
            raise BundleError(
                f"{RESULTS} says trustees {', '.join(map(str, stated))} shuffled, but the record "
                f"has no count/{shuffle_name(len(files) + 1)}"
            )
        needed = required_shuffles(self.package, self.count_input)
        if len(chain.trustees) < needed:
            raise BundleError(
                f"{len(chain.trustees)} trustees shuffled the score columns; {needed} must "
                "before any is decrypted (fewer could tie a voter's scores together)"
            )
        self.chain = chain
        if not files:
            return "no score column: nothing to shuffle"
        who = ", ".join(map(str, chain.trustees))
        return f"{len(files)} shuffles (trustees {who}) of {len(self.count_input.columns)} columns"

    def check_decryption(self) -> str:
        if self.count_input is None or self.chain is None:
            raise BundleError("cannot check: the count input or the shuffles did not verify")
        # Named as in the count directory (decryption-<j>.json), as the count names them in
        # results.json's trustees.not_signed and in its reasons.
        files = [(name.removeprefix(COUNT), raw) for name, raw in self.files.decryptions()]
        misnamed = self._misnamed(files)
        self.decrypted = d = combine_count(
            self.package,
            self.count_input,
            self.chain,
            files,
            workers=self.where.local_workers(),
        )
        misnamed += self._missing(files)
        if misnamed:
            raise BundleError("; ".join(misnamed))
        faults = _faults(d)
        used = ", ".join(map(str, d.used))
        done = f"{len(d.sums)} sums and {sum(len(c) for c in d.columns)} score cells decrypted"
        if not faults:
            return f"{len(files)} trustees' files verified; {done} with trustees {used}"
        named = self._published_faults()
        if named != faults:
            raise BundleError(
                f"the record holds decryption files that do not verify, which {RESULTS} does "
                f"not name as left out: {_said(faults)} (the values still decrypt with "
                f"trustees {used})"
            )
        return f"{done} with trustees {used}; left out, as {RESULTS} says: {_said(faults)}"

    def _stated(self, field: str) -> Any:
        """What results.json says of the trustees (None when it cannot be read: the results'
        check names what is wrong with them)."""
        try:
            return self.files.json(RESULTS, dict).get("trustees", {}).get(field)
        except (HanpyoError, AttributeError):
            return None

    def _missing(self, files: Sequence[tuple[str, bytes]]) -> list[str]:
        """Every trustee results.json says decrypted has their file in the record."""
        stated = self._stated("decrypted")
        if not isinstance(stated, list):
            return []
        present = {name for name, _ in files}
        return [
            f"{RESULTS} says trustee {j} decrypted, but the record has no "
            f"count/{decryption_name(j)}"
            for j in stated
            if isinstance(j, int) and decryption_name(j) not in present
        ]

    def _published_faults(self) -> dict[str, str]:
        """The files results.json says were left out (trustees.bad and trustees.not_signed)."""
        try:
            stated = self.files.json(RESULTS, dict).get("trustees", {})
            bad, unsigned = stated.get("bad", {}), stated.get("not_signed", {})
            return {f"trustee {j}": why for j, why in bad.items()} | dict(unsigned)
        except (HanpyoError, AttributeError):
            return {}

    def _misnamed(self, files: Sequence[tuple[str, bytes]]) -> list[str]:
        """decryption-<j>.json must be trustee j's file (a signed file under another number
        would make the record name the wrong trustee)."""
        out = []
        for name, raw in files:
            try:
                found = read_decryption_file(self.package, raw, name)
            except CountFileError:
                continue  # named by combine_count
            if name != decryption_name(found.trustee):
                out.append(f"{COUNT}{name} is trustee {found.trustee}'s file")
        return out

    def check_results(self, closure: Closure | None, sources: list[dict[str, Any]]) -> str:
        if self.decrypted is None or self.tally is None or self.selection is None:
            raise BundleError("cannot check: the decryption did not verify")
        if closure is None or self.chain is None:
            raise BundleError("cannot check: the close did not verify")
        selection, d = self.selection, self.decrypted
        by_category = Counter(c.category for c in selection.counted)
        sums = [(a.key, v) for a, v in zip(self.tally.aggregates, d.sums, strict=True)]
        columns = [(c.key, v) for c, v in zip(self.tally.columns, d.columns, strict=True)]
        mine = count_results(self.package, dict(by_category), sums, columns)
        published = self.files.json(RESULTS, dict)
        mine |= _ledger_part(self.package, closure, selection, sources, published)
        mine["trustees"] = {
            "shuffled": list(self.chain.trustees),
            "decrypted": list(d.used),
            "bad": {str(j): why for j, why in sorted(d.bad_trustees.items())},
            "not_signed": dict(sorted(d.unsigned_files.items())),
        }
        differences = differ(published, mine, "results")
        if differences:
            raise BundleError(f"{RESULTS} differs from the recount: {_listed(differences)}")
        self.results = mine  # equal to the published; in the order the count builds it
        ballots = mine["ballots"]["counted"]
        winners = mine.get("ranking", {}).get("winners")
        return (
            f"{ballots} ballots; {winners} winners; every number equal (tallied_at "
            f"{mine['tallied_at']} as stated: a time cannot be recomputed)"
        )

    def check_nist(
        self,
        nist: Callable[[ElectionPackage, dict[str, Any], list[dict[str, Any]]], dict[str, Any]]
        | None,
    ) -> str:
        if nist is None:
            raise BundleError("cannot check: this verifier was started without the NIST builder")
        if self.results is None:
            raise BundleError(f"cannot check: {RESULTS} did not verify")
        # The count builds its export with no per-source breakdown (ledger/service/count.py:
        # v2 decrypts sums per channel, never per kiosk), so the verifier does too.
        mine = nist(self.package, self.results, [])
        published = self.files.json(NIST_RESULTS, dict)
        differences = differ(published, mine, "report")
        if differences and all(".VendorApplicationId" in d for d in differences):
            raise BundleError(
                f"{NIST_RESULTS} says it was written by {published.get('VendorApplicationId')}"
                f", this verifier is {mine.get('VendorApplicationId')}: check it with that "
                "version (every other field is equal)"
            )
        if differences:
            raise BundleError(f"{NIST_RESULTS} is not the results': {_listed(differences)}")
        return f"{len(mine['Election'][0]['Contest'])} contests, equal to the results"


def _faults(d: CountDecryption) -> dict[str, str]:
    return {f"trustee {j}": why for j, why in sorted(d.bad_trustees.items())} | dict(
        sorted(d.unsigned_files.items())
    )


def _said(faults: dict[str, str]) -> str:
    """Each fault once: a trustee's reason already starts with "trustee j: "."""
    return "; ".join(v if v.startswith(f"{k}:") else f"{k}: {v}" for k, v in faults.items())


def _ledger_part(
    package: ElectionPackage,
    closure: Closure,
    selection: Selection,
    sources: list[dict[str, Any]],
    published: dict[str, Any],
) -> dict[str, Any]:
    """What the ledger adds to the count's numbers (ledger/service/count.py), recomputed from
    the package, the close, the selection and sources.json; only the time it was tallied is
    taken as stated (the NIST export repeats it, so it is checked against that)."""
    per_source = Counter(c.source for c in selection.counted)
    stated = published.get("tallied_at")
    if not isinstance(stated, str):
        raise BundleError(f"{RESULTS} states no tallied_at time")
    return {
        "title": package.title.to_json(),
        "closed": {
            "checkpoint": closure.checkpoint,
            "size": closure.size,
            "closed_at": closure.closed_at,
        },
        "tallied_at": stated,
        "selection": {"counted": len(selection.counted), "left_out": selection.reasons()},
        "sources": [
            {
                "kiosk": s["kiosk"],
                "name": s["name"],
                "channel": s["channel"],
                "ballots_counted": per_source[s["kiosk"]],
            }
            for s in sources
        ],
    }


def differ(published: Any, mine: Any, path: str) -> list[str]:
    """Every place two JSON values differ, by path (``results.contests[2].options[0].mean``)."""
    if isinstance(published, dict) and isinstance(mine, dict):
        out = []
        for key in sorted(set(published) | set(mine)):
            here = f"{path}.{key}"
            if key not in mine:
                out.append(f"{here} is not in the recount")
            elif key not in published:
                out.append(f"{here} is missing")
            else:
                out += differ(published[key], mine[key], here)
        return out
    if isinstance(published, list) and isinstance(mine, list):
        if len(published) != len(mine):
            return [f"{path} has {len(published)} entries, the recount {len(mine)}"]
        pairs = enumerate(zip(published, mine, strict=True))
        return [d for n, (a, b) in pairs for d in differ(a, b, f"{path}[{n}]")]
    if _number(published) and _number(mine):
        same = published == mine  # JSON has one kind of number: 7 and 7.0 are one value
    else:
        same = published == mine and type(published) is type(mine)
    return [] if same else [f"{path}: published {published!r:.60}, recounted {mine!r:.60}"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _listed(differences: list[str]) -> str:
    more = len(differences) - _SHOWN
    return "; ".join(differences[:_SHOWN]) + (f" (and {more} more)" if more > 0 else "")


def tally_difference(raw: bytes, mine: TallyInput) -> str:
    """Where a published tally-input.json differs from ``mine``, by path."""
    import json

    try:
        published = read_tally_input(json.loads(raw.decode("utf-8"))).to_json()
    except (UnicodeDecodeError, ValueError, HanpyoError) as e:
        return f"it does not read: {e}"
    found = differ(published, mine.to_json(), "tally-input")
    return _listed(found) if found else "the same values, but not written canonically"
