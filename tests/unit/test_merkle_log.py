"""The Merkle log against a separate reference of the RFC 9162 definitions: every proof up to
64 leaves, batched appends, reopening, refusals, malformed proofs, and the cost of an append
and a proof."""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core.errors import VerificationError
from kiosk.core.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MerkleLog,
    MerkleLogError,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from testkit.merkle_logs import (
    SOME_HASH,
    CountingStore,
    consistency_tampers,
    distinct_leaves,
    inclusion_tampers,
    log_of,
)

# --- An independent reference ------------------------------------------------------------------
# Written from RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1 over D[lo:hi], sharing nothing with
# kiosk/core/merkle.py. Memoised MTH keeps the exhaustive checks quick; the recursion is the RFC's.


class ReferenceTree:
    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.d = list(leaf_hashes)
        self.mth = functools.cache(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.d[lo]
        k = largest_power_of_two_below(n)
        return hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]), m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D_n) = SUBPROOF(m, D_n, true)."""
        return self.subproof(m, 0, n, True)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def check_inclusion(log: MerkleLog, ref: ReferenceTree, index: int, size: int) -> None:
    proof = log.inclusion_proof(index, size)
    assert proof == ref.path(index, 0, size), (index, size)
    leaf, root = ref.d[index], log.root(size)
    verify_inclusion(leaf, index, size, proof, root)
    for desc, args in inclusion_tampers(leaf, index, size, proof, root):
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
            pytest.fail(f"inclusion {index} in {size}: {desc} verified")


def check_consistency(log: MerkleLog, ref: ReferenceTree, m: int, n: int) -> None:
    proof = log.consistency_proof(m, n)
    expected = [] if m in (0, n) else ref.proof(m, n)
    assert proof == expected, (m, n)
    old, new = log.root(m), log.root(n)
    verify_consistency(m, n, old, new, proof)
    if not proof:  # the trivial cases have their own test
        return
    for desc, args in consistency_tampers(m, n, old, new, proof):
        with pytest.raises(VerificationError):
            verify_consistency(*args)
            pytest.fail(f"consistency {m} to {n}: {desc} verified")


# --- Exhaustive and property checks ------------------------------------------------------------


def test_every_proof_up_to_64_leaves_matches_the_rfc_and_catches_tampering() -> None:
    leaves = distinct_leaves(64)
    log, ref = log_of(leaves), ReferenceTree(leaves)
    for size in range(1, 65):
        assert log.root(size) == ref.mth(0, size) == root_from_leaves(leaves[:size])
        for index in range(size):
            check_inclusion(log, ref, index, size)
        for old in range(size + 1):
            check_consistency(log, ref, old, size)


@st.composite
def batched_leaves(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    """Up to 300 distinct leaf hashes and a random split of them into append batches."""
    n = draw(st.integers(1, 300))
    cuts = sorted(set(draw(st.lists(st.integers(1, n), max_size=12))) | {n})
    seed = draw(st.integers(0, 2**32))
    return distinct_leaves(n, seed), cuts


@settings(max_examples=40, deadline=None)
@given(batched_leaves(), st.randoms(use_true_random=False))
def test_batched_appends_give_the_rfc_roots_and_proofs(
    case: tuple[list[bytes], list[int]], rnd: random.Random
) -> None:
    leaves, cuts = case
    log, ref, start = MerkleLog(MemoryNodeStore()), ReferenceTree(leaves), 0
    for cut in cuts:
        assert log.append(leaves[start:cut]) == cut
        start = cut
    for size in range(len(leaves) + 1):
        assert log.root(size) == root_from_leaves(leaves[:size]) == ref.mth(0, size)
    n = len(leaves)
    for index in range(n):
        assert log.inclusion_proof(index, n) == ref.path(index, 0, n)
    for old in range(1, n):
        assert log.consistency_proof(old, n) == ref.proof(old, n)
    for _ in range(16):
        size = rnd.randint(1, n)
        check_inclusion(log, ref, rnd.randrange(size), size)
        check_consistency(log, ref, rnd.randint(0, size), size)


def test_a_log_reopened_over_its_store_continues_where_it_stopped() -> None:
    leaves, store = distinct_leaves(100), MemoryNodeStore()
    MerkleLog(store).append(leaves[:37])
    reopened = MerkleLog(store, 37)
    reopened.append(leaves[37:])
    assert reopened.root() == root_from_leaves(leaves)


# --- Refusals ----------------------------------------------------------------------------------


def test_the_log_refuses_sizes_and_indices_it_does_not_hold() -> None:
    log = log_of(distinct_leaves(5))
    for call in (
        lambda: log.root(6),
        lambda: log.root(-1),
        lambda: log.inclusion_proof(5, 5),
        lambda: log.inclusion_proof(0, 0),
        lambda: log.inclusion_proof(0, 6),
        lambda: log.consistency_proof(4, 3),
        lambda: log.consistency_proof(2, 6),
        lambda: log.append([b"short"]),
        lambda: MerkleLog(MemoryNodeStore(), -1),
        lambda: MerkleLog(MemoryNodeStore(), 3).root(),  # the store lost its nodes
    ):
        with pytest.raises(MerkleLogError):
            call()


GOOD = leaf_hash(b"x")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: verify_inclusion(GOOD, 0, 0, [], GOOD), id="empty tree"),
        pytest.param(lambda: verify_inclusion(GOOD, 1, 1, [], GOOD), id="index = size"),
        pytest.param(lambda: verify_inclusion(GOOD, 5, 2, [GOOD], GOOD), id="index > size"),
        pytest.param(lambda: verify_inclusion(GOOD, -1, 2, [GOOD], GOOD), id="negative index"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2**64, [GOOD] * 64, GOOD), id="size > u64"),
        pytest.param(lambda: verify_inclusion(GOOD, True, 2, [GOOD], GOOD), id="bool index"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, [], GOOD), id="proof too short"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, [GOOD] * 2, GOOD), id="too long"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, [GOOD[:31]], GOOD), id="short hash"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, [GOOD + b"!"], GOOD), id="long hash"),
        # Wrong types on purpose: proofs arrive from outside, parsed by code we do not own.
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, [GOOD.hex()], GOOD), id="hex"),  # type: ignore[list-item]
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, GOOD, GOOD), id="bytes proof"),  # type: ignore[arg-type]
        pytest.param(lambda: verify_inclusion(GOOD, 0, 2, None, GOOD), id="None proof"),  # type: ignore[arg-type]
        pytest.param(lambda: verify_inclusion(b"", 0, 1, [], GOOD), id="empty leaf"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 1, [], b""), id="empty root"),
        pytest.param(lambda: verify_inclusion(GOOD, 0, 1, [], GOOD.hex()), id="str root"),  # type: ignore[arg-type]
        pytest.param(lambda: verify_consistency(2, 1, GOOD, GOOD, []), id="sizes out of order"),
        pytest.param(lambda: verify_consistency(-1, 1, GOOD, GOOD, []), id="negative size"),
        pytest.param(lambda: verify_consistency(1, 2, GOOD, GOOD, []), id="empty proof"),
        pytest.param(lambda: verify_consistency(1, 2, GOOD, GOOD, [b""]), id="empty hash"),
        pytest.param(lambda: verify_consistency(1, 2, b"", GOOD, [GOOD]), id="short old root"),
        pytest.param(lambda: verify_consistency(1, 2, GOOD, None, [GOOD]), id="no root"),  # type: ignore[arg-type]
        pytest.param(lambda: verify_consistency(3, 9, GOOD, GOOD, [GOOD] * 40), id="too long"),
        pytest.param(lambda: verify_consistency(1, 1, GOOD, GOOD, [GOOD]), id="same size, proof"),
        pytest.param(
            lambda: verify_consistency(1, 1, GOOD, SOME_HASH, []), id="same size, 2 roots"
        ),
        pytest.param(lambda: verify_consistency(0, 0, GOOD, GOOD, []), id="empty tree, root"),
        pytest.param(lambda: verify_consistency(0, 5, GOOD, GOOD, []), id="from empty, bad root"),
        pytest.param(
            lambda: verify_consistency(0, 5, EMPTY_ROOT, GOOD, [GOOD]), id="from empty, proof"
        ),
    ],
)
def test_malformed_proofs_are_verification_errors(call: Callable[[], None]) -> None:
    with pytest.raises(VerificationError) as caught:
        call()
    assert caught.value.user_message  # a HanpyoError the caller can show, never an IndexError


def test_trivial_consistency_holds_without_a_proof() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 7, EMPTY_ROOT, SOME_HASH, [])  # the empty tree precedes every tree
    verify_consistency(5, 5, SOME_HASH, SOME_HASH, [])


def test_failures_name_the_expected_and_the_computed_root() -> None:
    leaves = distinct_leaves(6)
    log = log_of(leaves)
    with pytest.raises(VerificationError) as caught:
        verify_inclusion(leaves[2], 2, 6, log.inclusion_proof(2, 6), SOME_HASH)
    assert caught.value.expected == SOME_HASH.hex()
    assert caught.value.found == log.root(6).hex()


# --- Cost: O(1) amortised writes per append, O(log n) reads per proof -------------------------


def test_appending_2_16_leaves_costs_o1_writes_and_proofs_olog_n_reads() -> None:
    n = 1 << 16
    store = CountingStore()
    log = MerkleLog(store)
    most_writes = most_reads = 0
    for i in range(n):
        writes, reads = store.writes, len(store.reads)
        log.append([leaf_hash(i.to_bytes(4, "big"))])
        most_writes = max(most_writes, store.writes - writes)
        most_reads = max(most_reads, len(store.reads) - reads)
    # Every complete subtree is written once: 2n - 1 nodes for n = 2^16, about 2 per append.
    assert store.writes == 2 * n - 1
    assert most_writes == 17  # the last leaf completes 16 subtrees
    assert most_reads == 16
    assert len(store.reads) == n - 1  # one left sibling per completed subtree

    rnd = random.Random(6962)
    sizes = [1, 2, 3, n - 1, n, (n >> 1) - 1, (n >> 1) + 1] + [
        rnd.randint(1, n) for _ in range(300)
    ]
    for size in sizes:
        bound = 2 * math.log2(size) + 2
        for index in {0, size - 1, rnd.randrange(size)}:
            store.reads.clear()
            log.inclusion_proof(index, size)
            assert len(store.reads) <= bound, (index, size)
        for old in {1, size - 1, rnd.randint(0, size)}:
            store.reads.clear()
            log.consistency_proof(old, size)
            assert len(store.reads) <= bound, (old, size)
        store.reads.clear()
        log.root(size)
        assert len(store.reads) <= math.log2(size) + 1
    # One spot check that these cheap proofs still verify.
    verify_inclusion(
        leaf_hash((12345).to_bytes(4, "big")),
        12345,
        n - 1,
        log.inclusion_proof(12345, n - 1),
        log.root(n - 1),
    )
    verify_consistency(
        40000, n - 1, log.root(40000), log.root(n - 1), log.consistency_proof(40000, n - 1)
    )


def test_node_hash_is_not_a_leaf_hash() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) != leaf_hash(a + b)
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
