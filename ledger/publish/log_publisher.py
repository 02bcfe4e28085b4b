"""One publication round of the log's latest checkpoint: gather the witnesses' cosignatures on
it (kept on the checkpoint's own note, so GET /v1/checkpoint serves them), then write the tiles
and the cosigned checkpoint into the tiles directory. The background integrator calls
``publish_latest`` after each checkpoint it signs; until then ``ledger tiles publish`` does."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from kiosk.core.cosignature import cosignatures
from ledger.publish.tiles import TilesWritten, write_tiles
from ledger.store import tile_source
from ledger.store.schema import Engine
from ledger.witness.client import WitnessClient, WitnessUnavailable, add_cosignatures


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
