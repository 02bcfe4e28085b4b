"""The Merkle log against the published RFC 6962 test vectors: its stored subtrees, roots,
inclusion and consistency proofs, and the subtrees each proof reads."""

from __future__ import annotations

import hashlib

import pytest

from kiosk.core.errors import VerificationError
from kiosk.core.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MerkleLog,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from testkit.merkle_logs import (
    CountingStore,
    consistency_tampers,
    distinct_leaves,
    h,
    inclusion_tampers,
    log_of,
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
