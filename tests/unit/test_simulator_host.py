"""The card simulator's host side: card files, the vpcd protocol against a stand-in for vpcd,
and its command line."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import nacl.bindings
import nacl.public
import nacl.signing
import pytest

from kiosk.hardware.sim.card_state import (
    CardFileError,
)
from kiosk.hardware.sim.simulator import (
    Simulator,
    SimulatorError,
    VirtualCard,
    card_path,
    main,
)
from kiosk.hardware.sim.vpcd import VpcdReader, frame, read_frame
from testkit.apdus import (
    SEED,
    SELECT,
    VERIFY_PW1,
    VERIFY_PW3,
    apdu,
    ok,
    read_public_key,
    send,
    sw,
    tries,
)


# -- card files ------------------------------------------------------------------------------
def test_a_card_file_keeps_keys_pins_counters_and_name(card: VirtualCard, tmp_path: Path) -> None:
    send(card, "0020008206" + b"000000".hex())
    ok(card, VERIFY_PW3)
    ok(card, apdu(0, 0xDA, 0x00, 0xD3, b"resetme!"))
    card.save(tmp_path / "voter.json")
    loaded = VirtualCard.load(tmp_path / "voter.json")
    assert loaded.state == card.state
    loaded.power_on()
    ok(loaded, SELECT)
    assert tries(loaded) == (2, 3, 3)
    assert sw(loaded, "00200083") == 0x63C3  # verification is not saved
    ok(loaded, VERIFY_PW1)
    signature = ok(loaded, apdu(0, 0x88, 0, 0, b"c", 256))
    nacl.signing.VerifyKey(read_public_key(card, "A4")).verify(b"c", signature)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("serial"), "serial: is missing"),
        (lambda d: d.update(extra=1), "unknown field(s): extra"),
        (lambda d: d["tries"].update(pw1=9), "tries.pw1: must be between 0 and 3"),
        (lambda d: d["keys"]["aut"].update(attributes="AQgA"), "not a supported algorithm"),
        (lambda d: d["data_objects"].update({"00C4": ""}), "not a data object"),
        (lambda d: d.update(format="other"), "format"),
    ],
)
def test_a_damaged_card_file_is_refused_with_the_field_at_fault(
    tmp_path: Path, change: object, complaint: str
) -> None:
    path = tmp_path / "card.json"
    value = VirtualCard.with_auth_key(SEED, "X").state.to_json()
    change(value)  # type: ignore[operator]
    path.write_text(json.dumps(value))
    with pytest.raises(CardFileError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        VirtualCard.load(path)


def test_a_missing_or_broken_card_file_is_a_card_file_error(tmp_path: Path) -> None:
    with pytest.raises(CardFileError, match="cannot read"):
        VirtualCard.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CardFileError, match="cannot read"):
        VirtualCard.load(tmp_path / "bad.json")


def test_a_seed_always_makes_the_same_card() -> None:
    one, two = VirtualCard.with_auth_key(SEED, "A"), VirtualCard.with_auth_key(SEED, "B")
    assert one.serial == two.serial and one.auth_public_key == two.auth_public_key
    with pytest.raises(SimulatorError, match="32 bytes"):
        VirtualCard.with_auth_key(SEED[:16], "A")
    with pytest.raises(SimulatorError, match="pw1"):
        VirtualCard.with_auth_key(SEED, "A", pin="123")
    with pytest.raises(SimulatorError, match="39 bytes"):
        VirtualCard.with_auth_key(SEED, "A" * 40)
    assert SEED.hex() not in repr(one.state) + repr(one.state.keys) + repr(one)


# -- the vpcd protocol, against a stand-in for vpcd ------------------------------------------
class FakeVpcd:
    """What vpcd does on its side of the socket: listen, power the card, send APDUs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.listener.settimeout(10)

    def accept(self) -> socket.socket:
        connection, _ = self.listener.accept()
        connection.settimeout(10)
        return connection

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def exchange(connection: socket.socket, message: bytes) -> bytes | None:
    connection.sendall(frame(message))
    return read_frame(connection)


def test_a_reader_speaks_the_vpcd_protocol(vpcd: FakeVpcd) -> None:
    card = VirtualCard.with_auth_key(SEED, "Hong Gildong")
    reader = VpcdReader("127.0.0.1", vpcd.port)
    reader.insert(card)
    with vpcd.accept() as connection:
        assert exchange(connection, b"\x04") == card.atr
        connection.sendall(frame(b"\x01"))  # power on: no answer
        assert exchange(connection, bytes.fromhex(SELECT)) == b"\x90\x00"
        assert exchange(connection, bytes.fromhex(VERIFY_PW1)) == b"\x90\x00"
        connection.sendall(frame(b"\x02"))  # reset forgets the PIN
        assert exchange(connection, bytes.fromhex(SELECT)) == b"\x90\x00"
        assert exchange(connection, bytes.fromhex("00200082")) == b"\x63\xc3"
        assert reader.card is card
        assert reader.remove() is card
        assert read_frame(connection) is None  # the card is gone
    assert reader.card is None and reader.remove() is None


def test_a_card_reconnects_when_vpcd_comes_back(vpcd: FakeVpcd) -> None:
    reader = VpcdReader("127.0.0.1", vpcd.port)
    reader.insert(VirtualCard())
    try:
        with vpcd.accept() as first:
            assert exchange(first, b"\x04") == VirtualCard().atr
        with vpcd.accept() as second:  # pcscd restarted: the card shows up again
            assert exchange(second, b"\x04") == VirtualCard().atr
    finally:
        reader.remove()


def test_removal_in_the_middle_of_a_command_is_harmless(vpcd: FakeVpcd) -> None:
    started, release = threading.Event(), threading.Event()

    class SlowCard(VirtualCard):
        def process(self, apdu: bytes) -> bytes:
            started.set()
            release.wait(10)
            return super().process(apdu)

    reader = VpcdReader("127.0.0.1", vpcd.port)
    reader.insert(SlowCard())
    with vpcd.accept() as connection:
        connection.sendall(frame(bytes.fromhex(SELECT)))
        assert started.wait(10)
        remover = threading.Thread(target=reader.remove)
        remover.start()
        release.set()
        remover.join(10)
        assert not remover.is_alive()
        assert read_frame(connection) in (None, b"\x90\x00")


def test_a_reader_holds_one_card_and_a_card_sits_in_one_reader(tmp_path: Path) -> None:
    with Simulator([1, 2], cards={"a": VirtualCard(), "b": VirtualCard()}) as simulator:
        simulator.insert("a", 0)
        with pytest.raises(SimulatorError, match="already in reader 0"):
            simulator.insert("a", 1)
        with pytest.raises(SimulatorError, match="already holds"):
            simulator.insert("b", 0)
        with pytest.raises(SimulatorError, match="no card named 'c'"):
            simulator.insert("c", 1)
        with pytest.raises(SimulatorError, match="no reader 2"):
            simulator.insert("b", 2)
        assert [s.card for s in simulator.status()] == ["a", None]
        assert simulator.remove(0) == "a" and simulator.remove(0) is None
    with pytest.raises(SimulatorError, match="not a card name"):
        card_path(tmp_path, "../etc")


def test_a_simulator_saves_a_card_when_it_leaves_the_reader(tmp_path: Path) -> None:
    VirtualCard.with_auth_key(SEED, "A").save(tmp_path / "a.json")
    with Simulator.from_directory(tmp_path, [1]) as simulator:
        card = simulator.insert("a")
        card.power_on()
        ok(card, SELECT)
        send(card, "0020008206" + b"000000".hex())
    assert tries(_selected(VirtualCard.load(tmp_path / "a.json")))[0] == 2


def _selected(card: VirtualCard) -> VirtualCard:
    ok(card, SELECT)
    return card


# -- the command line ------------------------------------------------------------------------
def test_create_writes_a_card_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["create", "hong", "--cards", str(tmp_path), "--seed-hex", SEED.hex()]
    assert main([*args, "--name", "Hong Gildong", "--pin", "246810"]) == 0
    card = VirtualCard.load(tmp_path / "hong.json")
    assert card.auth_public_key == bytes(nacl.signing.SigningKey(SEED).verify_key)
    assert card.serial in capsys.readouterr().out
    assert main(args) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["create", "x", "--cards", str(tmp_path), "--seed-hex", "zz"]) == 2
    assert "64 hexadecimal digits" in capsys.readouterr().err
    assert main(["create", "y", "--cards", str(tmp_path), "--pin", "12"]) == 2
    assert "pw1 must be 6 to 127 bytes" in capsys.readouterr().err


def test_commands_without_a_running_simulator_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--control", str(tmp_path / "none.sock")]) == 2
    assert "no simulator is listening" in capsys.readouterr().err
