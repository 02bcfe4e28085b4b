"""Checking the ledger from outside: a tracking code proved against a signed checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import requests

from kiosk.core.block import decode_signed_block, normalise_tracking_code
from kiosk.core.checkpoint import verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosignatures, verify_cosigned
from kiosk.core.encoding import b64d
from kiosk.core.errors import EncodingError, HanpyoError, VerificationError
from kiosk.core.merkle import leaf_hash, verify_inclusion

TIMEOUT = 10


@dataclass(frozen=True, slots=True)
class FoundBlock:
    kiosk: str
    height: int
    leaf_index: int
    size: int
    tracking_code: str
    cosigned_by: tuple[str, ...] = ()  # the named witnesses whose cosignatures verified


def witness_signers(note: str, keys: Sequence[str | CosignerKey]) -> tuple[str, ...]:
    """The names of the witnesses among ``keys`` whose cosignatures on ``note`` verify."""
    parsed = [k if isinstance(k, CosignerKey) else CosignerKey.parse(k) for k in keys]
    return tuple(c.witness for c in cosignatures(note, parsed))


def verify_inclusion_answer(
    answer: dict[str, Any], log_key: str, tracking_code: str | None = None
) -> FoundBlock:
    """Check an inclusion answer from ``/v1/proofs/inclusion`` without trusting the ledger:
    the checkpoint must be signed by ``log_key``, the proof must lead from the block to the
    checkpoint's root, and the block must carry ``tracking_code`` if given."""
    try:
        checkpoint = verify_checkpoint(answer["checkpoint"], log_key)
        raw = b64d(answer["block"], name="block")
        index, size = int(answer["leaf_index"]), int(answer["size"])
        proof = [b64d(h, length=32, name="proof hash") for h in answer["proof"]]
    except (KeyError, TypeError, ValueError, OverflowError, EncodingError) as e:
        raise VerificationError(f"the ledger's answer is malformed: {e}") from e
    if size != checkpoint.size:
        raise VerificationError(
            "the proof is not for the signed checkpoint's tree",
            expected=str(checkpoint.size),
            found=str(size),
        )
    verify_inclusion(leaf_hash(raw), index, size, proof, checkpoint.root)
    block = decode_signed_block(raw)
    if tracking_code is not None and block.tracking_code != normalise_tracking_code(tracking_code):
        raise VerificationError(
            "the ledger returned another block",
            expected=normalise_tracking_code(tracking_code),
            found=block.tracking_code,
        )
    return FoundBlock(block.block.kiosk, block.block.height, index, size, block.tracking_code)


def check_tracking_code(
    url: str,
    tracking_code: str,
    log_key: str,
    witness_keys: Sequence[str | CosignerKey] = (),
    witness_threshold: int = 0,
) -> FoundBlock:
    """Ask the ledger at ``url`` for ``tracking_code`` and verify everything it answers; the
    checkpoint must also carry ``witness_threshold`` cosignatures of ``witness_keys``."""
    answer = _inclusion_answer(url, tracking_code)
    found = verify_inclusion_answer(answer, log_key, tracking_code)
    if witness_keys or witness_threshold:  # the witness policy (k of n) on the same note
        note = str(answer["checkpoint"])
        verify_cosigned(note, log_key, witness_keys, witness_threshold)
        found = replace(found, cosigned_by=witness_signers(note, witness_keys))
    return found


def leaf_of_tracking_code(url: str, tracking_code: str) -> int:
    """Only where the ledger at ``url`` says the block is: a hint, proved from tiles later."""
    answer = _inclusion_answer(url, tracking_code)
    try:
        return int(answer["leaf_index"])
    except (ValueError, KeyError, TypeError) as e:
        raise VerificationError(f"the ledger's answer is malformed: {e}") from e


def _inclusion_answer(url: str, tracking_code: str) -> Any:
    """The ledger's parsed answer to GET /v1/proofs/inclusion for ``tracking_code``."""
    try:
        response = requests.get(
            f"{url.rstrip('/')}/v1/proofs/inclusion",
            params={"tracking_code": tracking_code},
            timeout=TIMEOUT,
        )
    except requests.RequestException as e:
        raise HanpyoError(f"cannot reach the ledger at {url}: {e}") from e
    if response.status_code != 200:
        raise HanpyoError(f"the ledger answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError as e:
        raise VerificationError("the ledger's answer is not JSON") from e
