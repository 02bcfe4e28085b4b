"""`kiosk provision`, `kiosk verify` and `kiosk export`: the kiosk's keys and its chain store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.cli.options import DEFAULT_KEY_DIR, Subparsers
from kiosk.core.errors import HanpyoError


def add_provision(sub: Subparsers) -> None:
    p = sub.add_parser("provision", help="create this kiosk's signing key and store key")
    p.add_argument("--keys", type=Path, default=DEFAULT_KEY_DIR, help="key directory")
    p.set_defaults(run=run_provision)


def add_verify(sub: Subparsers) -> None:
    v = sub.add_parser("verify", help="open a kiosk store and verify its whole chain")
    v.add_argument("store", type=Path)
    v.add_argument("--keys", type=Path, default=DEFAULT_KEY_DIR)
    v.add_argument("--election", type=Path, help="signed election package the chain must use")
    v.add_argument("--authority", help="authority public key (base64url) for --election")
    v.set_defaults(run=run_verify)


def add_export(sub: Subparsers) -> None:
    x = sub.add_parser("export", help="write the chain to a file for the ledger (USB)")
    x.add_argument("store", type=Path)
    x.add_argument("--keys", type=Path, default=DEFAULT_KEY_DIR)
    x.add_argument("--out", type=Path, required=True, help="file on the USB stick (created)")
    x.add_argument(
        "--all",
        action="store_true",
        help="every block, not only those the ledger has not acknowledged",
    )
    x.add_argument(
        "--replace",
        action="store_true",
        help="write over a file already at --out (the old one stays whole until the new one is)",
    )
    x.set_defaults(run=run_export)


def run_provision(args: argparse.Namespace) -> int:
    from kiosk.store.keys import provision

    keys = provision(args.keys)
    print(f"kiosk id {keys.kiosk_id}")
    print(f"public key {keys.kiosk_key.public_key.hex()}")
    print(f"keys written to {args.keys} (readable by this user only)")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from kiosk.core.election import verify_package
    from kiosk.core.encoding import b64d
    from kiosk.store.chain_store import ChainStore
    from kiosk.store.keys import load_keys

    package = None
    if args.election is not None:
        if not args.authority:
            raise HanpyoError("--election needs --authority, the pinned authority key")
        package = verify_package(
            json.loads(args.election.read_text("utf-8")),
            b64d(args.authority, length=32, name="authority key"),
        )
    keys = load_keys(args.keys)
    with ChainStore.open(args.store, keys.store_key, keys.kiosk_key, package) as store:
        s = store.state
        print(
            f"chain verified: kiosk {s.kiosk}, election {s.election}, {s.height + 1} blocks, "
            f"{s.ballots} ballots, {s.test_ballots} test ballots, mode {s.mode}, "
            f"session {s.session_number} {s.session}"
        )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from kiosk.store.chain_store import ChainStore
    from kiosk.store.keys import load_keys
    from kiosk.store.usb_export import ExportTargetExists, NothingToExport, export_chain

    keys = load_keys(args.keys)
    with ChainStore.open(args.store, keys.store_key, keys.kiosk_key) as store:
        replace = bool(args.replace)
        try:
            try:
                done = export_chain(
                    store, keys.kiosk_key, args.out, whole_chain=args.all, replace=replace
                )
            except ExportTargetExists as e:
                if not _ask_to_replace(e):
                    print(f"kiosk: {e}", file=sys.stderr)
                    print(
                        "kiosk: nothing was written; choose another --out, or add --replace "
                        "to write over it",
                        file=sys.stderr,
                    )
                    return 1
                done = export_chain(
                    store, keys.kiosk_key, args.out, whole_chain=args.all, replace=True
                )
        except NothingToExport:
            print(
                "the ledger already holds every block; nothing to export "
                "(use --all to export the whole chain)"
            )
            return 0
    print(f"exported blocks {done.first}..{done.last} ({done.count}) to {args.out}")
    return 0


def _ask_to_replace(exists: Exception) -> bool:
    """At a terminal, show what is in the way and ask; elsewhere (a script), never replace."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"{exists}.\nReplace it with this export? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
