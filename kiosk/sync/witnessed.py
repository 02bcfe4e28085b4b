"""What a kiosk's sync requires of a checkpoint in an election whose package names witnesses
(package v2, ``witnesses``: k of n C2SP tlog-cosignature/v1 keys): the log's signature and at
least k valid cosignatures, before the checkpoint counts for anything (blocks delivered, the
checkpoint a closed session records, the kiosk's own inclusion checks).

A checkpoint that is validly signed by the log but lacks cosignatures is no evidence against
the ledger (witnesses go down and come back), so it is a retry with a clear reason for staff,
never "untrusted"; a cosignature line that claims to be a named witness's but does not verify
is forged, and is.
"""

from __future__ import annotations

from kiosk.core.checkpoint import Checkpoint, NoteKey, verify_checkpoint
from kiosk.core.cosignature import TooFewCosignatures, verify_cosigned
from kiosk.core.election_v2 import WitnessPolicy
from kiosk.core.errors import VerificationError
from kiosk.sync.errors import SyncError, UntrustedLedger


class Unwitnessed(SyncError):
    """The ledger's checkpoint lacks the cosignatures the election's witness policy asks for:
    the kiosk keeps the blocks it cannot prove as not delivered and asks again later."""

    user_message = (
        "중앙 원장의 체크포인트에 선거가 정한 증인들의 서명이 부족합니다. 투표 기록은 키오스크에 "
        "그대로 있고 나중에 다시 확인합니다. 투표는 계속할 수 있습니다.",
        "The central ledger's checkpoint lacks the cosignatures of the witnesses this election "
        "names. The kiosk keeps its records and checks again later. Voting can go on.",
    )


class AwaitingWitnesses(Unwitnessed):
    """Every block was taken by the ledger, but the latest checkpoint the witnesses cosigned
    does not cover some of them yet (cosigning follows the ledger's checkpoint by a moment,
    or the witnesses are behind)."""


def witnessed_checkpoint(note: str, log_key: NoteKey, policy: WitnessPolicy) -> Checkpoint:
    """The checkpoint of ``note`` once the log's signature and the policy's cosignatures
    verify; ``Unwitnessed`` if too few witnesses cosigned it, ``UntrustedLedger`` if a
    signature is bad."""
    try:
        verify_checkpoint(note, log_key)
    except VerificationError as e:
        raise UntrustedLedger(f"the ledger's checkpoint does not verify: {e}") from e
    try:
        return verify_cosigned(note, log_key, policy.keys, policy.threshold)
    except TooFewCosignatures as e:
        signed = ", ".join(e.signed) or "no witness"
        named = ", ".join(k.name for k in policy.keys)
        raise Unwitnessed(
            f"the ledger's checkpoint is cosigned by {signed}; the election requires "
            f"{policy.threshold} of {named}: blocks not in a witnessed checkpoint stay "
            "undelivered"
        ) from e
    except VerificationError as e:
        raise UntrustedLedger(f"a witness cosignature on the checkpoint is forged: {e}") from e
