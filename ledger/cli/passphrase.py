"""Where a trustee's medium passphrase comes from: a hidden prompt at the terminal, or the file
descriptor a script names with ``--passphrase-fd N``. Never a command-line argument (other
users see those in the process list) and never an environment variable (inherited by every
child process, often logged)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line loads no service module before it runs a command
    from ledger.service.medium_lock import MediumLock
    from ledger.service.trustee_tool_error import TrusteeToolError

MAX_PASSPHRASE_BYTES = 4096


def add_passphrase_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-fd",
        type=int,
        metavar="N",
        help="read your medium's passphrase from file descriptor N (one line; for scripts). "
        "Without it the tool asks at the terminal, hidden",
    )


def medium_lock(args: argparse.Namespace, *, new: bool = False) -> MediumLock:
    """The lock for ``args.medium``: its passphrase is asked when first needed, once per run
    (twice at a terminal for a ``new`` medium, to catch a typing mistake)."""
    from ledger.service.medium_lock import MediumLock

    fd: int | None = getattr(args, "passphrase_fd", None)
    ask: Callable[[], str] = (lambda: _from_fd(fd)) if fd is not None else lambda: _typed(new)
    return MediumLock(ask, _warn)


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def _from_fd(fd: int) -> str:
    try:
        with os.fdopen(fd, "rb", closefd=True) as source:
            data = source.readline(MAX_PASSPHRASE_BYTES + 1)
    except OSError as e:
        raise _no_passphrase(f"cannot read the passphrase from file descriptor {fd}: {e}") from e
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise _no_passphrase("the passphrase is longer than 4096 bytes")
    try:
        return data.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError as e:
        raise _no_passphrase("the passphrase is not UTF-8 text") from e


def _typed(new: bool) -> str:
    if not sys.stdin.isatty():
        raise _no_passphrase("no terminal to ask the passphrase at; give --passphrase-fd N")
    try:
        first = getpass.getpass("매체 암호 / medium passphrase: ")
        again = getpass.getpass("한 번 더 / once more: ") if new else first
    except (EOFError, KeyboardInterrupt) as e:
        raise _no_passphrase("no passphrase was typed") from e
    if again != first:
        from ledger.service.trustee_tool_error import TrusteeToolError

        raise TrusteeToolError(
            "the two passphrases typed differ",
            "두 번 입력한 암호가 다릅니다. 아무것도 만들지 않았습니다. 다시 실행하세요.",
            "The two passphrases you typed differ. Nothing was made. Run it again.",
        )
    return first


def _no_passphrase(detail: str) -> TrusteeToolError:
    from ledger.service.trustee_tool_error import TrusteeToolError

    return TrusteeToolError(
        detail,
        "매체 암호를 읽을 수 없습니다. 터미널에서 실행하거나 --passphrase-fd 를 쓰세요.",
        "The medium passphrase cannot be read. Run the tool at a terminal, or use --passphrase-fd.",
    )
