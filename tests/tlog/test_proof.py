"""C2SP tlog-proof and proofs read from tiles: the derived Tessera vectors, the
standalone .tlog-proof file byte for byte, malformed proofs, and property tests
over a log that spans three tile levels.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.tlog.errors import InvalidProof, InvalidSignature, MalformedError, TileMismatch
from generator.tlog.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    leaf_hashes,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from generator.tlog.note import generate_signer, parse_verifier
from generator.tlog.proof import (
    TlogProof,
    format_proof,
    make_proof,
    parse_proof,
    verify_proof,
)
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore
from generator.tlog.writer import append_entries
from tests.conftest import VECTORS
from tests.tlog.test_merkle import flips
from tests.tlog.test_writer import (
    SIGNER,
    TESSERA,
    TESSERA_ENTRIES,
    TESSERA_VKEY,
    entries_for,
    tessera_copy,
)

DERIVED = json.loads((VECTORS / "derived-tessera-testlog-proofs.json").read_text())
PROOF_FILE = (VECTORS / "derived-tessera-testlog-index2.tlog-proof").read_bytes()
VERIFIER = parse_verifier(TESSERA_VKEY)
STRANGER = generate_signer("example.com/log/testdata").verifier()  # same name, other key


def b64s(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@pytest.fixture
def tessera(tmp_path: Path) -> LogReader:
    return LogReader(DirStore(tessera_copy(tmp_path / "log")), VERIFIER)


# -- Tessera's log ---------------------------------------------------------------------------


def test_derived_vectors_from_tiles(tessera: LogReader) -> None:
    assert list(tessera.entries(0, 15)) == TESSERA_ENTRIES == [
        e.encode() for e in DERIVED["entries"]
    ]
    assert b64s(tessera.leaf_hashes(0, 15)) == DERIVED["leaf_hashes_b64"]
    for size, root in DERIVED["roots_b64"].items():
        assert b64s([tessera.root_hash(int(size))]) == [root]
    for case in DERIVED["inclusion_at_size_15"]:
        assert b64s(tessera.inclusion_proof(case["index"], 15)) == case["path_b64"]
    for case in DERIVED["consistency"]:
        assert b64s(tessera.consistency_proof(case["old"], case["new"])) == case["proof_b64"]
    assert len(DERIVED["consistency"]) == 15 * 14 // 2


def test_proof_file_round_trip_and_verify() -> None:
    assert DERIVED["tlog_proof_index2_size15"].encode() == PROOF_FILE
    proof = parse_proof(PROOF_FILE)
    assert proof.index == 2 and proof.extra is None and len(proof.hashes) == 4
    assert proof.checkpoint == (TESSERA / "checkpoint").read_bytes()
    assert format_proof(proof) == PROOF_FILE
    index, signed = verify_proof(PROOF_FILE, VERIFIER, entry=b"three")
    assert index == 2 and signed.checkpoint.size == 15
    assert verify_proof(PROOF_FILE, VERIFIER, leaf=leaf_hash(b"three"))[0] == 2


def test_make_proof_reproduces_the_file(tessera: LogReader) -> None:
    assert make_proof(tessera, 2) == PROOF_FILE


def test_make_proof_against_an_older_checkpoint(tessera: LogReader) -> None:
    older = (TESSERA / "checkpoint.7").read_bytes()
    proof = make_proof(tessera, 6, older, extra=b"context")
    assert parse_proof(proof).extra == b"context"
    index, signed = verify_proof(proof, VERIFIER, entry=b"seven")
    assert (index, signed.raw) == (6, older)
    with pytest.raises(ValueError):
        make_proof(tessera, 7, older)  # not in that tree


def test_make_proof_refuses_a_forked_checkpoint(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "a")
    append_entries(store, entries_for(10), SIGNER)
    fork = append_entries(DirStore(tmp_path / "b"), [*entries_for(9), b"other"], SIGNER)
    append_entries(store, entries_for(5, 10), SIGNER)
    reader = LogReader(store, SIGNER.verifier())
    with pytest.raises(InvalidProof):
        make_proof(reader, 0, fork)


@pytest.mark.parametrize(
    "verifier,kwargs,error",
    [
        (VERIFIER, {"entry": b"four"}, InvalidProof),
        (VERIFIER, {"leaf": leaf_hash(b"three")[:31]}, InvalidProof),
        (STRANGER, {"entry": b"three"}, InvalidSignature),
        (VERIFIER, {"entry": b"three", "origin": "example.com/other"}, MalformedError),
    ],
)
def test_verify_proof_refuses(
    verifier: object, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        verify_proof(PROOF_FILE, verifier, **kwargs)  # type: ignore[arg-type]


def test_verify_proof_wants_one_leaf() -> None:
    with pytest.raises(TypeError):
        verify_proof(PROOF_FILE, VERIFIER)
    with pytest.raises(TypeError):
        verify_proof(PROOF_FILE, VERIFIER, entry=b"three", leaf=leaf_hash(b"three"))


def test_every_bit_flip_in_the_proof_hashes_fails() -> None:
    proof = parse_proof(PROOF_FILE)
    for i, h in enumerate(proof.hashes):
        for bad in flips(h):
            hashes = (*proof.hashes[:i], bad, *proof.hashes[i + 1 :])
            mutated = format_proof(TlogProof(2, hashes, proof.checkpoint))
            with pytest.raises(InvalidProof):
                verify_proof(mutated, VERIFIER, entry=b"three")


HEADER, _, REST = PROOF_FILE.partition(b"\nindex 2\n")
HASHES = REST.split(b"\n\n")[0]
CHECKPOINT = (TESSERA / "checkpoint").read_bytes()


def proof_with(*lines: bytes, checkpoint: bytes = CHECKPOINT) -> bytes:
    return b"".join(line + b"\n" for line in lines) + b"\n" + checkpoint


@pytest.mark.parametrize(
    "data,error",
    [
        (b"", "no blank line"),
        (proof_with(b"c2sp.org/tlog-proof@v2", b"index 2", HASHES), "first line"),
        (proof_with(HEADER, HASHES), "no index line"),
        (proof_with(HEADER, b"index 02", HASHES), "bad index"),
        (proof_with(HEADER, b"index -2", HASHES), "bad index"),
        (proof_with(HEADER, b"index 9223372036854775807"), "bad index"),
        (proof_with(HEADER, b"index 2", b"not base64!"), "proof hash 0 is not base64"),
        (proof_with(HEADER, b"index 2", b"AAAA"), "proof hash 0 is 3 bytes"),
        (proof_with(HEADER, b"index 2", b"9xWrP6pdBx5uKsS7mU1b9zWUPcw3mdoNCF55gM+5M2p="),
         "not canonical base64"),
        (proof_with(HEADER, b"index 2", *[b"9xWrP6pdBx5uKsS7mU1b9zWUPcw3mdoNCF55gM+5M2o="] * 64),
         "more than 63"),
        (proof_with(HEADER, b"extra ", b"index 2", HASHES), "extra data must be"),
        (proof_with(HEADER, b"index 2", b"extra YQ==", HASHES), "proof hash 0 is not base64"),
        (proof_with(HEADER, "index \u0662".encode(), HASHES), "not ASCII"),
        (proof_with(HEADER, b"index 2", HASHES, checkpoint=b"example.com/log\n15\n"),
         "note"),
        (proof_with(HEADER, b"index 2", HASHES, checkpoint=b"x" * (2 << 20)), "larger than"),
    ],
)
def test_malformed_proofs(data: bytes, error: str) -> None:
    with pytest.raises(MalformedError, match=error):
        parse_proof(data)


def test_extra_round_trip() -> None:
    proof = TlogProof(0, (), CHECKPOINT, b"\x00\xff")
    assert parse_proof(format_proof(proof)) == proof
    assert format_proof(proof).startswith(b"c2sp.org/tlog-proof@v1\nextra AP8=\nindex 0\n\n")


# -- properties of proofs read from tiles ----------------------------------------------------

SIZE = 65536 + 2 * 256 + 77  # three tile levels, partial tiles at each


def prefix_roots(leaves: list[bytes]) -> list[bytes]:
    """MTH of every prefix, from a compact range of perfect subtrees (independent of tiles)."""
    roots, stack = [EMPTY_ROOT], []
    for n, leaf in enumerate(leaves, start=1):
        stack.append(leaf)
        done = n
        while done % 2 == 0:
            right = stack.pop()
            stack.append(node_hash(stack.pop(), right))
            done //= 2
        acc = stack[-1]
        for h in reversed(stack[:-1]):
            acc = node_hash(h, acc)
        roots.append(acc)
    return roots


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[LogReader, list[bytes], list[bytes]]:
    entries = entries_for(SIZE)
    root = tmp_path_factory.mktemp("big")
    append_entries(DirStore(root), entries, SIGNER)
    leaves = leaf_hashes(entries)
    return LogReader(DirStore(root), SIGNER.verifier()), leaves, prefix_roots(leaves)


def flip_bit(value: bytes, bit: int) -> bytes:
    mutated = bytearray(value)
    mutated[bit // 8 % len(value)] ^= 1 << (bit % 8)
    return bytes(mutated)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_inclusion_proofs_from_tiles(
    big_log: tuple[LogReader, list[bytes], list[bytes]], data: st.DataObject
) -> None:
    reader, leaves, roots = big_log
    size = data.draw(st.integers(1, SIZE))
    index = data.draw(st.integers(0, size - 1))
    proof = reader.inclusion_proof(index, size)
    verify_inclusion(leaves[index], index, size, proof, roots[size])
    assert reader.root_hash(size) == roots[size]
    bit = data.draw(st.integers(0, 256 * (len(proof) + 2) - 1))
    target, bit = divmod(bit, 256)
    leaf, root, path = leaves[index], roots[size], list(proof)
    if target == 0:
        leaf = flip_bit(leaf, bit)
    elif target == 1:
        root = flip_bit(root, bit)
    else:
        path[target - 2] = flip_bit(path[target - 2], bit)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, index, size, path, root)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_consistency_proofs_from_tiles(
    big_log: tuple[LogReader, list[bytes], list[bytes]], data: st.DataObject
) -> None:
    reader, _, roots = big_log
    new = data.draw(st.integers(1, SIZE))
    old = data.draw(st.integers(1, new))
    proof = reader.consistency_proof(old, new)
    verify_consistency(old, new, proof, roots[old], roots[new])
    bit = data.draw(st.integers(0, 256 * (len(proof) + 2) - 1))
    target, bit = divmod(bit, 256)
    old_root, new_root, path = roots[old], roots[new], list(proof)
    if target == 0:
        old_root = flip_bit(old_root, bit)
    elif target == 1:
        new_root = flip_bit(new_root, bit)
    else:
        path[target - 2] = flip_bit(path[target - 2], bit)
    with pytest.raises(InvalidProof):
        verify_consistency(old, new, path, old_root, new_root)


def test_entries_across_bundles(big_log: tuple[LogReader, list[bytes], list[bytes]]) -> None:
    reader, leaves, _ = big_log
    assert list(reader.entries(250, 600)) == entries_for(350, 250)
    assert reader.entry(SIZE - 1) == entries_for(1, SIZE - 1)[0]
    assert reader.leaf_hashes(SIZE - 300, SIZE) == leaves[-300:]
    with pytest.raises(ValueError):
        list(reader.entries(10, SIZE + 1))
    with pytest.raises(ValueError):
        reader.inclusion_proof(0, SIZE + 1)


def test_reader_checks_entries_against_tiles(tessera: LogReader) -> None:
    bundle = Path(tessera.store.root) / "tile/entries/000.p/15"  # type: ignore[attr-defined]
    data = bytearray(bundle.read_bytes())
    data[-1] ^= 1
    bundle.write_bytes(bytes(data))
    with pytest.raises(TileMismatch, match=r"tile/entries/000\.p/15: entries do not match"):
        tessera.entry(0)


def test_reader_falls_back_to_full_tiles_for_an_older_checkpoint(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    older = append_entries(store, entries_for(200), SIGNER)
    append_entries(store, entries_for(100, 200), SIGNER)
    for partial in ("tile/0/000.p/200", "tile/entries/000.p/200"):
        (tmp_path / partial).unlink()  # a log MAY delete partials once the full tile exists
    (tmp_path / "checkpoint").write_bytes(older)
    reader = LogReader(store, SIGNER.verifier())
    assert list(reader.entries(190, 200)) == entries_for(10, 190)
    verify_proof(make_proof(reader, 199), SIGNER.verifier(), entry=entries_for(1, 199)[0])
