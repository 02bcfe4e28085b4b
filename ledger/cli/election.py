"""`ledger authority-key` and `ledger election create|sign|show|close`: preparing the signed
package, and closing the election."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from kiosk.core.crypto import SigningKey
from kiosk.core.election import (
    MAX_SEQUENCE,
    PACKAGE_VERSION,
    PROTOCOL_VERSIONS,
    ElectionPackage,
    read_package,
    sign_package,
    verify_package,
)
from kiosk.core.election_v2 import DEFAULT_MIN_COLUMN
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import HanpyoError
from ledger.cli.election_files import load_json, write_new
from ledger.cli.election_v2 import create_v2
from ledger.cli.letters import add_letters
from ledger.cli.options import Subparsers, open_ledger, with_data


def add_authority_key(sub: Subparsers) -> None:
    key = sub.add_parser("authority-key", help="create the authority's signing key")
    key.add_argument("--out", type=Path, required=True, help="private key file (created)")
    key.set_defaults(run=_authority_key)


def add_election(sub: Subparsers) -> None:
    election = sub.add_parser("election", help="create, sign and show the election package")
    esub = election.add_subparsers(dest="election_command", required=True)
    create = esub.add_parser(
        "create", help="make the package from the trustees' ceremony, the definition and the roll"
    )
    create.add_argument("--definition", type=Path, required=True)
    create.add_argument("--roll", type=Path, help="roll file from `kiosk cards enrol`")
    create.add_argument(
        "--protocol",
        type=int,
        choices=PROTOCOL_VERSIONS,
        default=PACKAGE_VERSION,
        help="2 (the only protocol; protocol 1's sealed ballots are no longer made): ballots "
        "encrypted to the trustees' election key from --ceremony, a random voter id per roll "
        "entry, test cards on their own roll",
    )
    create.add_argument(
        "--ceremony",
        type=Path,
        required=True,
        help="the trustees' key ceremony result (`ledger trustee collect`): checked; K, the "
        "threshold, each trustee with Z_j and the transcript hash go into the package (its "
        "election_key section, signed with it) and the whole transcript beside it as "
        "<out>.ceremony.json. No share file is written: each trustee's share stays on their "
        "own medium",
    )
    create.add_argument("--ledger-url", default="http://127.0.0.1:8400")
    create.add_argument(
        "--tls-cert",
        type=Path,
        help="the ledger's HTTPS certificate (PEM): kiosks accept exactly this certificate",
    )
    create.add_argument(
        "--log-key",
        help="the ledger's log key as `ledger serve` prints it (name+id+key); it "
        "signs checkpoints and the close statement, so trustees and verifiers take it from "
        "the signed package",
    )
    create.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="KEY",
        help="a witness's cosigning key (name+id+key); repeat for each witness",
    )
    create.add_argument(
        "--witness-threshold",
        type=int,
        default=0,
        help="how many of the witnesses must cosign a checkpoint (default 0)",
    )
    create.add_argument(
        "--min-column",
        type=int,
        default=DEFAULT_MIN_COLUMN,
        help="the fewest voters a count column should hold; smaller columns are "
        f"warned about (default {DEFAULT_MIN_COLUMN})",
    )
    create.add_argument("--out", type=Path, required=True, help="unsigned package (created)")
    create.set_defaults(run=_create)

    add_letters(esub)  # the online members' credential letters, whose keys go on the roll

    sign = esub.add_parser("sign", help="sign a package with the authority key")
    sign.add_argument("package", type=Path)
    sign.add_argument("--authority-key", type=Path, required=True)
    sign.add_argument("--out", type=Path, required=True)
    sign.add_argument(
        "--replaces",
        type=Path,
        help="the signed package this one replaces (the same election): the new one gets the "
        "next sequence number, so kiosks take it and never go back to the old one",
    )
    sign.set_defaults(run=_sign)

    show = esub.add_parser("show", help="check a signed package and summarise it")
    show.add_argument("package", type=Path)
    show.add_argument("--authority", required=True, help="authority public key (base64url)")
    show.set_defaults(run=_show)

    close = with_data(
        esub.add_parser("close", help="check every kiosk is closed and synced, freeze the log")
    )
    close.add_argument(
        "--waive",
        nargs=2,
        action="append",
        default=[],
        metavar=("KIOSK_ID", "REASON"),
        help="close without this kiosk's session close or missing blocks; the reason is "
        "recorded (repeat for each kiosk)",
    )
    close.set_defaults(run=_close)


def _authority_key(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    write_new(args.out, b64e(key.seed) + "\n")
    print(f"authority public key (pin this on every kiosk): {b64e(key.public_key)}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    package = read_package(load_json(args.package))
    key = SigningKey(b64d(args.authority_key.read_text().strip(), length=32, name="key"))
    if args.replaces is not None:
        package = _next_of(package, verify_package(load_json(args.replaces), key.public_key))
    write_new(args.out, json.dumps(sign_package(package, key).to_json(), ensure_ascii=False))
    print(
        f"signed {package.id}, package number {package.sequence}; short hash {package.short_hash}"
    )
    return 0


def _next_of(package: ElectionPackage, old: ElectionPackage) -> ElectionPackage:
    """``package`` numbered to replace ``old``: the same election, one number higher."""
    if old.id != package.id:
        raise HanpyoError(
            f"--replaces names a package of election {old.id!r}, not {package.id!r}; a package "
            "only replaces one of its own election"
        )
    if old.sequence >= MAX_SEQUENCE:
        raise HanpyoError(f"{old.id} has reached the last package number")
    return dataclasses.replace(package, sequence=old.sequence + 1)


def _show(args: argparse.Namespace) -> int:
    package = verify_package(load_json(args.package), b64d(args.authority, length=32, name="key"))
    print(f"{package.id}: {package.title.ko} / {package.title.en}")
    print(f"signature verified; package number {package.sequence}; short hash {package.short_hash}")
    print(
        f"{len(package.groups)} groups, {len(package.options)} proposals, "
        f"{len(package.contests)} contests, {len(package.roll)} voter cards, "
        f"{len(package.staff)} staff cards; duplicates: {package.duplicate_policy.value}"
    )
    w, log = package.witnesses, package.log_verifier
    print(
        f"protocol {package.protocol}: {len(package.test_roll)} test cards; log key "
        f"{log.vkey if log else 'not named'}; {w.threshold} of {len(w.keys)} witnesses "
        f"cosign; count columns of at least {package.min_column} voters"
    )
    return 0


def _close(args: argparse.Namespace) -> int:
    from ledger.service.closing import close_election

    waivers: dict[str, str] = {}
    for kiosk, reason in args.waive:
        waivers[kiosk] = reason
    done = close_election(open_ledger(args), waivers)
    print(f"election closed at {done.closed_at}; the log is frozen at {done.size} blocks")
    for kiosk, reason in sorted(done.waivers.items()):
        print(f"  waived {kiosk}: {reason}")
    print("final checkpoint:")
    print(done.checkpoint, end="")
    return 0


def _create(args: argparse.Namespace) -> int:
    return create_v2(args)
