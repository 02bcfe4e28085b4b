"""The card simulator: virtual OpenPGP cards in vsmartcard vpcd readers, for tests and the demo.

Several vpcd readers (kiosk.hardware.sim.vpcd), the card files that keep each card between
runs, the control socket that inserts and pulls cards, and the ``kiosk-simulator`` command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from kiosk.core.errors import HanpyoError
from kiosk.core.jsonreader import Reader
from kiosk.hardware.sim.card_state import CardFileError, SimulatorError, WrongPinReply
from kiosk.hardware.sim.virtual_card import VirtualCard
from kiosk.hardware.sim.vpcd import DEFAULT_PORT, VpcdReader

__all__ = ["DEFAULT_PORT", "Simulator", "SimulatorError", "VirtualCard", "VpcdReader"]

log = logging.getLogger(__name__)

CONTROL_ENV = "HANPYO_SIMULATOR_CONTROL"
CARD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    reader: int
    port: int
    card: str | None


class Simulator:
    """Several vpcd readers and a named pile of cards. With ``card_dir``, a card's file is
    updated whenever it leaves a reader, so PIN counters and keys persist like a real card's."""

    def __init__(
        self,
        ports: Iterable[int] = (DEFAULT_PORT,),
        *,
        host: str = "127.0.0.1",
        cards: Mapping[str, VirtualCard] | None = None,
        card_dir: Path | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._card_dir = card_dir
        self._inserted: dict[int, str] = {}
        self.readers = [VpcdReader(host, port) for port in ports]
        self.cards: dict[str, VirtualCard] = {}
        for name, card in (cards or {}).items():
            self.add_card(name, card)

    @classmethod
    def from_directory(
        cls, card_dir: Path, ports: Iterable[int] = (DEFAULT_PORT,), *, host: str = "127.0.0.1"
    ) -> Simulator:
        """A simulator holding every ``NAME.json`` card file in ``card_dir``."""
        if not card_dir.is_dir():
            raise CardFileError(f"{card_dir} is not a directory of card files")
        cards = {path.stem: VirtualCard.load(path) for path in sorted(card_dir.glob("*.json"))}
        return cls(ports, host=host, cards=cards, card_dir=card_dir)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add_card(self, name: str, card: VirtualCard) -> None:
        _check_card_name(name)
        with self._lock:
            self.cards[name] = card

    def insert(self, card_name: str, reader: int = 0) -> VirtualCard:
        with self._lock:
            card, slot = self._card(card_name), self._reader(reader)
            for index, name in self._inserted.items():
                if name == card_name:
                    raise SimulatorError(f"card {card_name} is already in reader {index}")
            slot.insert(card)
            self._inserted[reader] = card_name
            log.info("card %s inserted into reader %d (port %d)", card_name, reader, slot.port)
            return card

    def remove(self, reader: int = 0) -> str | None:
        """Take the card out of ``reader``; its name, or None if the reader was empty."""
        with self._lock:
            card, name = self._reader(reader).remove(), self._inserted.pop(reader, None)
            if card is not None and name is not None:
                log.info("card %s removed from reader %d", name, reader)
                if self._card_dir is not None:
                    card.save(card_path(self._card_dir, name))
            return name

    def status(self) -> list[ReaderStatus]:
        with self._lock:
            return [
                ReaderStatus(i, slot.port, self._inserted.get(i))
                for i, slot in enumerate(self.readers)
            ]

    def close(self) -> None:
        """Take every card out, even if saving one of them fails; then report that failure."""
        failures = []
        for i in range(len(self.readers)):
            try:
                self.remove(i)
            except SimulatorError as e:
                failures.append(e)
        if failures:
            raise failures[0]

    def _card(self, name: str) -> VirtualCard:
        if name not in self.cards:
            known = ", ".join(sorted(self.cards)) or "none"
            raise SimulatorError(f"no card named {name!r} (cards: {known})")
        return self.cards[name]

    def _reader(self, index: int) -> VpcdReader:
        if not 0 <= index < len(self.readers):
            raise SimulatorError(f"no reader {index}; readers are 0 to {len(self.readers) - 1}")
        return self.readers[index]


def _check_card_name(name: str) -> None:
    if not CARD_NAME.match(name):
        raise SimulatorError(f"{name!r} is not a card name (letters, digits, _ . -)")


def card_path(card_dir: Path, name: str) -> Path:
    _check_card_name(name)
    return card_dir / f"{name}.json"


def create_card_file(
    card_dir: Path,
    name: str,
    *,
    seed: bytes | None = None,
    holder: str = "",
    pin: str = "123456",
    admin_pin: str = "12345678",
    wrong_pin_reply: WrongPinReply = WrongPinReply.RETRIES_LEFT,
    kdf: bool = False,
    replace: bool = False,
) -> VirtualCard:
    """Write a new card file ``card_dir/NAME.json`` with an Ed25519 authentication key."""
    path = card_path(card_dir, name)
    if path.exists() and not replace:
        raise CardFileError(f"card file {path} exists already")
    card = VirtualCard.with_auth_key(
        seed if seed is not None else os.urandom(32),
        holder,
        pin,
        admin_pin,
        wrong_pin_reply=wrong_pin_reply,
        kdf=kdf,
    )
    card_dir.mkdir(parents=True, exist_ok=True)
    card.save(path)
    return card


# -- the control socket ----------------------------------------------------------------------
class _ControlHandler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        try:
            reply = {"ok": True, **self.server.execute(json.loads(self.rfile.readline(65536)))}
        except (ValueError, HanpyoError) as e:  # bad JSON is a ValueError
            reply = {"ok": False, "error": str(e)}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class ControlServer(socketserver.ThreadingUnixStreamServer):
    """A unix socket taking one JSON request per connection: insert, remove or list."""

    daemon_threads = True

    def __init__(self, path: Path, simulator: Simulator) -> None:
        self.simulator = simulator
        if path.exists():
            if _answers(path):
                raise SimulatorError(f"a simulator is already listening on {path}")
            path.unlink()  # left behind by a simulator that died
        try:
            super().__init__(str(path), _ControlHandler)
        except OSError as e:
            raise SimulatorError(f"cannot listen on control socket {path}: {e}") from e

    def execute(self, value: Any) -> dict[str, Any]:
        r = Reader(value, "request", SimulatorError)
        command = r.text("command")
        if command == "insert":
            card = self.simulator.insert(r.text("card"), r.integer("reader", optional=True) or 0)
            return {"serial": card.serial}
        if command == "remove":
            return {"card": self.simulator.remove(r.integer("reader", optional=True) or 0)}
        if command == "list":
            return {
                "readers": [[s.reader, s.port, s.card] for s in self.simulator.status()],
                "cards": sorted(self.simulator.cards),
            }
        raise SimulatorError(f"unknown command {command!r}")


def _answers(path: Path) -> bool:
    try:
        request(path, {"command": "list"})
    except SimulatorError:
        return False
    return True


def request(path: Path, message: dict[str, Any]) -> dict[str, Any]:
    """Send one request to a running simulator and return its answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(path))
            sock.sendall(json.dumps(message).encode() + b"\n")
            answer = sock.makefile("rb").readline()
    except (FileNotFoundError, ConnectionRefusedError) as e:
        raise SimulatorError(f"no simulator is listening on {path}; start one with serve") from e
    except OSError as e:
        raise SimulatorError(f"cannot reach the simulator on {path}: {e}") from e
    try:
        reply: dict[str, Any] = json.loads(answer)
    except ValueError as e:
        raise SimulatorError(f"the simulator on {path} gave no answer") from e
    if not reply.get("ok"):
        raise SimulatorError(str(reply.get("error")))
    return reply


# -- the command line ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except HanpyoError as e:
        print(f"simulator: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.hardware.sim.simulator",
        description="Virtual OpenPGP cards in vpcd card readers (vsmartcard), through pcscd.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the readers; insert and remove cards from here")
    serve.add_argument("--cards", type=Path, required=True, help="directory of card files")
    serve.add_argument("--port", type=int, action="append", help="vpcd port (repeatable)")
    serve.add_argument("--host", default="127.0.0.1", help="where vpcd listens")
    _add_control(serve)

    insert = sub.add_parser("insert", help="insert a card into a reader")
    insert.add_argument("name")
    remove = sub.add_parser("remove", help="take the card out of a reader")
    for p in (insert, remove):
        p.add_argument("--reader", type=int, default=0)
    listing = sub.add_parser("list", help="show the readers and the cards")
    for p in (insert, remove, listing):
        _add_control(p)

    create = sub.add_parser("create", help="write a new card file")
    create.add_argument("name")
    create.add_argument("--cards", type=Path, required=True, help="directory of card files")
    create.add_argument("--seed-hex", help="the Ed25519 seed of the authentication key")
    create.add_argument("--name", dest="holder", default="", help="the cardholder's name")
    create.add_argument("--pin", default="123456")
    create.add_argument("--admin-pin", default="12345678")
    create.add_argument(
        "--wrong-pin-status",
        choices=[r.value for r in WrongPinReply],
        default=WrongPinReply.RETRIES_LEFT.value,
        help="the status word this card gives for a wrong PIN",
    )
    create.add_argument("--kdf", action="store_true", help="report a KDF-DO")
    create.add_argument("--force", action="store_true", help="replace an existing card file")
    return parser


def _add_control(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control",
        type=Path,
        default=os.environ.get(CONTROL_ENV),
        help=f"the simulator's control socket (default: ${CONTROL_ENV})",
    )


def _run(args: argparse.Namespace) -> int:
    if args.command == "create":
        return _create(args)
    if args.control is None:
        raise SimulatorError(f"give the control socket with --control or ${CONTROL_ENV}")
    if args.command == "serve":
        return serve(args.cards, args.port or [DEFAULT_PORT], args.control, args.host)
    if args.command == "insert":
        reply = request(
            args.control, {"command": "insert", "card": args.name, "reader": args.reader}
        )
        print(f"card {args.name} (serial {reply['serial']}) is in reader {args.reader}")
    elif args.command == "remove":
        reply = request(args.control, {"command": "remove", "reader": args.reader})
        card = reply["card"]
        print(f"took card {card} out of reader {args.reader}" if card else "the reader was empty")
    else:
        reply = request(args.control, {"command": "list"})
        for reader, port, card in reply["readers"]:
            print(f"reader {reader} (port {port}): {card or '(empty)'}")
        print(f"cards: {', '.join(reply['cards']) or '(none)'}")
    return 0


def _create(args: argparse.Namespace) -> int:
    seed = None
    if args.seed_hex is not None:
        try:
            seed = bytes.fromhex(args.seed_hex)
        except ValueError as e:
            raise SimulatorError("--seed-hex must be 64 hexadecimal digits") from e
    card = create_card_file(
        args.cards,
        args.name,
        seed=seed,
        holder=args.holder,
        pin=args.pin,
        admin_pin=args.admin_pin,
        wrong_pin_reply=WrongPinReply(args.wrong_pin_status),
        kdf=args.kdf,
        replace=args.force,
    )
    public_key = card.auth_public_key or b""
    print(f"card {args.name}: serial {card.serial}, authentication key {public_key.hex()}")
    print(f"written to {card_path(args.cards, args.name)}")
    return 0


def serve(card_dir: Path, ports: list[int], control: Path, host: str = "127.0.0.1") -> int:
    """Run readers on ``ports`` and the control socket until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Simulator.from_directory(card_dir, ports, host=host) as simulator:
        server = ControlServer(control, simulator)
        thread = threading.Thread(target=server.serve_forever, name="control", daemon=True)
        thread.start()
        readers = ", ".join(f"reader {i} on port {p}" for i, p in enumerate(ports))
        print(f"serving {len(simulator.cards)} card(s); {readers}; control {control}", flush=True)
        try:
            stop.wait()
        finally:
            server.shutdown()
            server.server_close()
            control.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
