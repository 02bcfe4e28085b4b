"""The `ledger` command. Each subcommand module adds its own parser and handler; ``main``
parses the arguments, runs the handler, and turns the ledger's errors into exit code 2.
Commands that need the ledger open it once, through ``ledger.cli.options.open_ledger``."""

from __future__ import annotations

import argparse
import sys

from kiosk.core.errors import HanpyoError
from ledger.cli import (
    count,
    election,
    host,
    kiosks,
    mirror,
    publish,
    tiles,
    trustee,
    verify,
    witness,
)
from ledger.cli.options import Handler, Subparsers

# In the order `ledger --help` lists them.
COMMANDS = (
    host.add_init,
    host.add_serve,
    host.add_openapi,
    kiosks.add_kiosks,
    host.add_admin_token,
    kiosks.add_import,
    verify.add_verify_proof,
    election.add_authority_key,
    election.add_election,
    count.add_count,
    publish.add_publish,
    trustee.add_trustee,
    verify.add_verify_bundle,
    verify.add_verify_chain,
    tiles.add_tiles,
    witness.add_witness,
    mirror.add_mirror,
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ledger", description="Hanpyo (한표) central ledger")
    sub: Subparsers = top.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run: Handler = args.run
    try:
        return int(run(args))
    except HanpyoError as e:
        print(f"ledger: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ledger: {e}", file=sys.stderr)
        return 2
