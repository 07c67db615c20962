"""RFC 9162 §2.1 Merkle trees: hashes, proofs from stored hashes, proof verifiers.

Leaves hash as ``SHA-256(0x00 ‖ entry)``, interior nodes as ``SHA-256(0x01 ‖ left ‖ right)``
and the empty tree as ``SHA-256("")`` (RFC 9162 §2.1.1).

Proof *generation* reads the hashes of complete subtrees through a :class:`HashReader`,
addressed as in Go's ``golang.org/x/mod/sumdb/tlog``: the hash at ``level`` L covering
leaves ``[n·2^L, (n+1)·2^L)`` has the *stored hash index* it would have if every hash
were appended to a list as soon as it is known (:func:`stored_hash_index`).
Proof *verification* is the iterative algorithm of RFC 9162 §2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256
from typing import Protocol

from generator.tlog.errors import InvalidProof

HASH_SIZE = 32
"""Bytes in a SHA-256 hash: every leaf, node, root and proof hash."""

EMPTY_ROOT = sha256(b"").digest()
"""MTH({}) — the root of the empty tree (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 ‖ d), the hash of one entry (RFC 9162 §2.1.1)."""
    return sha256(_LEAF_PREFIX + entry).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """The leaf hash of each entry, in one tight loop (RFC 9162 §2.1.1)."""
    return [sha256(_LEAF_PREFIX + entry).digest() for entry in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right), an interior node (RFC 9162 §2.1.1)."""
    return sha256(_NODE_PREFIX + left + right).digest()


def pair_hashes(level: bytes) -> bytes:
    """The node hash of each pair of hashes in a concatenated level, concatenated.

    An unpaired last hash is left out. This is one level of RFC 9162 §2.1.1
    hashing for many nodes at once.
    """
    return b"".join(
        [sha256(_NODE_PREFIX + level[i : i + 64]).digest() for i in range(0, len(level) - 63, 64)]
    )


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of an in-memory list of leaf hashes (RFC 9162 §2.1.1).

    Hashes level by level, carrying an unpaired right-most node up unchanged,
    which builds the same tree as the recursive split at the largest power of two.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = b"".join(leaf_hashes)
    if len(level) != HASH_SIZE * len(leaf_hashes):
        raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes each")
    while len(level) > HASH_SIZE:
        odd = level[-HASH_SIZE:] if len(level) // HASH_SIZE % 2 else b""
        level = pair_hashes(level) + odd
    return level


class HashReader(Protocol):
    """Anything that returns the stored hashes at the given stored hash indexes."""

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """The hashes at ``indexes``, in the same order."""
        ...


def stored_hash_index(level: int, n: int) -> int:
    """The stored hash index of the ``n``-th hash at ``level`` (Go sumdb tlog order).

    Leaf ``n`` is stored right after every hash completed by leaves ``< n``; the hash
    at (level L, n) is stored right after the hash at (L-1, 2n+1), which completes it.
    """
    for _ in range(level):
        n = 2 * n + 1
    # Leaves before leaf n completed n + n/2 + n/4 + … hashes (leaves included).
    index = 0
    while n:
        index += n
        n >>= 1
    return index + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """The (level, n) of a stored hash index; inverse of :func:`stored_hash_index`."""
    if index < 0:
        raise ValueError(f"stored hash index {index} is negative")
    # stored_hash_index(0, n) lies in [n, 2n], so the leaf that completed the
    # hash at ``index`` is at most log2(index) past index // 2.
    n = index // 2
    start = stored_hash_index(0, n)
    while True:
        # Leaf n adds itself and one hash per trailing 1 bit of n.
        following = start + 1 + _trailing_ones(n)
        if following > index:
            break
        n += 1
        start = following
    level = index - start
    return level, n >> level


def stored_hash_count(size: int) -> int:
    """How many hashes a tree of ``size`` leaves stores."""
    if size == 0:
        return 0
    return stored_hash_index(0, size - 1) + 1 + _trailing_ones(size - 1)


def _trailing_ones(n: int) -> int:
    return (~n & (n + 1)).bit_length() - 1


def _split(n: int) -> int:
    """k, the largest power of two smaller than n ≥ 2 (RFC 9162 §2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_indexes(lo: int, hi: int) -> list[int]:
    """Stored indexes of the complete subtrees whose hashes fold into MTH(D[lo:hi])."""
    indexes = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        indexes.append(stored_hash_index(level, lo >> level))
        lo += 1 << level
    return indexes


RangeMemo = dict[tuple[int, int], bytes]
"""MTH(D[lo:hi]) by (lo, hi), kept between proofs of one authenticated tree."""

MAX_MEMO_RANGES = 1 << 16
"""A memo holding more ranges is emptied (about 10 MB at most). The proofs of a site
of 12,000 entries need some 24,000; a bigger log's proofs, made in log order, still
share most of their ranges with their neighbours' between two emptyings."""


def _range_hashes(
    ranges: Sequence[tuple[int, int]], reader: HashReader, memo: RangeMemo | None = None
) -> list[bytes]:
    """MTH(D[lo:hi]) of each range, from one batch of stored hashes.

    With a ``memo`` (of the tree ``reader`` reads), ranges already in it are not
    read again and the new ones are added: proofs of neighbouring leaves share most
    of their ranges.
    """
    if memo is not None:
        missing = [r for r in ranges if r not in memo]
        if missing:
            if len(memo) + len(missing) > MAX_MEMO_RANGES:
                memo.clear()
                missing = list(dict.fromkeys(ranges))  # all of them again
            memo.update(zip(missing, _range_hashes(missing, reader), strict=True))
        return [memo[r] for r in ranges]
    groups = [_subtree_indexes(lo, hi) for lo, hi in ranges]
    hashes = reader.read_hashes([i for group in groups for i in group])
    if len(hashes) != sum(map(len, groups)):
        raise ValueError("hash reader returned the wrong number of hashes")
    out, at = [], 0
    for group in groups:
        part = hashes[at : at + len(group)]
        at += len(group)
        acc = part[-1]
        for h in reversed(part[:-1]):
            acc = node_hash(h, acc)
        out.append(acc)
    return out


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PATH(index, D[size]), leaf's sibling first (§2.1.3.1)."""
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PROOF(old, D[new]) for 0 < old ≤ new (§2.1.4.1)."""
    ranges = []
    lo, hi, whole = 0, new_size, True  # ``whole``: SUBPROOF's b, the old tree is D[0:hi]
    while hi != old_size:
        k = _split(hi - lo)
        if old_size - lo <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def tree_hash(size: int, reader: HashReader) -> bytes:
    """MTH(D[size]) computed from the stored hashes of its complete subtrees."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    if size == 0:
        return EMPTY_ROOT
    return _range_hashes([(0, size)], reader)[0]


def inclusion_proof(
    index: int, size: int, reader: HashReader, memo: RangeMemo | None = None
) -> list[bytes]:
    """PATH(index, D[size]): the inclusion proof of leaf ``index`` (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _range_hashes(_inclusion_ranges(index, size), reader, memo)


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) over an in-memory list of leaf hashes (RFC 9162 §2.1.3.1).

    For leaves ``[a, a+w)`` of a bigger tree whose first ``a`` is a multiple of ``w``'s
    power-of-two ceiling (a tile), it is the lower part of the leaf's proof in that
    tree: the rest is the same for every leaf of the tile.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is not in a tree of size {len(leaves)}")
    return [root_hash(leaves[lo:hi]) for lo, hi in _inclusion_ranges(index, len(leaves))]


def consistency_proof(old_size: int, new_size: int, reader: HashReader) -> list[bytes]:
    """PROOF(old_size, D[new_size]): the consistency proof between two trees (§2.1.4.1).

    Empty when ``old_size`` is 0 or equals ``new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from tree size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    return _range_hashes(_consistency_ranges(old_size, new_size), reader)


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProof(f"{what} is {len(value)} bytes, want {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes], want: int, what: str) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"{what} hash {i}", h)
    if len(proof) != want:
        raise InvalidProof(f"{what} has {len(proof)} hashes, want {want}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``proof`` proves leaf hash ``leaf`` at ``index`` in the tree (size, root).

    RFC 9162 §2.1.3.2; raises :class:`InvalidProof` saying why, returns None on success.
    """
    _check_hash("leaf hash", leaf)
    _check_hash("root hash", root)
    # (1) The leaf must be in the tree.
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is not in a tree of size {size}")
    what = f"inclusion proof for leaf {index} in tree size {size}"
    _check_proof(proof, len(_inclusion_ranges(index, size)), what)
    # (2)-(3)
    fn, sn, r = index, size - 1, leaf
    # (4)
    for p in proof:
        if sn == 0:  # (4a)
            raise InvalidProof(f"{what} is too long")
        if fn & 1 or fn == sn:  # (4b)
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # (4c)
        sn >>= 1
    # (5)
    if sn != 0 or r != root:
        raise InvalidProof(f"{what} does not lead to root {root.hex()}")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that ``proof`` proves tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2, plus its edge cases: equal sizes need an empty proof and equal
    roots; every tree extends the empty one (old_size 0, empty proof). Raises
    :class:`InvalidProof` saying why, returns None on success.
    """
    _check_hash("old root hash", old_root)
    _check_hash("new root hash", new_root)
    what = f"consistency proof from tree size {old_size} to {new_size}"
    if not 0 <= old_size <= new_size:
        raise InvalidProof(f"{what}: the old tree is larger than the new one")
    if old_size == 0:
        _check_proof(proof, 0, what)
        if old_root != EMPTY_ROOT:
            raise InvalidProof(f"{what}: root {old_root.hex()} is not the empty tree's root")
        return
    if old_size == new_size:
        _check_proof(proof, 0, what)
        if old_root != new_root:
            raise InvalidProof(
                f"trees of size {old_size} have different roots {old_root.hex()} "
                f"and {new_root.hex()}"
            )
        return
    _check_proof(proof, len(_consistency_ranges(old_size, new_size)), what)
    # (1) A proof between different sizes is never empty.
    path = list(proof)
    if not path:
        raise InvalidProof(f"{what} is empty")
    # (2) If old_size is a power of two, the old root is the first hash of the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # (3)-(4)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # (5)
    fr = sr = path[0]
    # (6)
    for c in path[1:]:
        if sn == 0:  # (6a)
            raise InvalidProof(f"{what} is too long")
        if fn & 1 or fn == sn:  # (6b)
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # (6c)
        sn >>= 1
    # (7)
    if fr != old_root:
        raise InvalidProof(f"{what} does not lead to the old root {old_root.hex()}")
    if sr != new_root or sn != 0:
        raise InvalidProof(f"{what} does not lead to the new root {new_root.hex()}")
