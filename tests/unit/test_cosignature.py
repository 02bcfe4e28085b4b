"""Witness cosignatures as C2SP tlog-cosignature words them (Ed25519, cosignature/v1), and the
k-of-n policy a checkpoint must meet."""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest

from kiosk.core.checkpoint import NoteVerifier, sign_checkpoint
from kiosk.core.cosignature import (
    CosignerKey,
    cosign,
    cosignatures,
    cosigned_message,
    verify_cosigned,
)
from kiosk.core.crypto import SigningKey
from kiosk.core.errors import EncodingError, VerificationError

LOG = SigningKey(bytes(32))
ORIGIN = "example.com/behind-the-sofa"
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
NOTE = sign_checkpoint(ORIGIN, 20852163, ROOT, ORIGIN, LOG)
TEXT = NOTE[: NOTE.index("\n\n") + 1]
W = [SigningKey(bytes([i]) * 32) for i in (1, 2, 3)]
KEYS = [CosignerKey(f"witness.example.com/w{i}", k.public_key) for i, k in enumerate(W, 1)]
LOG_VKEY = NoteVerifier(ORIGIN, LOG.public_key).vkey


def cosigned_by(*which: int, timestamp: int = 1679315147) -> str:
    lines = [cosign(TEXT, KEYS[i].name, W[i], timestamp) for i in which]
    return NOTE + "".join(lines)


def flip_last_byte(line: str) -> str:
    name, blob = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    return f"{name} {base64.b64encode(bytes(raw)).decode()}\n"


def test_the_signed_message_and_line_are_the_specs() -> None:
    assert cosigned_message(TEXT, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    line = cosign(TEXT, KEYS[0].name, W[0], 1679315147)
    name, blob = line[2:-1].split(" ")
    raw = base64.b64decode(blob)
    key_id = hashlib.sha256(KEYS[0].name.encode() + b"\n\x04" + KEYS[0].public_key).digest()[:4]
    assert line.startswith("\u2014 ") and name == KEYS[0].name
    assert raw[:4] == key_id and int.from_bytes(raw[4:12], "big") == 1679315147
    nacl.signing.VerifyKey(KEYS[0].public_key).verify(cosigned_message(TEXT, 1679315147), raw[12:])
    # type 0x04, so never the same key id as the same key used as a note key (type 0x01)
    assert KEYS[0].key_id != NoteVerifier(KEYS[0].name, KEYS[0].public_key).key_id
    assert CosignerKey.parse(KEYS[0].vkey) == KEYS[0]
    with pytest.raises(EncodingError, match="type 0x04"):
        CosignerKey.parse(NoteVerifier(KEYS[0].name, KEYS[0].public_key).vkey)


def test_k_of_n() -> None:
    vkeys = [k.vkey for k in KEYS]
    assert verify_cosigned(cosigned_by(0, 2), LOG_VKEY, vkeys, 2).size == 20852163
    with pytest.raises(VerificationError, match="too few witness cosignatures"):
        verify_cosigned(cosigned_by(0), LOG_VKEY, vkeys, 2)
    # one witness twice is one cosignature
    twice = cosigned_by(1) + cosign(TEXT, KEYS[1].name, W[1], 1679315999)
    with pytest.raises(VerificationError, match="too few"):
        verify_cosigned(twice, LOG_VKEY, vkeys, 2)
    with pytest.raises(VerificationError, match="more cosignatures than it names"):
        verify_cosigned(cosigned_by(0, 1, 2), LOG_VKEY, vkeys[:2], 3)
    # the log's own signature is still required
    other_log = NoteVerifier(ORIGIN, SigningKey(bytes([9]) * 32).public_key).vkey
    with pytest.raises(VerificationError, match="not signed by the expected key"):
        verify_cosigned(cosigned_by(0, 1, 2), other_log, vkeys, 1)


def test_unknown_cosigners_are_ignored_and_a_bad_known_one_rejects_the_note() -> None:
    stranger = SigningKey(bytes([7]) * 32)
    note = cosigned_by(0) + cosign(TEXT, "stranger.example/w", stranger, 1679315147)
    assert [c.witness for c in cosignatures(note, KEYS)] == [KEYS[0].name]
    # the same name and key id as w2, but not w2's signature
    forged = note + flip_last_byte(cosign(TEXT, KEYS[1].name, W[1], 1679315147))
    with pytest.raises(VerificationError):
        cosignatures(forged, KEYS)
    # a cosignature over another tree does not count for this one
    other = sign_checkpoint(ORIGIN, 20852164, ROOT, ORIGIN, LOG)
    moved = other + cosign(TEXT, KEYS[0].name, W[0], 1679315147)
    with pytest.raises(VerificationError, match="does not verify"):
        cosignatures(moved, KEYS)


def test_a_timestamp_of_zero_is_refused() -> None:
    with pytest.raises(EncodingError):
        cosign(TEXT, KEYS[0].name, W[0], 0)
    raw = bytearray(base64.b64decode(cosign(TEXT, KEYS[0].name, W[0], 5)[2:-1].split(" ")[1]))
    raw[4:12] = bytes(8)
    line = f"\u2014 {KEYS[0].name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(VerificationError, match="timestamp"):
        cosignatures(NOTE + line, KEYS)
