"""The check page's witness part: a tracking code's inclusion proof is given against the newest
checkpoint that holds the block and meets the package's witness policy (k of n cosignatures,
ledger/verify/witnessed_checkpoint.py), and the page names the witnesses who cosigned it.

When no such checkpoint holds the block, the proof goes to the newest checkpoint, and the page
says which of two things it is, plainly:
- "not yet witnessed": the log is open and the witnesses have not cosigned a checkpoint that
  holds this block yet (they follow the ledger by moments, or are down for a while);
- "the witnesses' policy is not met": the election is closed and its final checkpoint lacks
  the cosignatures (waiting will not bring them unless a witness comes back), or a line that
  claims to be a named witness's cosignature does not verify (a forgery).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.election_v2 import WitnessPolicy
from kiosk.core.errors import VerificationError
from ledger.service.closing import closure
from ledger.service.ledger import Ledger
from ledger.store.checkpoint_notes import newest_meeting
from ledger.store.log_reads import InclusionProof
from ledger.verify.witnessed_checkpoint import Witnessing, witnessing

WITNESSED, NOT_YET, NOT_MET = "witnessed", "not_yet", "not_met"


@dataclass(frozen=True, slots=True)
class WitnessView:
    state: str  # WITNESSED, NOT_YET or NOT_MET
    cosigned_by: tuple[str, ...]  # on the checkpoint the proof leads to
    threshold: int
    named: tuple[str, ...]
    missing: tuple[str, ...]
    forged: tuple[str, ...]
    closed: bool  # the election is closed: the checkpoint is the final one
    vkeys: tuple[str, ...] = ()  # the witnesses' keys, for the verify-proof command shown


def witnessed_inclusion(ledger: Ledger, index: int) -> tuple[InclusionProof, WitnessView | None]:
    """The proof for leaf ``index`` and what the witnesses say of its checkpoint; None for a
    package that asks for no cosignature (the page then shows the log's signature alone)."""
    policy = ledger.package.witnesses
    if policy.threshold == 0:
        return ledger.inclusion(index), None
    verifier = ledger.key.verifier
    found = newest_meeting(ledger.reader, _Meets(verifier, policy), index)
    if found is not None:
        proof = ledger.inclusion(index, found[0])
        read = _read(proof.checkpoint, verifier, policy)
        if read is not None and read.met:
            return proof, _view(WITNESSED, read, policy, closed=False)
    proof = ledger.inclusion(index)
    read = _read(proof.checkpoint, verifier, policy)
    closed = closure(ledger) is not None
    if read is None:  # the log's own signature is checked by the page itself, which says so
        return proof, WitnessView(
            NOT_MET, (), policy.threshold, _names(policy), (), (), closed, _vkeys(policy)
        )
    state = NOT_MET if closed or read.forged else NOT_YET
    return proof, _view(state, read, policy, closed=closed)


def _vkeys(policy: WitnessPolicy) -> tuple[str, ...]:
    return tuple(k.vkey for k in policy.keys)


@dataclass(frozen=True, slots=True)
class _Meets:
    """Whether a stored note meets the policy; notes that cannot (too few named lines) are
    passed over before any signature is verified, so a long search stays cheap."""

    verifier: NoteVerifier
    policy: WitnessPolicy

    def __call__(self, note: str) -> bool:
        named = sum(f"\n\u2014 {k.name} " in note for k in self.policy.keys)
        if named < self.policy.threshold:
            return False
        read = _read(note, self.verifier, self.policy)
        return read is not None and read.met


def _read(note: str, verifier: NoteVerifier, policy: WitnessPolicy) -> Witnessing | None:
    try:
        return witnessing(note, verifier, policy)
    except VerificationError:
        return None


def _names(policy: WitnessPolicy) -> tuple[str, ...]:
    return tuple(k.name for k in policy.keys)


def _view(state: str, read: Witnessing, policy: WitnessPolicy, *, closed: bool) -> WitnessView:
    return WitnessView(
        state,
        read.cosigned_by,
        read.threshold,
        read.named,
        read.missing,
        read.forged,
        closed,
        _vkeys(policy),
    )
