"""One publication round of the log's latest checkpoint: gather the witnesses' cosignatures on
it (kept on the checkpoint's own note, so GET /v1/checkpoint serves them), then write the tiles
and the cosigned checkpoint into the tiles directory. The background integrator calls
``publish_latest`` after each checkpoint it signs; until then ``ledger tiles publish`` does."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from kiosk.core.cosignature import cosignatures
from kiosk.core.errors import HanpyoError
from ledger.publish.tiles import TilesWritten, write_tiles
from ledger.store import tile_source
from ledger.store.schema import Engine
from ledger.witness.client import (
    WitnessClient,
    WitnessUnavailable,
    add_cosignatures,
    witnesses_from_environment,
)

log = logging.getLogger("hanpyo.ledger.publisher")
RETRY_S = 5.0  # how soon a round is tried again while a witness has not cosigned


@dataclass(frozen=True, slots=True)
class Publication:
    size: int
    note: str  # the checkpoint as published, with every cosignature gathered
    cosigned_by: tuple[str, ...]  # witness labels whose cosignature it carries
    refused: dict[str, str] = field(default_factory=dict)  # witness label -> why not
    tiles: TilesWritten | None = None


def publish_latest(
    engine: Engine, witnesses: WitnessClient | None = None, tiles_dir: Path | None = None
) -> Publication:
    """Cosign and publish the latest checkpoint. A witness that is down or refuses does not
    stop publication; its reason is in ``refused`` (a 409 or 422 there is a red flag)."""
    head = tile_source.latest(engine)
    note, refused = head.note, dict[str, str]()
    if witnesses is not None:
        note, refused = _gather(engine, witnesses, head)
    signed_by = tuple(
        w.label for w in (witnesses.witnesses if witnesses else []) if cosignatures(note, [w.key])
    )
    tiles = None
    if tiles_dir is not None:
        tiles = write_tiles(
            tiles_dir,
            partial(tile_source.leaf_hashes, engine),
            partial(tile_source.entries, engine),
            head.size,
            note,
        )
    return Publication(head.size, note, signed_by, refused, tiles)


def _gather(
    engine: Engine, client: WitnessClient, head: tile_source.StoredCheckpoint
) -> tuple[str, dict[str, str]]:
    lines, refused = list[str](), dict[str, str]()
    proof_from = partial(tile_source.consistency_proof, engine)
    for witness in client.witnesses:
        if cosignatures(head.note, [witness.key]):
            continue  # cosigned in an earlier round
        try:
            lines.append(client.cosign(witness, head.note, head.size, proof_from))
        except WitnessUnavailable as e:
            refused[witness.label] = str(e)
    if not lines:
        return head.note, refused
    cosigned = add_cosignatures(head.note, lines)
    if not tile_source.record_cosigned(engine, head.size, head.note, cosigned):
        return tile_source.latest(engine).note, refused  # another publisher was first
    return cosigned, refused


class Publisher:
    """``publish_latest`` in a thread of its own, run whenever the integrator signs a
    checkpoint (``on_checkpoint`` is its hook), so that slow witnesses never hold up the log.
    Checkpoints that arrive during a round are covered by one more round; while a witness
    has not cosigned, the round is tried again every ``retry_s``."""

    def __init__(
        self,
        engine: Engine,
        witnesses: WitnessClient | None,
        tiles_dir: Path | None,
        *,
        retry_s: float = RETRY_S,
    ) -> None:
        self.engine, self.witnesses, self.tiles_dir = engine, witnesses, tiles_dir
        self.retry_s = retry_s
        self.last: Publication | None = None  # for the dashboard: size, cosigners, refusals
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="hanpyo-publisher", daemon=True)

    def on_checkpoint(self, checkpoint: str, size: int) -> None:
        """The integrator's hook: a checkpoint of ``size`` was signed."""
        self._wake.set()

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        # Only the hook starts a round: in a ledger with several workers, only the elected
        # integrator's publisher is ever woken, so one process writes tiles and asks witnesses.
        while not self._stop.is_set():
            waiting = self.last is not None and bool(self.last.refused)
            self._wake.wait(self.retry_s if waiting else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.last = publish_latest(self.engine, self.witnesses, self.tiles_dir)
            except (HanpyoError, OSError) as e:
                log.error("publishing the checkpoint failed, retrying: %s", e)
                self._stop.wait(self.retry_s)
                self._wake.set()
                continue
            for label, why in self.last.refused.items():
                log.warning("witness %s did not cosign size %d: %s", label, self.last.size, why)


def publisher_from_environment(engine: Engine, tiles_dir: Path | None) -> Publisher | None:
    """The publisher ``ledger serve`` runs beside its integrator: the witnesses of
    $HANPYO_WITNESSES (NAME=URL=VKEY, space-separated) and ``tiles_dir``; None if neither."""
    witnesses = witnesses_from_environment()
    if not witnesses and tiles_dir is None:
        return None
    return Publisher(engine, WitnessClient(witnesses) if witnesses else None, tiles_dir)
