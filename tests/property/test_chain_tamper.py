"""Any flip, field change, reorder, cut or splice of a kiosk chain is caught by verify_chain."""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kiosk.core.block import (
    Block,
    BlockKind,
    SignedBlock,
    block_time,
    decode_signed_block,
    sign_block,
)
from kiosk.core.chain import Mode, Session, verify_chain
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.election import ElectionId, ElectionPackage
from kiosk.core.encoding import b64d, b64e, canonical_json
from kiosk.core.errors import BlockError, ChainError
from kiosk.store.ballot_box import BallotBox
from kiosk.store.chain_store import ChainStore
from testkit.elections import (
    SyntheticElection,
    build_election,
    mixed_definition,
    random_ballot,
    voter_of,
)

REASONS = frozenset(
    {
        "height_gap",
        "bad_body",
        "prev_mismatch",
        "hash_mismatch",
        "wrong_election",
        "wrong_kiosk",
        "time_backwards",
        "not_genesis",
        "bad_signature",
        "not_allowed",
        "repeat_nullifier",
        "empty",
    }
)

LENGTH = 16  # blocks in each recorded chain; hypothesis draws positions before fixtures exist
LAST = LENGTH - 1
PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- the chains under attack ----------------------------------------------------------------------
@dataclass(frozen=True)
class Recorded:
    blocks: tuple[SignedBlock, ...]
    key: SigningKey
    package: ElectionPackage


class Chains:
    """The chains under attack.

    Not a dataclass: hypothesis prints a failing example's fixtures field by field, here some
    76 kB, and its "overly large repr" warning (an error in this project) would replace the
    failure with a confusing FlakyStrategyDefinition.
    """

    def __init__(self, own: Recorded, other_kiosk: Recorded, other_election: Recorded) -> None:
        self.own = own
        self.other_kiosk = other_kiosk  # same election, another kiosk key
        self.other_election = other_election  # same kiosk key as ``own``, another election

    def __repr__(self) -> str:
        return f"<Chains: {len(self.own.blocks)} blocks each, kiosk {self.own.key!r}>"

    def foreign(self, which: str) -> tuple[SignedBlock, ...]:
        return {"other_kiosk": self.other_kiosk, "other_election": self.other_election}[
            which
        ].blocks


def record(path: Path, key: SigningKey, election: SyntheticElection, seed: int) -> Recorded:
    """A real store's chain holding every block kind: a test session, then an official session
    with a pause and a resume, closed with a checkpoint."""
    rng = random.Random(seed)
    package = election.package
    store = ChainStore.create(path, rng.randbytes(32), key, package)
    try:
        box = BallotBox(store, package)

        def cast(category: str, n: int) -> None:
            voter = voter_of(election, category, n)
            box.cast_ballot(voter, random_ballot(package, voter, rng))

        box.set_mode(Mode.TEST)
        box.open_session()
        cast("resident", 0)
        cast("expert", 0)
        box.close_session()
        box.set_mode(Mode.OFFICIAL)
        box.open_session()
        for n in range(3):
            cast("resident", n)
        box.pause_session()
        box.resume_session()
        cast("expert", 0)
        cast("online", 0)
        store.record_sync({}, "ledger checkpoint 7 / head 9f2c", 7, "2026-11-22T10:00:00+00:00")
        box.close_session()  # carries that checkpoint
        return Recorded(tuple(store.blocks()), key, package)
    finally:
        store.close()


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory, election: SyntheticElection) -> Chains:
    root = tmp_path_factory.mktemp("chains")
    definition = mixed_definition() | {"id": "test-review-other"}
    elsewhere = build_election(
        definition, seed="elsewhere", experts_per_group=1, online_per_proposal=1
    )
    key = SigningKey.generate()
    return Chains(
        own=record(root / "own.db", key, election, 1),
        other_kiosk=record(root / "kiosk.db", SigningKey.generate(), election, 2),
        other_election=record(root / "election.db", key, elsewhere, 3),
    )


# -- helpers --------------------------------------------------------------------------------------
def rejection(blocks: Sequence[SignedBlock], **expect: Any) -> ChainError:
    """verify_chain's error for ``blocks``, which it must refuse for a known reason."""
    with pytest.raises(ChainError) as caught:
        verify_chain(blocks, **expect)
    error = caught.value
    assert error.reason in REASONS, error
    return error


def assert_caught_at(blocks: Sequence[SignedBlock], position: int, **expect: Any) -> ChainError:
    """verify_chain must refuse ``blocks`` at ``position``, the first block that is not genuine."""
    error = rejection(blocks, **expect)
    # Named by position, not by the height the block claims: everything before the named height
    # is taken as verified (see test_a_gap_is_named_by_its_position).
    assert error.height == position, error
    if error.reason == "height_gap":
        assert error.expected == str(position), error
        assert error.found == str(blocks[position].block.height), error
    return error


def spliced(blocks: Sequence[SignedBlock], i: int, *new: SignedBlock) -> list[SignedBlock]:
    """``blocks`` with block ``i`` replaced by ``new`` (none: dropped)."""
    return [*blocks[:i], *new, *blocks[i + 1 :]]


def forge(doc: dict[str, Any]) -> SignedBlock:
    """A block as an attacker could hand it to verify_chain in memory, without any schema check
    and with its hash recomputed, so only the links and the signature can give it away."""
    block = Block(
        ElectionId(doc["election"]),
        doc["kiosk"],
        doc["height"],
        b64d(doc["prev"]),
        doc["time"],
        BlockKind(doc["kind"]),
        doc["body"],
    )
    return SignedBlock(block, block.hash(), b64d(doc["sig"]))


def check_flipped(blocks: Sequence[SignedBlock], i: int, raw: bytes) -> None:
    """Block ``i`` re-read from the damaged encoding ``raw`` is refused or caught at ``i``."""
    try:
        decoded = decode_signed_block(raw)
    except BlockError:
        return  # refused while reading: the damaged block never reaches the chain
    if decoded.encode() == blocks[i].encode():
        # The parser accepts non-canonical JSON; if that ever gave back the same block, nothing
        # was changed and the chain must still verify.
        assert decoded == blocks[i]
        verify_chain(spliced(blocks, i, decoded))
        return
    assert_caught_at(spliced(blocks, i, decoded), i)


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
    "nullifier": BINARY32,
    "sealed": st.binary(min_size=49, max_size=300).map(b64e),
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
    assert kinds == set(BlockKind)
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
    """Every byte position outside the middle of long base64 values (keys, signatures, sealed
    ballots), where a flip can only turn one base64 digit into another or into junk."""
    skip: set[int] = set()
    for m in re.finditer(rb'"([A-Za-z0-9_-]{40,})"', raw):
        # The ends stay in: the last digit carries the unused bits canonical base64 must zero.
        skip.update(range(m.start(1) + 2, m.end(1) - 2))
    return [p for p in range(len(raw)) if p not in skip]


def test_every_bit_of_every_structural_byte(chains: Chains) -> None:
    # Exhaustive where random sampling is thin: field names, numbers, kinds, times, punctuation.
    blocks = chains.own.blocks
    for i, signed in enumerate(blocks):
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


# -- reorders, duplicates, cuts -------------------------------------------------------------------
@PROPERTY
@given(pair=st.lists(st.integers(0, LAST), min_size=2, max_size=2, unique=True).map(sorted))
def test_a_swap_is_caught_at_the_first_swapped_position(chains: Chains, pair: list[int]) -> None:
    i, j = pair
    blocks = list(chains.own.blocks)
    blocks[i], blocks[j] = blocks[j], blocks[i]
    assert assert_caught_at(blocks, i).reason == "height_gap"


@PROPERTY
@given(order=st.permutations(range(LENGTH)))
def test_any_reorder_is_caught_at_the_first_moved_block(chains: Chains, order: list[int]) -> None:
    original = chains.own.blocks
    moved = [k for k, n in enumerate(order) if k != n]
    assume(moved)  # the identity is the genuine chain
    assert_caught_at([original[n] for n in order], moved[0])


@PROPERTY
@given(i=st.integers(0, LAST), at=st.integers(0, LENGTH))
def test_a_duplicated_block_is_caught(chains: Chains, i: int, at: int) -> None:
    blocks = chains.own.blocks
    # A copy inserted right after its original only breaks the chain one block later.
    position = at + 1 if at == i else at
    tampered = [*blocks[:at], blocks[i], *blocks[at:]]
    assert assert_caught_at(tampered, position).reason == "height_gap"


def test_a_replayed_ballot_is_caught_even_when_the_kiosk_signs_it(chains: Chains) -> None:
    # A kiosk (or its stolen key) re-recording a voter's ballot links and signs perfectly well;
    # only the nullifier check can refuse it.
    own = chains.own
    blocks = own.blocks
    replays = 0
    for end in range(1, len(blocks) + 1):
        state = verify_chain(blocks[:end])
        if state.session is not Session.OPEN:
            continue
        kind = BlockKind.BALLOT if state.mode is Mode.OFFICIAL else BlockKind.TEST_BALLOT
        for earlier in blocks[:end]:
            if earlier.block.kind is not kind:
                continue
            again = replace(earlier.block, height=end, prev=state.head, time=state.time)
            error = assert_caught_at([*blocks[:end], sign_block(again, own.key)], end)
            assert error.reason == "repeat_nullifier"
            replays += 1
    assert replays >= 10


@PROPERTY
@given(k=st.integers(1, LENGTH))
def test_truncating_the_front_is_caught_at_the_first_block(chains: Chains, k: int) -> None:
    blocks = chains.own.blocks
    error = assert_caught_at(blocks[k:], 0)
    assert error.reason == ("empty" if k == len(blocks) else "height_gap")


@PROPERTY
@given(cut=st.lists(st.integers(1, LAST), min_size=2, max_size=2, unique=True).map(sorted))
def test_dropping_from_the_middle_is_caught_where_the_gap_opens(
    chains: Chains, cut: list[int]
) -> None:
    i, j = cut  # drop blocks i .. j-1, keeping the genesis block and the last one
    blocks = chains.own.blocks
    assert assert_caught_at([*blocks[:i], *blocks[j:]], i).reason == "height_gap"


@PROPERTY
@given(keep=st.integers(1, LENGTH))
def test_truncating_the_tail_leaves_a_valid_shorter_chain(chains: Chains, keep: int) -> None:
    # Not tampering that verify_chain can see: a prefix of a chain is a valid chain. A lost tail
    # is caught when the ledger compares the kiosk's head (height and hash) with what it synced.
    blocks = chains.own.blocks
    state = verify_chain(blocks[:keep])
    assert state.height == keep - 1
    assert state.head == blocks[keep - 1].hash


# -- splices from another kiosk or another election -----------------------------------------------
@PROPERTY
@given(i=st.integers(1, LAST), which=st.sampled_from(["other_kiosk", "other_election"]))
def test_a_block_from_another_chain_is_caught_at_its_height(
    chains: Chains, i: int, which: str
) -> None:
    # Every block commits to the hash of the one before, back to a genesis block that differs
    # per kiosk and per election, so a foreign block at the right height never links.
    foreign = chains.foreign(which)
    assert foreign[i].block.height == i
    error = assert_caught_at(spliced(chains.own.blocks, i, foreign[i]), i)
    assert error.reason == "prev_mismatch"


@PROPERTY
@given(
    i=st.integers(1, LAST),
    start=st.integers(0, LAST),
    length=st.integers(1, LENGTH),
    which=st.sampled_from(["other_kiosk", "other_election"]),
)
def test_a_run_from_another_chain_is_caught_where_it_starts(
    chains: Chains, i: int, start: int, length: int, which: str
) -> None:
    blocks = chains.own.blocks
    run = chains.foreign(which)[start : start + length]
    tampered = [*blocks[:i], *run, *blocks[i + len(run) :]]
    error = assert_caught_at(tampered, i)
    assert error.reason == ("prev_mismatch" if start == i else "height_gap")


@pytest.mark.parametrize("which", ["other_kiosk", "other_election"])
def test_a_foreign_genesis_is_caught(chains: Chains, which: str) -> None:
    # A foreign genesis block is itself a valid start, so on its own the chain breaks at the
    # first link; told whose chain to expect, verify_chain refuses it at the genesis block.
    own = chains.own
    tampered = spliced(own.blocks, 0, chains.foreign(which)[0])
    assert assert_caught_at(tampered, 1).reason == "prev_mismatch"
    expect = {"kiosk": kiosk_id_for(own.key.public_key), "election": own.package.id}
    error = assert_caught_at(tampered, 0, **expect)
    assert error.reason == ("wrong_kiosk" if which == "other_kiosk" else "wrong_election")
    whole = assert_caught_at(chains.foreign(which), 0, **expect)
    assert whole.reason == error.reason


# -- regressions ---------------------------------------------------------------------------------
def gap_case(blocks: tuple[SignedBlock, ...], case: str) -> tuple[list[SignedBlock], int]:
    """A chain broken by a height gap, and the position where it breaks."""
    match case:
        case "changed_height":
            return spliced(blocks, 3, forge(blocks[3].to_json() | {"height": 7})), 3
        case "swap":
            swapped = list(blocks)
            swapped[3], swapped[7] = swapped[7], swapped[3]
            return swapped, 3
        case "dropped":
            return spliced(blocks, 3), 3
        case "duplicated":
            return [*blocks[:4], blocks[3], *blocks[4:]], 4
        case "front_cut":
            return list(blocks[2:]), 0
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["changed_height", "swap", "dropped", "duplicated", "front_cut"])
def test_a_gap_is_named_by_its_position(chains: Chains, case: str) -> None:
    # Blocks before the named height are taken as verified, so naming the height the block
    # claims was wrong both ways: a duplicate of block 3 at position 4 was reported as "block 3",
    # which is genuine; block 7 swapped into position 3 as "block 7", past the break.
    blocks, position = gap_case(chains.own.blocks, case)
    error = rejection(blocks)
    assert error.reason == "height_gap"
    assert error.height == position
    assert error.found == str(blocks[position].block.height)


@pytest.mark.parametrize("count", ["ballots", "test_ballots"])
def test_a_count_past_canonical_json_is_refused(chains: Chains, count: str) -> None:
    # 2**53 once passed the schema, so such a block could not be hashed: verify_chain raised
    # EncodingError instead of a ChainError, and the reader called the JSON invalid.
    blocks = chains.own.blocks
    i = next(n for n, b in enumerate(blocks) if b.block.kind is BlockKind.SESSION_CLOSE)
    body = dict(blocks[i].block.body) | {count: 2**53}
    tampered = replace(blocks[i], block=replace(blocks[i].block, body=body))
    assert assert_caught_at(spliced(blocks, i, tampered), i).reason == "bad_body"
    raw = json.dumps(blocks[i].to_json() | {"body": body}).encode()
    with pytest.raises(BlockError, match="must be between"):
        decode_signed_block(raw)
