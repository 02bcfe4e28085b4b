"""`ledger trustee shuffle --count` and `ledger trustee decrypt --count`: each trustee on their
own computer with their own medium shuffles the count's score columns in turn, then any k
decrypt; `ledger count finish` combines their files."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiosk.core.errors import HanpyoError
from ledger.cli.passphrase import add_passphrase_option, medium_lock

Run = Callable[[argparse.Namespace], list[str]]


def add_commands(tsub: Any, set_run: Callable[[argparse.ArgumentParser, Run], None]) -> None:
    shuffle = tsub.add_parser(
        "shuffle",
        help="after the close, shuffle every score column of the count (each trustee once)",
        description="Run on your own computer, in turn with the other trustees, before anyone "
        "decrypts. It checks the package against your own ceremony, the close statement signed "
        "by the ledger's log key, that selection.json and tally-input.json are exactly what "
        "the closed log gives (recomputed from every block of --record or --ledger-data: "
        "every chain, the root the log key signed, every ballot's proofs) and EVERY earlier "
        "shuffle (a file that fails names its trustee and column), then re-encrypts and "
        "permutes every score column with "
        "a proof, and writes the next shuffle-<n>.json. Each column is shuffled on its own with "
        "a fresh permutation, so nobody can tie one voter's scores together again: whole rows "
        "of scores would be unique enough to sell a vote. Scores stay hidden as long as one "
        "trustee who shuffled keeps their permutation to themselves (the tool never writes it).",
    )
    _count_options(shuffle)
    _workers_option(shuffle)
    add_passphrase_option(shuffle)
    set_run(shuffle, _shuffle)

    decrypt = tsub.add_parser(
        "decrypt",
        help="your decryption shares of the count (--count), after the close, with proofs",
        description="With --count: checks the close statement, recomputes the selection and "
        "the count input from the closed log (--record or --ledger-data) and refuses unless "
        "they are the count directory's byte for byte, checks every shuffle, then writes "
        "decryption-<j>.json with your share of every sum and every "
        "shuffled score, each with a proof, for exactly the list the count directory gives "
        "(nothing anyone hands you).",
    )
    _count_options(decrypt)
    _workers_option(decrypt)
    decrypt.add_argument(
        "--min-shuffles",
        type=_workers,
        help="refuse unless at least this many trustees shuffled (default: the "
        "threshold k; then any group who saw every permutation could decrypt anyway, so no "
        "smaller group can tie scores to voters). Lower only if trustees cannot be reached",
    )
    add_passphrase_option(decrypt)
    set_run(decrypt, _decrypt)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 1024, not {text!r}")
    return value


def _workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=_workers,
        default=os.cpu_count() or 1,
        help="processes that share the work (default: every core); the result is the same",
    )


def _closed_log_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    """Where the closed log is: what the count directory's selection and sums are recomputed
    from before anything is shuffled or decrypted (required with --count)."""
    where = p.add_mutually_exclusive_group(required=required)
    where.add_argument(
        "--record",
        type=Path,
        help="the record `ledger publish` wrote after the close (bundle.zip, on a stick): "
        "every block of the closed log is checked and the count's inputs recomputed from it",
    )
    where.add_argument(
        "--ledger-data",
        type=Path,
        help="or the ledger's data directory (read only; its log key is never opened)",
    )
    p.add_argument(
        "--ledger-db",
        help="with --ledger-data: the ledger's database URL when it is not SQLite in that "
        "directory (postgresql://…)",
    )


@contextmanager
def _closed_log(args: argparse.Namespace) -> Iterator[Any]:
    if args.record is not None:
        from ledger.verify.count_inputs import record_log

        with record_log(args.record) as log:
            yield log
    elif args.ledger_data is not None:
        from ledger.service.count_log import ledger_log

        with ledger_log(args.ledger_data, args.ledger_db) as log:
            yield log
    else:
        raise HanpyoError(
            "--count needs the closed log: --record BUNDLE.zip (from `ledger publish`) or "
            "--ledger-data DIR",
            user_message=(
                "마감된 로그가 필요합니다: --record 로 공개 기록(bundle.zip)을, 또는 "
                "--ledger-data 로 원장 폴더를 주세요.",
                "The closed log is needed: give the published record with --record "
                "(bundle.zip) or the ledger's folder with --ledger-data.",
            ),
        )


def _count_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--medium", type=Path, required=True, help="your own medium")
    p.add_argument("--count", type=Path, required=True, help="the count directory")
    p.add_argument(
        "--package",
        type=Path,
        help="the election package (default: package.json in the count directory)",
    )
    p.add_argument(
        "--log-key",
        help="the ledger's published log key (name+id+key); the package names it, and this "
        "replaces it",
    )
    _closed_log_options(p, required=True)


def _shuffle(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_medium import open_medium
    from ledger.service.count_trustee import add_shuffle, open_count

    medium = open_medium(args.medium, medium_lock(args))
    with _closed_log(args) as log:
        count = open_count(
            medium, args.count, args.package, args.log_key, log=log, workers=args.workers
        )
    return add_shuffle(medium, count, workers=args.workers)


def _decrypt(args: argparse.Namespace) -> list[str]:
    from ledger.service.ceremony_medium import open_medium
    from ledger.service.count_trustee import decrypt_count, open_count

    medium = open_medium(args.medium, medium_lock(args))
    with _closed_log(args) as log:
        count = open_count(
            medium, args.count, args.package, args.log_key, log=log, workers=args.workers
        )
    return decrypt_count(medium, count, args.min_shuffles)
