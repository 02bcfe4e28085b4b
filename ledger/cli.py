"""The `ledger` command. The service itself is not built yet; chain verification is."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.core.block import decode_signed_block
from kiosk.core.chain import verify_chain
from kiosk.core.errors import HanpyoError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="Hanpyo (한표) central ledger. Only offline chain verification exists so "
        "far; the service, Merkle log and tally are not built yet.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify-chain", help="verify a kiosk chain file (one signed block per line)")
    v.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        lines = [line for line in args.file.read_bytes().splitlines() if line.strip()]
        state = verify_chain(decode_signed_block(line) for line in lines)
    except OSError as e:
        print(f"ledger: cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    except HanpyoError as e:
        print(f"ledger: {args.file}: {e}", file=sys.stderr)
        return 1
    print(
        f"chain verified: kiosk {state.kiosk}, election {state.election}, "
        f"{state.height + 1} blocks, {state.ballots} ballots, {state.test_ballots} test ballots"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
