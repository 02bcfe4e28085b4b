"""`ledger trustee decrypt` and `ledger trustee combine`: threshold decryption, each trustee on
their own computer with their own medium, then any k trustees' files combined."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.cli.passphrase import add_passphrase_option, medium_lock

Run = Callable[[argparse.Namespace], list[str]]


def add_commands(tsub: Any, set_run: Callable[[argparse.ArgumentParser, Run], None]) -> None:
    decrypt = tsub.add_parser(
        "decrypt", help="your decryption shares of a request, after the close, with proofs"
    )
    decrypt.add_argument("--medium", type=Path, required=True, help="your own medium")
    decrypt.add_argument("--request", type=Path, required=True, help="the decryption request")
    decrypt.add_argument(
        "--log-key",
        required=True,
        help="the ledger's published log key (name+id+key): it signed the close statement",
    )
    decrypt.add_argument("--out", type=Path, required=True, help="your shares file (created)")
    add_passphrase_option(decrypt)
    set_run(decrypt, _decrypt)

    combine = tsub.add_parser("combine", help="decrypt with the shares files of any k trustees")
    combine.add_argument(
        "--ceremony",
        type=Path,
        required=True,
        help="the ceremony result (from `ledger trustee collect`, or the package's "
        "*.ceremony.json)",
    )
    combine.add_argument("--request", type=Path, required=True)
    combine.add_argument("--shares", type=Path, nargs="+", required=True)
    combine.add_argument(
        "--bound",
        type=_bound,
        default=1_000_000,
        help="the largest value a ciphertext may hold (0 to 100000000)",
    )
    set_run(combine, _combine)


def _bound(text: str) -> int:
    """A bound the discrete logarithm can search (kiosk/core/verifiable/dlog.py), refused by
    argparse before any share is checked."""
    from kiosk.core.verifiable.dlog import MAX_BOUND

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_BOUND:
        raise argparse.ArgumentTypeError(f"a whole number from 0 to {MAX_BOUND}, not {text!r}")
    return value


def _decrypt(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_files import read_json, write_new_json
    from ledger.service.ceremony_medium import open_medium
    from ledger.service.trustee_decryption import decrypt_request, read_request

    medium = open_medium(args.medium, medium_lock(args))
    request = read_request(read_json(args.request))
    signed = decrypt_request(medium, request, args.log_key)
    write_new_json(args.out, signed)
    return [
        f"복호화 몫 작성 / decryption shares written for trustee {signed['trustee']}: "
        f"{len(request.ciphertexts)} ciphertexts, each with its proof",
        f"the close statement of {request.election} checked; give {args.out} to the counter",
    ]


def _combine(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_files import read_json
    from ledger.service.ceremony_result import verify_result
    from ledger.service.trustee_decryption import combine_files, read_request

    verified = verify_result(read_json(args.ceremony))
    request = read_request(read_json(args.request))
    if request.transcript_hash != verified.outcome.transcript_hash.hex():
        from ledger.service.ceremony_medium import TrusteeToolError

        raise TrusteeToolError(
            "the request names another key ceremony",
            "요청이 다른 키 생성 절차를 가리킵니다.",
            "The request names another key ceremony.",
        )
    files = [(str(p), read_json(p)) for p in args.shares]
    values = combine_files(
        verified.setup,
        dict(verified.outcome.verification_keys),
        verified.setup.threshold,
        request,
        files,
        args.bound,
    )
    lines = [f"decrypted {len(values)} values with {len(files)} trustees' shares:"]
    lines += [f"  {n}: {v}" for n, v in enumerate(values)]
    return lines
