"""`ledger election close` and `ledger tally`: ending the election and counting it."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from ledger.rules.trustees import TrusteeError, read_share_file


def add_parsers(sub: Any, with_data: Any) -> None:
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

    verify = sub.add_parser(
        "verify-bundle", help="re-check a published election bundle, with no database"
    )
    verify.add_argument("bundle", type=Path, help="the bundle.zip the ledger publishes")
    verify.add_argument("--authority", help="the authority's public key, from the authority")
    verify.add_argument("--log-key", help="the log's verifier key, as the ledger published it")
    verify.add_argument(
        "--share",
        type=Path,
        action="append",
        default=[],
        help="a trustee's share file: with k of them, also open every counted sealed ballot",
    )


def close(args: argparse.Namespace) -> int:
    from ledger.cli import _ledger
    from ledger.service.closing import close_election

    waivers: dict[str, str] = {}
    for kiosk, reason in args.waive:
        waivers[kiosk] = reason
    done = close_election(_ledger(args), waivers)
    print(f"election closed at {done.closed_at}; the log is frozen at {done.size} blocks")
    for kiosk, reason in sorted(done.waivers.items()):
        print(f"  waived {kiosk}: {reason}")
    print("final checkpoint:")
    print(done.checkpoint, end="")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "verify-bundle":
        return _verify_bundle(args)
    from ledger.cli import _ledger
    from ledger.service.trustee_tally import run_tally

    shares = [read_share_file(p) for p in args.share] + _typed_shares(args.words)
    if not shares:
        raise TrusteeError("give the trustees' shares with --share FILE or --words N")
    out = args.out or args.data / "published"
    output = run_tally(_ledger(args), shares, out, workers=args.workers, progress=not args.quiet)
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


def _verify_bundle(args: argparse.Namespace) -> int:
    from ledger.verify.bundle import verify_bundle

    shares = [read_share_file(p) for p in args.share]
    checks = verify_bundle(args.bundle, args.authority, args.log_key, shares)
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{c.status:>11}  {c.name:<{width}}  {c.detail}")
    failed = [c for c in checks if c.status == "FAILED"]
    if failed:
        print(f"{len(failed)} check(s) FAILED: do not trust these results", file=sys.stderr)
        return 1
    unchecked = sum(1 for c in checks if c.status == "not checked")
    print(f"every check passed; {unchecked} thing(s) could not be checked from the bundle")
    return 0
