"""RFC 9162 Merkle trees: the 8-leaf reference tree, transparency-dev's probes, the edge
cases of both verifiers, and proofs checked against the RFC's recursive definitions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.tlog.errors import InvalidProof
from generator.tlog.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import VECTORS

RFC = json.loads((VECTORS / "rfc6962-8leaf-reference.json").read_text())
LEAVES = [bytes.fromhex(h) for h in RFC["leaf_hashes"]]
PROBES = VECTORS / "transparency-dev-merkle" / "testdata"


class DefinitionReader:
    """A HashReader that computes each stored hash from its definition, MTH of its leaves."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = leaves

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        out = []
        for index in indexes:
            level, n = split_stored_hash_index(index)
            out.append(root_hash(self.leaves[n << level : (n + 1) << level]))
        return out


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) by the RFC 9162 §2.1.1 recursion."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) by the RFC 9162 §2.1.3.1 recursion."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) by the RFC 9162 §2.1.4.1 recursion."""
    if m == len(leaves):
        return [] if whole else [mth(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


# -- the 8-leaf reference tree ---------------------------------------------------------------


def test_leaf_hashes_and_roots() -> None:
    inputs = [bytes.fromhex(x) for x in RFC["leaf_inputs"]]
    assert [leaf_hash(x) for x in inputs] == LEAVES
    assert leaf_hashes(inputs) == LEAVES
    assert EMPTY_ROOT.hex() == RFC["empty_tree_root"]
    for size, root in RFC["roots_by_size"].items():
        assert root_hash(LEAVES[: int(size)]).hex() == root
        assert tree_hash(int(size), DefinitionReader(LEAVES)).hex() == root


@pytest.mark.parametrize(
    "case", RFC["inclusion_proofs"], ids=lambda c: f"{c['leaf_index']}@{c['tree_size']}"
)
def test_reference_inclusion(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    proof = inclusion_proof(index, size, DefinitionReader(LEAVES))
    assert hexes(proof) == case["path"]
    leaf, root = bytes.fromhex(case["leaf_hash"]), bytes.fromhex(case["root"])
    verify_inclusion(leaf, index, size, proof, root)


@pytest.mark.parametrize(
    "case", RFC["consistency_proofs"], ids=lambda c: f"{c['size1']}-{c['size2']}"
)
def test_reference_consistency(case: dict[str, Any]) -> None:
    old, new = case["size1"], case["size2"]
    proof = consistency_proof(old, new, DefinitionReader(LEAVES))
    assert hexes(proof) == case["proof"]
    verify_consistency(old, new, proof, bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"]))


def flips(value: bytes) -> list[bytes]:
    """Every single-bit mutation of ``value``."""
    out = []
    for bit in range(len(value) * 8):
        mutated = bytearray(value)
        mutated[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(mutated))
    return out


def test_every_bit_flip_breaks_every_reference_proof() -> None:
    for case in RFC["inclusion_proofs"]:
        index, size = case["leaf_index"], case["tree_size"]
        leaf, root = bytes.fromhex(case["leaf_hash"]), bytes.fromhex(case["root"])
        proof = [bytes.fromhex(h) for h in case["path"]]
        for bad in flips(leaf):
            with pytest.raises(InvalidProof):
                verify_inclusion(bad, index, size, proof, root)
        for bad in flips(root):
            with pytest.raises(InvalidProof):
                verify_inclusion(leaf, index, size, proof, bad)
        for i, h in enumerate(proof):
            for bad in flips(h):
                with pytest.raises(InvalidProof):
                    verify_inclusion(leaf, index, size, [*proof[:i], bad, *proof[i + 1 :]], root)
    for case in RFC["consistency_proofs"]:
        old, new = case["size1"], case["size2"]
        root1, root2 = bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"])
        proof = [bytes.fromhex(h) for h in case["proof"]]
        for bad in flips(root1):
            with pytest.raises(InvalidProof):
                verify_consistency(old, new, proof, bad, root2)
        for bad in flips(root2):
            with pytest.raises(InvalidProof):
                verify_consistency(old, new, proof, root1, bad)
        for i, h in enumerate(proof):
            for bad in flips(h):
                with pytest.raises(InvalidProof):
                    verify_consistency(old, new, [*proof[:i], bad, *proof[i + 1 :]], root1, root2)


# -- transparency-dev/merkle probes ----------------------------------------------------------


def probes(kind: str) -> list[Path]:
    return sorted((PROBES / kind).rglob("*.json"))


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def verify_like_transparency_dev(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    """Our verifier, wrapped with that library's edge rules where they differ from ours:
    it refuses every old size 0 (we accept the empty tree, as tlog-witness does), and for
    equal sizes it compares the roots as opaque bytes of any length."""
    if size1 == 0:
        raise InvalidProof("transparency-dev: consistency with an empty tree")
    if size1 == size2:
        if proof or root1 != root2:
            raise InvalidProof("transparency-dev: equal sizes need an empty proof, equal roots")
        return
    verify_consistency(size1, size2, proof, root1, root2)


@pytest.mark.parametrize("file", probes("inclusion"), ids=lambda p: str(p.relative_to(PROBES)))
def test_transparency_dev_inclusion(file: Path) -> None:
    case = json.loads(file.read_text())
    args = (b64(case["leafHash"]), case["leafIdx"], case["treeSize"],
            [b64(p) for p in case["proof"] or []], b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(InvalidProof):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("file", probes("consistency"), ids=lambda p: str(p.relative_to(PROBES)))
def test_transparency_dev_consistency(file: Path) -> None:
    case = json.loads(file.read_text())
    args = (case["size1"], case["size2"], [b64(p) for p in case["proof"] or []],
            b64(case["root1"]), b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(InvalidProof):
            verify_like_transparency_dev(*args)
    else:
        verify_like_transparency_dev(*args)


def test_probe_count() -> None:
    assert len(probes("inclusion")) + len(probes("consistency")) == 196


# -- edge cases, one line each ---------------------------------------------------------------

A, B = leaf_hash(b"a"), leaf_hash(b"b")
AB = node_hash(A, B)

INCLUSION_CASES = [
    # (leaf, index, size, proof, root, error fragment or None)
    (A, 0, 1, [], A, None),
    (A, 0, 2, [B], AB, None),
    (B, 1, 2, [A], AB, None),
    (A, 0, 0, [], EMPTY_ROOT, "not in a tree of size 0"),
    (A, 1, 1, [], A, "not in a tree of size 1"),
    (A, -1, 2, [B], AB, "not in a tree"),
    (A, 0, 2, [], AB, "has 0 hashes, want 1"),
    (A, 0, 2, [B, B], AB, "has 2 hashes, want 1"),
    (A[:31], 0, 1, [], A, "leaf hash is 31 bytes"),
    (A, 0, 1, [], A + b"\0", "root hash is 33 bytes"),
    (A, 0, 2, [B[:16]], AB, "hash 0 is 16 bytes"),
    (B, 0, 2, [A], AB, "does not lead to root"),
]


@pytest.mark.parametrize("leaf,index,size,proof,root,error", INCLUSION_CASES)
def test_inclusion_edge_cases(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes, error: str | None
) -> None:
    if error is None:
        verify_inclusion(leaf, index, size, proof, root)
    else:
        with pytest.raises(InvalidProof, match=error):
            verify_inclusion(leaf, index, size, proof, root)


CONSISTENCY_CASES = [
    # (old, new, proof, old root, new root, error fragment or None)
    (0, 0, [], EMPTY_ROOT, EMPTY_ROOT, None),
    (0, 2, [], EMPTY_ROOT, AB, None),  # every tree extends the empty one
    (0, 2, [A], EMPTY_ROOT, AB, "has 1 hashes, want 0"),
    (0, 2, [], A, AB, "not the empty tree's root"),
    (2, 2, [], AB, AB, None),
    (2, 2, [A], AB, AB, "has 1 hashes, want 0"),
    (2, 2, [], AB, A, "different roots"),
    (1, 2, [B], A, AB, None),
    (1, 2, [], A, AB, "has 0 hashes, want 1"),
    (1, 2, [B, B], A, AB, "has 2 hashes, want 1"),
    (1, 2, [A], A, AB, "does not lead to the new root"),
    (2, 1, [], AB, A, "larger than the new one"),
    (-1, 1, [], A, A, "larger than the new one"),
    (1, 2, [B], A[:5], AB, "old root hash is 5 bytes"),
    (1, 2, [B], A, b"", "new root hash is 0 bytes"),
]


@pytest.mark.parametrize("old,new,proof,old_root,new_root,error", CONSISTENCY_CASES)
def test_consistency_edge_cases(
    old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes, error: str | None
) -> None:
    if error is None:
        verify_consistency(old, new, proof, old_root, new_root)
    else:
        with pytest.raises(InvalidProof, match=error):
            verify_consistency(old, new, proof, old_root, new_root)


def test_proof_generation_refuses_impossible_requests() -> None:
    reader = DefinitionReader(LEAVES)
    with pytest.raises(ValueError):
        inclusion_proof(8, 8, reader)
    with pytest.raises(ValueError):
        consistency_proof(5, 4, reader)
    with pytest.raises(ValueError):
        tree_hash(-1, reader)
    assert consistency_proof(0, 8, reader) == consistency_proof(8, 8, reader) == []


# -- stored hash addressing ------------------------------------------------------------------


def test_stored_hash_order_matches_append_order() -> None:
    """Appending leaves and the hashes they complete gives indexes 0, 1, 2, … in turn."""
    order: list[tuple[int, int]] = []
    for n in range(1000):
        order.append((0, n))
        level, m = 0, n
        while m & 1:  # each trailing 1 bit completes one more subtree
            level, m = level + 1, m >> 1
            order.append((level, m))
        assert stored_hash_count(n + 1) == len(order)
    for index, (level, n) in enumerate(order):
        assert stored_hash_index(level, n) == index
        assert split_stored_hash_index(index) == (level, n)
    assert stored_hash_count(0) == 0
    with pytest.raises(ValueError):
        split_stored_hash_index(-1)


# -- proofs against the RFC definitions, for random trees ------------------------------------


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_proofs_match_rfc_definitions(size: int, data: st.DataObject) -> None:
    leaves = leaf_hashes(i.to_bytes(4, "big") for i in range(size))
    reader = DefinitionReader(leaves)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    root = tree_hash(size, reader)
    assert root == mth(leaves) == root_hash(leaves)
    proof = inclusion_proof(index, size, reader)
    assert proof == path(index, leaves)
    verify_inclusion(leaves[index], index, size, proof, root)
    proof = consistency_proof(old, size, reader)
    assert proof == subproof(old, leaves, True)
    verify_consistency(old, size, proof, mth(leaves[:old]), root)


@settings(max_examples=40)
@given(st.integers(1, 70), st.integers(1, 12), st.randoms(use_true_random=False))
def test_proofs_through_a_range_memo_are_the_rfc_paths(
    size: int, limit: int, random: Any
) -> None:
    """A memo shared by many proofs (and emptied whenever it would hold more than
    ``limit`` ranges) gives each proof exactly the RFC 9162 path."""
    leaves = [leaf_hash(bytes([n % 256, n // 256])) for n in range(size)]
    reader, memo = DefinitionReader(leaves), {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("generator.tlog.merkle.MAX_MEMO_RANGES", limit)
        for _ in range(3 * size):
            index = random.randrange(size)
            tree = random.randrange(index + 1, size + 1)
            assert inclusion_proof(index, tree, reader, memo) == path(index, leaves[:tree])
            assert len(memo) <= max(limit, size.bit_length())
