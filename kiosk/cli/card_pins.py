"""Where `kiosk cards` gets each new user PIN, and the PIN letters it writes.

Never from the command line (it shows in `ps` and in shell history) nor from a CSV file that
outlives the enrolment: the cardholder or operator types it at a hidden prompt, another
program passes it on a file descriptor, or Hanpyo generates it and writes a letter to print.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from kiosk.core.errors import HanpyoError
from kiosk.hardware.card.enrolment import FACTORY_ADMIN_PIN, check_user_pin
from kiosk.hardware.card.errors import CardError

GENERATED_DIGITS = 6  # three tries against a million PINs
PROMPT_ROUNDS = 3
PIN_WAYS = "type it at the prompt, or use --pin-fd N or --letters DIR"


class PinSourceError(HanpyoError):
    """No usable PIN could be had for a card: nothing was written to it."""

    user_message = (
        "새 PIN을 받지 못해 카드를 바꾸지 않았습니다.",
        "No new PIN was given, so the card was not changed.",
    )


class NewPins(Protocol):
    def take(self, holder: str) -> str:
        """The new user PIN for ``holder``'s card, before the card is touched."""
        ...

    def issued(self, holder: str, serial: str, pin: str) -> None:
        """``pin`` is now on card ``serial``: deliver it if the cardholder does not know it."""
        ...


@dataclass(frozen=True, slots=True)
class PromptedPins:
    """The PIN typed twice at a hidden prompt, by the cardholder or the operator."""

    def take(self, holder: str) -> str:
        if not sys.stdin.isatty():
            raise PinSourceError(f"no terminal to ask {holder}'s PIN on: use --pin-fd or --letters")
        for _ in range(PROMPT_ROUNDS):
            pin = getpass.getpass(f"new PIN for {holder} (6-16 digits, hidden): ")
            try:
                check_user_pin(pin)
            except CardError as e:
                print(e, file=sys.stderr)
                continue
            if getpass.getpass("the same PIN again: ") == pin:
                return pin
            print("the two PINs differ", file=sys.stderr)
        raise PinSourceError(f"no PIN was set for {holder} after {PROMPT_ROUNDS} rounds")

    def issued(self, holder: str, serial: str, pin: str) -> None:
        return None  # the person who typed it knows it


@dataclass(frozen=True, slots=True)
class FdPins:
    """One PIN a line from a file descriptor another program holds, e.g. a password manager."""

    fd: int
    stream: TextIO

    def take(self, holder: str) -> str:
        try:
            line = self.stream.readline()
        except (OSError, UnicodeDecodeError) as e:
            raise PinSourceError(f"cannot read a PIN from file descriptor {self.fd}: {e}") from e
        if not line:
            raise PinSourceError(f"file descriptor {self.fd} has no PIN left for {holder}")
        pin = line.rstrip("\r\n")
        check_user_pin(pin)
        return pin

    def issued(self, holder: str, serial: str, pin: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class GeneratedPins:
    """A random PIN per card and a letter with it in ``letters``, to print and then delete."""

    letters: Path

    def take(self, holder: str) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(GENERATED_DIGITS))

    def issued(self, holder: str, serial: str, pin: str) -> None:
        try:
            path = _new_letter_file(self.letters, serial, letter_text(holder, serial, pin))
        except OSError as e:
            raise PinSourceError(
                f"card {serial} for {holder} is provisioned but its PIN letter could not be "
                f"written ({e}); nobody knows its PIN: reset the card and enrol it again"
            ) from e
        print(f"PIN letter for {holder}: {path}")


def letter_text(holder: str, serial: str, pin: str) -> str:
    return (
        "한표 투표 카드 PIN 안내 · Hanpyo voting card PIN\n\n"
        f"이름 / Name: {holder}\n카드 번호 / Card number: {serial}\n\nPIN: {pin}\n\n"
        "이 안내문은 카드와 따로 보관하세요. PIN을 3번 틀리면 카드가 잠기고, 아무도 풀 수 "
        "없습니다.\n"
        "Keep this letter apart from the card. Three wrong PINs lock the card for good; "
        "nobody can unlock it.\n"
    )


def _new_letter_file(directory: Path, serial: str, text: str) -> Path:
    """Write ``text`` to a new file readable by its owner only; never over an older letter."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for n in range(1, 100):
        path = directory / (f"pin-{serial}.txt" if n == 1 else f"pin-{serial}-{n}.txt")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    raise FileExistsError(f"{directory} already holds 99 letters for card {serial}")


# -- command-line options --------------------------------------------------------------------
class _Refused(argparse.Action):
    """An option that used to take a secret on the command line: refused, saying what to do."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        self.why: str = kwargs.pop("why")
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.error(f"{option_string} is no longer accepted: {self.why}")


def add_pin_args(p: argparse.ArgumentParser, user_pins: bool = True) -> None:
    """How the new user PINs come in (a hidden prompt unless told), and the admin PIN."""
    if user_pins:
        how = p.add_mutually_exclusive_group()
        how.add_argument(
            "--pin-fd", type=int, metavar="N", help="read each new user PIN, one a line, from fd N"
        )
        how.add_argument(
            "--letters",
            type=Path,
            metavar="DIR",
            help="generate each user PIN and write a PIN letter to print into DIR",
        )
    p.add_argument(
        "--ask-admin-pin",
        action="store_true",
        help=f"ask for the card's admin PIN (otherwise the factory {FACTORY_ADMIN_PIN})",
    )
    in_argv = "a PIN on the command line shows in `ps` and shell history"
    if user_pins:
        p.add_argument("--pin", action=_Refused, why=f"{in_argv}; {PIN_WAYS}")
    p.add_argument("--admin-pin", action=_Refused, why=f"{in_argv}; use --ask-admin-pin")
    p.add_argument(
        "--new-admin-pin",
        action=_Refused,
        why="enrolment now blocks the card's admin PIN, so nobody can reset the user PIN",
    )


def new_pins(args: argparse.Namespace) -> NewPins:
    if args.pin_fd is not None:
        try:
            stream = open(args.pin_fd, encoding="utf-8", closefd=False)  # noqa: SIM115
        except OSError as e:
            raise PinSourceError(f"cannot read file descriptor {args.pin_fd}: {e}") from e
        return FdPins(args.pin_fd, stream)
    if args.letters is not None:
        try:  # before any card is touched: a letter that cannot be written loses a PIN
            args.letters.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not os.access(args.letters, os.W_OK):
                raise PermissionError(f"{args.letters} is not writable")
        except OSError as e:
            raise PinSourceError(f"cannot write PIN letters into {args.letters}: {e}") from e
        return GeneratedPins(args.letters)
    return PromptedPins()


def admin_pin(args: argparse.Namespace) -> str:
    """The card's admin PIN as it comes: the factory one, or typed at a hidden prompt."""
    if not args.ask_admin_pin:
        return FACTORY_ADMIN_PIN
    if not sys.stdin.isatty():
        raise PinSourceError("--ask-admin-pin needs a terminal to ask on")
    return getpass.getpass("the cards' admin PIN now (hidden): ")
