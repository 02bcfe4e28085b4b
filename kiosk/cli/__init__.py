"""The `kiosk` command: provision a kiosk's keys, verify and export its store, run it, and
enrol cards. Each subcommand module adds its own parser and handler; ``main`` parses the
arguments, runs the handler, and turns the project's errors into exit code 2."""

from __future__ import annotations

import argparse
import sys

from kiosk.cli import cards, run, store
from kiosk.cli.options import Handler, Subparsers
from kiosk.core.errors import HanpyoError

# In the order `kiosk --help` lists them.
COMMANDS = (
    store.add_provision,
    store.add_verify,
    store.add_export,
    run.add_run,
    run.add_load_election,
    cards.add_cards,
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kiosk", description="Hanpyo (한표) voting kiosk")
    sub: Subparsers = top.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler: Handler = args.run
    try:
        return int(handler(args))
    except HanpyoError as e:
        print(f"kiosk: {e}", file=sys.stderr)
        print(f"  {e.user_message[0]}\n  {e.user_message[1]}", file=sys.stderr)
        return 2
