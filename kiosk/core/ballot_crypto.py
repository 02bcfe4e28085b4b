"""Encrypting a ballot with its proofs, checking them, and opening a spoiled (checked) ballot
from its randomness (docs/spec/ballot-v2.md; the proofs are kiosk.core.verifiable's).

The kiosk encrypts as soon as the review screen shows (``encrypt_ballot``); Cast signs and
commits the ciphertexts and forgets ``BallotSecrets``; Check publishes them in a ``spoiled``
block (``spoiled_body``) so that anyone can open the ballot (``open_spoiled``) and see that it
holds what the voter chose (Benaloh's challenge; ElectionGuard 2.1 §3.5 "challenged ballots").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.ballot import Ballot, check_contests, read_ballot
from kiosk.core.election import Contest, ContestId, ContestKind, ElectionPackage, OptionId
from kiosk.core.encrypted_ballot import (
    BallotFormError,
    Cell,
    CellSpot,
    EncryptedBallot,
    EncryptedContest,
    base_hash,
    cell_context,
    cell_values,
    election_key_for,
    layout,
    new_ballot_id,
    read_encrypted_ballot,
    selection_from_values,
    sum_range,
)
from kiosk.core.errors import BallotError, EncodingError
from kiosk.core.jsonreader import Reader
from kiosk.core.verifiable.dlog import DiscreteLogError, discrete_log
from kiosk.core.verifiable.elgamal import Ciphertext, encrypt_with
from kiosk.core.verifiable.group import (
    GroupError,
    Point,
    base_mul,
    random_scalar,
    scalar_bytes,
    scalar_from_hex,
)
from kiosk.core.verifiable.knowledge import prove_randomness_knowledge, verify_randomness_knowledge
from kiosk.core.verifiable.membership import (
    MembershipProof,
    prove_membership,
    prove_sum_in_range,
    verify_membership,
    verify_sum_in_range,
)
from kiosk.core.verifiable.proofs import ChallengeResponse, ProofError

ZERO_ONE = (0, 1)


class BallotProofError(BallotError):
    """A ballot proof that does not verify; ``where`` names the contest and cell."""

    def __init__(self, where: str, detail: str, *, contest: str | None = None) -> None:
        super().__init__(f"{where}: {detail}", contest=contest)
        self.where = where


@dataclass(frozen=True, slots=True)
class BallotSecrets:
    """What only the kiosk holds until Cast (then erased) or Check (then published)."""

    plaintext: Ballot
    values: tuple[tuple[int, ...], ...]  # per contest, per cell
    nonces: tuple[tuple[int, ...], ...]

    def __repr__(self) -> str:  # never print a voter's choices or randomness, not even in a log
        return "BallotSecrets(<hidden>)"


# -- making -------------------------------------------------------------------------------------


def encrypt_ballot(
    package: ElectionPackage,
    ballot: Ballot,
    excluded: frozenset[OptionId],
    *,
    test: bool,
) -> tuple[EncryptedBallot, BallotSecrets]:
    """Encrypt ``ballot`` cell by cell under the election key (the test key in test mode), with
    every proof. The contest rules are checked first (``BallotError`` naming the contest): a
    selection the layout has no cell for (an option the voter is recused from, say) would
    otherwise be dropped without a word."""
    check_contests(package, ballot, excluded)
    key, base = election_key_for(package, test=test), base_hash(package, test=test)
    header_ballot = EncryptedBallot(
        package.id, new_ballot_id(), test, ballot.category, ballot.group, ()
    )
    header = header_ballot.header()
    contests, all_values, all_nonces = [], [], []
    for contest in package.contests_for(ballot.category):
        spots = layout(package, contest, ballot.group, excluded)
        values = cell_values(contest, spots, ballot.selections[contest.id])
        nonces = [random_scalar() for _ in spots]
        contests.append(_encrypt_contest(contest, spots, values, nonces, key, base, header))
        all_values.append(tuple(values))
        all_nonces.append(tuple(nonces))
    encrypted = EncryptedBallot(
        header_ballot.election,
        header_ballot.ballot_id,
        test,
        ballot.category,
        ballot.group,
        tuple(contests),
    )
    return encrypted, BallotSecrets(ballot, tuple(all_values), tuple(all_nonces))


def _encrypt_contest(
    contest: Contest,
    spots: tuple[CellSpot, ...],
    values: list[int],
    nonces: list[int],
    key: Point,
    base: bytes,
    header: Mapping[str, Any],
) -> EncryptedContest:
    cells = []
    ciphertexts = []
    for index, (spot, value, nonce) in enumerate(zip(spots, values, nonces, strict=True)):
        ciphertext = encrypt_with(value, key, nonce)
        context = cell_context(header, contest.id, index, spot)
        proof: MembershipProof | ChallengeResponse
        if contest.kind is ContestKind.SCORE:
            proof = prove_randomness_knowledge(ciphertext, nonce, key, base, context)
        else:
            proof = prove_membership(ciphertext, nonce, value, ZERO_ONE, key, base, context)
        cells.append(Cell(spot, ciphertext, proof))
        ciphertexts.append(ciphertext)
    sum_proof = None
    if contest.kind is not ContestKind.SCORE:
        low, high = sum_range(contest, len(spots))
        context = cell_context(header, contest.id, None, None)
        sum_proof = prove_sum_in_range(ciphertexts, nonces, values, low, high, key, base, context)
    return EncryptedContest(contest.id, contest.kind, tuple(cells), sum_proof)


# -- checking -----------------------------------------------------------------------------------


def verify_ballot_proofs(package: ElectionPackage, ballot: EncryptedBallot) -> None:
    """Check every proof of ``ballot`` (whose form ``check_form`` already accepted); raise
    BallotProofError naming the contest and cell of the first that fails."""
    key, base = election_key_for(package, test=ballot.test), base_hash(package, test=ballot.test)
    header = ballot.header()
    for enc in ballot.contests:
        contest = _contest(package, enc.id)
        _verify_contest(contest, enc, key, base, header)


def _verify_contest(
    contest: Contest, enc: EncryptedContest, key: Point, base: bytes, header: Mapping[str, Any]
) -> None:
    for index, cell in enumerate(enc.cells):
        context = cell_context(header, contest.id, index, cell.spot)
        where = f"contest {contest.id}, cell {index} ({_spot_name(cell.spot)})"
        try:
            if isinstance(cell.proof, ChallengeResponse):
                verify_randomness_knowledge(cell.proof, cell.ciphertext, key, base, context)
            else:
                verify_membership(cell.proof, cell.ciphertext, ZERO_ONE, key, base, context)
        except ProofError as e:
            raise BallotProofError(where, str(e), contest=contest.id) from e
    if contest.kind is ContestKind.SCORE:
        return
    low, high = sum_range(contest, len(enc.cells))
    if enc.sum_proof is None:
        raise BallotProofError(f"contest {contest.id}", "the sum proof is missing")
    try:
        verify_sum_in_range(
            enc.sum_proof,
            [c.ciphertext for c in enc.cells],
            low,
            high,
            key,
            base,
            cell_context(header, contest.id, None, None),
        )
    except ProofError as e:
        raise BallotProofError(f"contest {contest.id}, sum", str(e), contest=contest.id) from e


def _contest(package: ElectionPackage, contest_id: str) -> Contest:
    contest = next((c for c in package.contests if c.id == contest_id), None)
    if contest is None:
        raise BallotFormError(f"the package has no contest {contest_id!r}")
    return contest


def _spot_name(spot: CellSpot) -> str:
    return spot.option if spot.criterion is None else f"{spot.option}/{spot.criterion}"


# -- spoiled ballots ----------------------------------------------------------------------------


def spoiled_body(ballot: EncryptedBallot, secrets: BallotSecrets) -> dict[str, Any]:
    """The body of a ``spoiled`` block: the ballot, every cell's randomness and the plaintext
    the kiosk says it encrypted. No voter id and no card signature: it never counts."""
    return {
        "ballot": ballot.to_json(),
        "nonces": [[scalar_bytes(n).hex() for n in contest] for contest in secrets.nonces],
        "plaintext": secrets.plaintext.to_json(),
    }


@dataclass(frozen=True, slots=True)
class OpenedBallot:
    ballot: EncryptedBallot
    plaintext: Ballot  # what the randomness shows the ciphertexts hold


def open_spoiled(package: ElectionPackage, body: Any) -> OpenedBallot:
    """Open a spoiled ballot with its published randomness, as the check page does for anyone:
    m·G = β − r·K for every cell (and α = r·G), m by discrete logarithm, then the selections.
    Raises BallotError when the randomness does not open a cell, or when what the ciphertexts
    hold differs from the plaintext the kiosk wrote beside them: a kiosk caught cheating."""
    r = Reader(body, "spoiled", BallotFormError)
    ballot = read_encrypted_ballot(r.raw("ballot"), "spoiled.ballot")
    nonces = _nonces(r.items("nonces", max_items=len(ballot.contests) + 1), ballot)
    try:
        claimed = read_ballot(r.raw("plaintext"))
    except (BallotError, EncodingError) as e:
        raise BallotFormError(f"spoiled.plaintext: {e}") from e
    r.done()
    key = election_key_for(package, test=ballot.test)
    selections = {}
    for enc, contest_nonces in zip(ballot.contests, nonces, strict=True):
        contest = _contest(package, enc.id)
        values = [
            _open_cell(contest, cell, nonce, key, f"contest {enc.id}, cell {i}")
            for i, (cell, nonce) in enumerate(zip(enc.cells, contest_nonces, strict=True))
        ]
        spots = tuple(c.spot for c in enc.cells)
        selections[ContestId(enc.id)] = selection_from_values(contest, spots, values)
    opened = Ballot(ballot.election, ballot.category, ballot.group, selections)
    if opened.plaintext() != claimed.plaintext():
        raise BallotError(
            "the ciphertexts do not hold the choices the kiosk printed beside them: this kiosk "
            "encrypted something other than what the voter chose"
        )
    return OpenedBallot(ballot, opened)


def _nonces(items: Sequence[Any], ballot: EncryptedBallot) -> list[list[int]]:
    if len(items) != len(ballot.contests):
        raise BallotFormError("spoiled.nonces: one list per contest")
    out = []
    for i, (row, enc) in enumerate(zip(items, ballot.contests, strict=True)):
        if not isinstance(row, list) or len(row) != len(enc.cells):
            raise BallotFormError(f"spoiled.nonces[{i}]: one nonce per cell")
        try:
            out.append([scalar_from_hex(n, what=f"spoiled.nonces[{i}]") for n in row])
        except GroupError as e:
            raise BallotFormError(str(e)) from e
    return out


def _open_cell(contest: Contest, cell: Cell, nonce: int, key: Point, where: str) -> int:
    bound = 1 if contest.kind is not ContestKind.SCORE else contest.max - contest.min + 1
    if base_mul(nonce) != cell.ciphertext.alpha:
        raise BallotError(f"{where}: the published randomness does not make this ciphertext")
    point = cell.ciphertext.beta - key * nonce
    try:
        return discrete_log(point, bound)
    except DiscreteLogError as e:
        raise BallotError(f"{where}: the cell holds no value in 0..{bound}") from e


def encrypted_cells(ballot: EncryptedBallot) -> list[Ciphertext]:
    return [cell.ciphertext for contest in ballot.contests for cell in contest.cells]
