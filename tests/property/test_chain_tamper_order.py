"""Any reorder, duplicate, cut or splice of a kiosk chain is caught by verify_chain where it
starts."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kiosk.core.block import (
    BlockKind,
    SignedBlock,
    decode_signed_block,
    sign_block,
)
from kiosk.core.chain import Mode, Session, verify_chain
from kiosk.core.crypto import kiosk_id_for
from kiosk.core.errors import BlockError
from testkit.tampering import (
    LAST,
    LENGTH,
    PROPERTY,
    Chains,
    assert_caught_at,
    forge,
    rejection,
    spliced,
)


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
