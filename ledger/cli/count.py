"""`ledger count prepare|finish`: the protocol v2 count (docs: verifiable-election.md, "The
count"). ``prepare`` writes the count directory the trustees shuffle and decrypt in; ``finish``
checks everything in it and writes the results."""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.cli.options import Subparsers, open_ledger, with_data


def add_count(sub: Subparsers) -> None:
    count = sub.add_parser("count", help="the protocol v2 count: prepare, then finish")
    csub = count.add_subparsers(dest="count_command", required=True)
    prepare = with_data(
        csub.add_parser(
            "prepare",
            help="after the close: select the ballots that count (every proof checked) and "
            "write the count directory for the trustees",
        )
    )
    prepare.add_argument("--out", type=Path, required=True, help="a new, empty count directory")
    _workers(prepare)
    prepare.set_defaults(run=_prepare)
    finish = with_data(
        csub.add_parser(
            "finish",
            help="after the trustees' shuffles and decryptions: verify everything and write "
            "the results",
        )
    )
    finish.add_argument("--count", type=Path, required=True, help="the count directory")
    _workers(finish)
    finish.set_defaults(run=_finish)


def _workers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        help="processes that share the work: ballot proofs, the shuffle and share checks and the "
        "combination (default: every core)",
    )


def _prepare(args: argparse.Namespace) -> int:
    from ledger.service.count import prepare_count

    prepared = prepare_count(open_ledger(args), args.out, workers=args.workers)
    s = prepared.selection
    print(f"counted {len(s.counted)} ballots, left out {len(s.left_out)}")
    for reason, n in s.reasons().items():
        print(f"  {reason}: {n}")
    if prepared.small_columns:
        print(
            f"!! {len(prepared.small_columns)} score columns hold fewer than the package's "
            f"{prepared.min_column} scores (their voters' scores are less "
            "hidden) / 점수 열이 작습니다:"
        )
        for line in prepared.small_columns:
            print(f"  {line}")
    print(f"count directory {args.out}: pass it to the trustees to shuffle, then decrypt")
    for path in prepared.files:
        print(f"  {path}")
    return 0


def _finish(args: argparse.Namespace) -> int:
    from ledger.service.count import finish_count

    done = finish_count(open_ledger(args), args.count, workers=args.workers)
    trustees = done.results["trustees"]
    print(
        f"counted {done.results['ballots']['counted']} ballots; shuffled by trustees "
        f"{trustees['shuffled']}, decrypted with the shares of trustees {trustees['decrypted']}"
    )
    for j, why in sorted(done.bad_trustees.items()):
        print(f"  !! trustee {j}'s decryption file was not used: {why}")
    invalid = done.results["invalid_cells"]
    if invalid:
        print(f"  !! {len(invalid)} score cells decrypt outside their range and were not counted")
    for path in done.files:
        print(f"  {path}")
    return 0
