"""Targets for the protocol core's parsers: canonical JSON and the text encodings, signed
blocks, kiosk chains, the election package, USB export files, checkpoints and signed notes,
Merkle proofs and heartbeats."""

from __future__ import annotations

import functools
import json
from typing import Any

from fuzz import world
from fuzz.contract import ContractBroken, accepted, require
from fuzz.draw import Draw
from kiosk.core.block import decode_signed_block, normalise_tracking_code, verify_block
from kiosk.core.chain import verify_chain
from kiosk.core.checkpoint import (
    NoteVerifier,
    open_note,
    parse_checkpoint,
    sign_note,
    verify_checkpoint,
)
from kiosk.core.crypto import sha256
from kiosk.core.election import read_package, verify_package
from kiosk.core.encoding import (
    b64d,
    b64e,
    canonical_json,
    crockford32,
    crockford32_decode,
    parse_json,
)
from kiosk.core.errors import HanpyoError
from kiosk.core.export import read_manifest, split_chain_file, verify_export
from kiosk.core.heartbeat import Heartbeat


def text_of(data: bytes) -> str:
    """Bytes as the str a caller would pass, lone surrogates included (surrogateescape)."""
    return data.decode("utf-8", "surrogateescape")


# -- canonical JSON and the text encodings ------------------------------------------------------


def encoding(data: bytes) -> None:
    """parse_json, canonical_json, base64url, Crockford base32 and tracking codes refuse with
    EncodingError only, and what they accept survives a round trip unchanged."""
    d = Draw(data)
    which, rest = d.below(4), d.rest()
    if which == 0:
        value = accepted(lambda: parse_json(rest))
        if value is None:
            return
        canonical = accepted(lambda: canonical_json(value))
        if canonical is not None:
            same = _numbers_as_doubles(parse_json(canonical)) == _numbers_as_doubles(value)
            require(same, "canonical JSON does not parse back to the same JSON value")
            require(canonical_json(parse_json(canonical)) == canonical, "not idempotent")
    elif which == 1:
        text = text_of(rest)
        raw = accepted(lambda: b64d(text))
        require(raw is None or b64e(raw) == text, "base64url accepted a non-canonical form")
    elif which == 2:
        text = text_of(rest)
        raw = accepted(lambda: crockford32_decode(text))
        if raw is not None:
            require(crockford32_decode(crockford32(raw)) == raw, "Crockford round trip")
    else:
        text = text_of(rest)
        code = accepted(lambda: normalise_tracking_code(text))
        if code is not None:
            require(normalise_tracking_code(code) == code, "a tracking code is not stable")
            require(len(code.replace("-", "")) == 16, f"tracking code {code!r} is not 16 long")


def _numbers_as_doubles(value: Any) -> Any:
    """``value`` with every number a double, as JSON (RFC 8259 with I-JSON) defines numbers."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        return [_numbers_as_doubles(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers_as_doubles(v) for k, v in value.items()}
    return value


# -- signed blocks and chains -------------------------------------------------------------------


def block(data: bytes) -> None:
    """A decoded block re-encodes to bytes that decode to the same block, its hash is the hash
    of its canonical form, and it verifies under the kiosk's key only if the kiosk signed it."""
    signed = accepted(lambda: decode_signed_block(data))
    if signed is None:
        return
    encoded = signed.encode()
    require(decode_signed_block(encoded) == signed, "a decoded block does not round-trip")
    require(decode_signed_block(encoded).encode() == encoded, "re-encoding is not stable")
    require(signed.hash == sha256(canonical_json(signed.block.to_json())), "hash is not SHA-256")
    try:
        verify_block(signed, world.kiosk_key().public_key)
    except HanpyoError:
        return
    require(encoded in world.chain_lines(), f"a block the kiosk never signed verified: {encoded!r}")


def chain(data: bytes) -> None:
    """verify_chain refuses with ChainError; a chain it accepts is a prefix of the kiosk's own
    chain (no reordering, dropping, repeating or forging passes). The first byte picks lines of
    JSON, or a sequence of the kiosk's real blocks by index."""
    d = Draw(data)
    real = world.chain()
    if d.flag():
        blocks = [real[d.below(len(real))] for _ in range(min(d.left, 3 * len(real)))]
    else:
        decoded = [
            accepted(functools.partial(decode_signed_block, line)) for line in d.rest().split(b"\n")
        ]
        if any(b is None for b in decoded):
            return
        blocks = [b for b in decoded if b is not None]
    state = accepted(lambda: verify_chain(blocks))
    if state is None:
        return
    got = [b.encode() for b in blocks]
    want = [b.encode() for b in real[: len(blocks)]]
    require(got == want, "verify_chain accepted blocks that are not the kiosk's chain in order")
    require(state.height == len(blocks) - 1, "the state's height is not the last block's")


# -- the election package -----------------------------------------------------------------------


def election(data: bytes) -> None:
    """verify_package refuses with ElectionPackageError; a package it accepts is the one the
    authority signed. read_package alone: what it accepts reads back the same from its
    canonical form and answers every look-up."""
    document = accepted(lambda: parse_json(data))
    if document is None:
        return
    authority = world.election().authority.public_key
    package = accepted(lambda: verify_package(document, authority))
    if package is not None:
        require(
            package.canonical() == world.election().package.canonical(),
            "verify_package accepted a package the authority did not sign",
        )
    inner = document.get("package") if isinstance(document, dict) else None
    unsigned = accepted(lambda: read_package(inner))
    if unsigned is None:
        return
    canonical = unsigned.canonical()
    again = read_package(json.loads(canonical))
    require(again.canonical() == canonical, "a package does not read back from its canonical form")
    for entry in unsigned.roll:
        voter = unsigned.voter_for_card(entry.card_key)
        require(voter is not None, "a roll entry has no voter")
        for contest in unsigned.contests_for(entry.category):
            unsigned.eligible_options(contest, entry.group, entry.excluded)
    require(len(unsigned.short_hash) == 19, "short hash is not 4 groups of 4")


# -- USB export files ---------------------------------------------------------------------------


def export(data: bytes) -> None:
    """An export's manifest reads only as written (no field dropped, added or retyped), and an
    export verifies under the kiosk's key only if it is the one the kiosk wrote."""
    chain_file = split_chain_file(data)
    if chain_file.manifest_line is None:
        return
    read = accepted(lambda: read_manifest(chain_file.manifest_line or b""))
    if read is None:
        return
    manifest, signature = read
    as_written = canonical_json(manifest.body() | {"sig": b64e(signature)})
    as_found = accepted(lambda: canonical_json(parse_json(chain_file.manifest_line or b"")))
    require(
        as_found == as_written,
        f"read_manifest accepted a manifest that is not one export_bytes writes: {as_found!r}",
    )
    try:
        verify_export(manifest, signature, world.kiosk_key().public_key, chain_file.block_lines)
    except HanpyoError:
        return
    real = split_chain_file(world.export_file())
    require(
        chain_file.manifest_line == real.manifest_line
        and chain_file.block_lines == real.block_lines,
        "verify_export accepted an export the kiosk did not write",
    )


# -- checkpoints and signed notes ---------------------------------------------------------------


def checkpoint(data: bytes) -> None:
    """Checkpoints and notes refuse with HanpyoError only; a checkpoint that verifies under the
    log key is one the log signed (its root is the log's root at that size); parsed texts and
    verifier keys print back exactly as read."""
    d = Draw(data)
    which, rest = d.below(4), d.rest()
    if which == 0:
        cp = accepted(lambda: verify_checkpoint(rest, world.log_verifier(), world.LOG_ORIGIN))
        if cp is None:
            return
        log, _ = world.merkle_log()
        require(cp.size <= log.size and cp.root == log.root(cp.size), "forged checkpoint passed")
        line = sign_note(cp.body(), world.LOG_ORIGIN, world.log_key()).rsplit("\n", 2)[-2]
        require(line in text_of(rest).split("\n"), "the verified signature is not the log's")
    elif which == 1:
        text = text_of(rest)
        parsed = accepted(lambda: parse_checkpoint(text))
        require(parsed is None or parsed.body() == text, "a checkpoint does not print as read")
    elif which == 2:
        text = text_of(rest)
        verifier = accepted(lambda: NoteVerifier.parse(text))
        require(verifier is None or verifier.vkey == text, "a verifier key does not print as read")
    else:
        witness = NoteVerifier(world.WITNESS_NAME, world.witness_key().public_key)
        opened = accepted(lambda: open_note(rest, witness))
        if opened is not None:
            require(
                opened == world.checkpoint_note().split("\n\n")[0] + "\n",
                "open_note accepted a text the witness never signed",
            )


# -- heartbeats ---------------------------------------------------------------------------------


def heartbeat(data: bytes) -> None:
    """A heartbeat the ledger accepts can be stored (UTF-8) and reads back the same."""
    document = accepted(lambda: parse_json(data))
    beat = accepted(lambda: Heartbeat.from_json(document))
    if beat is None:
        return
    encoded = beat.encode()
    try:
        stored = encoded.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ContractBroken(f"an accepted heartbeat cannot be stored as UTF-8: {e}") from e
    require(Heartbeat.from_json(json.loads(stored)) == beat, "a heartbeat does not read back")
