"""The encrypted ballot of protocol v2: its cells, its JSON form, its hash and fingerprint, and
what the voter's card signs (docs/spec/ballot-v2.md).

A ballot holds, per contest of the voter's category, one cell per thing the voter may mark, in
a fixed order anyone derives from the package (``layout``): each cell is an exponential ElGamal
ciphertext under the election key with a proof. Every eligible option has its cell whether the
voter marked it or not, so the number of ciphertexts never tells what was chosen.

- ``choice``: one cell per eligible option holding 1 (chosen) or 0, each with a {0,1} proof,
  and a proof that their sum lies in min..max.
- ``yesno``: cells ``yes``, ``no``, ``blank``, one-hot: {0,1} proofs and a sum-is-one proof.
- ``score``: one cell per eligible option and criterion holding 0 (not scored) or
  score − min + 1, with a proof of knowledge of its randomness bound to this ballot; its range
  is checked after the column is shuffled and decrypted (verifiable-election.md, "The ballot").

The ballot names no voter. The block that casts it carries the voter id and the card's
signature over ``card_message`` (election, voter id, ballot hash), so a spoiled ballot, which
is published opened, is not tied to anyone by its content.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kiosk.core.ballot import YESNO_ANSWERS, Ballot, Selection
from kiosk.core.crypto import Domain, sha256
from kiosk.core.election import (
    CategoryId,
    Contest,
    ContestId,
    ContestKind,
    ElectionId,
    ElectionPackage,
    GroupId,
    OptionId,
)
from kiosk.core.encoding import canonical_json, crockford32, group4
from kiosk.core.errors import BallotError, EncodingError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import (
    GroupError,
    Point,
    all_point_spellings,
    all_scalar_spellings,
    point_from_hex_or_none,
    point_spelling_or_none,
    scalar_from_hex_or_none,
)
from kiosk.core.verifiable.membership import MAX_SET_SIZE, MembershipProof
from kiosk.core.verifiable.proofs import ChallengeResponse

ENCRYPTED_BALLOT_VERSION = 2
BALLOT_ID_BYTES = 16
VOTER_ID_BYTES = 16
FINGERPRINT_BYTES = 10
# The card signs Domain.BALLOT || election id || "\n" || voter id || ballot hash: well under one
# INTERNAL AUTHENTICATE command's data (kiosk/hardware/card/openpgp.py).
MAX_ELECTION_ID_BYTES = 64


class BallotFormError(BallotError):
    """An encrypted ballot whose shape is not the one its package prescribes."""


@dataclass(frozen=True, slots=True)
class CellSpot:
    """Where a cell sits: the option (or yes/no/blank) and, for scored criteria, the criterion."""

    option: str
    criterion: str | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    spot: CellSpot
    ciphertext: Ciphertext
    # {0,1} membership proof (choice, yesno) or randomness-knowledge proof (score)
    proof: MembershipProof | ChallengeResponse


@dataclass(frozen=True, slots=True)
class EncryptedContest:
    id: ContestId
    kind: ContestKind
    cells: tuple[Cell, ...]
    sum_proof: MembershipProof | None  # choice and yesno only


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    """What a voter's card signs and the count adds up: no voter, no plaintext."""

    election: ElectionId
    ballot_id: bytes  # random, names this ballot in every proof's context
    test: bool
    category: CategoryId
    group: GroupId | None
    contests: tuple[EncryptedContest, ...]

    def header(self) -> dict[str, Any]:
        return {
            "v": ENCRYPTED_BALLOT_VERSION,
            "election": self.election,
            "ballot_id": self.ballot_id.hex(),
            "test": self.test,
            "category": self.category,
            "group": self.group,
        }

    def to_json(self) -> dict[str, Any]:
        return self.header() | {"contests": [_contest_json(c) for c in self.contests]}

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def hash(self) -> bytes:
        return sha256(self.canonical())

    @property
    def fingerprint(self) -> str:
        """What the review screen shows and the receipt prints, to compare on the check page."""
        return fingerprint_of(self.hash)

    def contest(self, contest_id: str) -> EncryptedContest | None:
        return next((c for c in self.contests if c.id == contest_id), None)


@dataclass(frozen=True, slots=True)
class ContestShape:
    """What ``check_form`` looks at in a contest: its cells' places and each proof's size."""

    id: ContestId
    kind: ContestKind
    spots: tuple[CellSpot, ...]
    # per cell: None for a (c, v) proof of knowledge (score), else a membership proof's branches
    proofs: tuple[int | None, ...]
    sum_branches: int | None  # choice and yesno only


@dataclass(frozen=True, slots=True)
class BallotShape:
    """An encrypted ballot as the ledger's arrival checks need it: everything but the group
    elements, whose spelling is checked and whose membership in the group is left to the count
    (which reads every counted ballot strictly: ``read_encrypted_ballot``)."""

    election: ElectionId
    ballot_id: bytes
    test: bool
    category: CategoryId
    group: GroupId | None
    contests: tuple[ContestShape, ...]

    @staticmethod
    def of(ballot: EncryptedBallot) -> BallotShape:
        return BallotShape(
            ballot.election,
            ballot.ballot_id,
            ballot.test,
            ballot.category,
            ballot.group,
            tuple(
                ContestShape(
                    c.id,
                    c.kind,
                    tuple(cell.spot for cell in c.cells),
                    tuple(_proof_size(cell.proof) for cell in c.cells),
                    None if c.sum_proof is None else len(c.sum_proof.branches),
                )
                for c in ballot.contests
            ),
        )


def _proof_size(proof: MembershipProof | ChallengeResponse) -> int | None:
    return len(proof.branches) if isinstance(proof, MembershipProof) else None


def fingerprint_of(ballot_hash: bytes) -> str:
    return group4(crockford32(ballot_hash[:FINGERPRINT_BYTES]))


def new_ballot_id() -> bytes:
    return os.urandom(BALLOT_ID_BYTES)


def card_message(election: str, voter_id: bytes, ballot_hash: bytes) -> bytes:
    """What the voter's card signs after the ``hanpyo/ballot/v2`` domain: this ballot, for this
    voter, in this election. A signature copied to another ballot or voter does not verify."""
    if len(voter_id) != VOTER_ID_BYTES or len(ballot_hash) != 32:
        raise BallotError("a voter id is 16 bytes and a ballot hash 32")
    name = election.encode()
    if len(name) > MAX_ELECTION_ID_BYTES:
        raise BallotError(
            f"an election id for a card signature is at most {MAX_ELECTION_ID_BYTES} bytes"
        )
    return name + b"\n" + voter_id + ballot_hash


def card_challenge(election: str, voter_id: bytes, ballot_hash: bytes) -> bytes:
    """The exact bytes sent to the card in INTERNAL AUTHENTICATE (domain included)."""
    return Domain.BALLOT.value + card_message(election, voter_id, ballot_hash)


# -- the layout: which cells a ballot holds -----------------------------------------------------


def layout(
    package: ElectionPackage,
    contest: Contest,
    group: str | None,
    excluded: frozenset[OptionId],
) -> tuple[CellSpot, ...]:
    """The cells of ``contest`` for a voter of ``group`` who may not judge ``excluded``, in the
    package's order. The count and every verifier derive it from the roll entry, never from
    the ballot, so a ballot with a cell for the voter's own proposal is refused."""
    if contest.kind is ContestKind.YESNO:
        return tuple(CellSpot(a) for a in YESNO_ANSWERS)
    options = package.eligible_options(contest, group, excluded)
    if contest.kind is ContestKind.SCORE and contest.criteria:
        return tuple(CellSpot(o.id, c.id) for o in options for c in contest.criteria)
    return tuple(CellSpot(o.id) for o in options)


def cell_values(contest: Contest, spots: tuple[CellSpot, ...], selection: Selection) -> list[int]:
    """The plaintext of each cell for ``selection`` (already checked by validate_ballot)."""
    match contest.kind:
        case ContestKind.CHOICE:
            chosen = set(selection) if isinstance(selection, tuple) else set()
            return [int(s.option in chosen) for s in spots]
        case ContestKind.YESNO:
            return [int(s.option == selection) for s in spots]
        case _:
            scores = selection if isinstance(selection, Mapping) else {}
            out = []
            for s in spots:
                given = scores.get(OptionId(s.option))
                if isinstance(given, Mapping):
                    given = given.get(s.criterion or "")
                out.append(0 if given is None else int(given) - contest.min + 1)
            return out


def score_of(contest: Contest, value: int) -> int | None:
    """A decrypted score cell: None for "not scored", the score, or BallotError when out of
    range (a cheating kiosk or voter; the cell is published as invalid and not counted)."""
    if value == 0:
        return None
    if not 1 <= value <= contest.max - contest.min + 1:
        raise BallotError(
            f"a score cell decrypts to {value}, outside 0..{contest.max - contest.min + 1}"
        )
    return value + contest.min - 1


def selection_from_values(
    contest: Contest, spots: tuple[CellSpot, ...], values: list[int]
) -> Selection:
    """The inverse of ``cell_values``, for a spoiled ballot opened by anyone."""
    match contest.kind:
        case ContestKind.CHOICE:
            if any(v not in (0, 1) for v in values):
                raise BallotError(f"contest {contest.id}: a choice cell is neither 0 nor 1")
            return tuple(
                sorted(OptionId(s.option) for s, v in zip(spots, values, strict=True) if v)
            )
        case ContestKind.YESNO:
            if sorted(values) != [0] * (len(values) - 1) + [1]:
                raise BallotError(f"contest {contest.id}: the yes/no cells are not one answer")
            return next(s.option for s, v in zip(spots, values, strict=True) if v)
        case _:
            scores: dict[OptionId, Any] = {}
            for s, v in zip(spots, values, strict=True):
                score = score_of(contest, v)
                if score is None:
                    continue
                if s.criterion is None:
                    scores[OptionId(s.option)] = score
                else:
                    scores.setdefault(OptionId(s.option), {})[s.criterion] = score
            return scores


def plaintext_ballot(ballot: EncryptedBallot, selections: Mapping[ContestId, Selection]) -> Ballot:
    return Ballot(ballot.election, ballot.category, ballot.group, dict(selections))


# -- JSON --------------------------------------------------------------------------------------


def _contest_json(c: EncryptedContest) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "kind": c.kind.value,
        "cells": [_cell_json(cell) for cell in c.cells],
    }
    if c.sum_proof is not None:
        out["sum_proof"] = c.sum_proof.to_json()
    return out


def _cell_json(cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {"option": cell.spot.option}
    if cell.spot.criterion is not None:
        out["criterion"] = cell.spot.criterion
    return out | {"ct": cell.ciphertext.to_json(), "proof": cell.proof.to_json()}


MAX_CONTESTS = 64
MAX_CELLS = 4096


def document_hash(document: Any, canonical: bytes | None = None) -> bytes:
    """``read_encrypted_ballot(document).hash`` without writing the ballot out again: the
    hash of the document as it was read (``canonical``: its canonical JSON, when the caller
    has it). Equal because the reader accepts only documents that ``to_json`` gives back
    member for member (every field known and required but ``criterion``, which is absent or
    a string, never null; points and scalars in their one lowercase spelling), and canonical
    JSON sorts members (tests/property/test_ballot_hash_from_bytes.py checks it)."""
    return sha256(canonical_json(document) if canonical is None else canonical)


def read_encrypted_ballot(document: Any, where: str = "ballot") -> EncryptedBallot:
    """Parse an encrypted ballot strictly: every point canonical, every field known, its path
    named in the error. The shape against the package is checked by ``check_form``."""
    return EncryptedBallot(*_read_document(document, where, _read_contest))


def read_ballot_shape(document: Any, where: str = "ballot") -> BallotShape:
    """``BallotShape.of(read_encrypted_ballot(document))``, with the same refusals, except that
    a point is checked for its spelling (64 lowercase hex digits) and not for being a group
    element: what the ledger needs on arrival (about a quarter of its time went to checking
    the points). The count reads the ballot strictly and leaves one with a bad point out."""
    return BallotShape(*_read_document(document, where, _read_contest_shape))


C = TypeVar("C")


def _read_document(
    document: Any, where: str, contest: Callable[[Reader], C]
) -> tuple[ElectionId, bytes, bool, CategoryId, GroupId | None, tuple[C, ...]]:
    r = Reader(document, where, BallotFormError)
    if r.integer("v") != ENCRYPTED_BALLOT_VERSION:
        r.fail(f"is not an encrypted ballot of version {ENCRYPTED_BALLOT_VERSION}", "v")
    ballot_id = _hex(r, "ballot_id", BALLOT_ID_BYTES)
    group_raw = r.raw("group")
    election = ElectionId(r.ident("election"))
    test = r.flag("test", default=False)
    category = CategoryId(r.ident("category"))
    group = None if group_raw is None else GroupId(r.ident("group"))
    contests = tuple(contest(c) for c in _bounded(r, "contests", MAX_CONTESTS))
    if not isinstance(r.value.get("test"), bool):
        # required, true or false: a null would be read as false and written back as false,
        # and the ballot's hash is taken from the bytes read (document_hash)
        r.fail("is missing" if "test" not in r.value else "must be true or false", "test")
    r.done()
    return election, ballot_id, test, category, group, contests


def _read_contest_shape(r: Reader) -> ContestShape:
    """``_read_contest``'s refusals, the points' spelling only (``read_ballot_shape``)."""
    kind = r.enum("kind", ContestKind)
    items = r.items("cells", max_items=MAX_CELLS)
    cells = _cells_shape_fast(items, kind)
    if cells is None:  # one cell at a time; the strict reader names what is wrong
        cells = ([], [])
        for i, item in enumerate(items):
            fast = _cell_shape_fast(item, kind)
            if fast is None:
                cell = _read_cell(Reader(item, f"{r.path}.cells[{i}]", BallotFormError), kind)
                fast = (cell.spot, _proof_size(cell.proof))
            cells[0].append(fast[0])
            cells[1].append(fast[1])
    spots, proofs = cells
    sum_branches = None
    if kind is not ContestKind.SCORE:
        scalars: list[object] = []
        sum_branches = _add_branches(r.raw("sum_proof"), scalars)
        if sum_branches is None or not all_scalar_spellings(scalars):
            proof = _proof(r, "sum_proof", lambda v, w: MembershipProof.from_json(v, what=w))
            sum_branches = len(proof.branches)
    contest = ContestShape(
        ContestId(r.ident("id")), kind, tuple(spots), tuple(proofs), sum_branches
    )
    r.done()
    return contest


def _bounded(r: Reader, key: str, most: int) -> list[Reader]:
    items = r.items(key, max_items=most)
    prefix = f"{r.path}.{key}"
    return [Reader(item, f"{prefix}[{i}]", BallotFormError) for i, item in enumerate(items)]


def _read_contest(r: Reader) -> EncryptedContest:
    kind = r.enum("kind", ContestKind)
    items = r.items("cells", max_items=MAX_CELLS)
    cells = tuple(
        _cell_fast(item, kind)
        or _read_cell(Reader(item, f"{r.path}.cells[{i}]", BallotFormError), kind)
        for i, item in enumerate(items)
    )
    sum_proof = None
    if kind is not ContestKind.SCORE:
        sum_proof = _proof(r, "sum_proof", lambda v, w: MembershipProof.from_json(v, what=w))
    contest = EncryptedContest(ContestId(r.ident("id")), kind, cells, sum_proof)
    r.done()
    return contest


_CELL_KEYS = frozenset({"option", "ct", "proof"})
_SCORED_CELL_KEYS = frozenset({"option", "criterion", "ct", "proof"})
_PROOF_KEYS = frozenset({"c", "v"})
MAX_SPOT_TEXT = 200


def _cell_fast(value: Any, kind: ContestKind) -> Cell | None:
    """``_read_cell`` of a well-formed cell without a Reader's bookkeeping (a ballot has
    dozens of cells and the ledger reads thousands of ballots a second); None for anything
    else, which ``_read_cell`` then reads and names. It accepts nothing ``_read_cell`` refuses
    and reads the same cell (tests/property/test_ballot_hash_from_bytes.py compares them)."""
    parts = _cell_parts(value, kind, point_from_hex_or_none)
    if parts is None:
        return None
    spot, (alpha, beta), proof = parts
    return Cell(spot, Ciphertext(alpha, beta), proof)


def _cell_shape_fast(value: Any, kind: ContestKind) -> tuple[CellSpot, int | None] | None:
    """``_cell_fast`` for ``read_ballot_shape``: the points' spelling checked, not their
    membership in the group."""
    parts = _cell_parts(value, kind, point_spelling_or_none)
    return None if parts is None else (parts[0], _proof_size(parts[2]))


def _cells_shape_fast(
    items: list[Any], kind: ContestKind
) -> tuple[list[CellSpot], list[int | None]] | None:
    """``_cell_shape_fast`` of each of a contest's cells, with the spelling of all their points
    and of all their proofs' scalars checked by one match each (a contest has dozens of cells,
    each with 2 points and 2 to 22 scalars). None when any cell is not well-formed: each is
    then read on its own, so that the one at fault is named."""
    points: list[object] = []
    scalars: list[object] = []
    spots: list[CellSpot] = []
    sizes: list[int | None] = []
    score = kind is ContestKind.SCORE
    for value in items:
        frame = _cell_frame(value)
        if frame is None:
            return None
        spot, ct, proof = frame
        points += ct
        if score:
            if not _add_branch(proof, scalars):
                return None
            sizes.append(None)
        else:
            size = _add_branches(proof, scalars)
            if size is None:
                return None
            sizes.append(size)
        spots.append(spot)
    if not all_point_spellings(points) or not all_scalar_spellings(scalars):
        return None
    return spots, sizes


def _add_branch(value: Any, scalars: list[object]) -> bool:
    """A (c, v) branch's two scalars added to ``scalars`` unchecked; False if it is not an
    object of exactly those two members."""
    if type(value) is not dict or value.keys() != _PROOF_KEYS:
        return False
    scalars += (value["c"], value["v"])
    return True


def _add_branches(value: Any, scalars: list[object]) -> int | None:
    """A membership proof's branches added as ``_add_branch`` adds one; how many, or None if it
    is not a list of 1 to MAX_SET_SIZE such branches."""
    if type(value) is not list or not 0 < len(value) <= MAX_SET_SIZE:
        return None
    for item in value:
        if type(item) is not dict or item.keys() != _PROOF_KEYS:
            return None
        scalars += (item["c"], item["v"])
    return len(value)


P = TypeVar("P")


def _cell_parts(
    value: Any, kind: ContestKind, point: Callable[[object], P | None]
) -> tuple[CellSpot, tuple[P, P], MembershipProof | ChallengeResponse] | None:
    frame = _cell_frame(value)
    if frame is None:
        return None
    spot, ct, proof_value = frame
    alpha, beta = point(ct[0]), point(ct[1])
    if alpha is None or beta is None:
        return None
    proof: MembershipProof | ChallengeResponse | None
    if kind is ContestKind.SCORE:
        proof = _challenge_response_fast(proof_value)
    else:
        proof = _membership_fast(proof_value)
    if proof is None:
        return None
    return spot, (alpha, beta), proof


def _cell_frame(value: Any) -> tuple[CellSpot, list[Any], Any] | None:
    """A well-formed cell's place, its ciphertext's two parts and its proof, none of them
    read yet; None for anything else (wrong members, a bad option or criterion, a ciphertext
    that is not a pair)."""
    if type(value) is not dict:
        return None
    keys = value.keys()
    if keys == _CELL_KEYS:
        criterion = None
    elif keys == _SCORED_CELL_KEYS:
        criterion = value["criterion"]
        if not _spot_text(criterion):
            return None
    else:
        return None
    option, ct = value["option"], value["ct"]
    if not _spot_text(option) or type(ct) is not list or len(ct) != 2:
        return None
    return CellSpot(option, criterion), ct, value["proof"]


def _spot_text(value: Any) -> bool:
    return type(value) is str and len(value) <= MAX_SPOT_TEXT and bool(value.strip())


def _challenge_response_fast(value: Any) -> ChallengeResponse | None:
    if type(value) is not dict or value.keys() != _PROOF_KEYS:
        return None
    c, v = scalar_from_hex_or_none(value["c"]), scalar_from_hex_or_none(value["v"])
    return None if c is None or v is None else ChallengeResponse(c, v)


def _membership_fast(value: Any) -> MembershipProof | None:
    if type(value) is not list or not 0 < len(value) <= MAX_SET_SIZE:
        return None
    branches = [_challenge_response_fast(item) for item in value]
    if any(b is None for b in branches):
        return None
    return MembershipProof(tuple(b for b in branches if b is not None))


def _read_cell(r: Reader, kind: ContestKind) -> Cell:
    option = r.text("option", max_len=MAX_SPOT_TEXT)
    if "criterion" in r.value and r.value["criterion"] is None:
        # absent or a criterion's id: a null would be written back as absent, and the ballot's
        # hash is taken from the bytes read (document_hash)
        r.fail("must be a criterion's id or absent, not null", "criterion")
    criterion = r.text("criterion", optional=True, max_len=MAX_SPOT_TEXT)
    try:
        ciphertext = Ciphertext.from_json(r.raw("ct"), what=f"{r.path}.ct")
    except (GroupError, EncodingError) as e:
        r.fail(str(e))
    if kind is ContestKind.SCORE:
        proof: MembershipProof | ChallengeResponse = _proof(
            r, "proof", lambda v, w: ChallengeResponse.from_json(v, what=w)
        )
    else:
        proof = _proof(r, "proof", lambda v, w: MembershipProof.from_json(v, what=w))
    r.done()
    return Cell(CellSpot(option, criterion), ciphertext, proof)


def _proof(r: Reader, key: str, read: Any) -> Any:
    try:
        return read(r.raw(key), f"{r.path}.{key}")
    except (GroupError, EncodingError) as e:
        r.fail(str(e))


def _hex(r: Reader, key: str, length: int) -> bytes:
    text = r.text(key, max_len=2 * length)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        r.fail("must be hexadecimal", key)
    if len(data) != length or data.hex() != text:
        r.fail(f"must be {length} bytes in lowercase hexadecimal", key)
    return data


def check_form(
    package: ElectionPackage,
    ballot: EncryptedBallot | BallotShape,
    category: str,
    group: str | None,
    excluded: frozenset[OptionId],
    *,
    test: bool,
) -> None:
    """The cheap checks the ledger makes on arrival: this election, this mode, the roll entry's
    category and group, exactly the voter's contests, exactly the cells ``layout`` gives, each
    proof of the right kind and size. No group operation: proofs are checked by the count."""
    if isinstance(ballot, EncryptedBallot):
        ballot = BallotShape.of(ballot)
    if ballot.election != package.id:
        raise BallotFormError(f"the ballot is for election {ballot.election!r}, not {package.id!r}")
    if ballot.test != test:
        raise BallotFormError(
            "a test ballot in an official block"
            if ballot.test
            else "an official ballot in a test block"
        )
    if ballot.category != category or ballot.group != group:
        raise BallotFormError(
            f"the ballot says category {ballot.category!r} and group {ballot.group!r}; the roll "
            f"entry says {category!r} and {group!r}"
        )
    contests = package.contests_for(category)
    if [c.id for c in ballot.contests] != [c.id for c in contests]:
        raise BallotFormError(
            f"the ballot answers contests {[c.id for c in ballot.contests]}, the voter's are "
            f"{[c.id for c in contests]}"
        )
    for contest, enc in zip(contests, ballot.contests, strict=True):
        _check_contest_form(package, contest, enc, group, excluded)


def _check_contest_form(
    package: ElectionPackage,
    contest: Contest,
    enc: ContestShape,
    group: str | None,
    excluded: frozenset[OptionId],
) -> None:
    def fail(detail: str) -> BallotFormError:
        return BallotFormError(f"contest {contest.id}: {detail}", contest=contest.id)

    if enc.kind is not contest.kind:
        raise fail(f"the ballot says kind {enc.kind.value}, the package {contest.kind.value}")
    spots = layout(package, contest, group, excluded)
    if enc.spots != spots:
        raise fail("the cells are not this voter's options in the package's order")
    if contest.kind is ContestKind.SCORE:
        if not all(size is None for size in enc.proofs):
            raise fail("a score cell carries a proof of knowledge of its randomness")
        return
    for spot, size in zip(enc.spots, enc.proofs, strict=True):
        if size != 2:
            raise fail(f"cell {spot.option}: a {{0,1}} proof has two branches")
    low, high = sum_range(contest, len(spots))
    if enc.sum_branches != high - low + 1:
        raise fail(f"the sum proof must have {high - low + 1} branches ({low}..{high})")


def sum_range(contest: Contest, cells: int) -> tuple[int, int]:
    """What the cells of a choice or yes/no contest may add up to."""
    if contest.kind is ContestKind.YESNO:
        return 1, 1
    return contest.min, min(contest.max, cells)


def election_key_for(package: ElectionPackage, *, test: bool) -> Point:
    """K for official ballots; the package's public test key for test ballots."""
    if test:
        test_key = getattr(package, "test_key", None)
        if test_key is None:
            raise BallotError("this package has no protocol v2 test key")
        return test_key.key  # type: ignore[no-any-return]
    if package.election_key is None:
        raise BallotError("this package has no election key from a trustees' ceremony")
    return package.election_key.key


def base_hash(package: ElectionPackage, *, test: bool) -> bytes:
    """The hash every ballot proof starts from (strong Fiat–Shamir: ElectionGuard 2.1 §3.1.3's
    extended base hash plays this part): the election, which key, and the ceremony that made it.
    It does not cover the roll, so a package re-signed with more voters keeps ballots valid."""
    key = election_key_for(package, test=test)
    ceremony = package.election_key
    return sha256(
        b"hanpyo/v2/base-hash\n"
        + canonical_json(
            {
                "election": package.id,
                "key": key.hex(),
                "test": test,
                "setup_hash": ceremony.setup_hash.hex() if ceremony else None,
                "transcript_hash": ceremony.transcript_hash.hex() if ceremony else None,
            }
        )
    )


def cell_context(
    header: Mapping[str, Any], contest: str, cell_index: int | None, spot: CellSpot | None
) -> bytes:
    """What a proof is bound to beyond its ciphertext: the ballot's header (its random id,
    election, mode, category, group), the contest and the cell's place (None: the contest's sum
    proof). A ciphertext copied into another ballot, or moved to another cell, needs a new
    proof, which needs its randomness (Cortier and Smyth's replay attack on Helios)."""
    return canonical_json(
        {
            "ballot": dict(header),
            "contest": contest,
            "cell": cell_index,
            "option": spot.option if spot else None,
            "criterion": spot.criterion if spot else None,
        }
    )
