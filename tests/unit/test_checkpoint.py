"""Checkpoints are C2SP signed notes any standard verifier accepts: they match the published Go
vectors byte for byte, verify real sum.golang.org tree heads, and refuse every malformed note."""

from __future__ import annotations

import base64
import hashlib

import pytest

from kiosk.core.checkpoint import (
    MAX_CHECKPOINT_LINES,
    MAX_NOTE_BYTES,
    Checkpoint,
    NoteVerifier,
    note_key_id,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from kiosk.core.crypto import SigningKey
from kiosk.core.errors import EncodingError, VerificationError
from kiosk.core.merkle import EMPTY_ROOT

# --- Published vectors -------------------------------------------------------------------------
# golang.org/x/mod sumdb/note/note_test.go (github.com/golang/mod): the reference signed-note
# implementation's keys, text and signatures (TestNewVerifier, TestSign, TestOpen).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb"
    "6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33W"
    "Wd1RvMc+QQ=\n"
)

# The Go checksum database's key, built into the go command (golang/go,
# src/cmd/go/internal/modfetch/key.go), and a tree head sum.golang.org signed with it, as
# served by its /lookup endpoint and quoted in public code. sum.golang.org has served C2SP
# checkpoints since before the spec existed; its origin line differs from its key name.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "59045944\n"
    "LE6Lx+GNVyuFBv/jKcFIiPkG1WC7DHwG0clpfN/TBlA=\n"
    "\n"
    "— sum.golang.org Az3grk9ctaTv+CITXOwxCEHU3APAw5X7Ck14+fvFlh0GCktwX15+XPzy//GgL2G50ZgY05e8eXF"
    "TWcvW6pN5tozsLQQ=\n"
)

# The example in the C2SP tlog-checkpoint spec (C2SP/C2SP tlog-checkpoint.md). Its key is not
# published, so it can only be parsed, never verified.
SPEC_EXAMPLE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q"
    "1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)

ORIGIN = "hanpyo.example/ledger/test-review"
LOG_KEY = SigningKey(bytes(range(32)))
ROOT = hashlib.sha256(b"a root").digest()


def peter_signing_key() -> SigningKey:
    """The seed inside Go's private key text ``PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)``."""
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return SigningKey(raw[1:])


def resign(body: str) -> str:
    """``body`` signed by the log key, so a test reaches the checkpoint checks behind the
    signature check."""
    return sign_note(body, ORIGIN, LOG_KEY)


LOG_VERIFIER = (ORIGIN, LOG_KEY.public_key)


# --- Round trip --------------------------------------------------------------------------------


def test_a_signed_checkpoint_verifies_and_reads_back() -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, ORIGIN, LOG_KEY)
    root64 = base64.b64encode(ROOT).decode()
    body, signature_line = note.split("\n\n")
    assert body == f"{ORIGIN}\n1234\n{root64}"
    assert signature_line.startswith(f"\u2014 {ORIGIN} ") and signature_line.endswith("\n")
    blob = base64.b64decode(signature_line.split(" ")[2])
    assert len(blob) == 4 + 64
    assert int.from_bytes(blob[:4], "big") == note_key_id(ORIGIN, LOG_KEY.public_key)

    expected = Checkpoint(ORIGIN, 1234, ROOT)
    verifier = NoteVerifier(*LOG_VERIFIER)
    assert verify_checkpoint(note, LOG_VERIFIER, expected_origin=ORIGIN) == expected
    assert verify_checkpoint(note, verifier.vkey) == expected
    assert verify_checkpoint(note.encode(), verifier) == expected


def test_extensions_and_extreme_sizes_round_trip() -> None:
    for checkpoint in (
        Checkpoint(ORIGIN, 0, EMPTY_ROOT),
        Checkpoint(ORIGIN, 2**64 - 1, ROOT),
        Checkpoint(ORIGIN, 7, ROOT, ("extension one", "— two")),
    ):
        note = sign_checkpoint(
            checkpoint.origin,
            checkpoint.size,
            checkpoint.root,
            ORIGIN,
            LOG_KEY,
            checkpoint.extensions,
        )
        assert verify_checkpoint(note, LOG_VERIFIER) == checkpoint
        assert parse_checkpoint(checkpoint.body()) == checkpoint


def test_a_verifier_key_is_published_and_read_back() -> None:
    verifier = NoteVerifier(ORIGIN, LOG_KEY.public_key)
    name, key_id, material = verifier.vkey.split("+", 2)
    assert name == ORIGIN
    digest = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + LOG_KEY.public_key).digest()
    assert key_id == digest[:4].hex()
    assert base64.b64decode(material) == b"\x01" + LOG_KEY.public_key
    assert NoteVerifier.parse(verifier.vkey) == verifier


# --- The Go reference vectors ------------------------------------------------------------------


def test_key_ids_and_verifier_keys_match_the_go_vectors() -> None:
    peter, enoch = NoteVerifier.parse(PETER_VKEY), NoteVerifier.parse(ENOCH_VKEY)
    assert (peter.name, peter.key_id, peter.vkey) == ("PeterNeumann", 0xC74F20A3, PETER_VKEY)
    assert (enoch.name, enoch.key_id, enoch.vkey) == ("EnochRoot", 0xAF0CFE78, ENOCH_VKEY)
    assert peter.public_key == peter_signing_key().public_key


def test_signing_reproduces_the_go_signature_byte_for_byte() -> None:
    # Ed25519 is deterministic (RFC 8032), so the same key and text give the same note.
    assert sign_note(TEXT, "PeterNeumann", peter_signing_key()) == TEXT + "\n" + PETER_SIG


def test_the_go_notes_open_with_their_keys_and_unknown_signers_are_ignored() -> None:
    assert open_note(TEXT + "\n" + PETER_SIG, PETER_VKEY) == TEXT
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, PETER_VKEY) == TEXT
    assert open_note(both, ENOCH_VKEY) == TEXT
    repeated = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG
    assert open_note(repeated, PETER_VKEY) == TEXT
    with pytest.raises(VerificationError, match="not signed by the expected key") as caught:
        open_note(TEXT + "\n" + ENOCH_SIG, PETER_VKEY)
    assert caught.value.expected == "PeterNeumann+c74f20a3"
    assert caught.value.found == "EnochRoot+af0cfe78"


def test_a_bad_signature_from_the_known_key_rejects_the_whole_note() -> None:
    broken_peter = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    broken_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    with pytest.raises(VerificationError, match="PeterNeumann"):
        open_note(TEXT + "\n" + broken_peter, PETER_VKEY)
    # From the Go test: an unknown signer's bad signature is ignored...
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG + broken_enoch
    assert open_note(note, PETER_VKEY) == TEXT
    # ...but once that key is known, its bad signature sinks the note.
    with pytest.raises(VerificationError, match="EnochRoot"):
        open_note(note, ENOCH_VKEY)
    flipped = PETER_SIG.replace("BS9UG", "BS9UH")  # same key id, one signature bit changed
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(TEXT + "\n" + flipped, PETER_VKEY)
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG, PETER_VKEY)


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
    ],
    ids=[
        "no signatures",
        "blank line only",
        "no final newline",
        "control character",
        "not UTF-8",
        "name with a space",
        "unexpected line",
        "101 signatures",
    ],
)
def test_the_go_malformed_notes_are_refused(note: str | bytes) -> None:
    with pytest.raises(VerificationError):
        open_note(note, PETER_VKEY)


def test_every_mangling_of_a_verifier_key_is_refused() -> None:
    # TestNewVerifier: every proper substring and every single-character change fails.
    for i in range(len(PETER_VKEY)):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(EncodingError):
                    NoteVerifier.parse(PETER_VKEY[i:j])
        changed = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(EncodingError):
            NoteVerifier.parse(changed)
    for bad in (
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(EncodingError):
            NoteVerifier.parse(bad)


# --- Real and specified checkpoints ------------------------------------------------------------


def test_a_sum_golang_org_tree_head_verifies() -> None:
    checkpoint = verify_checkpoint(SUMDB_CHECKPOINT, SUMDB_VKEY, "go.sum database tree")
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 59045944
    assert checkpoint.root == base64.b64decode("LE6Lx+GNVyuFBv/jKcFIiPkG1WC7DHwG0clpfN/TBlA=")
    assert checkpoint.extensions == ()
    for tampered in (
        SUMDB_CHECKPOINT.replace("59045944", "59045945"),
        SUMDB_CHECKPOINT.replace("LE6Lx", "LE6Ly"),
        SUMDB_CHECKPOINT.replace("go.sum", "go.sun"),
    ):
        with pytest.raises(VerificationError, match="does not verify"):
            verify_checkpoint(tampered, SUMDB_VKEY)
    with pytest.raises(VerificationError, match="another log") as caught:
        verify_checkpoint(SUMDB_CHECKPOINT, SUMDB_VKEY, expected_origin=ORIGIN)
    assert (caught.value.expected, caught.value.found) == (ORIGIN, "go.sum database tree")


def test_the_spec_example_parses_but_no_known_key_signed_it() -> None:
    body = SPEC_EXAMPLE.split("\n\n")[0] + "\n"
    checkpoint = parse_checkpoint(body)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == body
    # It carries sum.golang.org's key id under another name: an unknown key, so ignored.
    with pytest.raises(VerificationError, match="not signed by the expected key"):
        verify_checkpoint(SPEC_EXAMPLE, SUMDB_VKEY)
    with pytest.raises(VerificationError, match="not signed by the expected key"):
        verify_checkpoint(SPEC_EXAMPLE, LOG_VERIFIER)


# --- Malformed checkpoints ---------------------------------------------------------------------

ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n12a\n{ROOT64}\n", "not a decimal number"),
        (f"{ORIGIN}\n-1\n{ROOT64}\n", "not a decimal number"),
        (f"{ORIGIN}\n+5\n{ROOT64}\n", "not a decimal number"),
        (f"{ORIGIN}\n 5\n{ROOT64}\n", "not a decimal number"),
        (f"{ORIGIN}\n0x10\n{ROOT64}\n", "not a decimal number"),
        (f"{ORIGIN}\n\u0665\n{ROOT64}\n", "not a decimal number"),  # an Arabic-Indic five
        (f"{ORIGIN}\n0123\n{ROOT64}\n", "leading zeros"),
        (f"{ORIGIN}\n00\n{ROOT64}\n", "leading zeros"),
        (f"{ORIGIN}\n18446744073709551616\n{ROOT64}\n", "64 bits"),
        (f"{ORIGIN}\n{'9' * 5000}\n{ROOT64}\n", "64 bits"),
        (f"{ORIGIN}\n5\nnot base64!\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{ROOT64.rstrip('=')}\n", "not valid base64"),
        (f"{ORIGIN}\n5\n{ROOT64[:-2]}F=\n", "not canonical base64"),  # stray low bits
        (f"{ORIGIN}\n5\n-{ROOT64[1:]}\n", "not valid base64"),  # base64url is not base64
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "not a SHA-256 hash"),
        (f"{ORIGIN}\n5\n{base64.b64encode(ROOT + b'!').decode()}\n", "not a SHA-256 hash"),
        (f"{ORIGIN}\n5\n", "wrong number of lines"),
        (f"{ORIGIN}\n5\n{ROOT64}\n" + "ext\n" * (MAX_CHECKPOINT_LINES - 2), "wrong number"),
        (f"{ORIGIN}\n5\n{ROOT64}", "end with a newline"),
    ],
)
def test_malformed_checkpoints_are_refused_even_when_signed(body: str, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        parse_checkpoint(body)
    if body.endswith("\n"):  # a note text always ends in a newline
        with pytest.raises(VerificationError, match=message):
            verify_checkpoint(resign(body), LOG_VERIFIER)


def test_malformed_notes_are_refused_with_a_reason() -> None:
    good = sign_checkpoint(ORIGIN, 5, ROOT, ORIGIN, LOG_KEY)
    cases: dict[str, str | bytes] = {
        "no empty line": good.replace("\n\n", "\n"),
        "no signature lines": good.split("\n\n")[0] + "\n\n",
        "control character": good.replace("\n5\n", "\n5\r\n"),
        "not valid UTF-8": good.encode().replace(b"\n5\n", b"\n5\xc3\n"),
        "em dash": good.replace("\u2014", "--"),
        "too long": good + "\u2014 x AAAAAAA=\n" * (MAX_NOTE_BYTES // 10),
        "too many signatures": good + f"\u2014 someone.else {'A' * 92}\n" * 100,
        "too short": good + "\u2014 someone.else AAAA\n",
        "not valid base64": good + "\u2014 someone.else AAAA*AAA\n",
        "not signed by the expected key": sign_checkpoint(
            ORIGIN, 5, ROOT, ORIGIN, SigningKey(bytes(32))
        ),
        "empty line": resign(f"{ORIGIN}\n\n5\n{ROOT64}\n"),
    }
    for reason, note in cases.items():
        with pytest.raises(VerificationError, match=reason):
            verify_checkpoint(note, LOG_VERIFIER)


def test_a_checkpoint_with_a_changed_field_no_longer_verifies() -> None:
    good = sign_checkpoint(ORIGIN, 5, ROOT, ORIGIN, LOG_KEY)
    other_root = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    for tampered in (
        good.replace("\n5\n", "\n6\n"),
        good.replace(ROOT64, other_root),
        good.replace(ORIGIN + "\n", ORIGIN + "x\n", 1),
        good.replace("\n\n", "\nextension\n\n"),
    ):
        with pytest.raises(VerificationError, match="does not verify"):
            verify_checkpoint(tampered, LOG_VERIFIER)


def test_parse_checkpoint_points_a_whole_note_to_verify_checkpoint() -> None:
    with pytest.raises(VerificationError, match="verify_checkpoint"):
        parse_checkpoint(sign_checkpoint(ORIGIN, 5, ROOT, ORIGIN, LOG_KEY))


@pytest.mark.parametrize(
    ("origin", "size", "root", "key_name", "extensions"),
    [
        ("", 5, ROOT, ORIGIN, ()),
        ("two\nlines", 5, ROOT, ORIGIN, ()),
        ("tab\there", 5, ROOT, ORIGIN, ()),
        (ORIGIN, -1, ROOT, ORIGIN, ()),
        (ORIGIN, 2**64, ROOT, ORIGIN, ()),
        (ORIGIN, 5, ROOT[:31], ORIGIN, ()),
        (ORIGIN, 5, ROOT, "has space", ()),
        (ORIGIN, 5, ROOT, "has+plus", ()),
        (ORIGIN, 5, ROOT, "", ()),
        (ORIGIN, 5, ROOT, ORIGIN, ("",)),
        (ORIGIN, 5, ROOT, ORIGIN, ("a\nb",)),
    ],
)
def test_signing_refuses_what_could_not_be_read_back(
    origin: str, size: int, root: bytes, key_name: str, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(EncodingError):
        sign_checkpoint(origin, size, root, key_name, LOG_KEY, extensions)


def test_a_verifier_needs_a_real_ed25519_key_and_a_valid_name() -> None:
    for name, key in ((ORIGIN, bytes(31)), (ORIGIN, b"\x02" + bytes(31)), ("a b", bytes(32))):
        with pytest.raises(EncodingError):
            NoteVerifier(name, key)
