"""`ledger kiosks enrol|list` and `ledger import`: the sources and the chains they deliver."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.core.election import Channel
from kiosk.core.encoding import b64d
from ledger.cli.options import Subparsers, open_ledger, with_data


def add_kiosks(sub: Subparsers) -> None:
    kiosks = sub.add_parser("kiosks", help="enrol and list kiosks and online platforms")
    ksub = kiosks.add_subparsers(dest="kiosks_command", required=True)
    enrol = with_data(ksub.add_parser("enrol", help="enrol a kiosk by its public key"))
    enrol.add_argument("--public-key", required=True, help="base64url Ed25519 key, or hex")
    enrol.add_argument("--name", required=True)
    enrol.add_argument("--location", default="")
    enrol.add_argument("--channel", choices=[c.value for c in Channel], default="kiosk")
    enrol.add_argument(
        "--late-reason",
        help="why a source is enrolled after the election opened (required then); "
        "published in the reconciliation",
    )
    enrol.set_defaults(run=_enrol)
    with_data(ksub.add_parser("list", help="list enrolled sources")).set_defaults(run=_list)


def add_import(sub: Subparsers) -> None:
    imp = with_data(sub.add_parser("import", help="ingest a chain file (one block per line)"))
    imp.add_argument("file", type=Path)
    imp.set_defaults(run=_import)


def _enrol(args: argparse.Namespace) -> int:
    from ledger.service.enrolment import enrol_source

    ledger = open_ledger(args)
    text = args.public_key.strip()
    key = bytes.fromhex(text) if len(text) == 64 else b64d(text, length=32, name="key")
    kiosk_id = enrol_source(
        ledger, key, args.name, args.location, Channel(args.channel), args.late_reason
    )
    print(f"enrolled {args.name}: kiosk id {kiosk_id}")
    return 0


def _list(args: argparse.Namespace) -> int:
    for s in open_ledger(args).sources():
        state = "QUARANTINED: " + (s.quarantine_reason or "") if s.quarantined else "ok"
        print(
            f"{s.kiosk_id}  {s.channel.value:<6}  height {s.height:>6}  {s.name}  "
            f"{s.location}  {state}"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    from ledger.service.usb_import import import_chain_file

    report = import_chain_file(open_ledger(args), args.file)
    print(report.summary())
    return 0 if report.ok else 1
