"""What the platform checks of a sign-in and of each ballot before it records anything, all in
the protocol core: the roll, the credential's signatures, the ballot's form and every proof,
and that a cast ballot is not one checked here (``CheckedBallots``). The ledger checks the same
on arrival and the count checks the proofs again, so a ballot that would fail there is refused
here, before the voter is told anything.

Passing these checks does not promise that the ballot counts. The count can still leave it out
for what the platform cannot see from here: a ballot of the same member elsewhere that the
duplicate policy prefers (the platform asks the ledger's has-voted at sign-in and at the cast,
but when the ledger cannot be asked it records the ballot anyway, failing open, and the ledger
applies the policy at the count; nor does the ledger know a kiosk's ballot before that kiosk
syncs), or a ledger that no longer takes this platform's chain (closed, or holding another
package)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kiosk.core.ballot_crypto import BallotProofError, open_spoiled, verify_ballot_proofs
from kiosk.core.block import BlockKind, read_cast_ballot, read_spoiled_ballot
from kiosk.core.crypto import Domain, verify_signature
from kiosk.core.election import Channel, ElectionPackage, Voter
from kiosk.core.encrypted_ballot import (
    BallotFormError,
    EncryptedBallot,
    card_message,
    check_form,
    read_encrypted_ballot,
)
from kiosk.core.errors import BallotError, BlockError, EncodingError, VerificationError
from online.errors import BAD_BALLOT, BAD_SIGNATURE, CHECKED_BALLOT, UNKNOWN_CODE, ApiError
from online.limits import CHALLENGE_BYTES, Session


@dataclass(frozen=True, slots=True)
class CheckedBallot:
    """A cast ballot that passed every check, for the voter it names."""

    voter: Voter
    ballot: EncryptedBallot
    card_key: bytes
    card_sig: bytes


def session_message(election_id: str, challenge: bytes) -> bytes:
    """What the credential key signs to sign in, after the ``hanpyo/online-session/v2`` domain:
    UTF-8(election id) || "\\n" || the 32-byte challenge (docs/spec/online.md). Bound to this
    election and to one challenge, so a sign-in is never replayed here or elsewhere."""
    if len(challenge) != CHALLENGE_BYTES:
        raise ApiError(401, "bad_signature", BAD_SIGNATURE, "a challenge is 32 bytes")
    return election_id.encode() + b"\n" + challenge


def online_voter(package: ElectionPackage, key: bytes) -> Voter:
    """The voter whose roll entry (official or test) holds ``key``, if their category votes
    online; 401 ``unknown_code`` otherwise (a key on neither roll, or an on-site voter's)."""
    voter = package.voter_for_card(key) or package.test_voter_for_card(key)
    if voter is None:
        raise ApiError(401, "unknown_code", UNKNOWN_CODE, "the key is on neither roll")
    category = package.category(voter.category)
    if category is None or category.channel is not Channel.ONLINE:
        raise ApiError(
            401,
            "unknown_code",
            UNKNOWN_CODE,
            f"voter {voter.voter_id.hex()}'s category {voter.category!r} votes on site",
        )
    return voter


def check_sign_in(package: ElectionPackage, key: bytes, challenge: bytes, signature: bytes) -> None:
    """The credential key's Ed25519 signature (RFC 8032 §5.1.7, through libsodium) over the
    challenge; 401 ``bad_signature`` if it does not verify."""
    try:
        verify_signature(
            Domain.ONLINE_SESSION, key, session_message(package.id, challenge), signature
        )
    except VerificationError as e:
        raise ApiError(401, "bad_signature", BAD_SIGNATURE, str(e)) from e


def _bad(reason: str, detail: str) -> ApiError:
    return ApiError(422, "bad_ballot", BAD_BALLOT, detail, reason=reason)


def check_cast(package: ElectionPackage, session: Session, body: Any) -> CheckedBallot:
    """A v2 ballot block body from the signed-in voter of ``session``, checked as the ledger
    and the count will: 422 ``bad_ballot`` with the first failing reason otherwise."""
    kind = BlockKind.TEST_BALLOT if session.test else BlockKind.BALLOT
    try:
        cast = read_cast_ballot(kind, body)
        # the block's schema checks the ballot's shape; the platform reads it strictly, as
        # the count will, to check its proofs now
        ballot = read_encrypted_ballot(body["ballot"], f"{kind.value}.body.ballot")
    except (BlockError, BallotError, EncodingError) as e:
        raise _bad("bad_form", str(e)) from e
    if cast.voter_id != session.voter_id:
        raise _bad("other_voter", "the ballot names another voter than the one signed in")
    if cast.card_key != session.key:
        raise _bad("other_key", "the ballot is signed by another key than the one signed in")
    voter = (package.test_voter_for_card if session.test else package.voter_for_card)(cast.card_key)
    if voter is None or voter.voter_id != cast.voter_id:
        raise _bad("key_not_on_roll", "the key is no longer this voter's on the roll")
    try:
        message = card_message(cast.ballot.election, cast.voter_id, cast.ballot_hash)
        verify_signature(Domain.BALLOT, cast.card_key, message, cast.card_sig)
    except (VerificationError, BallotError) as e:
        raise _bad("bad_card_signature", str(e)) from e
    check_ballot_form(package, voter, ballot)
    try:
        verify_ballot_proofs(package, ballot)
    except (BallotProofError, BallotError, EncodingError) as e:  # EncodingError: GroupError
        raise _bad("bad_proof", str(e)) from e
    return CheckedBallot(voter, ballot, cast.card_key, cast.card_sig)


def check_ballot_form(package: ElectionPackage, voter: Voter, ballot: EncryptedBallot) -> None:
    """This election, this mode, and exactly the voter's contests and cells."""
    if ballot.election != package.id:
        raise _bad("other_election", f"the ballot is for election {ballot.election!r}")
    try:
        check_form(package, ballot, voter.category, voter.group, voter.excluded, test=voter.test)
    except BallotFormError as e:
        raise _bad("bad_form", str(e)) from e


def check_spoiled(package: ElectionPackage, voter: Voter, body: Any) -> EncryptedBallot:
    """A spoiled block body (a ballot the voter checked, with its randomness and plaintext):
    its shape, the voter's form, and that its randomness opens it to the plaintext beside it
    (``open_spoiled``, as the check page does), so a page that encrypted something other than
    the voter's choices is caught before anything is recorded."""
    try:
        read_spoiled_ballot(body)  # the whole body's shape: nonces and plaintext
        ballot = read_encrypted_ballot(body["ballot"], "spoiled.body.ballot")
    except (BlockError, BallotError, EncodingError) as e:
        raise _bad("bad_form", str(e)) from e
    check_ballot_form(package, voter, ballot)
    try:
        open_spoiled(package, body)
    except (BallotError, EncodingError) as e:
        raise _bad("does_not_open", str(e)) from e
    return ballot


class CheckedBallots:
    """The ballot ids and ciphertexts of the checked (spoiled) ballots recorded on this
    platform. A checked ballot's randomness is public, and the count leaves out a cast ballot
    whose id was opened in a spoiled block (ledger/rules/selection.py, rule 9): a cast that
    repeats one is refused here (422 ``checked_ballot``), so no voter is told "recorded" for
    it. The honest page never sends one; a modified page or client could."""

    def __init__(self, recorded: Iterable[EncryptedBallot] = ()) -> None:
        self._ids: set[bytes] = set()
        self._ciphertexts: set[bytes] = set()
        self._lock = threading.Lock()
        for ballot in recorded:
            self.add(ballot)

    def add(self, ballot: EncryptedBallot) -> None:
        with self._lock:
            self._ids.add(ballot.ballot_id)
            self._ciphertexts.update(_ciphertexts(ballot))

    def refuse_cast(self, ballot: EncryptedBallot) -> None:
        """422 ``checked_ballot`` if ``ballot`` repeats a checked ballot's id or ciphertext."""
        with self._lock:
            again = ballot.ballot_id in self._ids or not self._ciphertexts.isdisjoint(
                _ciphertexts(ballot)
            )
        if again:
            raise ApiError(
                422,
                "checked_ballot",
                CHECKED_BALLOT,
                f"ballot {ballot.ballot_id.hex()} repeats a checked ballot",
            )


def _ciphertexts(ballot: EncryptedBallot) -> list[bytes]:
    return [cell.ciphertext.encoded() for contest in ballot.contests for cell in contest.cells]
