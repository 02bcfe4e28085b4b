"""Merkle proofs from a hostile ledger: inclusion and consistency proofs are checked against
the log that really holds the world's blocks, and against the RFC's recursive definition."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fuzz import world
from fuzz.contract import accepted, require
from fuzz.draw import Draw
from kiosk.core.merkle import EMPTY_ROOT, node_hash, verify_consistency, verify_inclusion


def _hash(d: Draw, pool: Sequence[bytes]) -> bytes:
    """One of the log's real hashes (so that accepting proofs are reachable), or raw bytes."""
    if d.flag():
        return pool[d.below(len(pool))]
    return d.raw(32 if d.flag() else d.below(40))


def _pool() -> list[bytes]:
    log, leaves = world.merkle_log()
    hashes = list(leaves)
    for size in range(1, log.size + 1):
        hashes.append(log.root(size))
        for i in range(size):
            hashes += log.inclusion_proof(i, size)
    return sorted(set(hashes))


_POOL: list[bytes] = []


def _size(d: Draw, real: int) -> int:
    """Mostly a size within the log; sometimes any 64-bit number (or beyond)."""
    if d.below(8):
        return d.below(real + 2)
    return d.uint(9) >> d.below(72)


def merkle(data: bytes) -> None:
    """verify_inclusion and verify_consistency refuse with VerificationError only, agree with
    the RFC's recursive definition, and accept for the real log only its real proofs."""
    if not _POOL:
        _POOL.extend(_pool())
    log, leaves = world.merkle_log()
    d = Draw(data)
    if d.flag():
        size, index = _size(d, log.size), _size(d, log.size)
        leaf = _hash(d, _POOL)
        proof = [_hash(d, _POOL) for _ in range(d.below(70))]
        root = _hash(d, _POOL)
        ok = _passes(lambda: verify_inclusion(leaf, index, size, proof, root))
        if 0 <= index < size <= 2**64 - 1 and all(len(h) == 32 for h in [leaf, root, *proof]):
            require(ok == (_root_from_path(leaf, index, size, proof) == root), "differs from RFC")
        if ok and size <= log.size and root == log.root(size):  # a root from a checkpoint
            require(leaf == leaves[index], "inclusion of a leaf the log does not hold")
            require(list(proof) == log.inclusion_proof(index, size), "a forged path passed")
    else:
        old, new = _size(d, log.size), _size(d, log.size)
        old_root, new_root = _hash(d, _POOL), _hash(d, _POOL)
        proof = [_hash(d, _POOL) for _ in range(d.below(70))]
        ok = _passes(lambda: verify_consistency(old, new, old_root, new_root, proof))
        if not ok:
            return
        if old == 0:
            require(old_root == EMPTY_ROOT and not proof, "an empty tree with a proof or a root")
        elif old == new:
            require(old_root == new_root and not proof, "one size, two roots")
        elif new <= log.size and (old_root, new_root) == (log.root(old), log.root(new)):
            require(list(proof) == log.consistency_proof(old, new), "a forged proof passed")


def _passes(verify: Callable[[], None]) -> bool:
    """Whether a ``verify_*`` function (None when it passes) passes or refuses."""

    def passed() -> bool:
        verify()
        return True

    return accepted(passed) is not None


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _root_from_path(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root PATH(index, D[size]) leads to, by RFC 6962's recursive definition (2.1.1);
    None when the path has the wrong length. Deepest sibling first, as the RFC lists it."""
    if size == 1:
        return leaf if not proof else None
    if not proof:
        return None
    k, top = _split(size), proof[-1]
    if index < k:
        sub = _root_from_path(leaf, index, k, proof[:-1])
        return None if sub is None else node_hash(sub, top)
    sub = _root_from_path(leaf, index - k, size - k, proof[:-1])
    return None if sub is None else node_hash(top, sub)
