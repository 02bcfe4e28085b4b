"""`ledger tiles publish`: write the log as C2SP tlog-tiles into a directory any web server or
object store can serve, after gathering the witnesses' cosignatures on the latest checkpoint.
Once, or every few seconds with --every, until stopped."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ledger.cli.options import Subparsers, with_data


def add_tiles(sub: Subparsers) -> None:
    tiles = sub.add_parser("tiles", help="publish the log as static tiles (C2SP tlog-tiles)")
    tsub = tiles.add_subparsers(dest="tiles_command", required=True)
    publish = with_data(
        tsub.add_parser(
            "publish",
            help="cosign the latest checkpoint with the witnesses and write the tiles",
            description="Exit status 1 when a witness did not cosign (the tiles and the "
            "checkpoint are published all the same); a 409 or 422 from a witness means it "
            "holds a tree this log is not consistent with.",
        )
    )
    publish.add_argument("--dir", type=Path, required=True, help="the tiles directory")
    publish.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="NAME=URL=VKEY",
        help="a witness to ask for a cosignature (repeat); default: $HANPYO_WITNESSES",
    )
    publish.add_argument(
        "--every", type=float, help="keep publishing, every this many seconds, until stopped"
    )
    publish.set_defaults(run=_publish)


def _publish(args: argparse.Namespace) -> int:
    from ledger.cli.options import database_url
    from ledger.publish.log_publisher import publish_latest
    from ledger.store.schema import connect
    from ledger.witness.client import Witness, WitnessClient, witnesses_from_environment

    engine = connect(database_url(args))
    named = [Witness.parse(w) for w in args.witness] or witnesses_from_environment()
    client = WitnessClient(named) if named else None
    args.dir.mkdir(parents=True, exist_ok=True)
    last = None
    while True:
        done = publish_latest(engine, client, args.dir)
        if (done.size, done.cosigned_by, done.refused) != last:
            last = (done.size, done.cosigned_by, done.refused)
            witnessed = ", ".join(done.cosigned_by) or "no witness"
            print(f"published size {done.size} to {args.dir}, cosigned by {witnessed}", flush=True)
            for label, why in done.refused.items():
                print(f"witness {label} did not cosign: {why}", file=sys.stderr, flush=True)
        if args.every is None:
            return 1 if done.refused else 0
        time.sleep(args.every)
