"""`ledger publish`: put a protocol v2 election's record where `ledger serve` shows it
(<data>/published): the trustees' ceremony transcript, checked against the package, then the
exports, the report and the bundle from the count directory <data>/published/count
(ledger/publish/bundle_writer.py lists the record's files)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kiosk.core.election import ElectionPackage
from kiosk.core.errors import HanpyoError
from ledger.cli.options import Subparsers, open_ledger, with_data

CEREMONY = "ceremony.json"


def add_publish(sub: Subparsers) -> None:
    publish = with_data(
        sub.add_parser(
            "publish",
            help="protocol v2: write the record (exports, report, bundle.zip) into "
            "<data>/published from the count directory <data>/published/count",
        )
    )
    publish.add_argument(
        "--ceremony",
        type=Path,
        help="the key ceremony transcript `ledger election create --ceremony` wrote beside the "
        "package (<package>.ceremony.json): checked against the package and published once",
    )
    publish.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="NAME=URL=VKEY",
        help="a witness of the package to ask to cosign the final checkpoint if it has not "
        "(repeat; default: $HANPYO_WITNESSES); ledger serve --witness asks them too",
    )
    publish.add_argument(
        "--witness-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long to wait for the cosignatures the package's witness policy requires on "
        "the final checkpoint before refusing (default 60)",
    )
    publish.set_defaults(run=_publish)


def _publish(args: argparse.Namespace) -> int:
    from ledger.publish.final_checkpoint import WAIT_S
    from ledger.publish.v2_record import publish_v2_record
    from ledger.witness.client import Witness, witnesses_from_environment

    ledger = open_ledger(args)
    published = Path(args.data) / "published"
    if args.ceremony is not None:
        _publish_ceremony(ledger.package, args.ceremony, published)
    witnesses = [Witness.parse(w) for w in args.witness] or witnesses_from_environment()
    wait = WAIT_S if args.witness_wait is None else args.witness_wait
    if wait < 0:
        raise HanpyoError("--witness-wait is a number of seconds, 0 or more")
    policy = ledger.package.witnesses
    if policy.threshold:
        print(
            f"the final checkpoint needs {policy.threshold} of the package's "
            f"{len(policy.keys)} witnesses' cosignatures (waiting up to {wait:g} s)",
            flush=True,
        )
    files = publish_v2_record(ledger, published, witnesses, wait)
    print(f"published the record of {ledger.package.id} in {published}:")
    for path in files:
        print(f"  {path}")
    return 0


def _publish_ceremony(package: ElectionPackage, source: Path, published: Path) -> None:
    """Check the transcript gives exactly the package's election key, then write it whole."""
    from ledger.verify.ceremony_record import check_ceremony

    raw = source.read_bytes()
    summary = check_ceremony(package, raw, str(source))
    published.mkdir(parents=True, exist_ok=True)
    partial = published / (CEREMONY + ".part")
    partial.write_bytes(raw)
    os.replace(partial, published / CEREMONY)
    print(f"the key ceremony's transcript checks out: {summary}")
