"""Merkle logs for tests: a store that counts its reads and writes, logs over distinct
leaves, and every way to tamper with a proof."""

from __future__ import annotations

from collections.abc import Sequence

from kiosk.core.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MerkleLog,
    leaf_hash,
)


def h(hex_hash: str) -> bytes:
    return bytes.fromhex(hex_hash)


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
