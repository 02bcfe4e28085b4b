"""Who cosigned a checkpoint, held against the package's witness policy (k of n): one reading
for every party that accepts a checkpoint on the witnesses' word after the close, namely
`ledger verify-bundle` (the record's final checkpoint), `ledger publish` (which will not
publish a record whose final checkpoint lacks the policy) and the check page.

A cosignature counts only when it is C2SP tlog-cosignature/v1 (c2sp.org/tlog-cosignature,
"Ed25519 signed message") by a key the package names, verifying over this exact checkpoint
text. A line that claims a named witness's key (its name and key id) but does not verify is
forged, and is named as such: signed-note ("Signatures") says such a note is to be rejected.
Lines by keys the package does not name are not counted, and are named too, so nobody reads
them as witnesses the election chose.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.checkpoint import Checkpoint, NoteVerifier, _split_note, verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures
from kiosk.core.election_v2 import WitnessPolicy
from kiosk.core.errors import VerificationError


@dataclass(frozen=True, slots=True)
class Witnessing:
    """A checkpoint's cosignatures, read against a witness policy."""

    checkpoint: Checkpoint
    threshold: int
    named: tuple[str, ...]  # the policy's witnesses, by name, in the package's order
    cosigned_by: tuple[str, ...]  # named witnesses whose cosignature verifies on this note
    forged: tuple[str, ...]  # named witnesses whose line on this note does not verify
    unnamed: tuple[str, ...]  # lines by keys neither the log's nor a named witness's

    @property
    def met(self) -> bool:
        return not self.forged and len(self.cosigned_by) >= self.threshold

    @property
    def missing(self) -> tuple[str, ...]:
        """The named witnesses with no valid cosignature on this checkpoint."""
        return tuple(n for n in self.named if n not in self.cosigned_by)

    def policy(self) -> str:
        """``2 of w1, w2``: what the package requires, in words."""
        return f"{self.threshold} of {', '.join(self.named) or 'no witness'}"

    def describe(self) -> str:
        """Who signed and what the package requires, in one sentence for people."""
        signed = ", ".join(self.cosigned_by) or "no witness the package names"
        words = [f"cosigned by {signed}; the package requires {self.policy()}"]
        if self.forged:
            words.append(
                f"the cosignature line of {', '.join(self.forged)} does not verify over this "
                "checkpoint (forged, or made over another one)"
            )
        if not self.met and self.missing:
            words.append(f"no valid cosignature from {', '.join(self.missing)}")
        if self.unnamed:
            words.append(
                f"a signature by {', '.join(self.unnamed)}, which the package does not name as "
                "a witness, is not counted"
            )
        return "; ".join(words)


def witnessing(note: str, log_key: NoteVerifier, policy: WitnessPolicy) -> Witnessing:
    """Read ``note``'s cosignatures against ``policy``. The log's own signature must verify
    (``VerificationError`` otherwise): without it there is no checkpoint to witness."""
    checkpoint = verify_checkpoint(note, log_key)
    _, lines = _split_note(note)
    cosigned, forged = [], []
    for key in policy.keys:
        try:
            if cosignatures(note, [key]):
                cosigned.append(key)
        except VerificationError:
            forged.append(key.name)
    known = {(log_key.name, log_key.key_id), *((k.name, k.key_id) for k in policy.keys)}
    unnamed = tuple(
        dict.fromkeys(
            f"{name} (key {key_id:08x})" for name, key_id, _ in lines if (name, key_id) not in known
        )
    )
    return Witnessing(
        checkpoint,
        policy.threshold,
        tuple(k.name for k in policy.keys),
        _distinct(cosigned),
        tuple(forged),
        unnamed,
    )


def _distinct(keys: list[CosignerKey]) -> tuple[str, ...]:
    """Witnesses counted once per key: the same key named twice is one witness."""
    seen: dict[bytes, str] = {}
    for key in keys:
        seen.setdefault(key.public_key, key.name)
    return tuple(seen.values())
