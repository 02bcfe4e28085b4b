"""`ledger trustee ...`: the key ceremony, the count's shuffles and threshold decryption as each
trustee runs them on their own offline computer with their own medium
(docs/trustee-ceremony.md walks through it).
Nothing here opens the ledger's database; only ``--relay`` (and the organiser's ``setup
--relay``) speaks to the network."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.core.errors import HanpyoError
from ledger.cli.options import Subparsers
from ledger.cli.passphrase import add_passphrase_option, medium_lock

if TYPE_CHECKING:
    from kiosk.core.election import ElectionPackage

Run = Callable[[argparse.Namespace], list[str]]


def add_trustee(sub: Subparsers) -> None:
    trustee = sub.add_parser(
        "trustee",
        help="the trustees' key ceremony and decryption, on each trustee's own computer",
        description="Each trustee runs these with their own medium (--medium). Messages travel "
        "through an exchange folder (--exchange, a USB stick) or the ledger's relay (--relay). "
        "After the close of a protocol v2 election each trustee runs `shuffle` in turn, then "
        "`decrypt --count`, on the count directory: see docs/trustee-ceremony.md.",
    )
    tsub = trustee.add_subparsers(dest="trustee_command", required=True)
    init = tsub.add_parser("init", help="create your ceremony identity on your medium")
    init.add_argument("--medium", type=Path, required=True, help="your own medium (empty)")
    init.add_argument("--name", required=True, help="your name, as the others know you")
    add_passphrase_option(init)
    _set(init, _init)

    setup = tsub.add_parser("setup", help="(organiser) the list of trustees and the threshold")
    setup.add_argument("--election", required=True, help="the election id")
    setup.add_argument("--threshold", type=int, required=True, help="k: how many decrypt")
    setup.add_argument(
        "--identity",
        type=Path,
        action="append",
        required=True,
        help="a trustee's identity.public.json (repeat, in the trustees' order)",
    )
    setup.add_argument("--out", type=Path, required=True, help="the setup file (created)")
    setup.add_argument("--relay", help="also give the setup to the ledger's relay at this URL")
    setup.add_argument(
        "--admin-token-file", type=Path, help="with --relay: a file holding an enrol admin token"
    )
    _set(setup, _setup)

    round1 = _mailbox_options(tsub.add_parser("round1", help="send your commitments"))
    round1.add_argument("--setup", type=Path, required=True, help="the organiser's setup file")
    _set(round1, _round1)
    for name, help_text in (
        ("round2", "send each other trustee their sealed share"),
        ("check", "check the shares you received; accept them or complain"),
        ("reveal", "answer complaints about your shares (only if there are any)"),
        ("finish", "compute and keep your share of the key; sign the result"),
    ):
        step = _mailbox_options(tsub.add_parser(name, help=help_text))
        step.add_argument(
            "--stop-waiting",
            action="store_true",
            help="go on without the trustees who have not sent their messages (they are "
            "left out); only when every trustee agreed",
        )
        _set(step, _step(name))

    collect = tsub.add_parser("collect", help="(organiser) the ceremony's result for the package")
    collect.add_argument("--setup", type=Path, required=True)
    _mailbox_choice(collect)
    collect.add_argument("--out", type=Path, required=True, help="the ceremony result (created)")
    _set(collect, _collect)

    package = tsub.add_parser(
        "check-package",
        help="check that the election package names the key your ceremony made",
        description="Before the election opens, every trustee checks the package the kiosks "
        "will load: its election key, threshold, transcript hash and every trustee's keys "
        "must be what your own `finish` computed. Exit status 2 if anything differs.",
    )
    package.add_argument("--medium", type=Path, required=True, help="your own medium")
    package.add_argument(
        "--package", type=Path, required=True, help="the election package (signed or not)"
    )
    add_passphrase_option(package)
    _set(package, _check_package)

    words = tsub.add_parser("backup-words", help="SLIP-39 words of your own share (to write down)")
    words.add_argument("--medium", type=Path, required=True)
    add_passphrase_option(words)
    _set(words, _backup_words)

    from ledger.cli import trustee_decrypt

    trustee_decrypt.add_commands(tsub, _set)


def _mailbox_choice(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--exchange", type=Path, help="the exchange folder (USB stick)")
    where.add_argument("--relay", help="the ledger's URL, e.g. https://ledger.example")


def _mailbox_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--medium", type=Path, required=True, help="your own medium")
    add_passphrase_option(p)
    _mailbox_choice(p)
    return p


def _set(p: argparse.ArgumentParser, run: Run) -> None:
    p.set_defaults(run=lambda args: _guarded(run, args))


def _guarded(run: Run, args: argparse.Namespace) -> int:
    """Print what happened; on an error, the Korean and English words first, then the
    detail (which names the file, the step or the trustee)."""
    try:
        lines = run(args)
    except HanpyoError as e:
        ko, en = e.user_message
        print(f"ledger trustee: {ko}\n                {en}\n  ({e.detail})", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


def _mailbox(args: argparse.Namespace, setup: Any) -> Any:
    from ledger.service.ceremony_mailbox import ExchangeFolder

    if args.exchange is not None:
        return ExchangeFolder(args.exchange, setup)
    from ledger.service.ceremony_relay_client import RelayMailbox

    return RelayMailbox(args.relay, setup)


def _init(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_medium import IDENTITY_PUBLIC, create_medium

    identity = create_medium(args.medium, args.name, medium_lock(args, new=True))
    return [
        f"신원 생성 / identity created for {identity.name} on {args.medium}",
        f"give the organiser this file: {args.medium / IDENTITY_PUBLIC}",
        f"and read them its fingerprint: {identity.fingerprint()}",
        "the *.secret.json files never leave your medium; they open only with your passphrase",
    ]


def _setup(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_files import make_setup, write_new_json

    setup, fingerprints = make_setup(args.election, args.threshold, args.identity)
    write_new_json(args.out, setup.to_json())
    lines = [f"setup for {args.election}: any {setup.threshold} of {setup.size} trustees"]
    lines += [
        f"  trustee {t.index}: {t.name}  (identity {fp})"
        for t, fp in zip(setup.trustees, fingerprints, strict=True)
    ]
    lines.append(f"setup fingerprint (every trustee checks it): {_grouped(setup.base_hash())}")
    if args.relay:
        from ledger.service.ceremony_relay_client import publish_setup

        if args.admin_token_file is None:
            raise HanpyoError("--relay needs --admin-token-file (an enrol admin token)")
        token = args.admin_token_file.read_text("utf-8").strip()
        publish_setup(args.relay, setup, token)
        lines.append(f"the relay at {args.relay} now takes this ceremony's messages")
    return lines


def _round1(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_files import read_setup
    from ledger.service.ceremony_medium import open_medium
    from ledger.service.ceremony_steps import round1

    medium = open_medium(args.medium, medium_lock(args))
    setup = read_setup(args.setup)
    lines = round1(medium, setup, _mailbox(args, setup))
    lines.append(f"setup fingerprint: {_grouped(setup.base_hash())} (compare it with the others)")
    return lines


def _step(name: str) -> Run:
    def run(args: argparse.Namespace) -> list[str]:
        from ledger.service import ceremony_steps
        from ledger.service.ceremony_medium import open_medium

        medium = open_medium(args.medium, medium_lock(args))
        mailbox = _mailbox(args, medium.setup())
        step = getattr(ceremony_steps, name)
        if name == "round2":
            return list(step(medium, mailbox))
        return list(step(medium, mailbox, stop_waiting=args.stop_waiting))

    return run


def _collect(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_files import read_setup, write_new_json
    from ledger.service.ceremony_result import collect_result

    setup = read_setup(args.setup)
    record, verified = collect_result(setup, _mailbox(args, setup).messages())
    write_new_json(args.out, record)
    return [
        f"ceremony result for {setup.election_id} written to {args.out}",
        f"election key K: {verified.outcome.election_key.hex()}",
        f"transcript hash: {verified.outcome.transcript_hash.hex()}",
        f"qualified: {', '.join(map(str, verified.outcome.qualified))}; "
        f"results signed by: {', '.join(map(str, verified.confirmed))}",
    ] + [
        f"!! trustee {i} ({setup.trustee(i).name}) signed a different result; their signed "
        f"message is kept in {args.out} as evidence / 신탁인 {i} 은(는) 다른 결과에 "
        "서명했습니다 (증거로 보관됨)"
        for i in verified.dissenting
    ]


def _check_package(args: argparse.Namespace) -> list[str]:
    from kiosk.core.election import read_package
    from kiosk.core.verifiable.ceremony import CeremonySetup
    from ledger.service.ceremony_files import read_json
    from ledger.service.ceremony_medium import open_medium
    from ledger.service.ceremony_result import check_package_key

    medium = open_medium(args.medium, medium_lock(args))
    record = medium.result()
    setup = CeremonySetup.from_json(record["setup"])
    document = read_json(args.package)
    signed = ({"package", "signature"}, {"package", "signature", "public_signature"})
    if isinstance(document, dict) and set(document) in signed:
        document = document["package"]  # the signed form the kiosks load
    package = read_package(document)
    check_package_key(package.id, package.election_key, setup, record["result"])
    from ledger.service.count_trustee import remember_checked_package

    remember_checked_package(medium, package)  # the count refuses another log key
    key = record["result"]["election_key"]
    return [
        f"확인 완료 / the package of {package.id} names the key your ceremony made:",
        f"  election key K {_grouped(bytes.fromhex(key))} …",
        f"  transcript hash {_grouped(bytes.fromhex(record['result']['transcript']))} …",
        f"  any {setup.threshold} of the {setup.size} trustees, each with the keys of the setup",
        *_log_key_lines(package),
    ]


def _log_key_lines(package: ElectionPackage) -> list[str]:
    """The package names the ledger's log key, which `decrypt --count` then trusts for the
    close statement: the trustee compares it now with the key the ledger publishes."""
    if package.log_verifier is None:
        return [
            "  the package names no log key: you will be asked for the ledger's log key "
            "when you decrypt / 패키지에 원장 서명 키가 없습니다"
        ]
    return [
        f"  ledger log key {package.log_verifier.vkey}",
        "  compare it with the key the ledger publishes; the close statement must be signed "
        "with it / 원장이 공개한 키와 같은지 확인하세요",
    ]


def _backup_words(args: argparse.Namespace) -> list[str]:
    import shamir_mnemonic

    from kiosk.core.verifiable.group import scalar_bytes
    from ledger.service.ceremony_medium import open_medium

    medium = open_medium(args.medium, medium_lock(args))
    share = medium.share()
    # One SLIP-39 group of one member: the words hold this trustee's own z_j and nothing else.
    words = shamir_mnemonic.generate_mnemonics(1, [(1, 1)], scalar_bytes(share.secret))[0][0]
    return [
        f"trustee {share.index}, ceremony {share.setup_hash.hex()[:16]}: your share as words",
        "write them on paper and lock it away; never type them into a computer that is online",
        words,
    ]


def _grouped(digest: bytes) -> str:
    text = digest.hex()[:32]
    return " ".join(text[i : i + 4] for i in range(0, 32, 4))


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise HanpyoError(f"cannot read {path}: {e}") from e
