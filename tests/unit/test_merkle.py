"""The ledger's Merkle log agrees with the published RFC 6962 test vectors and with a separate
reference of the RFC 9162 definitions, catches every tampered proof, and costs O(log n) store
reads and writes however long the log grows."""

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

# --- Published vectors -------------------------------------------------------------------------
# From github.com/transparency-dev/merkle: testonly/constants.go (LeafInputs, NodeHashes,
# RootHashes) and proof/verify_test.go (inclusionProofs, consistencyProofs; that file numbers
# leaves from 1, here they are 0-based indices). They are the RFC 6962 vectors of Google's
# certificate-transparency reference implementation.

LEAF_INPUTS = [
    bytes.fromhex(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

NODE_HASHES = {  # (level, index) -> hash of every complete subtree of the 8-leaf tree
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

ROOTS = [  # by tree size, 0 to 8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

INCLUSION_PROOFS = [  # (leaf index, tree size, proof)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]

CONSISTENCY_PROOFS = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# Which stored nodes a proof is built from, as (level, index), from transparency-dev/merkle
# proof/proof_test.go (TestInclusion, TestConsistency): the same complete subtrees any
# RFC 6962 log must read, whatever order it combines them in.
INCLUSION_NODES = [
    (7, 0, [(0, 1), (1, 1), (0, 6), (1, 2)]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]),
    (7, 6, [(1, 2), (2, 0)]),
    (6, 3, [(0, 2), (1, 0), (1, 2)]),
    (15, 10, [(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)]),
    (31, 24, [(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)]),
    (95, 81, [(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)]),
]
CONSISTENCY_NODES = [
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (3, 7, [(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)]),
    (4, 7, [(0, 6), (1, 2)]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    (10, 15, [(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)]),
    (24, 31, [(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)]),
    (81, 95, [(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)]),
]


def h(hex_hash: str) -> bytes:
    return bytes.fromhex(hex_hash)


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


# --- Helpers -----------------------------------------------------------------------------------


class CountingStore(MemoryNodeStore):
    """A memory store that records every node read and counts every node written."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, int]] = []
        self.writes = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return super().get(level, index)

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None:
        self.writes += len(nodes)
        super().put_many(nodes)


def distinct_leaves(n: int, seed: int = 0) -> list[bytes]:
    return [leaf_hash(f"{seed}:{i}".encode()) for i in range(n)]


def log_of(leaves: Sequence[bytes], store: MemoryNodeStore | None = None) -> MerkleLog:
    log = MerkleLog(store if store is not None else MemoryNodeStore())
    log.append(leaves)
    return log


def flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def inclusion_tampers(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    """Every way transparency-dev's corruptInclusionProof damages a proof, and a few more."""
    probes = [
        ("other leaf", (flip(leaf), index, size, proof, root)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("other root", (leaf, index, size, proof, flip(root))),
        ("size * 2", (leaf, index, size * 2, proof, root)),
        ("trailing root", (leaf, index, size, [*proof, root], root)),
        ("preceding root", (leaf, index, size, [root, *proof], root)),
        ("preceding leaf", (leaf, index, size, [leaf, *proof], root)),
    ]
    for other in (index - 1, index + 1, index ^ 2):
        if 0 <= other < size and other != index:
            probes.append((f"index {other}", (leaf, other, size, proof, root)))
    if index < size // 2:
        probes.append(("size // 2", (leaf, index, size // 2, proof, root)))
    for i in range(len(proof)):
        changed = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
        probes.append((f"proof[{i}] flipped", (leaf, index, size, changed, root)))
    if proof:
        probes.append(("last hash removed", (leaf, index, size, proof[:-1], root)))
        probes.append(
            ("hash inserted", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
        )
    return probes


def consistency_tampers(
    m: int, n: int, old: bytes, new: bytes, proof: list[bytes]
) -> list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    """Every way transparency-dev's corruptConsistencyProof damages a proof."""
    probes = [
        ("old size - 1", (m - 1, n, old, new, proof)),
        ("old size + 1", (m + 1, n, old, new, proof)),
        ("new size * 2", (m, n * 2, old, new, proof)),
        ("other old root", (m, n, flip(old), new, proof)),
        ("other new root", (m, n, old, flip(new), proof)),
        ("swapped roots", (m, n, new, old, proof)),
        ("empty proof", (m, n, old, new, [])),
        ("trailing old root", (m, n, old, new, [*proof, old])),
        ("trailing new root", (m, n, old, new, [*proof, new])),
        ("preceding old root", (m, n, old, new, [old, *proof])),
        ("preceding new root", (m, n, old, new, [new, *proof])),
        ("preceding proof[0]", (m, n, old, new, [proof[0], *proof])),
        ("last hash removed", (m, n, old, new, proof[:-1])),
    ]
    if m ^ 2 <= n:
        probes.append(("old size ^ 2", (m ^ 2, n, old, new, proof)))
    if n // 2 >= m:
        probes.append(("new size // 2", (m, n // 2, old, new, proof)))
    for i in range(len(proof)):
        changed = [*proof[:i], flip(proof[i], 4), *proof[i + 1 :]]
        probes.append((f"proof[{i}] flipped", (m, n, old, new, changed)))
    return probes


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


# --- The published vectors ---------------------------------------------------------------------


def test_eight_leaves_store_exactly_the_published_complete_subtrees() -> None:
    store = MemoryNodeStore()
    log_of([leaf_hash(x) for x in LEAF_INPUTS], store)
    assert {k: v.hex() for k, v in store.nodes.items()} == NODE_HASHES


def test_roots_of_every_size_match_the_published_roots() -> None:
    leaves = [leaf_hash(x) for x in LEAF_INPUTS]
    log = log_of(leaves)
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == h(ROOTS[0])
    for size, root in enumerate(ROOTS):
        assert log.root(size).hex() == root
        assert root_from_leaves(leaves[:size]).hex() == root
    assert log.root() == h(ROOTS[8])


def test_roots_grow_with_the_log_one_leaf_at_a_time() -> None:
    log = MerkleLog(MemoryNodeStore())
    assert log.root() == EMPTY_ROOT
    for i, data in enumerate(LEAF_INPUTS):
        assert log.append([leaf_hash(data)]) == i + 1
        assert log.root().hex() == ROOTS[i + 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_published_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    log = log_of([leaf_hash(x) for x in LEAF_INPUTS])
    assert [p.hex() for p in log.inclusion_proof(index, size)] == proof
    verify_inclusion(
        leaf_hash(LEAF_INPUTS[index]), index, size, [h(p) for p in proof], h(ROOTS[size])
    )
    if size > 1:
        root = h(ROOTS[size])
        tampers = inclusion_tampers(
            leaf_hash(LEAF_INPUTS[index]), index, size, [h(p) for p in proof], root
        )
        for desc, args in tampers:
            with pytest.raises(VerificationError):
                verify_inclusion(*args)
                pytest.fail(desc)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS)
def test_published_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    log = log_of([leaf_hash(x) for x in LEAF_INPUTS])
    assert [p.hex() for p in log.consistency_proof(old, new)] == proof
    verify_consistency(old, new, h(ROOTS[old]), h(ROOTS[new]), [h(p) for p in proof])
    if proof:
        for desc, args in consistency_tampers(
            old, new, h(ROOTS[old]), h(ROOTS[new]), [h(p) for p in proof]
        ):
            with pytest.raises(VerificationError):
                verify_consistency(*args)
                pytest.fail(desc)


@pytest.mark.parametrize(("size", "index", "nodes"), INCLUSION_NODES)
def test_inclusion_proofs_read_the_published_subtrees(
    size: int, index: int, nodes: list[tuple[int, int]]
) -> None:
    store = CountingStore()
    log = log_of(distinct_leaves(128), store)
    store.reads.clear()
    log.inclusion_proof(index, size)
    assert sorted(store.reads) == sorted(nodes)


@pytest.mark.parametrize(("old", "new", "nodes"), CONSISTENCY_NODES)
def test_consistency_proofs_read_the_published_subtrees(
    old: int, new: int, nodes: list[tuple[int, int]]
) -> None:
    store = CountingStore()
    log = log_of(distinct_leaves(128), store)
    store.reads.clear()
    log.consistency_proof(old, new)
    assert sorted(store.reads) == sorted(nodes)


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
