"""What every `ledger` subcommand shares: the --data/--db options and `open_ledger`, the one
place a command opens the ledger."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.secret_file import write_secret

if TYPE_CHECKING:  # the store and services import SQLAlchemy: only commands that open it pay
    from ledger.service.ledger import Ledger

DEFAULT_DATA = Path("ledger-data")
Handler = Callable[[argparse.Namespace], int]
Subparsers = Any  # argparse's _SubParsersAction, which typeshed keeps private


def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options that say where the ledger's data and database are."""
    p.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="ledger directory: log key and, by default, the SQLite database",
    )
    p.add_argument(
        "--db",
        help="database URL (default: SQLite in --data); "
        "postgresql://user@host/db for real deployments",
    )
    return p


def database_url(args: argparse.Namespace) -> str:
    from ledger.store.schema import database_url as url_or_default

    return str(url_or_default(args.db, args.data.resolve() / "ledger.db"))


def log_key_path(args: argparse.Namespace) -> Path:
    """The log key: the systemd credential ``hanpyo-log-key`` when the service has one
    (installer/), else ``<data>/log.key``."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / "hanpyo-log-key").is_file():
        return Path(creds) / "hanpyo-log-key"
    return Path(args.data) / "log.key"


def log_key(args: argparse.Namespace, create: bool = False) -> SigningKey:
    path = log_key_path(args)
    if create and not path.exists():
        args.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SigningKey.generate()
        write_secret(path, (b64e(key.seed) + "\n").encode("ascii"))
        return key
    return SigningKey(b64d(path.read_text().strip(), length=32, name="log key"))


def open_ledger(args: argparse.Namespace) -> Ledger:
    """The ledger in --data/--db, opened with its log key: every command that reads or writes
    the ledger comes through here."""
    from ledger.service.ledger import Ledger
    from ledger.store.schema import connect

    return Ledger(connect(database_url(args)), log_key(args))
