"""`ledger authority-key` and `ledger election create|sign|show|close`: preparing the signed
package, and closing the election."""

from __future__ import annotations

import argparse
import dataclasses
import json
import secrets
from pathlib import Path

from kiosk.core.crypto import SealingKey, SigningKey
from kiosk.core.election import (
    MAX_SEQUENCE,
    PROTOCOL_VERSIONS,
    ElectionPackage,
    read_package,
    sign_package,
    verify_package,
)
from kiosk.core.election_v2 import DEFAULT_MIN_COLUMN
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import HanpyoError
from ledger.cli.election_files import ceremony_record, load_json, package_key, tls_pin, write_new
from ledger.cli.election_v2 import create_v2
from ledger.cli.options import Subparsers, open_ledger, with_data
from ledger.rules.trustees import split_new_ballot_key, write_share_files


def add_authority_key(sub: Subparsers) -> None:
    key = sub.add_parser("authority-key", help="create the authority's signing key")
    key.add_argument("--out", type=Path, required=True, help="private key file (created)")
    key.set_defaults(run=_authority_key)


def add_election(sub: Subparsers) -> None:
    election = sub.add_parser("election", help="create, sign and show the election package")
    esub = election.add_subparsers(dest="election_command", required=True)
    create = esub.add_parser("create", help="make the package: keys, trustee shares, roll")
    create.add_argument("--definition", type=Path, required=True)
    create.add_argument("--roll", type=Path, help="roll file from `kiosk cards enrol`")
    create.add_argument(
        "--protocol",
        type=int,
        choices=PROTOCOL_VERSIONS,
        default=1,
        help="1: ballots sealed to a ballot key split into --shares; 2: ballots encrypted to "
        "the trustees' election key from --ceremony (no share files), a random voter id per "
        "roll entry, test cards on their own roll",
    )
    create.add_argument("--trustees", type=int, default=5, help="protocol 1 only")
    create.add_argument("--threshold", type=int, default=3, help="protocol 1 only")
    create.add_argument(
        "--shares",
        type=Path,
        help="directory for the trustees' share files (created; protocol 1, where it is needed)",
    )
    create.add_argument(
        "--ceremony",
        type=Path,
        help="the trustees' key ceremony result (`ledger trustee collect`): checked; K, the "
        "threshold, each trustee with Z_j and the transcript hash go into the package (its "
        "election_key section, signed with it) and the whole transcript beside it as "
        "<out>.ceremony.json. Kiosks still seal ballots to the v1 ballot key split into "
        "--shares; K is not yet used for ballots",
    )
    create.add_argument("--ledger-url", default="http://127.0.0.1:8400")
    create.add_argument(
        "--tls-cert",
        type=Path,
        help="the ledger's HTTPS certificate (PEM): kiosks accept exactly this certificate",
    )
    create.add_argument(
        "--log-key",
        help="protocol 2: the ledger's log key as `ledger serve` prints it (name+id+key); it "
        "signs checkpoints and the close statement, so trustees and verifiers take it from "
        "the signed package",
    )
    create.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="KEY",
        help="protocol 2: a witness's cosigning key (name+id+key); repeat for each witness",
    )
    create.add_argument(
        "--witness-threshold",
        type=int,
        default=0,
        help="protocol 2: how many of the witnesses must cosign a checkpoint (default 0)",
    )
    create.add_argument(
        "--min-column",
        type=int,
        default=DEFAULT_MIN_COLUMN,
        help="protocol 2: the fewest voters a count column should hold; smaller columns are "
        f"warned about (default {DEFAULT_MIN_COLUMN})",
    )
    create.add_argument("--out", type=Path, required=True, help="unsigned package (created)")
    create.set_defaults(run=_create)

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
    if package.protocol == 2:
        w, log = package.witnesses, package.log_verifier
        print(
            f"protocol 2: {len(package.test_roll)} test cards; log key "
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
    if args.protocol == 2:
        return create_v2(args)
    if args.shares is None:
        raise HanpyoError("protocol 1 needs --shares: the directory for the trustees' share files")
    definition = load_json(args.definition)
    roll = load_json(args.roll) if args.roll else {"roll": [], "staff": []}
    if roll.get("test_roll"):
        raise HanpyoError(
            f"{args.roll} enrols test cards, which only a protocol 2 package has (--protocol 2)"
        )
    ceremony = split_new_ballot_key(args.trustees, args.threshold)
    # Test ballots are sealed to a key the package itself carries, so that staff can open
    # them on the kiosk for a logic-and-accuracy test. It is never the ballot key.
    test_key = SealingKey.generate()
    document = dict(definition) | {
        "keys": {
            "ballot": b64e(ceremony.public_key),
            "test_ballot": b64e(test_key.public_key),
            "test_ballot_secret": b64e(test_key.secret),
            "nullifier_salt": b64e(secrets.token_bytes(32)),
        },
        "ledger": {"url": args.ledger_url, "tls_pin": tls_pin(args.tls_cert)},
        "roll": roll.get("roll", []),
        "staff": roll.get("staff", []),
    }
    document.setdefault("sequence", 1)  # the election's first package
    record = ceremony_record(args.ceremony, str(document.get("id"))) if args.ceremony else None
    if record is not None:
        document["election_key"] = package_key(record["record"])
    package = read_package(document)  # every check before anything is written
    beside = args.out.with_name(args.out.stem + ".ceremony.json")
    existing = [p for p in [args.out, *args.shares.glob("trustee-*.txt")] if p.exists()]
    existing += [beside] if record is not None and beside.exists() else []
    if existing:
        raise HanpyoError(
            f"{existing[0]} already exists; refusing to overwrite a package or a trustee's share"
        )
    paths = write_share_files(ceremony, args.shares)
    write_new(args.out, json.dumps(package.to_json(), ensure_ascii=False))
    print(f"package {package.id} written to {args.out} (not yet signed)")
    print(f"ballot key split {args.threshold}-of-{args.trustees}; give each trustee one file:")
    for path in paths:
        print(f"  {path}")
    print("the whole ballot key was never written anywhere")
    if record is not None:
        write_new(beside, json.dumps(record, ensure_ascii=False, indent=1))
        section = record["record"]
        print(f"the trustees' ceremony: {beside}")
        print(f"  election key K {section['election_key']}, any {section['threshold']} trustees")
        print(f"  transcript hash {section['transcript_hash']}")
        print(
            "  K is not yet used for ballots: kiosks seal them to the v1 ballot key above, "
            "and `ledger tally` opens them with its shares; K decrypts only what "
            "`ledger trustee decrypt` is asked to"
        )
    return 0
