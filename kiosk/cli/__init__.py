"""The `kiosk` command: provision a kiosk's keys, verify and export its store, run it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.core.errors import HanpyoError

DEFAULT_KEY_DIR = Path("/var/lib/hanpyo/keys")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk", description="Hanpyo (한표) voting kiosk")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("provision", help="create this kiosk's signing key and store key")
    p.add_argument("--keys", type=Path, default=DEFAULT_KEY_DIR, help="key directory")

    v = sub.add_parser("verify", help="open a kiosk store and verify its whole chain")
    v.add_argument("store", type=Path)
    v.add_argument("--keys", type=Path, default=DEFAULT_KEY_DIR)
    v.add_argument("--election", type=Path, help="signed election package the chain must use")
    v.add_argument("--authority", help="authority public key (base64url) for --election")

    x = sub.add_parser("export", help="write the chain to a file for the ledger (USB)")
    x.add_argument("store", type=Path)
    x.add_argument("--keys", type=Path, default=DEFAULT_KEY_DIR)
    x.add_argument("--out", type=Path, required=True, help="file on the USB stick (created)")
    x.add_argument(
        "--all",
        action="store_true",
        help="every block, not only those the ledger has not acknowledged",
    )

    r = sub.add_parser("run", help="run the kiosk's touchscreen (what the installed unit runs)")
    r.add_argument("--data", type=Path, required=True, help="the kiosk's data folder")
    r.add_argument("--authority", required=True, help="the election authority's public key")
    r.add_argument("--keys", type=Path, help="key folder (default: systemd credentials)")
    r.add_argument("--log-key", help="the ledger's checkpoint key; without it, no sync")
    r.add_argument("--ledger", help="the ledger's address, instead of the package's")
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

    le = sub.add_parser("load-election", help="check a signed package and make it this kiosk's")
    le.add_argument("package", type=Path)
    le.add_argument("--data", type=Path, required=True)
    le.add_argument("--authority", required=True)

    from kiosk.cli.cards import add_parser as add_cards_parser

    add_cards_parser(sub)

    args = parser.parse_args(argv)
    try:
        return int(_run(args))
    except HanpyoError as e:
        print(f"kiosk: {e}", file=sys.stderr)
        print(f"  {e.user_message[0]}\n  {e.user_message[1]}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from kiosk.store.keys import load_keys, provision

    if args.command == "provision":
        keys = provision(args.keys)
        print(f"kiosk id {keys.kiosk_id}")
        print(f"public key {keys.kiosk_key.public_key.hex()}")
        print(f"keys written to {args.keys} (readable by this user only)")
        return 0
    if args.command == "verify":
        from kiosk.core.election import verify_package
        from kiosk.core.encoding import b64d
        from kiosk.store.chain_store import ChainStore

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
    if args.command == "export":
        from kiosk.store.chain_store import ChainStore
        from kiosk.store.usb_export import NothingToExport, export_chain

        keys = load_keys(args.keys)
        with ChainStore.open(args.store, keys.store_key, keys.kiosk_key) as store:
            try:
                done = export_chain(store, keys.kiosk_key, args.out, whole_chain=args.all)
            except NothingToExport:
                print(
                    "the ledger already holds every block; nothing to export "
                    "(use --all to export the whole chain)"
                )
                return 0
        print(f"exported blocks {done.first}..{done.last} ({done.count}) to {args.out}")
        return 0
    if args.command == "cards":
        from kiosk.cli.cards import run as run_cards

        return run_cards(args)
    if args.command in ("run", "load-election"):
        return _kiosk(args)
    raise AssertionError(args.command)


def _kiosk(args: argparse.Namespace) -> int:
    from kiosk.app import PACKAGE_FILE, KioskConfig, authority_key, read_signed_package

    authority = authority_key(args.authority)
    if args.command == "load-election":
        raw = args.package.read_bytes()
        package = read_signed_package(raw, authority)
        args.data.mkdir(parents=True, exist_ok=True)
        (args.data / PACKAGE_FILE).write_bytes(raw)
        print(f"election {package.id} loaded; package hash {package.short_hash}")
        return 0
    from kiosk.ui.main import run

    config = KioskConfig(
        args.data,
        authority,
        key_dir=args.keys,
        log_key=args.log_key,
        ledger_url=args.ledger,
        reader=args.reader,
        printer=args.printer,
        usb_dir=args.usb,
        leave_file=args.leave_file,
    )
    return run(config, fullscreen=not args.windowed)


if __name__ == "__main__":
    sys.exit(main())
