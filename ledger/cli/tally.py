"""`ledger tally`: count the closed election with k trustees' shares."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ledger.cli.options import Subparsers, open_ledger, with_data
from ledger.rules.trustees import TrusteeError, read_share_file


def add_tally(sub: Subparsers) -> None:
    tally = with_data(
        sub.add_parser("tally", help="count the closed election with k trustees' shares")
    )
    tally.add_argument(
        "--share", type=Path, action="append", default=[], help="a trustee's share file"
    )
    tally.add_argument(
        "--words",
        type=int,
        default=0,
        metavar="N",
        help="read N shares typed by the trustees (hidden on a terminal), one per line",
    )
    tally.add_argument(
        "--out",
        type=Path,
        help="directory for the results (default: <data>/published, which `ledger serve` shows)",
    )
    tally.add_argument("--workers", type=int, help="processes that open ballots (default: cores)")
    tally.add_argument("--quiet", action="store_true", help="no progress bar")
    tally.set_defaults(run=_tally)


def _tally(args: argparse.Namespace) -> int:
    from ledger.service.trustee_tally import run_tally

    shares = [read_share_file(p) for p in args.share] + _typed_shares(args.words)
    if not shares:
        raise TrusteeError("give the trustees' shares with --share FILE or --words N")
    out = args.out or args.data / "published"
    output = run_tally(
        open_ledger(args), shares, out, workers=args.workers, progress=not args.quiet
    )
    b = output.results["ballots"]
    print(f"counted {b['counted']} ballots, {b['invalid']} invalid; results in {out}")
    for path in output.files:
        print(f"  {path}")
    return 0


def _typed_shares(count: int) -> list[str]:
    shares = []
    for n in range(1, count + 1):
        prompt = f"trustee {n} of {count}, type your share words: "
        if sys.stdin.isatty():
            shares.append(getpass.getpass(prompt))
        else:
            line = sys.stdin.readline()
            if not line:
                raise TrusteeError(f"only {n - 1} of {count} shares were given")
            shares.append(line.strip())
    return shares
