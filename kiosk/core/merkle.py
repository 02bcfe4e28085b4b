"""The ledger's append-only RFC 6962 / RFC 9162 Merkle log over SHA-256, and the pure checks of
its inclusion and consistency proofs that anyone can run without the log."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from kiosk.core.errors import HanpyoError, VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH(), RFC 6962 section 2.1
MAX_TREE_SIZE = 2**64 - 1  # tree sizes and leaf indices are uint64 on the wire (RFC 9162)

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleLogError(HanpyoError):
    """The log was asked for something it does not hold, or its store lost a node."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash a leaf enters the tree with."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right); the prefix keeps a node from passing for a leaf."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of ``leaf_hashes`` by the plain recursive definition; O(n), for tests and small
    inputs only."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaf_hashes[:k]), root_from_leaves(leaf_hashes[k:]))


class NodeStore(Protocol):
    """Where the log keeps its complete subtrees.

    ``(level, index)`` names the perfect subtree over leaves ``[index * 2**level,
    (index + 1) * 2**level)``; level 0 holds the leaf hashes. ``put_many`` must be atomic and
    must overwrite: a retried append may rewrite nodes past the last committed size.
    """

    def get(self, level: int, index: int) -> bytes: ...

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None: ...


class MemoryNodeStore:
    """A ``NodeStore`` in a dict, for tests and tools."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        try:
            return self.nodes[(level, index)]
        except KeyError:
            raise MerkleLogError(f"the node store has no node ({level}, {index})") from None

    def put_many(self, nodes: list[tuple[int, int, bytes]]) -> None:
        for level, index, value in nodes:
            self.nodes[(level, index)] = value


class MerkleLog:
    """An append-only log of ``size`` leaves whose complete subtrees live in ``store``.

    Appends write each leaf and every subtree it completes. Roots and proofs for any size up
    to ``size`` are assembled from O(log n) stored subtrees; no leaf is ever rehashed. The
    caller owns ``size`` (read and written in the same transaction as the store), and only
    one writer may append at a time.
    """

    __slots__ = ("_size", "_store")

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        if not 0 <= size <= MAX_TREE_SIZE:
            raise MerkleLogError(f"a log size is between 0 and 2^64 - 1, not {size}")
        self._store = store
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hashes: Sequence[bytes]) -> int:
        """Add ``leaf_hashes`` (each ``leaf_hash(entry)``) in one ``put_many``; the new size."""
        for h in leaf_hashes:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise MerkleLogError("a leaf hash is 32 bytes; hash entries with leaf_hash()")
        if self._size + len(leaf_hashes) > MAX_TREE_SIZE:
            raise MerkleLogError("the log cannot grow past 2^64 - 1 leaves")
        written: dict[tuple[int, int], bytes] = {}
        size = self._size
        for h in leaf_hashes:
            level, index, node = 0, size, h
            written[(0, index)] = node
            # A right child completes its parent; climb while that keeps happening.
            while index & 1:
                left = written.get((level, index - 1))
                if left is None:  # completed by an earlier append
                    left = self._store.get(level, index - 1)
                node = node_hash(left, node)
                level, index = level + 1, index >> 1
                written[(level, index)] = node
            size += 1
        if written:
            self._store.put_many([(lv, ix, h) for (lv, ix), h in written.items()])
        self._size = size
        return size

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: the whole log)."""
        size = self._checked_size(size)
        return EMPTY_ROOT if size == 0 else self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, deepest sibling first."""
        size = self._checked_size(size)
        if not 0 <= index < size:
            raise MerkleLogError(f"leaf {index} is not in a tree of {size} leaves")
        lo, hi, siblings = 0, size, []
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                siblings.append((lo + k, hi))
                hi = lo + k
            else:
                siblings.append((lo, lo + k))
                lo += k
        return [self._range_hash(a, b) for a, b in reversed(siblings)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1; empty when there is
        nothing to prove (an empty old tree, or equal sizes)."""
        new_size = self._checked_size(new_size)
        if not 0 <= old_size <= new_size:
            raise MerkleLogError(f"no consistency proof from size {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        # SUBPROOF(m, D[lo:hi], whole): ``whole`` is true while D[lo:hi] is still a left
        # edge of the old tree, whose hash the verifier already has.
        lo, hi, whole, parts = 0, new_size, True, []
        while old_size != hi:
            k = _split(hi - lo)
            if old_size - lo <= k:
                parts.append((lo + k, hi))
                hi = lo + k
            else:
                parts.append((lo, lo + k))
                lo, whole = lo + k, False
        if not whole:
            parts.append((lo, hi))
        return [self._range_hash(a, b) for a, b in reversed(parts)]

    def _checked_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise MerkleLogError(f"the log has {self._size} leaves; size {size} is not in it")
        return size

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) from stored subtrees, for the ranges RFC proofs use: ``lo`` is a
        multiple of a power of two >= hi - lo, so the range splits into aligned perfect
        subtrees along the bits of its length, largest first."""
        length, start, subtrees = hi - lo, lo, []
        for level in range(length.bit_length() - 1, -1, -1):
            if length >> level & 1:
                subtrees.append(self._store.get(level, start >> level))
                start += 1 << level
        acc = subtrees.pop()
        while subtrees:
            acc = node_hash(subtrees.pop(), acc)
        return acc


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ``VerificationError`` unless ``proof`` shows ``leaf_hash`` at ``index`` of the
    tree of ``size`` leaves whose root is ``root`` (RFC 9162 section 2.1.3.2).

    The proof does not authenticate ``size``: take size and root from one signed checkpoint.
    """
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root hash", root)
    _check_size("tree size", size)
    _check_size("leaf index", index)
    if index >= size:
        raise VerificationError(
            "leaf index is outside the tree", expected=f"an index below {size}", found=str(index)
        )
    _check_proof(proof, _inclusion_length(index, size))
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:  # the length check already rules this out; kept as the RFC's own guard
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise VerificationError(
            "inclusion proof does not lead to the root", expected=root.hex(), found=r.hex()
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ``VerificationError`` unless ``proof`` shows the tree of ``old_size`` leaves with
    ``old_root`` is a prefix of the tree of ``new_size`` leaves with ``new_root``
    (RFC 9162 section 2.1.4.2)."""
    _check_hash("old root hash", old_root)
    _check_hash("new root hash", new_root)
    _check_size("old tree size", old_size)
    _check_size("new tree size", new_size)
    if old_size > new_size:
        raise VerificationError(
            "the old tree is larger than the new one",
            expected=f"an old size of at most {new_size}",
            found=str(old_size),
        )
    if old_size in (0, new_size):
        _check_trivial_consistency(old_size, new_size, old_root, new_root, proof)
        return
    _check_proof(proof, _consistency_length(old_size, new_size))
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a perfect subtree: its root starts
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # the length check already rules this out; kept as the RFC's own guard
            raise VerificationError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root:
        raise VerificationError(
            "consistency proof does not lead to the old root",
            expected=old_root.hex(),
            found=fr.hex(),
        )
    if sr != new_root:
        raise VerificationError(
            "consistency proof does not lead to the new root",
            expected=new_root.hex(),
            found=sr.hex(),
        )


def _check_trivial_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Nothing to prove: an empty tree precedes every tree, and a tree is consistent with
    itself. The proof must be empty and the roots must be the ones those trees have."""
    _check_proof(proof, 0)
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise VerificationError(
            "the root of an empty tree is SHA-256 of nothing",
            expected=EMPTY_ROOT.hex(),
            found=old_root.hex(),
        )
    if old_size == new_size and old_root != new_root:
        raise VerificationError(
            f"two roots for the same tree size {new_size}",
            expected=old_root.hex(),
            found=new_root.hex(),
        )


def _inclusion_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) has: the levels where index and size - 1 differ
    (inner), plus the left siblings above them (border)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_length(old_size: int, new_size: int) -> int:
    """How many hashes PROOF(old_size, D[new_size]) has, 0 < old_size < new_size: the path of
    the old tree's last leaf, less the levels inside the old tree's rightmost perfect subtree,
    plus that subtree's own hash unless it is the whole old tree."""
    shift = ((old_size & -old_size).bit_length()) - 1  # trailing zero bits of old_size
    seed = 0 if old_size == 1 << shift else 1
    return seed + _inclusion_length(old_size - 1, new_size) - shift


def _check_hash(name: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        found = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise VerificationError(f"{name} is not a SHA-256 hash", expected="32 bytes", found=found)


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TREE_SIZE:
        raise VerificationError(
            f"{name} is not a 64-bit unsigned integer", expected="0 to 2^64 - 1", found=repr(value)
        )


def _check_proof(proof: object, length: int) -> None:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        raise VerificationError(
            "a proof is a list of hashes", expected="a list", found=type(proof).__name__
        )
    if len(proof) != length:
        raise VerificationError(
            "proof has the wrong number of hashes",
            expected=str(length),
            found=str(len(proof)),
        )
    for i, h in enumerate(proof):
        _check_hash(f"proof hash {i}", h)
