"""`kiosk run` (the touchscreen the installed unit runs) and `kiosk load-election`."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.cli.options import Subparsers


def add_run(sub: Subparsers) -> None:
    r = sub.add_parser("run", help="run the kiosk's touchscreen (what the installed unit runs)")
    r.add_argument("--data", type=Path, required=True, help="the kiosk's data folder")
    r.add_argument("--authority", required=True, help="the election authority's public key")
    r.add_argument("--keys", type=Path, help="key folder (default: systemd credentials)")
    r.add_argument("--log-key", help="the ledger's checkpoint key; without it, no sync")
    r.add_argument("--ledger", help="the ledger's address, instead of the package's")
    r.add_argument(
        "--mirror",
        action="append",
        default=[],
        help="an observer's mirror of the ledger (its address; repeat for more): the sync "
        "proves blocks from its tiles too, so they are proven while the ledger is down",
    )
    r.add_argument("--reader", help="the card reader's PC/SC name (default: the first one)")
    r.add_argument("--printer", default="none", help="none, memory, usb:VID:PID, file:PATH, ...")
    r.add_argument("--usb", type=Path, help="where the export USB stick is mounted")
    r.add_argument("--windowed", action="store_true", help="a window, not full screen")
    r.add_argument(
        "--leave-file",
        type=Path,
        help="file to write when a manager leaves kiosk mode (the installed unit stays down "
        "while it exists)",
    )
    r.set_defaults(run=run_kiosk)


def add_load_election(sub: Subparsers) -> None:
    le = sub.add_parser("load-election", help="check a signed package and make it this kiosk's")
    le.add_argument("package", type=Path)
    le.add_argument("--data", type=Path, required=True)
    le.add_argument("--authority", required=True)
    le.add_argument(
        "--new-election",
        action="store_true",
        help="the package is for another election than the one this kiosk runs: load it on "
        "purpose (its session must be closed)",
    )
    le.add_argument(
        "--keys",
        type=Path,
        help="key folder (default: systemd credentials), to check the current session is "
        "closed before a package replaces it",
    )
    le.set_defaults(run=run_load_election)


def run_load_election(args: argparse.Namespace) -> int:
    from kiosk.app import load_election_file
    from kiosk.core.election import authority_key

    authority = authority_key(args.authority)
    raw = args.package.read_bytes()
    package = load_election_file(
        args.data, raw, authority, new_election=args.new_election, key_dir=args.keys
    )
    print(
        f"election {package.id} loaded; package number {package.sequence}, "
        f"package hash {package.short_hash}"
    )
    return 0


def run_kiosk(args: argparse.Namespace) -> int:
    from kiosk.app import KioskConfig
    from kiosk.core.election import authority_key

    authority = authority_key(args.authority)  # a bad key fails before Qt is loaded
    from kiosk.ui.main import run

    config = KioskConfig(
        args.data,
        authority,
        key_dir=args.keys,
        log_key=args.log_key,
        ledger_url=args.ledger,
        mirrors=tuple(args.mirror),
        reader=args.reader,
        printer=args.printer,
        usb_dir=args.usb,
        leave_file=args.leave_file,
    )
    return run(config, fullscreen=not args.windowed)
