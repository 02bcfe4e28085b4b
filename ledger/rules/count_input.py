"""What the trustees decrypt (protocol v2): ``tally-input.json`` made from the counted ballots of
the selection (verifiable-election.md, "The count", steps 3 and 4). Pure and deterministic.

- ``aggregates``: for choice and yes/no contests, the homomorphic sum of one cell over every
  counted ballot, per (contest, option, category, channel). Only the sum is ever decrypted.
- ``columns``: for score contests, the ciphertexts of one cell (option and criterion) of every
  counted ballot, per (contest, option, criterion, category, channel), in selection order.
  Each trustee shuffles every column independently before any is decrypted, so no one can tie
  one voter's scores together.

Both are in the package's order: contests, then options (yes, no, blank for a yes/no
contest), then criteria, then the contest's categories, then channels (kiosk, online). A key
no counted ballot has a cell for is left out; each entry says how many ballots it holds.
The list the trustees decrypt is "every aggregate in order, then every column's ciphertexts
in order" (ledger/rules/count_decryption.py's ``decryption_list``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.core.ballot import YESNO_ANSWERS
from kiosk.core.crypto import sha256
from kiosk.core.election import Channel, ContestKind, ElectionPackage
from kiosk.core.encoding import canonical_json
from kiosk.core.encrypted_ballot import base_hash
from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.elgamal import Ciphertext, ciphertext_sum
from kiosk.core.verifiable.group import GroupError
from ledger.rules.selection import Selection, selection_bytes

TALLY_INPUT_FILE = "tally-input.json"
MAX_COLUMN = 50_000_000


class CountInputError(VerificationError):
    """A tally input that is not the one the selection and package give."""


@dataclass(frozen=True, slots=True)
class AggregateKey:
    contest: str
    option: str
    category: str
    channel: str


@dataclass(frozen=True, slots=True)
class ColumnKey:
    contest: str
    option: str
    criterion: str | None
    category: str
    channel: str


@dataclass(frozen=True, slots=True)
class Aggregate:
    key: AggregateKey
    ct: Ciphertext
    ballots: int

    def to_json(self) -> dict[str, Any]:
        k = self.key
        return {
            "contest": k.contest,
            "option": k.option,
            "category": k.category,
            "channel": k.channel,
            "ct": self.ct.to_json(),
            "ballots": self.ballots,
        }


@dataclass(frozen=True, slots=True)
class Column:
    key: ColumnKey
    cts: tuple[Ciphertext, ...]

    def to_json(self) -> dict[str, Any]:
        k = self.key
        return {
            "contest": k.contest,
            "option": k.option,
            "criterion": k.criterion,
            "category": k.category,
            "channel": k.channel,
            "cts": [c.to_json() for c in self.cts],
            "ballots": len(self.cts),
        }


@dataclass(frozen=True, slots=True)
class TallyInput:
    election: str
    base_hash: bytes
    selection_hash: bytes
    aggregates: tuple[Aggregate, ...]
    columns: tuple[Column, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "election": self.election,
            "base_hash": self.base_hash.hex(),
            "selection_hash": self.selection_hash.hex(),
            "aggregates": [a.to_json() for a in self.aggregates],
            "columns": [c.to_json() for c in self.columns],
        }

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())


def _order(package: ElectionPackage) -> dict[str, list[tuple[str, str | None]]]:
    """Per contest, its (option, criterion) cells in the package's order."""
    out: dict[str, list[tuple[str, str | None]]] = {}
    for contest in package.contests:
        if contest.kind is ContestKind.YESNO:
            out[contest.id] = [(a, None) for a in YESNO_ANSWERS]
        elif contest.kind is ContestKind.SCORE and contest.criteria:
            out[contest.id] = [(o.id, c.id) for o in package.options for c in contest.criteria]
        else:
            out[contest.id] = [(o.id, None) for o in package.options]
    return out


def tally_input(package: ElectionPackage, selection: Selection) -> TallyInput:
    """The sums and columns of the selection's counted ballots (in selection order)."""
    cells: dict[tuple[str, str, str | None, str, str], list[Ciphertext]] = {}
    for counted in selection.counted:
        for enc in counted.ballot.contests:
            for cell in enc.cells:
                cell_key = (
                    enc.id,
                    cell.spot.option,
                    cell.spot.criterion,
                    counted.category,
                    counted.channel,
                )
                cells.setdefault(cell_key, []).append(cell.ciphertext)
    aggregates, columns = [], []
    for contest in package.contests:
        for option, criterion in _order(package)[contest.id]:
            for category in contest.categories:
                for channel in (c.value for c in Channel):
                    cts = cells.get((contest.id, option, criterion, category, channel))
                    if not cts:
                        continue
                    if contest.kind is ContestKind.SCORE:
                        col = ColumnKey(contest.id, option, criterion, category, channel)
                        columns.append(Column(col, tuple(cts)))
                    else:
                        agg = AggregateKey(contest.id, option, category, channel)
                        aggregates.append(Aggregate(agg, ciphertext_sum(cts), len(cts)))
    return TallyInput(
        package.id,
        base_hash(package, test=False),
        sha256(selection_bytes(selection)),
        tuple(aggregates),
        tuple(columns),
    )


def small_columns(package: ElectionPackage, tally: TallyInput) -> list[str]:
    """Every score column with fewer scores than the package's ``min_column``, named as
    contest/option[/criterion] (category, channel): n. Once decrypted, a small column tells
    more about each of its few voters' scores, so the count says so."""
    out = []
    for column in tally.columns:
        k = column.key
        if len(column.cts) < package.min_column:
            name = "/".join(x for x in (k.contest, k.option, k.criterion) if x)
            out.append(f"{name} ({k.category}, {k.channel}): {len(column.cts)}")
    return out


# -- reading -------------------------------------------------------------------------------------


def read_tally_input(document: Any) -> TallyInput:
    """tally-input.json, strictly: every field known, every point canonical."""
    r = Reader(document, "tally-input", CountInputError)
    election = r.ident("election")
    hashes = [_hash(r, name) for name in ("base_hash", "selection_hash")]
    aggregates = tuple(_aggregate(a) for a in r.objects("aggregates"))
    columns = tuple(_column(c) for c in r.objects("columns"))
    r.done()
    return TallyInput(election, hashes[0], hashes[1], aggregates, columns)


def _hash(r: Reader, key: str) -> bytes:
    text = r.text(key, max_len=64)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        r.fail("must be 32 bytes in lowercase hexadecimal", key)
    if len(data) != 32 or data.hex() != text:
        r.fail("must be 32 bytes in lowercase hexadecimal", key)
    return data


def _ct(r: Reader, value: Any, where: str) -> Ciphertext:
    try:
        return Ciphertext.from_json(value, what=f"{r.path}.{where}")
    except (GroupError, EncodingError) as e:
        r.fail(str(e))


def _aggregate(r: Reader) -> Aggregate:
    key = AggregateKey(r.ident("contest"), r.text("option"), r.ident("category"), _channel(r))
    ct = _ct(r, r.raw("ct"), "ct")
    ballots = int(r.integer("ballots", lo=1, hi=MAX_COLUMN))
    r.done()
    return Aggregate(key, ct, ballots)


def _column(r: Reader) -> Column:
    criterion = r.raw("criterion")
    if criterion is not None:
        criterion = r.text("criterion")
    key = ColumnKey(
        r.ident("contest"), r.text("option"), criterion, r.ident("category"), _channel(r)
    )
    raw = r.items("cts", max_items=MAX_COLUMN)
    cts = tuple(_ct(r, c, f"cts[{i}]") for i, c in enumerate(raw))
    if r.integer("ballots", lo=1, hi=MAX_COLUMN) != len(cts) or not cts:
        r.fail("ballots is not the number of ciphertexts", "ballots")
    r.done()
    return Column(key, cts)


def _channel(r: Reader) -> str:
    value = r.text("channel", max_len=20)
    if value not in {c.value for c in Channel}:
        r.fail(f"is not one of {', '.join(c.value for c in Channel)}", "channel")
    return str(value)


def check_tally_input(
    package: ElectionPackage, selection: Selection, found: TallyInput | Mapping[str, Any]
) -> None:
    """Refuse a tally input that is not exactly the one this package and selection give."""
    given = found if isinstance(found, TallyInput) else read_tally_input(found)
    if given.canonical() != tally_input(package, selection).canonical():
        raise CountInputError(
            "the tally input is not the one the selection gives: recompute it with "
            "`ledger count prepare`"
        )
