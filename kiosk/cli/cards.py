"""`kiosk cards ...`: read, provision and enrol voter and staff cards, one or a batch."""

from __future__ import annotations

import argparse
import copy
import csv
import json
from pathlib import Path
from typing import Any

from kiosk.cli.card_pins import NewPins, add_pin_args, admin_pin, new_pins
from kiosk.cli.options import Subparsers
from kiosk.core.crypto import SigningKey
from kiosk.core.encoding import b64d, b64e
from kiosk.core.errors import HanpyoError
from kiosk.core.roll import add_staff, add_voter, empty_roll
from kiosk.hardware.card.enrolment import (
    CardSetup,
    ProvisionedCard,
    check_card_name,
    lock_enrolled_card,
    provision_card,
)
from kiosk.hardware.card.errors import ApduError, ReaderError, UnsupportedCardError
from kiosk.hardware.card.openpgp import KeyRef, OpenPGPCard
from kiosk.hardware.pcsc.connection import PcscConnection, wait_for_card
from kiosk.hardware.pcsc.context import list_readers


def add_cards(sub: Subparsers) -> None:
    cards = sub.add_parser("cards", help="read, provision and enrol smart cards")
    cards.set_defaults(run=run)
    csub = cards.add_subparsers(dest="cards_command", required=True)
    csub.add_parser("readers", help="list the card readers")

    read = csub.add_parser("read", help="show the card in a reader")
    _reader_arg(read)

    prov = csub.add_parser("provision", help="give a card its key, user PIN and name")
    _reader_arg(prov)
    _setup_args(prov)

    lock = csub.add_parser(
        "block-admin-pin",
        help="block the admin PIN of a card enrolled before enrolment did so (key and PIN kept)",
    )
    _reader_arg(lock)
    add_pin_args(lock, user_pins=False)

    enrol = csub.add_parser("enrol", help="provision a card (or take a key) and add it to a roll")
    _reader_arg(enrol)
    _setup_args(enrol)
    _roll_args(enrol)
    enrol.add_argument("--card-key", help="enrol this public key (base64url) without a card")
    enrol.add_argument("--category", help="voter category")
    enrol.add_argument("--group", help="voter's group")
    enrol.add_argument("--exclude", action="append", default=[], help="voter's own proposal")
    enrol.add_argument("--staff", choices=["poll_worker", "election_manager"])
    enrol.add_argument(
        "--test",
        action="store_true",
        help="a test card (protocol 2): on the test roll, taken only in test mode, voting as "
        "--category and --group",
    )

    batch = csub.add_parser("enrol-batch", help="enrol every row of a CSV file")
    _reader_arg(batch)
    _roll_args(batch)
    batch.add_argument(
        "csv",
        type=Path,
        help="columns: name, category, group, excluded (space-separated), role, card_key; "
        "no PINs: see --letters and --pin-fd",
    )
    add_pin_args(batch)
    batch.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each card")


def _reader_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reader", default="0", help="reader name, or its number in `readers`")


def _setup_args(p: argparse.ArgumentParser) -> None:
    add_pin_args(p)
    p.add_argument("--name", help="cardholder name, surname first, ASCII")
    p.add_argument("--import-key", help="import this 32-byte key (hex) instead of generating")


def _roll_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--definition", type=Path, required=True, help="election definition JSON")
    p.add_argument("--roll", type=Path, required=True, help="roll file to add to (created)")


def run(args: argparse.Namespace) -> int:
    command = args.cards_command
    if command == "readers":
        for i, name in enumerate(list_readers()):
            print(f"{i}: {name}")
        return 0
    reader = _resolve_reader(args.reader)
    if command == "read":
        with PcscConnection(reader) as conn:
            card = OpenPGPCard(conn)
            card.select()
            data = card.application_data()
            print(f"serial {data.aid.serial}, OpenPGP {data.aid.version[0]}.{data.aid.version[1]}")
            print(f"name {card.cardholder_name() or '(none)'}")
            try:
                key_text = b64e(card.read_public_key(KeyRef.AUT))
            except (ApduError, UnsupportedCardError):
                key_text = "none: provision the card first"
            print(f"authentication key {key_text}")
            print(f"PIN tries left {data.pin_status.pw1_tries}, admin {data.pin_status.pw3_tries}")
            if data.pin_status.pw3_tries == 0:
                print("admin PIN blocked: nobody can set a new user PIN on this card")
        return 0
    if command == "provision":
        done = _provision_from_args(reader, args)
        print(f"card {done.serial} ready; authentication key {b64e(done.public_key)}")
        print("its admin PIN is blocked: nobody can set a new user PIN on it")
        return 0
    if command == "block-admin-pin":
        with PcscConnection(reader) as conn:
            serial = lock_enrolled_card(OpenPGPCard(conn), admin_pin(args))
        print(f"card {serial}: admin PIN blocked; its key and user PIN are unchanged")
        return 0
    if command == "enrol":
        return _enrol_one(args, reader)
    return _enrol_batch(args, reader)


def _resolve_reader(given: str) -> str:
    readers = list_readers()
    if given.isdigit():
        if int(given) >= len(readers):
            raise ReaderError(f"there is no reader number {given} ({len(readers)} connected)")
        return readers[int(given)]
    if given not in readers:
        raise ReaderError(f"no reader named {given!r}")
    return given


def _provision_with_pin(
    reader: str, pins: NewPins, admin: str, holder: str, name: str | None, seed: bytes | None
) -> ProvisionedCard:
    """Provision the card in ``reader`` with a new PIN from ``pins``, and deliver that PIN."""
    check_card_name(name)  # every mistake the operator can fix comes before the PIN is asked
    pin = pins.take(holder)
    setup = CardSetup(user_pin=pin, admin_pin=admin, name=name, seed=seed)
    with PcscConnection(reader) as conn:
        done = provision_card(OpenPGPCard(conn), setup)
    pins.issued(holder, done.serial, pin)
    return done


def _provision_from_args(reader: str, args: argparse.Namespace) -> ProvisionedCard:
    try:
        seed = bytes.fromhex(args.import_key) if args.import_key else None
    except ValueError as e:
        raise HanpyoError("--import-key must be a 32-byte key in hex") from e
    if seed is not None and len(seed) != 32:
        raise HanpyoError(f"--import-key must be a 32-byte key in hex, not {len(seed)} bytes")
    pins, admin = new_pins(args), admin_pin(args)
    holder = args.name or "the cardholder"
    return _provision_with_pin(reader, pins, admin, holder, args.name, seed)


def _load(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        definition = json.loads(args.definition.read_text("utf-8"))
        roll = json.loads(args.roll.read_text("utf-8")) if args.roll.exists() else empty_roll()
    except (OSError, ValueError) as e:
        raise HanpyoError(f"cannot read the definition or roll: {e}") from e
    return definition, roll


def _save(path: Path, roll: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(roll, ensure_ascii=False, indent=1), "utf-8")
    tmp.replace(path)  # never leave a half-written roll behind


def _enrol_one(args: argparse.Namespace, reader: str) -> int:
    definition, roll = _load(args)
    entry = _Entry(args.staff, args.name or "", args.category, args.group, args.exclude)
    entry.test = args.test
    entry.check(roll, definition)  # an operator's typo must never touch the card
    if args.card_key:
        key = b64d(args.card_key, length=32, name="card key")
    else:
        _refuse_if_enrolled(reader, roll)
        key = _provision_from_args(reader, args).public_key
    entry.add(roll, definition, key)
    _save(args.roll, roll)
    print(f"enrolled {b64e(key)} in {args.roll}")
    return 0


class _Entry:
    """One roll entry to be, checked in full before any card is provisioned for it."""

    def __init__(
        self,
        role: str | None,
        name: str,
        category: str | None,
        group: str | None,
        excluded: list[str],
    ) -> None:
        self.role, self.name = role, name
        self.category, self.group, self.excluded = category, group, excluded
        self.test = False  # a test card goes on the roll file's test_roll

    def add(self, roll: dict[str, Any], definition: dict[str, Any], key: bytes) -> None:
        if self.role and self.test:
            raise HanpyoError("a card is a staff card or a test card, not both")
        if self.role:
            add_staff(roll, key, self.role, self.name)
        elif not self.category:
            raise HanpyoError("a voter needs a category (or give a staff role)")
        else:
            add_voter(
                roll, definition, key, self.category, self.group, self.excluded, test=self.test
            )

    def check(self, roll: dict[str, Any], definition: dict[str, Any]) -> None:
        trial = copy.deepcopy(roll)
        self.add(trial, definition, SigningKey.generate().public_key)


def _refuse_if_enrolled(reader: str, roll: dict[str, Any]) -> None:
    """Refuse a card whose current key is already on the roll: re-keying it would orphan
    its enrolment."""
    with PcscConnection(reader) as conn:
        card = OpenPGPCard(conn)
        card.select()
        try:
            current = card.read_public_key(KeyRef.AUT)
        except (ApduError, UnsupportedCardError):
            return  # no usable key yet: a fresh card
    if b64e(current) in _enrolled(roll):
        raise HanpyoError(
            f"this card (key {b64e(current)}) is already enrolled; it was not changed",
            user_message=("이미 등록된 카드입니다.", "This card is already enrolled."),
        )


def _enrolled(roll: dict[str, Any]) -> set[str]:
    return {e["card_key"] for part in ("roll", "test_roll", "staff") for e in roll.get(part, [])}


def _enrol_batch(args: argparse.Namespace, reader: str) -> int:
    from tqdm import tqdm

    definition, roll = _load(args)
    rows = _read_rows(args.csv)
    pins, admin = new_pins(args), admin_pin(args)
    for number, row in enumerate(tqdm(rows, desc="enrolling cards", unit="card"), start=2):
        entry = _Entry(
            (row.get("role") or "").strip() or None,
            (row.get("name") or "").strip(),
            (row.get("category") or "").strip() or None,
            (row.get("group") or "").strip() or None,
            (row.get("excluded") or "").split(),
        )
        try:
            entry.check(roll, definition)
            entry.add(roll, definition, _batch_key(row, reader, args, roll, pins, admin))
        except HanpyoError as e:
            raise HanpyoError(
                f"{args.csv} line {number}: {e}; the rows before it are saved in {args.roll}"
            ) from e
        _save(args.roll, roll)
    print(f"enrolled {len(rows)} cards in {args.roll}")
    return 0


def _read_rows(path: Path) -> list[dict[str, str]]:
    """The CSV rows; a file with PINs in it is refused before any card is touched."""
    try:
        rows = list(csv.DictReader(path.read_text("utf-8").splitlines()))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise HanpyoError(f"cannot read {path}: {e}") from e
    if any((row.get("pin") or "").strip() for row in rows):
        raise HanpyoError(
            f"{path} has PINs in its pin column: PINs are no longer read from a file that "
            "outlives the enrolment. Remove the column and destroy the file's copies; give the "
            "PINs with --letters DIR (generated, one letter per card), --pin-fd N, or at the "
            "prompt",
            user_message=(
                "CSV 파일에 PIN이 있습니다. PIN 열을 지우세요.",
                "The CSV file holds PINs. Remove its pin column.",
            ),
        )
    return rows


def _batch_key(
    row: dict[str, str],
    reader: str,
    args: argparse.Namespace,
    roll: dict[str, Any],
    pins: NewPins,
    admin: str,
) -> bytes:
    if (row.get("card_key") or "").strip():
        return b64d(row["card_key"].strip(), length=32, name="card_key")
    name = (row.get("name") or "").strip()
    tqdm_write(f"insert the card for {name or 'the next person'}")
    wait_for_card(reader, present=True, timeout_s=args.timeout)
    _refuse_if_enrolled(reader, roll)
    on_card = name if name.isascii() and name else None  # Korean names stay in the roster
    done = _provision_with_pin(reader, pins, admin, name or "the next person", on_card, None)
    tqdm_write("done: take the card out")
    wait_for_card(reader, present=False, timeout_s=args.timeout)
    return done.public_key


def tqdm_write(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text)
