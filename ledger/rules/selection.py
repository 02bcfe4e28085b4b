"""Selection (protocol v2): which of the closed log's ballots count, and why every other one
does not (verifiable-election.md, "The count", step 2). Pure and deterministic: anyone who
holds the package and the log gets the same ``selection.json``, byte for byte.

The rules, in this order; the first a ballot fails is its reason (``REASONS``):

1. official ballots only: test ballots (``test_ballot``) and checked ballots (``spoiled``) are
   listed and never counted;
2. a v2 body (voter id, encrypted ballot, card key, card signature); protocol 1's sealed body
   or anything unreadable is ``bad_form``; an official ballot dated outside the schedule is
   ``outside_schedule``;
3. the voter id on the roll (``voter_not_on_roll``);
4. the card key one of that roll entry's keys (``key_of_another_voter`` when it is another
   entry's, else ``key_not_on_roll``); no key or signature at all is ``no_card_signature``;
5. the card's signature over ``card_message(ballot's election, voter id, ballot hash)``
   (``bad_card_signature``);
6. the ballot's election this package's (``other_election``: checked after the signature, so a
   ballot its voter really signed in another election is named as such);
7. ``check_form`` against the roll entry (``category_or_group`` when the ballot is well formed
   for the category and group it claims but those are not the roll entry's, else ``bad_form``);
8. every proof (``bad_proof``, the detail naming contest and cell);
9. replays (``replayed_ballot``): a ballot id, or any ciphertext, already in a ballot that got
   this far earlier in log order, or a ballot id that was opened as a spoiled ballot anywhere
   in the log with randomness that really makes its ciphertexts (a checked ballot is public,
   so it must never count: ElectionGuard 2.1 §3.5);
10. the package's duplicate policy per voter id, by cast order (kiosk/core/duplicates.py):
    the ballots it sets aside are ``superseded``.

Checking proofs is the expensive part, so it is a separate function of (package, ballot JSON)
that the caller may map over worker processes or a cluster (``proof_fault``); the selection
itself stays one deterministic pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.core.block import Block, BlockKind
from kiosk.core.chain import Schedule
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.duplicates import cast_order, counted_index
from kiosk.core.election import ElectionPackage, RollEntry
from kiosk.core.encoding import b64d, b64e, canonical_json
from kiosk.core.encrypted_ballot import (
    VOTER_ID_BYTES,
    BallotFormError,
    EncryptedBallot,
    card_message,
    check_form,
    document_hash,
    read_encrypted_ballot,
)
from kiosk.core.errors import BallotError, EncodingError, VerificationError
from kiosk.core.verifiable.group import base_mul, scalar_from_hex

REASONS = (
    "no_card_signature",
    "bad_card_signature",
    "key_not_on_roll",
    "voter_not_on_roll",
    "key_of_another_voter",
    "category_or_group",
    "bad_form",
    "bad_proof",
    "other_election",
    "replayed_ballot",
    "test_ballot",
    "spoiled",
    "superseded",
    "outside_schedule",
)
BALLOT_KINDS = (BlockKind.BALLOT, BlockKind.TEST_BALLOT, BlockKind.SPOILED)


@dataclass(frozen=True, slots=True)
class LoggedBlock:
    """One block of the closed log as selection reads it: its leaf index, its source (kiosk or
    online platform) and that source's channel."""

    position: int
    source: str
    height: int
    block: Block
    channel: str


@dataclass(frozen=True, slots=True)
class CountedBallot:
    position: int
    source: str
    height: int
    time: str
    voter: bytes
    category: str
    group: str | None
    channel: str
    ballot: EncryptedBallot
    ballot_hash: bytes  # ballot.hash, taken from the document read (document_hash)

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "source": self.source,
            "height": self.height,
            "voter": self.voter.hex(),
            "category": self.category,
            "group": self.group,
            "channel": self.channel,
            "ballot_hash": self.ballot_hash.hex(),
        }


@dataclass(frozen=True, slots=True)
class LeftOut:
    position: int
    source: str
    height: int
    voter: bytes | None
    reason: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "source": self.source,
            "height": self.height,
            "voter": None if self.voter is None else self.voter.hex(),
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Selection:
    election: str
    package_hash: bytes
    checkpoint: str
    counted: tuple[CountedBallot, ...]  # in log order
    left_out: tuple[LeftOut, ...]  # in log order

    def to_json(self) -> dict[str, Any]:
        return {
            "election": self.election,
            "package_hash": self.package_hash.hex(),
            "checkpoint": self.checkpoint,
            "counted": [c.to_json() for c in self.counted],
            "left_out": [x.to_json() for x in self.left_out],
        }

    def reasons(self) -> dict[str, int]:
        """How many ballots were left out for each reason, in ``REASONS`` order."""
        found = [x.reason for x in self.left_out]
        return {r: found.count(r) for r in REASONS if r in found}


class _Refused(Exception):
    """Internal: a ballot fails rule ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a candidate ballot is in the log: what is kept of its block once read (the block
    and its JSON are not: a city's log of decoded blocks does not fit in memory)."""

    position: int
    source: str
    height: int
    time: str
    channel: str


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A ballot that passed every cheap check; its proofs are checked next."""

    entry: _Place
    voter: bytes
    roll: RollEntry
    ballot: EncryptedBallot
    ballot_hash: bytes


class _BallotDocuments(Sequence[Mapping[str, Any]]):
    """The candidates' ballots in their JSON form, for the proof checker: each made when it
    is asked for (by a worker's chunk), so they are never all in memory at once."""

    def __init__(self, candidates: Sequence[_Candidate]) -> None:
        self._candidates = candidates

    def __len__(self) -> int:
        return len(self._candidates)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [c.ballot.to_json() for c in self._candidates[index]]
        return self._candidates[index].ballot.to_json()


#: Checks the proofs of many ballots (JSON), answering for each None or what failed.
ProofChecker = Callable[[Sequence[Mapping[str, Any]]], Sequence[str | None]]


# -- the proofs, one ballot at a time -------------------------------------------------------------


def proof_fault(package: ElectionPackage, ballot_json: Mapping[str, Any]) -> str | None:
    """None when every proof of the ballot verifies, else which one fails (contest and cell).
    What a worker process or a Dask task runs for each ballot; deterministic and pure."""
    from kiosk.core.ballot_crypto import BallotProofError, verify_ballot_proofs

    try:
        verify_ballot_proofs(package, read_encrypted_ballot(ballot_json))
    except BallotProofError as e:
        return str(e)
    except BallotError as e:  # the form was checked before: a package without a key, say
        return str(e)
    return None


def proofs_here(package: ElectionPackage) -> ProofChecker:
    """Check proofs in this process, one after the other (tests and small elections)."""
    return lambda ballots: [proof_fault(package, b) for b in ballots]


# -- selection -----------------------------------------------------------------------------------


def select(
    package: ElectionPackage,
    log: Iterable[LoggedBlock],
    checkpoint: str,
    check_proofs: ProofChecker | None = None,
) -> Selection:
    """Who counts in the closed log ``log`` (every block up to the close's final checkpoint,
    in log order) and why every other ballot does not."""
    schedule = Schedule.of(package.opens, package.closes)
    left: list[LeftOut] = []
    candidates: list[_Candidate] = []
    spoiled_ids: dict[bytes, int] = {}
    # one pass over ``log``, which may be a stream: each block is read here and only what the
    # rules after the proofs need is kept (spoiled ids are used only after the proofs)
    for entry in log:
        if entry.block.kind not in BALLOT_KINDS:
            continue
        if entry.block.kind is BlockKind.SPOILED:
            opened = _spoiled_id(entry.block.body)
            if opened is not None:
                spoiled_ids.setdefault(opened, entry.position)
        try:
            candidates.append(_cheap_checks(package, schedule, entry))
        except _Refused as r:
            left.append(_left(entry, _voter_of(entry.block.body), r))
    checker = check_proofs or proofs_here(package)
    faults = list(checker(_BallotDocuments(candidates)))
    if len(faults) != len(candidates):
        raise VerificationError("the proof checker answered for another number of ballots")
    valid: list[_Candidate] = []
    for cand, fault in zip(candidates, faults, strict=True):
        if fault is not None:
            left.append(_left(cand.entry, cand.voter, _Refused("bad_proof", fault)))
        else:
            valid.append(cand)
    unique = _without_replays(valid, spoiled_ids, left)
    counted = _apply_policy(package, unique, left)
    return Selection(
        package.id,
        package.package_hash,
        checkpoint,
        tuple(sorted(counted, key=lambda c: c.position)),
        tuple(sorted(left, key=lambda x: x.position)),
    )


def _left(entry: LoggedBlock | _Place, voter: bytes | None, refusal: _Refused) -> LeftOut:
    return LeftOut(
        entry.position, entry.source, entry.height, voter, refusal.reason, refusal.detail
    )


def _cheap_checks(package: ElectionPackage, schedule: Schedule, entry: LoggedBlock) -> _Candidate:
    """Rules 1 to 7, no group operation."""
    block = entry.block
    if block.kind is BlockKind.TEST_BALLOT:
        raise _Refused("test_ballot", "a test ballot never counts")
    if block.kind is BlockKind.SPOILED:
        raise _Refused("spoiled", "a checked (spoiled) ballot never counts")
    body = block.body
    voter, ballot_json, ballot = _read_body(body)
    ballot_hash = document_hash(ballot_json)
    fault = schedule.fault(block.time)
    if fault is not None:
        raise _Refused("outside_schedule", f"dated {block.time}: {fault.replace('_', ' ')}")
    roll = package.roll_entry_by_voter(voter)
    if roll is None:
        raise _Refused("voter_not_on_roll", f"voter {voter.hex()} is not on the roll")
    key, sig = _card_parts(body)
    if key not in roll.keys:
        owner = package.roll_entry(key)
        if owner is not None:
            other = owner.voter_id.hex() if owner.voter_id else "?"
            raise _Refused(
                "key_of_another_voter", f"card key {b64e(key)} is voter {other}'s, not this voter's"
            )
        what = "a test card's key" if package.test_voter_for_card(key) else "not on the roll"
        raise _Refused("key_not_on_roll", f"card key {b64e(key)} is {what}")
    _check_card_signature(ballot, ballot_hash, voter, key, sig)
    if ballot.election != package.id:
        raise _Refused(
            "other_election", f"the ballot is for election {ballot.election!r}, not {package.id!r}"
        )
    _check_form(package, ballot, roll)
    place = _Place(entry.position, entry.source, entry.height, block.time, entry.channel)
    return _Candidate(place, voter, roll, ballot, ballot_hash)


def _read_body(body: Any) -> tuple[bytes, Mapping[str, Any], EncryptedBallot]:
    if not isinstance(body, Mapping):
        raise _Refused("bad_form", "the block's body is not an object")
    if "sealed" in body or "nullifier" in body:
        raise _Refused("bad_form", "a protocol v1 ballot (sealed box) in a protocol v2 election")
    unknown = set(body) - {"voter", "ballot", "card_key", "card_sig"}
    if unknown or "voter" not in body or "ballot" not in body:
        raise _Refused("bad_form", "a v2 ballot body has voter, ballot, card_key and card_sig")
    voter = _voter_of(body)
    if voter is None:
        raise _Refused("bad_form", f"voter must be {VOTER_ID_BYTES} bytes in lowercase hex")
    ballot_json = body["ballot"]
    try:
        ballot = read_encrypted_ballot(ballot_json, "ballot")
    except (BallotError, EncodingError) as e:
        raise _Refused("bad_form", str(e)) from e
    return voter, ballot_json, ballot


def _voter_of(body: Any) -> bytes | None:
    """The body's voter id when it is one (16 bytes, lowercase hex), else None."""
    text = body.get("voter") if isinstance(body, Mapping) else None
    if not isinstance(text, str) or len(text) != 2 * VOTER_ID_BYTES:
        return None
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    return data if data.hex() == text else None


def _card_parts(body: Mapping[str, Any]) -> tuple[bytes, bytes]:
    key_text, sig_text = body.get("card_key"), body.get("card_sig")
    if not key_text or not sig_text:
        raise _Refused("no_card_signature", "the ballot carries no card signature")
    try:
        return b64d(key_text, length=32, name="card_key"), b64d(sig_text, name="card_sig")
    except EncodingError as e:
        raise _Refused("bad_form", str(e)) from e


def _check_card_signature(
    ballot: EncryptedBallot, ballot_hash: bytes, voter: bytes, key: bytes, sig: bytes
) -> None:
    try:
        message = card_message(ballot.election, voter, ballot_hash)
    except BallotError as e:
        raise _Refused("bad_form", str(e)) from e
    try:
        verify_signature(Domain.BALLOT, key, message, sig)
    except VerificationError as e:
        raise _Refused(
            "bad_card_signature", f"the card signature does not verify for this ballot: {e}"
        ) from e


def _check_form(package: ElectionPackage, ballot: EncryptedBallot, roll: RollEntry) -> None:
    try:
        check_form(package, ballot, roll.category, roll.group, roll.excluded, test=False)
    except BallotFormError as e:
        if (ballot.category, ballot.group) != (roll.category, roll.group) and _form_fits_claim(
            package, ballot, roll
        ):
            raise _Refused("category_or_group", str(e)) from e
        raise _Refused("bad_form", str(e)) from e


def _form_fits_claim(package: ElectionPackage, ballot: EncryptedBallot, roll: RollEntry) -> bool:
    """Is the ballot well formed for the category and group it claims (so only those differ)?"""
    if package.category(ballot.category) is None:
        return False
    try:
        check_form(package, ballot, ballot.category, ballot.group, roll.excluded, test=False)
    except BallotFormError:
        return False
    return True


def _spoiled_id(body: Any) -> bytes | None:
    """The ballot id a spoiled block opens, or None unless its randomness really makes every
    ciphertext (α = r·G for each cell): only the kiosk that encrypted the ballot knows that, so
    a source that copies someone's cast ballot into a spoiled block cannot void it."""
    try:
        ballot = read_encrypted_ballot(body["ballot"], "spoiled.ballot")
        nonces = body["nonces"]
        cells = [cell for contest in ballot.contests for cell in contest.cells]
        flat = [n for row in nonces for n in row]
        if len(nonces) != len(ballot.contests) or len(flat) != len(cells):
            return None
        for cell, nonce in zip(cells, flat, strict=True):
            if base_mul(scalar_from_hex(nonce, what="nonce")) != cell.ciphertext.alpha:
                return None
    except (BallotError, EncodingError, KeyError, TypeError):
        return None  # an unreadable spoiled block opens no ballot
    return ballot.ballot_id


def _without_replays(
    valid: list[_Candidate], spoiled_ids: Mapping[bytes, int], left: list[LeftOut]
) -> list[_Candidate]:
    """Rule 9, in log order: the first ballot that got this far keeps its ballot id and its
    ciphertexts; a later one that repeats either is a replay."""
    seen_ids: dict[bytes, int] = {}
    seen_cts: dict[bytes, int] = {}
    out = []
    for cand in valid:
        ballot, here = cand.ballot, cand.entry.position
        cts = [cell.ciphertext.encoded() for c in ballot.contests for cell in c.cells]
        detail = None
        if ballot.ballot_id in spoiled_ids:
            detail = f"ballot id was opened as a spoiled ballot at {spoiled_ids[ballot.ballot_id]}"
        elif ballot.ballot_id in seen_ids:
            detail = f"ballot id already in the ballot at {seen_ids[ballot.ballot_id]}"
        elif len(set(cts)) != len(cts):
            detail = "a ciphertext appears twice in this ballot"
        else:
            again = next((ct for ct in cts if ct in seen_cts), None)
            if again is not None:
                detail = f"a ciphertext already in the ballot at {seen_cts[again]}"
        if detail is not None:
            left.append(_left(cand.entry, cand.voter, _Refused("replayed_ballot", detail)))
            continue
        seen_ids[ballot.ballot_id] = here
        seen_cts.update((ct, here) for ct in cts)
        out.append(cand)
    return out


def _apply_policy(
    package: ElectionPackage, unique: list[_Candidate], left: list[LeftOut]
) -> list[CountedBallot]:
    """Rule 10: of each voter's remaining ballots, in cast order, the one the policy keeps."""
    by_voter: dict[bytes, list[_Candidate]] = {}
    for cand in unique:
        by_voter.setdefault(cand.voter, []).append(cand)
    counted = []
    for ballots in by_voter.values():
        ballots.sort(key=lambda c: cast_order(c.entry.time, c.entry.source, c.entry.height))
        keep = counted_index(package.duplicate_policy, [c.entry.channel for c in ballots])
        for i, cand in enumerate(ballots):
            if i == keep:
                counted.append(_counted(cand))
            else:
                winner = ballots[keep].entry
                detail = (
                    f"policy {package.duplicate_policy.value}: the voter's ballot at "
                    f"{winner.position} ({winner.source}@{winner.height}) counts"
                )
                left.append(_left(cand.entry, cand.voter, _Refused("superseded", detail)))
    return counted


def _counted(cand: _Candidate) -> CountedBallot:
    e = cand.entry
    return CountedBallot(
        e.position,
        e.source,
        e.height,
        e.time,
        cand.voter,
        cand.roll.category,
        cand.roll.group,
        e.channel,
        cand.ballot,
        cand.ballot_hash,
    )


def selection_bytes(selection: Selection) -> bytes:
    """selection.json as written: canonical JSON (its SHA-256 is tally-input's selection_hash)."""
    return canonical_json(selection.to_json())
