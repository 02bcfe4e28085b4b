"""Any bit flip or field change of a kiosk chain, a false hash or a wrong signature, is caught
by verify_chain at its block."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kiosk.core.block import (
    BlockKind,
    SignedBlock,
    block_time,
    decode_signed_block,
    sign_block,
)
from kiosk.core.chain import verify_chain
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionId
from kiosk.core.encoding import b64e, canonical_json
from kiosk.core.errors import BlockError
from testkit.tampering import (
    LAST,
    LENGTH,
    PROPERTY,
    Chains,
    assert_caught_at,
    check_flipped,
    forge,
    spliced,
)

BINARY32 = st.binary(min_size=32, max_size=32).map(b64e)


# Canonical JSON stops at 2**53 - 1: past it forge() could not hash the block at all (the edge
# itself is test_a_count_past_canonical_json_is_refused).
SAFE = 2**53 - 1


COUNT = st.integers(0, SAFE)


TOP_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "v": st.integers(-SAFE, SAFE),
    "election": st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True),
    "kiosk": st.binary(min_size=16, max_size=16).map(bytes.hex),
    "height": COUNT,
    "prev": BINARY32,
    "time": st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ).map(block_time),
    "kind": st.sampled_from([k.value for k in BlockKind]),
    "sig": st.binary(min_size=64, max_size=64).map(b64e),
}


BODY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "kiosk_key": BINARY32,
    "package": BINARY32,
    "voter": st.binary(min_size=16, max_size=16).map(bytes.hex),
    "card_key": BINARY32,
    "card_sig": st.binary(min_size=64, max_size=64).map(b64e),
    # Another ballot: a smaller document, or a damaged copy would need a re-signed card
    # signature to get past the body check, and then the block signature stops it.
    "ballot": st.none()
    | st.dictionaries(
        st.sampled_from(["v", "id", "contests"]), st.integers(-(2**53) + 1, 2**53 - 1)
    ),
    "mode": st.sampled_from(["test", "official"]),
    "session": st.integers(1, 10**6),
    "ballots": COUNT,
    "test_ballots": COUNT,
    "checkpoint": st.none() | st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
}


# Why a changed field is refused: its own check where verify_chain has one that comes before the
# signature, else the signature (a body that no longer fits its kind is refused before that).
FIELD_REASONS = {
    "height": {"height_gap"},
    "prev": {"prev_mismatch"},
    "sig": {"bad_signature"},
    "election": {"wrong_election", "bad_signature"},  # the genesis block is only signed
    "kiosk": {"wrong_kiosk"},
    "body.kiosk_key": {"wrong_kiosk"},  # the kiosk id no longer derives from the genesis key
    "time": {"time_backwards", "bad_signature"},
}


# -- the genuine chains ---------------------------------------------------------------------------
def test_genuine_chains_verify(chains: Chains) -> None:
    # Without this every tamper test below could pass on chains that never verified at all.
    kinds = {b.block.kind for b in chains.own.blocks}
    # v1 chains: every kind but protocol v2's ``spoiled`` (tests/unit/test_block_v2.py)
    assert kinds == set(BlockKind) - {BlockKind.SPOILED}
    for recorded in (chains.own, chains.other_kiosk, chains.other_election):
        assert len(recorded.blocks) == LENGTH
        state = verify_chain(
            recorded.blocks,
            election=recorded.package.id,
            kiosk=kiosk_id_for(recorded.key.public_key),
            package_hash=recorded.package.package_hash,
        )
        assert state.height == len(recorded.blocks) - 1
        assert state.head == recorded.blocks[-1].hash
    assert chains.own.blocks[0].block.kiosk == chains.other_election.blocks[0].block.kiosk
    assert chains.own.blocks[0].block.kiosk != chains.other_kiosk.blocks[0].block.kiosk


# -- byte flips -----------------------------------------------------------------------------------
@settings(PROPERTY, max_examples=400)
@given(data=st.data())
def test_any_bit_flip_is_refused_or_caught_at_its_block(
    chains: Chains, data: st.DataObject
) -> None:
    blocks = chains.own.blocks
    i = data.draw(st.integers(0, len(blocks) - 1), label="block")
    raw = bytearray(blocks[i].encode())
    raw[data.draw(st.integers(0, len(raw) - 1), label="byte")] ^= 1 << data.draw(
        st.integers(0, 7), label="bit"
    )
    check_flipped(blocks, i, bytes(raw))


def structural_bytes(raw: bytes) -> list[int]:
    """Every byte position outside the middle of long base64 or hex values (keys, signatures,
    ciphertexts), where a flip can only turn one base64 digit into another or into junk."""
    skip: set[int] = set()
    for m in re.finditer(rb'"([A-Za-z0-9_-]{40,})"', raw):
        # The ends stay in: the last digit carries the unused bits canonical base64 must zero.
        skip.update(range(m.start(1) + 2, m.end(1) - 2))
    return [p for p in range(len(raw)) if p not in skip]


def test_every_bit_of_every_structural_byte(chains: Chains) -> None:
    # Exhaustive where random sampling is thin: field names, numbers, kinds, times, punctuation.
    blocks = chains.own.blocks
    ballot_kinds_seen: set[BlockKind] = set()
    for i, signed in enumerate(blocks):
        kind = signed.block.kind
        if kind in (BlockKind.BALLOT, BlockKind.TEST_BALLOT):
            # An encrypted ballot's body has thousands of structural bytes, the same in every
            # ballot of a kind: the first of each kind has every one of them tried.
            if kind in ballot_kinds_seen:
                continue
            ballot_kinds_seen.add(kind)
        raw = signed.encode()
        for p in structural_bytes(raw):
            for bit in range(8):
                flipped = bytearray(raw)
                flipped[p] ^= 1 << bit
                check_flipped(blocks, i, bytes(flipped))


# -- field changes --------------------------------------------------------------------------------
@PROPERTY
@given(data=st.data())
def test_any_changed_field_is_caught_at_its_block(chains: Chains, data: st.DataObject) -> None:
    blocks = chains.own.blocks
    i = data.draw(st.integers(0, len(blocks) - 1), label="block")
    doc = copy.deepcopy(blocks[i].to_json())
    body = doc["body"]
    field = data.draw(
        st.sampled_from([*TOP_VALUES, *(f"body.{k}" for k in body), "body-", "body+"]),
        label="field",
    )
    if field == "body-":
        del body[data.draw(st.sampled_from(sorted(body)), label="dropped")]
    elif field == "body+":
        # Header names too: a body must not be able to carry a second height or signature.
        body[data.draw(st.sampled_from(["extra", "height", "sig"]), label="added")] = 1
    elif field.startswith("body."):
        key = field.removeprefix("body.")
        value = data.draw(BODY_VALUES[key], label="value")
        assume(value != body[key])
        body[key] = value
    else:
        value = data.draw(TOP_VALUES[field], label="value")
        assume(value != doc[field])
        doc[field] = value

    try:
        decoded = decode_signed_block(canonical_json(doc))
    except BlockError:
        decoded = None  # refused while reading, e.g. a body that no longer fits its kind
    if field == "v":
        # The version is not a Block field: it is fixed at 1 and covered by every hash.
        assert decoded is None
        return
    tampered = forge(doc)
    # Whatever the reader does accept, it reads exactly as the forger meant it.
    assert decoded is None or decoded == tampered
    error = assert_caught_at(spliced(blocks, i, tampered), i)
    assert error.reason in FIELD_REASONS.get(field, {"bad_body", "bad_signature"}), error


@PROPERTY
@given(i=st.integers(0, LAST), digest=st.binary(min_size=32, max_size=32))
def test_a_false_hash_is_caught_at_its_block(chains: Chains, i: int, digest: bytes) -> None:
    # The hash travels beside the block in memory and in the store's index; it must be checked.
    blocks = chains.own.blocks
    assume(digest != blocks[i].hash)
    error = assert_caught_at(spliced(blocks, i, replace(blocks[i], hash=digest)), i)
    assert error.reason == "hash_mismatch"


@PROPERTY
@given(i=st.integers(0, LAST), signer=st.sampled_from(["other_kiosk", "stranger"]))
def test_a_block_signed_by_another_key_is_caught(chains: Chains, i: int, signer: str) -> None:
    # A correctly formed signature is not enough: it must be the key the genesis block named.
    blocks = chains.own.blocks
    key = chains.other_kiosk.key if signer == "other_kiosk" else SigningKey.generate()
    error = assert_caught_at(spliced(blocks, i, sign_block(blocks[i].block, key)), i)
    assert error.reason == "bad_signature"


@PROPERTY
@given(i=st.integers(1, LAST), field=st.sampled_from(["election", "kiosk", "time", "body"]))
def test_a_block_the_kiosk_itself_signed_wrongly_is_caught(
    chains: Chains, i: int, field: str
) -> None:
    # With the kiosk's own key (a faulty kiosk, or a stolen key) the signature holds; the other
    # checks must still refuse a block of another election or kiosk, dated backwards, or with a
    # body its kind does not allow.
    own = chains.own
    block = own.blocks[i].block
    changed = {
        "election": replace(block, election=ElectionId("another-election")),
        "kiosk": replace(block, kiosk=chains.other_kiosk.blocks[0].block.kiosk),
        "time": replace(block, time="2000-01-01T00:00Z"),
        "body": replace(block, body=dict(block.body) | {"extra": 1}),
    }[field]
    error = assert_caught_at(spliced(own.blocks, i, sign_block(changed, own.key)), i)
    reason = {
        "election": "wrong_election",
        "kiosk": "wrong_kiosk",
        "time": "time_backwards",
        "body": "bad_body",
    }
    assert error.reason == reason[field]


def test_a_chain_re_signed_under_our_kiosk_id_is_caught_at_genesis(chains: Chains) -> None:
    # Someone without our key rebuilds the whole chain, perfectly linked, with their own key in
    # the genesis block but our kiosk id on every block. Only the rule that the kiosk id derives
    # from the genesis key exposes it.
    own = chains.own
    thief = SigningKey.generate()
    forged: list[SignedBlock] = []
    for signed in own.blocks:
        block = replace(signed.block, prev=forged[-1].hash if forged else signed.block.prev)
        if block.kind is BlockKind.GENESIS:
            block = replace(block, body=dict(block.body) | {"kiosk_key": b64e(thief.public_key)})
        forged.append(sign_block(block, thief))
    error = assert_caught_at(forged, 0, kiosk=kiosk_id_for(own.key.public_key))
    assert error.reason == "wrong_kiosk"
