"""A software OpenPGP card (specification 3.4) as an APDU engine, for the card simulator.

It answers every command with the data and status words a real card gives, so the kiosk
and GnuPG can be tested on it.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import nacl.bindings
import nacl.signing

from kiosk.core.encoding import parse_json
from kiosk.core.errors import EncodingError
from kiosk.hardware.sim.apdu import Command, key_ref, parse_command, parse_key_import
from kiosk.hardware.sim.card_state import (
    ATR,
    CERTIFICATE,
    CERTIFICATE_OCCURRENCES,
    MAX_DATA,
    MAX_PIN,
    MAX_TRIES,
    MIN_PIN,
    ORIGIN_GENERATED,
    ORIGIN_IMPORTED,
    STORED_DOS,
    Access,
    CardFileError,
    CardRefusal,
    CardState,
    KeyRef,
    Secret,
    Sw,
    WrongPinReply,
    only,
    personalised_state,
    tlv,
)
from kiosk.hardware.sim.data_objects import (
    read_data_objects,
    selected_occurrence,
    set_attributes,
    set_ca_fingerprint,
    set_created,
    set_fingerprint,
)

log = logging.getLogger(__name__)


Handler = Callable[[Command], bytes]


class VirtualCard:
    """One OpenPGP card: ``state`` survives power loss; verifications and buffers do not."""

    def __init__(self, state: CardState | None = None) -> None:
        self.state = state if state is not None else CardState(serial=os.urandom(4))
        self._lock = threading.RLock()
        self._selected = False
        self._verified: set[Access] = set()
        self._pending = b""  # the rest of a long answer, fetched with GET RESPONSE
        self._chain: tuple[tuple[int, int, int], bytes] | None = None  # (INS, P1, P2), data
        self._occurrence = 0  # which cardholder certificate (DO 7F21) SELECT DATA chose
        self._handlers: dict[int, Handler] = {
            0xA4: self._select,
            0xCA: self._get_data,
            0xA5: self._select_data,
            0xCC: self._get_next_data,
            0x20: self._verify,
            0x24: self._change_reference_data,
            0x2C: self._reset_retry_counter,
            0xDA: self._put_data,
            0xDB: self._import_key,
            0x47: self._generate_key,
            0x88: self._internal_authenticate,
            0x2A: self._perform_security_operation,
            0x84: self._get_challenge,
            0xE6: self._terminate,
            0x44: self._activate,
        }

    def __repr__(self) -> str:
        return f"VirtualCard(serial={self.serial})"

    @classmethod
    def with_auth_key(
        cls,
        seed: bytes,
        name: str,
        pin: str = "123456",
        admin_pin: str = "12345678",
        *,
        serial: bytes | None = None,
        wrong_pin_reply: WrongPinReply = WrongPinReply.RETRIES_LEFT,
        kdf: bool = False,
    ) -> VirtualCard:
        """A personalised card whose authentication key is the Ed25519 key of ``seed``.

        Without ``serial`` it is derived from the public key, so a seed always makes the
        same card. ``kdf`` makes the card report a KDF-DO (which it does not apply).
        """
        return cls(personalised_state(seed, name, pin, admin_pin, serial, wrong_pin_reply, kdf))

    @classmethod
    def load(cls, path: Path) -> VirtualCard:
        try:
            value = parse_json(path.read_bytes())
        except (OSError, EncodingError) as e:
            raise CardFileError(f"cannot read card file {path}: {e}") from e
        return cls(CardState.from_json(value, path.name))

    def save(self, path: Path) -> None:
        """Write the card file atomically: a crash never leaves half a card behind."""
        with self._lock:
            text = json.dumps(self.state.to_json(), indent=2, sort_keys=True)
        partial = path.with_name(path.name + ".partial")
        try:
            partial.write_text(text + "\n", encoding="utf-8")
            partial.replace(path)
        except OSError as e:
            raise CardFileError(f"cannot write card file {path}: {e}") from e

    @property
    def serial(self) -> str:
        """The serial number as GnuPG prints it: 8 upper-case hex digits."""
        return self.state.serial.hex().upper()

    @property
    def atr(self) -> bytes:
        return ATR

    @property
    def auth_public_key(self) -> bytes | None:
        slot = self.state.keys[KeyRef.AUT]
        return slot.public_key() if slot.private is not None else None

    # -- power -------------------------------------------------------------------------------
    def power_on(self) -> None:
        self._lose_session()

    def power_off(self) -> None:
        self._lose_session()

    def reset(self) -> None:
        self._lose_session()

    def _lose_session(self) -> None:
        with self._lock:
            self._selected = False
            self._forget()

    def _forget(self) -> None:
        self._verified.clear()
        self._pending, self._chain, self._occurrence = b"", None, 0

    # -- dispatch ----------------------------------------------------------------------------
    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data and SW1 SW2. Never raises."""
        with self._lock:
            pending, self._pending = self._pending, b""
            try:
                command = parse_command(apdu)
                if command.ins == 0xC0 and command.cla == 0:
                    return self._get_response(command, pending)
                return self._answer(self._run(command), command.ne)
            except CardRefusal as refusal:
                return refusal.sw.to_bytes(2)
            except Exception:  # a card answers every command; a bug must not kill the reader
                log.exception("virtual card %s failed on %s", self.serial, apdu.hex())
                return Sw.NO_PRECISE_DIAGNOSIS.to_bytes(2)

    def _run(self, command: Command) -> bytes:
        if command.cla & ~0x10:
            raise CardRefusal(Sw.CLA_NOT_SUPPORTED)
        handler = self._handlers.get(command.ins)
        if handler is None or not (self._selected or command.ins == 0xA4):
            raise CardRefusal(Sw.INS_NOT_SUPPORTED)
        if self.state.terminated and command.ins not in (0xA4, 0x44):
            raise CardRefusal(Sw.CONDITIONS_NOT_SATISFIED)
        data = self._gather(command)
        if data is None:
            return b""
        return handler(dataclasses.replace(command, data=data))

    def _gather(self, command: Command) -> bytes | None:
        """Command chaining: hold the data of CLA 10 commands until the last one (CLA 00)."""
        key = (command.ins, command.p1, command.p2)
        if self._chain is not None and self._chain[0] != key:
            self._chain = None
            raise CardRefusal(Sw.LAST_COMMAND_OF_CHAIN_EXPECTED)
        data = (self._chain[1] if self._chain else b"") + command.data
        self._chain = None
        if len(data) > MAX_DATA:
            raise CardRefusal(Sw.WRONG_LENGTH)
        if command.cla & 0x10:
            self._chain = (key, data)
            return None
        return data

    def _answer(self, data: bytes, ne: int | None) -> bytes:
        """All of ``data`` if the host takes it, else the first part and 61xx for the rest."""
        limit = 256 if ne is None else ne  # like most T=1 cards, answer even without Le
        if len(data) <= limit:
            return data + Sw.OK.to_bytes(2)
        self._pending = data[limit:]
        return data[:limit] + bytes([0x61, min(len(self._pending), 256) & 0xFF])

    def _get_response(self, command: Command, pending: bytes) -> bytes:
        if command.p1p2 != 0:
            raise CardRefusal(Sw.WRONG_P1_P2)
        if not pending:
            raise CardRefusal(Sw.CONDITIONS_NOT_SATISFIED)
        return self._answer(pending, command.ne)

    def _require(self, access: Access) -> None:
        if access not in self._verified:
            raise CardRefusal(Sw.SECURITY_STATUS_NOT_SATISFIED)

    # -- selecting and reading ---------------------------------------------------------------
    def _select(self, command: Command) -> bytes:
        if command.p1 != 0x04:  # by file id or path: this card has no such files
            raise CardRefusal(
                Sw.FILE_NOT_FOUND if command.p1 in (0, 1, 2, 3, 8, 9) else Sw.WRONG_P1_P2
            )
        if command.p2 not in (0x00, 0x04, 0x0C):
            raise CardRefusal(Sw.WRONG_P1_P2)
        if len(command.data) < 5 or not self.state.aid.startswith(command.data):
            raise CardRefusal(Sw.FILE_NOT_FOUND)
        self._selected = True
        self._forget()
        if self.state.terminated:
            raise CardRefusal(Sw.TERMINATED)
        return b""

    def _get_data(self, command: Command) -> bytes:
        value = read_data_objects(self.state, self._occurrence).get(command.p1p2)
        if value is None:
            raise CardRefusal(Sw.REFERENCED_DATA_NOT_FOUND)
        return value

    def _select_data(self, command: Command) -> bytes:
        """SELECT DATA (spec 3.4, section 7.2.5): GET DATA and PUT DATA of 7F21 then use the
        certificate of occurrence P1 until the next SELECT DATA, SELECT or reset."""
        self._occurrence = selected_occurrence(command.p1, command.p2, command.data)
        return b""

    def _get_next_data(self, command: Command) -> bytes:
        """GET NEXT DATA (spec 3.4, section 7.2.6): the occurrence after the current one."""
        if command.data:
            raise CardRefusal(Sw.WRONG_LENGTH)
        if command.p1p2 != CERTIFICATE or self._occurrence + 1 >= CERTIFICATE_OCCURRENCES:
            raise CardRefusal(Sw.REFERENCED_DATA_NOT_FOUND)
        self._occurrence += 1
        return self.state.certificates[self._occurrence]

    def data_objects(self) -> dict[int, bytes]:
        """Every DO GET DATA can read, by tag (kiosk.hardware.sim.data_objects)."""
        return read_data_objects(self.state)

    # -- PINs --------------------------------------------------------------------------------
    def _verify(self, command: Command) -> bytes:
        if command.p1 not in (0x00, 0xFF) or command.p2 not in set(Access):
            raise CardRefusal(Sw.WRONG_P1_P2)
        access = Access(command.p2)
        secret = Secret.PW3 if access is Access.PW3 else Secret.PW1
        if command.p1 == 0xFF:  # spec 3.4: reset this verification
            if command.data:
                raise CardRefusal(Sw.WRONG_LENGTH)
            self._verified.discard(access)
        elif not command.data:  # a question: verified already, or how many tries are left
            if access not in self._verified:
                tries = self.state.tries[secret]
                raise CardRefusal(0x63C0 | tries if tries else Sw.AUTHENTICATION_BLOCKED)
        else:
            self._check_pin(secret, command.data)
            self._verified.add(access)
        return b""

    def _check_pin(self, secret: Secret, candidate: bytes) -> None:
        """Count a wrong PIN down and answer as this card's kind does; 6983 once blocked."""
        tries = self.state.tries[secret]
        if tries == 0:
            raise CardRefusal(Sw.AUTHENTICATION_BLOCKED)
        if not hmac.compare_digest(candidate, self.state.pins[secret]):
            self.state.tries[secret] = tries - 1
            granted = {Secret.PW1: {Access.PW1, Access.PW1_SIGN}, Secret.PW3: {Access.PW3}}
            self._verified -= granted.get(secret, set())
            match self.state.wrong_pin_reply:
                case WrongPinReply.RETRIES_LEFT:
                    raise CardRefusal(0x63C0 | (tries - 1))
                case WrongPinReply.SECURITY_STATUS:
                    raise CardRefusal(Sw.SECURITY_STATUS_NOT_SATISFIED)
                case WrongPinReply.BLOCKED:
                    raise CardRefusal(Sw.AUTHENTICATION_BLOCKED)
        self.state.tries[secret] = MAX_TRIES

    def _set_pin(self, secret: Secret, value: bytes) -> None:
        if not MIN_PIN[secret] <= len(value) <= MAX_PIN:
            raise CardRefusal(Sw.INCORRECT_DATA)
        self.state.pins[secret], self.state.tries[secret] = value, MAX_TRIES

    def _change_reference_data(self, command: Command) -> bytes:
        if command.p1 != 0 or command.p2 not in (Access.PW1_SIGN, Access.PW3):
            raise CardRefusal(Sw.WRONG_P1_P2)
        secret = Secret.PW3 if command.p2 == Access.PW3 else Secret.PW1
        old_length = len(self.state.pins[secret])  # the data is the old PIN then the new one
        self._check_pin(secret, command.data[:old_length])
        self._set_pin(secret, command.data[old_length:])
        return b""

    def _reset_retry_counter(self, command: Command) -> bytes:
        if command.p1 not in (0x00, 0x02) or command.p2 != Access.PW1_SIGN:
            raise CardRefusal(Sw.WRONG_P1_P2)
        new_pin = command.data
        if command.p1 == 0x02:
            self._require(Access.PW3)
        else:  # the resetting code, then the new PIN
            code_length = len(self.state.pins[Secret.RC])
            self._check_pin(Secret.RC, command.data[:code_length])
            new_pin = command.data[code_length:]
        self._set_pin(Secret.PW1, new_pin)
        return b""

    # -- writing -----------------------------------------------------------------------------
    def _put_data(self, command: Command) -> bytes:
        write = self._writer(command.p1p2)
        if write is None:
            raise CardRefusal(Sw.REFERENCED_DATA_NOT_FOUND)
        self._require(Access.PW3)
        write(command.data)
        return b""

    def _writer(self, tag: int) -> Callable[[bytes], None] | None:
        """How PUT DATA writes the DO ``tag``; None for a DO it may not write."""
        if tag == CERTIFICATE:
            return self._store_certificate
        if tag in STORED_DOS:
            return functools.partial(self._store, tag)
        if tag == 0xC4:
            return self._set_pw1_validity
        if tag == 0xD3:
            return self._set_resetting_code
        # Per key, in SIG, DEC, AUT order: attributes C1-C3, fingerprints C7-C9,
        # CA fingerprints CA-CC, generation times CE-D0.
        for base, what in (
            (0xC0, set_attributes),
            (0xC6, set_fingerprint),
            (0xC9, set_ca_fingerprint),
            (0xCD, set_created),
        ):
            if 1 <= tag - base <= 3:
                return functools.partial(what, self.state, list(KeyRef)[tag - base - 1])
        return None

    def _set_pw1_validity(self, value: bytes) -> None:
        if not value or value[0] not in (0, 1):
            raise CardRefusal(Sw.INCORRECT_DATA)
        self.state.pw1_for_several_signatures = value[0] == 1

    def _store(self, tag: int, value: bytes) -> None:
        if len(value) > STORED_DOS[tag]:
            raise CardRefusal(Sw.WRONG_LENGTH)
        if value:
            self.state.dos[tag] = value
        else:
            self.state.dos.pop(tag, None)

    def _store_certificate(self, value: bytes) -> None:
        if len(value) > STORED_DOS[CERTIFICATE]:
            raise CardRefusal(Sw.WRONG_LENGTH)
        self.state.certificates[self._occurrence] = value  # the one SELECT DATA chose

    def _set_resetting_code(self, value: bytes) -> None:
        if value:
            self._set_pin(Secret.RC, value)
        else:
            self.state.pins[Secret.RC], self.state.tries[Secret.RC] = b"", 0

    def _import_key(self, command: Command) -> bytes:
        if command.p1p2 != 0x3FFF:
            raise CardRefusal(Sw.WRONG_P1_P2)
        self._require(Access.PW3)
        ref, private = parse_key_import(command.data)
        self._install(ref, private, ORIGIN_IMPORTED)
        return b""

    def _generate_key(self, command: Command) -> bytes:
        if command.p1 not in (0x80, 0x81) or command.p2 != 0:
            raise CardRefusal(Sw.WRONG_P1_P2)
        if len(command.data) < 2 or command.data[1] != len(command.data) - 2:
            raise CardRefusal(Sw.WRONG_LENGTH if not command.data else Sw.INCORRECT_DATA)
        ref = key_ref(command.data[0])
        if command.p1 == 0x80:
            self._require(Access.PW3)
            self._install(ref, os.urandom(32), ORIGIN_GENERATED)
        return tlv(0x7F49, tlv(0x86, self.state.keys[ref].public_key()))

    def _install(self, ref: KeyRef, private: bytes, origin: int) -> None:
        self.state.keys[ref].install(private, origin)
        if ref is KeyRef.SIG:  # a new signature key starts a new count
            self.state.signature_counter = 0

    # -- using keys --------------------------------------------------------------------------
    def _private_key(self, ref: KeyRef) -> bytes:
        private = self.state.keys[ref].private
        if private is None:
            raise CardRefusal(Sw.REFERENCED_DATA_NOT_FOUND)
        return private

    def _internal_authenticate(self, command: Command) -> bytes:
        if command.p1p2 != 0:
            raise CardRefusal(Sw.WRONG_P1_P2)
        self._require(Access.PW1)
        return _ed25519_sign(self._private_key(KeyRef.AUT), command.data)

    def _perform_security_operation(self, command: Command) -> bytes:
        if command.p1p2 == 0x9E9A:
            return self._compute_digital_signature(command.data)
        if command.p1p2 == 0x8086:
            return self._decipher(command.data)
        raise CardRefusal(Sw.WRONG_P1_P2)

    def _compute_digital_signature(self, data: bytes) -> bytes:
        self._require(Access.PW1_SIGN)
        signature = _ed25519_sign(self._private_key(KeyRef.SIG), data)
        self.state.signature_counter = min(self.state.signature_counter + 1, 0xFFFFFF)
        if not self.state.pw1_for_several_signatures:  # C4 byte 1 = 00: one PIN, one signature
            self._verified.discard(Access.PW1_SIGN)
        return signature

    def _decipher(self, data: bytes) -> bytes:
        """ECDH on Curve25519: the cipher DO is A6 { 7F49 { 86 <ephemeral public key> } }."""
        self._require(Access.PW1)
        private = self._private_key(KeyRef.DEC)
        point = only(only(only(data, 0xA6), 0x7F49), 0x86)
        if len(point) == 33 and point[0] == 0x40:
            point = point[1:]  # GnuPG's native-point prefix
        if len(point) != 32:
            raise CardRefusal(Sw.INCORRECT_DATA)
        return bytes(nacl.bindings.crypto_scalarmult(private, point))

    # -- the rest ----------------------------------------------------------------------------
    def _get_challenge(self, command: Command) -> bytes:
        if command.p1p2 != 0:
            raise CardRefusal(Sw.WRONG_P1_P2)
        if command.data or command.ne is None or command.ne > MAX_DATA:
            raise CardRefusal(Sw.WRONG_LENGTH)
        return os.urandom(command.ne)

    def _terminate(self, command: Command) -> bytes:
        """TERMINATE DF: the first half of a factory reset; allowed once PW3 is known or blocked."""
        if command.p1p2 != 0:
            raise CardRefusal(Sw.WRONG_P1_P2)
        if self.state.tries[Secret.PW3] and Access.PW3 not in self._verified:
            raise CardRefusal(Sw.SECURITY_STATUS_NOT_SATISFIED)
        self.state.terminated = True
        self._forget()
        return b""

    def _activate(self, command: Command) -> bytes:
        """ACTIVATE FILE: after TERMINATE, back to factory state; otherwise nothing to do."""
        if command.p1p2 != 0:
            raise CardRefusal(Sw.WRONG_P1_P2)
        if self.state.terminated:
            old = self.state
            self.state = CardState(
                old.serial, old.manufacturer, wrong_pin_reply=old.wrong_pin_reply
            )
            self._forget()
        return b""


def _ed25519_sign(seed: bytes, message: bytes) -> bytes:
    if not message:
        raise CardRefusal(Sw.WRONG_LENGTH)
    return bytes(nacl.signing.SigningKey(seed).sign(message).signature)
