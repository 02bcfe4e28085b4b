"""Serving the log (issue 18): GET checkpoint and inclusion-proof latency with 1 and 4 workers,
a proof computed by a client from the ledger's tiles, and a witness round trip, each beside a
baseline measured in the same run, with samples of the measure and its baseline interleaved
so that the machine's noise falls on both alike.

- Checkpoint and proof latency: one keep-alive client against `ledger serve --workers N` on a
  SQLite log prefilled to ``--size`` leaves; baseline: GET /v1/log/key on the same server, the
  HTTP floor of the stack (uvicorn, FastAPI, no database). With more than one worker the floor
  used to be Nagle's ~40 ms (a listening socket without TCP_NODELAY); it must be gone.
- Proof from tiles: what `verify-proof --tiles` and the kiosk's TileProofs do, cold (no tile
  cached): fetch the checkpoint, the leaf's entry bundle and the tiles an inclusion proof needs
  from the ledger's /tiles over HTTP, compute and verify it; baselines: the ledger's own
  /v1/proofs/inclusion for a random leaf, verified, and the same tile computation from the
  tiles directory on disk (no HTTP).
- Witness round trip: a real `ledger witness` process; each round the log grows by
  ``WITNESS_GROWTH`` leaves and the checkpoint goes to add-checkpoint with its consistency
  proof, and the cosignature that comes back is verified (what the ledger's publisher does);
  baselines: GET of the witness's checkpoint (its HTTP floor) and, in this process, the
  round's cryptography alone (the log's signature and the consistency proof verified, a
  cosignature made and verified).

Run with `.venv/bin/python -m bench.serving_bench [--size N]`; prints a table and the notes.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import Row, percentile, prefill, prefill_engine, timed
from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint, verify_checkpoint
from kiosk.core.cosignature import CosignerKey, cosign, cosignatures
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d
from kiosk.core.merkle import (
    MemoryNodeStore,
    MerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from kiosk.core.tiles import entry_from_tiles, tree_from_tiles
from ledger.service.ledger import Ledger
from ledger.store import schema as db
from ledger.verify.tiles_proof import tiles_fetcher
from ledger.witness.client import Witness, WitnessClient
from ledger.witness.service import origin_hash
from testkit.elections import build_election, review_definition
from testkit.ledger_server import ORIGIN, LedgerServer
from testkit.witness_server import WitnessServer

SIZE = 100_000
BLOCK_BYTES = 1_000  # about a signed ballot block's size
SAMPLES = 300  # per measure, after WARM rounds
WARM = 20
WORKERS = (1, 4)
WITNESS_GROWTH = 100  # leaves between two checkpoints sent to the witness
ANCHORS = [
    "Anchors (docs/../shared/design/ledger-at-scale.md): Tessera (transparency-dev) batches 256 "
    "entries or 250 ms, a checkpoint every 10 s at most; its POSIX driver about 10,000 "
    "entries/s on NVMe and 1,500/s on an e2-micro, Spanner above 3,000/s (5,000/s with two "
    "front-ends); reads are static tiles, so a proof costs a reader a few tile fetches from a "
    "CDN. Trillian: a separate sequencer in 100 ms / 1,000-entry batches, about 1,190 qps on a "
    "laptop with MySQL, 65 qps on a 280M-leaf tree. Neither publishes a per-request latency or "
    "a witness round trip that these rows could be set beside; the ratios to the baselines "
    "measured here are the comparable figures."
]


@dataclass(frozen=True, slots=True)
class Latencies:
    """Seconds per request, by measure name."""

    samples: dict[str, list[float]]

    def p(self, name: str, q: float) -> float:
        return percentile(self.samples[name], q) * 1000


def interleaved(kinds: dict[str, Callable[[], object]], samples: int) -> Latencies:
    """Each action once a round, ``samples`` rounds after WARM: noise falls on all alike."""
    out: dict[str, list[float]] = {name: [] for name in kinds}
    for round_ in range(samples + WARM):
        for name, action in kinds.items():
            elapsed = timed(action)
            if round_ >= WARM:
                out[name].append(elapsed)
    return Latencies(out)


def _get(session: requests.Session, url: str, **params: int) -> requests.Response:
    answer = session.get(url, params=params or None, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {answer.url}: {answer.status_code} {answer.text[:200]}")
    return answer


# -- the ledger: checkpoint, proofs, tiles -----------------------------------------------------


def prefilled_ledger(directory: Path, size: int) -> LedgerServer:
    """A ledger whose log holds ``size`` synthetic leaves, with its tiles written."""
    election = build_election(
        review_definition(groups=2, per_group=4, election_id="bench-serving"), seed="serving"
    )
    server = LedgerServer(directory / "ledger", election)
    seed = (server.data / "log.key").read_text().strip()
    url = db.database_url(None, server.data.resolve() / "ledger.db")
    ledger = Ledger(prefill_engine(url), SigningKey(b64d(seed, length=32, name="log key")))
    prefill(ledger, size, BLOCK_BYTES, random.Random(size))
    ledger.engine.dispose()
    done = server.cli("tiles", "publish", "--dir", str(server.data / "tiles"))
    if done.returncode != 0:
        raise RuntimeError(f"ledger tiles publish: {done.stdout}{done.stderr}")
    return server


def serving(server: LedgerServer, workers: int, size: int, samples: int) -> Latencies:
    server.workers = workers
    rng = random.Random(workers)
    session = requests.Session()
    with server:
        base = server.url
        return interleaved(
            {
                "floor": lambda: _get(session, f"{base}/v1/log/key"),
                "checkpoint": lambda: _get(session, f"{base}/v1/checkpoint"),
                "proof": lambda: _check_ledger_proof(
                    session, base, rng.randrange(size), server.log_key
                ),
            },
            samples,
        )


def _check_ledger_proof(session: requests.Session, base: str, leaf: int, log_key: str) -> None:
    answer = _get(session, f"{base}/v1/proofs/inclusion", leaf_index=leaf).json()
    checkpoint = verify_checkpoint(answer["checkpoint"], log_key)
    proof = [b64d(h, length=32) for h in answer["proof"]]
    raw = b64d(answer["block"])
    verify_inclusion(leaf_hash(raw), leaf, checkpoint.size, proof, checkpoint.root)


def from_tiles(server: LedgerServer, size: int, samples: int) -> Latencies:
    """Cold proofs from tiles (a fresh tree each time, as a voter's one check would be)."""
    rng = random.Random(7)
    session = requests.Session()
    log_key = server.log_key
    directory = tiles_fetcher(str(server.data / "tiles"))
    server.workers = 1
    with server:
        over_http = tiles_fetcher(f"{server.url}/tiles", session)
        return interleaved(
            {
                "tiles over HTTP": lambda: _tile_proof(over_http, rng.randrange(size), log_key),
                "ledger endpoint": lambda: _check_ledger_proof(
                    session, server.url, rng.randrange(size), log_key
                ),
                "tiles on disk": lambda: _tile_proof(directory, rng.randrange(size), log_key),
            },
            samples,
        )


def _tile_proof(fetch: Callable[[str], bytes], leaf: int, log_key: str) -> None:
    """The checkpoint, the leaf's entry (checked against its level-0 tile) and its inclusion
    proof, all from tiles, verified."""
    checkpoint = verify_checkpoint(fetch("checkpoint").decode(), log_key)
    entry = entry_from_tiles(fetch, leaf, checkpoint.size)
    proof = tree_from_tiles(fetch, checkpoint.size).inclusion_proof(leaf)
    verify_inclusion(leaf_hash(entry), leaf, checkpoint.size, proof, checkpoint.root)


# -- the witness --------------------------------------------------------------------------------


class GrowingLog:
    """An in-memory log that grows by WITNESS_GROWTH leaves a round and signs each checkpoint."""

    def __init__(self, key: SigningKey) -> None:
        self.key, self.log = key, MerkleLog(MemoryNodeStore())
        self.rng = random.Random(3)

    def grow(self) -> str:
        self.log.append([leaf_hash(self.rng.randbytes(64)) for _ in range(WITNESS_GROWTH)])
        return sign_checkpoint(ORIGIN, self.log.size, self.log.root(), ORIGIN, self.key)

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.log.consistency_proof(old, new)


def witness_round_trips(directory: Path, samples: int) -> Latencies:
    log_key = SigningKey.generate()
    vkey = NoteVerifier(ORIGIN, log_key.public_key).vkey
    server = WitnessServer(directory / "witness", "witness.bench/w", {ORIGIN: vkey})
    witness = Witness.parse(server.spec())
    local_key = SigningKey.generate()
    local = CosignerKey("bench/local", local_key.public_key)
    apart = GrowingLog(log_key)  # the in-process rounds grow a log of their own
    session = requests.Session()
    client = WitnessClient([witness], session)
    log = GrowingLog(log_key)
    with server:
        client.cosign(witness, log.grow(), log.log.size, log.consistency)  # the first: size 100
        checkpoint_url = f"{server.url}/{origin_hash(ORIGIN)}/checkpoint"

        def round_trip() -> None:
            note = log.grow()
            client.cosign(witness, note, log.log.size, log.consistency)

        def crypto_alone() -> None:
            # The round's cryptography without HTTP or the witness's store: the log's
            # signature and a consistency proof verified, a cosignature made and verified.
            old = verify_checkpoint(sign_checkpoint_at(apart, log_key), vkey)
            note = apart.grow()
            new = verify_checkpoint(note, vkey)
            proof = apart.consistency(old.size, new.size)
            verify_consistency(old.size, new.size, old.root, new.root, proof)
            body = note.split("\n\n", 1)[0] + "\n"
            line = cosign(body, local.name, local_key, int(time.time()))
            cosignatures(note + line, [local])

        return interleaved(
            {
                "round trip": round_trip,
                "witness GET floor": lambda: _get(session, checkpoint_url),
                "crypto alone": crypto_alone,
            },
            samples,
        )


def sign_checkpoint_at(log: GrowingLog, key: SigningKey) -> str:
    return sign_checkpoint(ORIGIN, log.log.size, log.log.root(), ORIGIN, key)


# -- the table ----------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def rows(
    size: int, by_workers: dict[int, Latencies], tiles: Latencies, wit: Latencies
) -> list[Row]:
    out = []
    for workers, lat in by_workers.items():
        w = f"{workers} worker{'s' if workers > 1 else ''}"
        for q in (50, 99):
            floor = lat.p("floor", q)
            for name, label in (("checkpoint", "GET /v1/checkpoint"), ("proof", "inclusion proof")):
                value = lat.p(name, q)
                out.append(
                    Row(
                        f"{label} p{q}, SQLite log of {size:,}, {w}",
                        _ms(value),
                        f"GET /v1/log/key p{q}: {_ms(floor)}",
                        f"{value / floor:.2f}x",
                    )
                )
    one, four = by_workers.get(1), by_workers.get(4)
    if one is not None and four is not None:
        out.append(
            Row(
                "GET /v1/checkpoint p50, 4 workers vs 1 (the multi-worker floor)",
                f"{_ms(four.p('checkpoint', 50))} vs {_ms(one.p('checkpoint', 50))}",
                "Nagle's delay would add ~40 ms",
                f"{four.p('checkpoint', 50) / one.p('checkpoint', 50):.2f}x",
            )
        )
    for q in (50, 99):
        value = tiles.p("tiles over HTTP", q)
        out.append(
            Row(
                f"inclusion proof from tiles over HTTP p{q} (cold: checkpoint, entry, tiles), "
                f"log of {size:,}",
                _ms(value),
                f"ledger's /v1/proofs/inclusion p{q}: {_ms(tiles.p('ledger endpoint', q))}; "
                f"same from tiles on disk: {_ms(tiles.p('tiles on disk', q))}",
                f"{value / tiles.p('ledger endpoint', q):.2f}x",
            )
        )
    for q in (50, 99):
        value = wit.p("round trip", q)
        out.append(
            Row(
                f"witness round trip p{q}: add-checkpoint with a consistency proof "
                f"(+{WITNESS_GROWTH} leaves), cosignature verified",
                _ms(value),
                f"witness GET p{q}: {_ms(wit.p('witness GET floor', q))}; its cryptography "
                f"alone: {_ms(wit.p('crypto alone', q))}",
                f"{value / wit.p('witness GET floor', q):.2f}x",
            )
        )
    return out


def bench_serving(directory: Path, size: int = SIZE, samples: int = SAMPLES) -> list[Row]:
    server = prefilled_ledger(directory, size)
    by_workers = {w: serving(server, w, size, samples) for w in WORKERS}
    tiles = from_tiles(server, size, samples)
    wit = witness_round_trips(directory, samples)
    return rows(size, by_workers, tiles, wit)


def notes() -> list[str]:
    return [__doc__ or "", *ANCHORS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=SIZE, help="leaves in the prefilled log")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="requests per measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hanpyo-serving-") as tmp:
        table = bench_serving(Path(tmp), args.size, args.samples)
    print("| measure | value | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    for row in table:
        print(f"| {row.name} | {row.value} | {row.baseline} | {row.ratio} |")


if __name__ == "__main__":
    main()
