"""The record's final checkpoint with the witnesses' cosignatures (``final-checkpoint.txt``): the
close's checkpoint as the ledger holds it, with every cosignature line its witnesses returned,
checked against the package's witness policy (k of n) before `ledger publish` writes anything.

Witnesses cosign a checkpoint moments after the ledger signs it (``ledger serve --witness``
asks them in the background), so a close can come before they have: publishing then waits a
bounded time, asking the package's witnesses itself when it is told where they are
(``--witness`` or $HANPYO_WITNESSES), and refuses, naming the witnesses whose cosignature is
missing, rather than publish a record that verify-bundle would fail. Nothing is lost by the
refusal: the close stands, and `ledger publish` can be run again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.election_v2 import WitnessPolicy
from kiosk.core.errors import HanpyoError
from ledger.store import tile_source
from ledger.store.checkpoint_notes import note_at
from ledger.store.schema import Engine
from ledger.verify.record_witnesses import FINAL_CHECKPOINT
from ledger.verify.witnessed_checkpoint import Witnessing, witnessing
from ledger.witness.client import Witness, WitnessClient, WitnessUnavailable, add_cosignatures

WAIT_S = 60.0  # how long publishing waits for the witnesses by default
POLL_S = 0.5  # how often the ledger's copy of the checkpoint is read again while waiting
ASK_EVERY_S = 5.0  # how often the witnesses given are asked again


class FinalCheckpointUnwitnessed(HanpyoError):
    """The close's final checkpoint lacks the cosignatures the package's policy requires."""

    user_message = (
        "마지막 체크포인트에 선거가 정한 증인들의 서명이 모자라 공개 기록을 만들지 않았습니다. "
        "이미 기록된 것은 그대로 있습니다. 메시지에 나온 증인이 서명한 뒤 다시 실행해 주세요.",
        "The record was not published: the final checkpoint lacks the cosignatures of the "
        "witnesses this election names. Nothing recorded is lost. Run it again once the "
        "witnesses the message names have cosigned.",
    )


@dataclass(frozen=True, slots=True)
class FinalCheckpoint:
    size: int
    note: str  # the checkpoint with every cosignature the ledger holds
    witnessing: Witnessing


@dataclass
class _Waiting:
    """What one wait for the witnesses needs: the database, the policy and who to ask."""

    engine: Engine
    log_key: NoteVerifier
    policy: WitnessPolicy
    size: int
    client: WitnessClient | None
    refused: dict[str, str]

    def read(self) -> FinalCheckpoint:
        note = note_at(self.engine, self.size)
        if note is None:
            raise HanpyoError(f"the ledger holds no checkpoint of the close's size {self.size}")
        return FinalCheckpoint(self.size, note, witnessing(note, self.log_key, self.policy))

    def ask(self, found: FinalCheckpoint) -> None:
        """Ask each given witness the package names that has not cosigned yet, and keep the
        lines on the ledger's checkpoint (as the ledger's own publisher does)."""
        if self.client is None:
            return
        lines = []
        for witness in self.client.witnesses:
            if witness.key.name in found.witnessing.cosigned_by:
                continue
            try:
                lines.append(
                    self.client.cosign(
                        witness,
                        found.note,
                        found.size,
                        partial(tile_source.consistency_proof, self.engine),
                    )
                )
                self.refused.pop(witness.label, None)
            except WitnessUnavailable as e:
                self.refused[witness.label] = str(e)
        if lines:
            cosigned = add_cosignatures(found.note, lines)
            tile_source.record_cosigned(self.engine, found.size, found.note, cosigned)


def witnessed_final_checkpoint(
    engine: Engine,
    log_key: NoteVerifier,
    policy: WitnessPolicy,
    size: int,
    witnesses: Sequence[Witness] = (),
    wait_s: float = WAIT_S,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FinalCheckpoint:
    """The close's checkpoint of ``size`` once it meets ``policy`` (at once when the policy
    asks for no cosignature); ``FinalCheckpointUnwitnessed`` after ``wait_s`` otherwise."""
    named = {k.public_key for k in policy.keys}
    asked = [w for w in witnesses if w.key.public_key in named]
    waiting = _Waiting(engine, log_key, policy, size, WitnessClient(asked) if asked else None, {})
    deadline, next_ask = clock() + wait_s, clock()
    while True:
        found = waiting.read()
        if found.witnessing.met:
            return found
        now = clock()
        if waiting.client is not None and now >= next_ask:
            waiting.ask(found)
            next_ask = now + ASK_EVERY_S
            continue
        if now >= deadline:
            raise FinalCheckpointUnwitnessed(_refusal(found, waiting.refused, wait_s, asked))
        sleep(max(0.0, min(POLL_S, deadline - now)))


def _refusal(
    found: FinalCheckpoint, refused: dict[str, str], wait_s: float, asked: list[Witness]
) -> str:
    why = "".join(f"\n  {label}: {reason}" for label, reason in sorted(refused.items()))
    how = (
        "see why each one did not, above; ledger serve --witness keeps asking them too"
        if asked
        else "give the witnesses with --witness NAME=URL=VKEY to ask them from here, or let "
        "ledger serve --witness ask them"
    )
    missing = ", ".join(found.witnessing.missing) or "none"
    return (
        f"the final checkpoint (size {found.size}) is {found.witnessing.describe()}. "
        f"Waited {wait_s:g} s; still missing: {missing}.{why}\n"
        f"Nothing was published and nothing recorded is lost: once they have cosigned it "
        f"({how}), run ledger publish again."
    )


def write_final_checkpoint(published: Path, found: FinalCheckpoint) -> Path:
    """``final-checkpoint.txt`` in ``published``, written whole or not at all."""
    published.mkdir(parents=True, exist_ok=True)
    path = published / FINAL_CHECKPOINT
    partial_path = published / (FINAL_CHECKPOINT + ".part")
    partial_path.write_text(found.note, "utf-8")
    os.replace(partial_path, path)
    return path
