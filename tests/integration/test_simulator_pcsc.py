"""The card simulator through a real pcscd and real pyscard, as the kiosk and GnuPG see it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
from smartcard import scard
from smartcard.CardConnection import CardConnection
from smartcard.Exceptions import CardConnectionException
from smartcard.System import readers

from kiosk.hardware.sim.private_pcscd import PrivatePcscd
from kiosk.hardware.sim.simulator import Simulator, VirtualCard

ROOT = Path(__file__).resolve().parents[2]
SELECT = bytes.fromhex("00A4040006D2760001240100")
SEED_A, SEED_B = bytes(range(32)), bytes(range(32, 64))


def wait_for_card(reader: str, present: bool, timeout: float = 10.0) -> None:
    """Block on pcscd's own change notification until the card is in (or out of) ``reader``."""
    rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
    try:
        deadline, known = time.monotonic() + timeout, scard.SCARD_STATE_UNAWARE
        while True:
            left_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            rc, states = scard.SCardGetStatusChange(context, left_ms, [(reader, known)])
            assert rc == scard.SCARD_S_SUCCESS, (
                f"card in {reader} never became {'present' if present else 'absent'}: "
                f"{scard.SCardGetErrorMessage(rc)}"
            )
            _, event, _ = states[0]
            if bool(event & scard.SCARD_STATE_PRESENT) == present:
                return
            known = event & ~scard.SCARD_STATE_CHANGED
    finally:
        scard.SCardReleaseContext(context)


@contextlib.contextmanager
def connected(reader_name: str) -> Iterator[CardConnection]:
    """A pyscard connection to the card in ``reader_name``, released before pcscd stops."""
    wait_for_card(reader_name, present=True)
    reader = next(r for r in readers() if str(r) == reader_name)
    connection = reader.createConnection()
    try:
        connection.connect()
        yield connection
    finally:
        for step in (connection.disconnect, connection.release):
            with contextlib.suppress(CardConnectionException):
                step()


def transmit(connection: CardConnection, apdu: bytes) -> tuple[bytes, int]:
    data, sw1, sw2 = connection.transmit(list(apdu))
    return bytes(data), sw1 << 8 | sw2


def test_the_kiosk_reads_and_authenticates_a_card_through_pcscd(pcscd: PrivatePcscd) -> None:
    card = VirtualCard.with_auth_key(SEED_A, "Hong Gildong")
    with Simulator(pcscd.ports, cards={"voter": card}) as simulator:
        simulator.insert("voter")
        with connected(pcscd.reader_names[0]) as connection:
            assert bytes(connection.getATR()) == card.atr
            assert transmit(connection, SELECT) == (b"", 0x9000)
            data, sw = transmit(connection, bytes.fromhex("00CA006E00"))
            assert sw == 0x9000 and data[0] == 0x6E and card.state.aid in data
            assert transmit(connection, bytes.fromhex("0020008206313233343536")) == (b"", 0x9000)
            challenge = os.urandom(32)
            signature, sw = transmit(connection, bytes([0, 0x88, 0, 0, 32]) + challenge + b"\0")
    assert sw == 0x9000
    nacl.signing.VerifyKey(nacl.signing.SigningKey(SEED_A).verify_key.encode()).verify(
        challenge, signature
    )


def test_insert_and_remove_show_as_card_present_and_absent(pcscd: PrivatePcscd) -> None:
    reader = pcscd.reader_names[0]
    with Simulator(pcscd.ports, cards={"voter": VirtualCard()}) as simulator:
        wait_for_card(reader, present=False)
        simulator.insert("voter")
        with connected(reader) as connection:
            assert transmit(connection, SELECT)[1] == 0x9000
            simulator.remove()
            wait_for_card(reader, present=False)
            try:
                transmit(connection, SELECT)
                raise AssertionError("a removed card still answered")
            except CardConnectionException:
                pass
        simulator.insert("voter")
        wait_for_card(reader, present=True)


def test_two_readers_hold_two_cards_at_once(pcscd: PrivatePcscd) -> None:
    cards = {
        "a": VirtualCard.with_auth_key(SEED_A, "A"),
        "b": VirtualCard.with_auth_key(SEED_B, "B"),
    }
    with Simulator(pcscd.ports, cards=cards) as simulator:
        simulator.insert("a", reader=0)
        simulator.insert("b", reader=1)
        for name, reader in zip("ab", pcscd.reader_names, strict=True):
            with connected(reader) as connection:
                assert transmit(connection, SELECT)[1] == 0x9000
                assert transmit(connection, bytes.fromhex("00CA004F00")) == (
                    cards[name].state.aid,
                    0x9000,
                )


def test_a_card_left_in_its_reader_is_seen_again_after_pcscd_restarts(
    pcscd: PrivatePcscd,
) -> None:
    card = VirtualCard.with_auth_key(SEED_A, "Hong Gildong")
    with Simulator(pcscd.ports, cards={"voter": card}) as simulator:
        simulator.insert("voter")
        with connected(pcscd.reader_names[0]) as connection:
            assert transmit(connection, SELECT)[1] == 0x9000
        pcscd.restart()
        with connected(pcscd.reader_names[0]) as connection:
            assert transmit(connection, SELECT)[1] == 0x9000
            assert transmit(connection, bytes.fromhex("00CA004F00"))[0] == card.state.aid


def test_gpg_card_status_shows_the_simulated_card(pcscd: PrivatePcscd, tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    (home / "scdaemon.conf").write_text("disable-ccid\npcsc-shared\n")
    # gpg starts gpg-agent, which starts scdaemon: each inherits this environment, so
    # scdaemon's libpcsclite finds the private pcscd.
    env = {**pcscd.env, "GNUPGHOME": str(home)}
    card = VirtualCard.with_auth_key(SEED_A, "Hong Gildong")
    with Simulator(pcscd.ports, cards={"voter": card}) as simulator:
        simulator.insert("voter")
        wait_for_card(pcscd.reader_names[0], present=True)
        try:
            status = subprocess.run(
                ["gpg", "--batch", "--card-status"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            stop_gnupg(env)
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert f"Reader ...........: {pcscd.reader_names[0]}" in out
    assert f"Serial number ....: {card.serial}" in out
    assert "Name of cardholder: Hong Gildong" in out
    attributes = re.search(r"Key attributes \.+: (\S+) (\S+) (\S+)", out)
    assert attributes is not None and attributes.group(3) == "ed25519", out


def stop_gnupg(env: dict[str, str]) -> None:
    """Stop the gpg-agent and scdaemon this test started, by process id if they linger."""
    pids = [_gnupg_pid(env, "getinfo pid"), _gnupg_pid(env, "scd getinfo pid")]
    subprocess.run(["gpgconf", "--kill", "all"], env=env, timeout=30, check=False)
    for pid in filter(None, pids):
        _wait_gone(pid)


def _gnupg_pid(env: dict[str, str], command: str) -> int | None:
    answer = subprocess.run(
        ["gpg-connect-agent", "--no-autostart", command, "/bye"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    found = re.search(r"^D (\d+)$", answer.stdout, re.MULTILINE)
    return int(found.group(1)) if found else None


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:  # a zombie is gone for our purposes: it holds no sockets and runs no code
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


SIMULATOR = [sys.executable, "-m", "kiosk.hardware.sim.simulator"]


def simulator_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIMULATOR, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_command_line_serves_cards_that_pcscd_sees(pcscd: PrivatePcscd, tmp_path: Path) -> None:
    cards, control = tmp_path / "cards", tmp_path / "simulator.sock"
    created = simulator_cli(
        "create", "kim", "--cards", str(cards), "--name", "Kim Minji", "--seed-hex", SEED_B.hex()
    )
    assert created.returncode == 0, created.stderr
    ports = [arg for port in pcscd.ports for arg in ("--port", str(port))]
    serve = subprocess.Popen(
        [*SIMULATOR, "serve", "--cards", str(cards), *ports, "--control", str(control)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        assert "serving 1 card(s)" in serve.stdout.readline()  # once the control socket listens
        inserted = simulator_cli("insert", "kim", "--reader", "1", "--control", str(control))
        assert inserted.returncode == 0, inserted.stderr
        with connected(pcscd.reader_names[1]) as connection:
            assert transmit(connection, SELECT)[1] == 0x9000
            assert b"Kim Minji" in transmit(connection, bytes.fromhex("00CA006500"))[0]
        listing = simulator_cli("list", "--control", str(control))
        assert f"reader 1 (port {pcscd.ports[1]}): kim" in listing.stdout
        assert simulator_cli("remove", "--reader", "1", "--control", str(control)).returncode == 0
        wait_for_card(pcscd.reader_names[1], present=False)
        unknown = simulator_cli("insert", "nobody", "--control", str(control))
        assert unknown.returncode == 2
        assert "no card named 'nobody'" in unknown.stderr and "Traceback" not in unknown.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        _, errors = serve.communicate()
    assert serve.returncode == 0, errors
    assert not control.exists()
