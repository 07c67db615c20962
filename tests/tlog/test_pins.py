"""Pinned checkpoints and in-memory inclusion paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.tlog.checkpoint import open_checkpoint
from generator.tlog.merkle import (
    inclusion_path,
    inclusion_proof,
    leaf_hashes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from generator.tlog.note import generate_signer
from generator.tlog.pins import PinnedCheckpoints
from generator.tlog.proof import verify_proof
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore
from generator.tlog.writer import LogWriter

SIGNER = generate_signer("example.com/pins")
ENTRIES = [f"entry {i}".encode() for i in range(700)]
SIZES = [3, 256, 300, 700]


def grow(root: Path, sizes: list[int]) -> LogReader:
    """A log committed (signed) at each of ``sizes``."""
    writer, at = LogWriter(DirStore(root), SIGNER), 0
    for size in sizes:
        writer.append(ENTRIES[at:size])
        writer.commit()
        at = size
    return LogReader(DirStore(root), SIGNER.verifier())


def test_a_pin_is_the_checkpoint_that_size_was_signed_with(tmp_path: Path) -> None:
    """Ed25519 is deterministic: re-signing a past size gives the bytes a build published."""
    published = []
    writer, at = LogWriter(DirStore(tmp_path / "log"), SIGNER), 0
    for size in SIZES:
        writer.append(ENTRIES[at:size])
        published.append(writer.commit())
        at = size
    pins = PinnedCheckpoints(LogReader(DirStore(tmp_path / "log"), SIGNER.verifier()), SIGNER,
                             SIZES)
    assert [pins.checkpoint(s) for s in SIZES] == published
    assert [pins.size_for(i) for i in (0, 2, 3, 255, 256, 299, 300, 699)] == [
        3, 3, 256, 256, 300, 300, 700, 700]


def test_pinned_proofs_verify_and_never_change(tmp_path: Path) -> None:
    early = PinnedCheckpoints(grow(tmp_path / "a", SIZES[:2]), SIGNER, SIZES[:2])
    late = PinnedCheckpoints(grow(tmp_path / "b", SIZES), SIGNER, SIZES)
    for index in (0, 5, 255):
        proof = late.proof(index, extra=ENTRIES[index])
        assert proof == early.proof(index, extra=ENTRIES[index])
        at, signed = verify_proof(proof, SIGNER.verifier(), entry=ENTRIES[index])
        assert (at, signed.checkpoint.size) == (index, late.size_for(index))
    old = open_checkpoint(late.checkpoint(256), SIGNER.verifier()).checkpoint
    new = late.reader.latest.checkpoint
    verify_consistency(256, 700, late.reader.consistency_proof(256), old.root_hash,
                       new.root_hash)


@pytest.mark.parametrize(
    "sizes", [[3, 256], [256, 3, 700], [0, 700], [3, 3, 700], [3, 701]],
    ids=["not-ending-at-the-log", "unsorted", "zero", "repeated", "beyond"],
)
def test_bad_pin_sizes(tmp_path: Path, sizes: list[int]) -> None:
    with pytest.raises(ValueError, match="pin sizes"):
        PinnedCheckpoints(grow(tmp_path / "log", [700]), SIGNER, sizes)


def test_a_size_that_is_not_a_pin_is_not_signed(tmp_path: Path) -> None:
    pins = PinnedCheckpoints(grow(tmp_path / "log", [700]), SIGNER, [3, 700])
    with pytest.raises(ValueError, match="not a pinned size"):
        pins.checkpoint(4)
    with pytest.raises(ValueError, match="not in the log"):
        pins.size_for(700)
    with pytest.raises(ValueError, match="does not sign"):
        PinnedCheckpoints(pins.reader, generate_signer("example.com/other"), [700])


@given(st.integers(1, 300), st.data())
def test_inclusion_path_is_the_lower_part_of_the_proof(width: int, data: st.DataObject) -> None:
    """Over a tile's leaves, PATH(m, D[w]) and then the hashes above the tile make the
    leaf's whole proof in any tree that contains the tile (RFC 9162 §2.1.3.1)."""
    leaves = leaf_hashes(ENTRIES[:width])
    index = data.draw(st.integers(0, width - 1))
    verify_inclusion(leaves[index], index, width, inclusion_path(index, leaves),
                     root_hash(leaves))
    size = data.draw(st.integers(257, 700))  # the tile [256, 512) is full or the right edge
    everything = leaf_hashes(ENTRIES[:size])
    tile = everything[256:512]
    at = data.draw(st.integers(0, len(tile) - 1))
    upper = inclusion_path(256, everything)[len(inclusion_path(0, tile)) :]
    assert [*inclusion_path(at, tile), *upper] == inclusion_path(256 + at, everything)


def test_inclusion_path_agrees_with_stored_hashes(tmp_path: Path) -> None:
    reader = grow(tmp_path / "log", [700])
    leaves = leaf_hashes(ENTRIES)
    for index in (0, 1, 255, 256, 511, 699):
        assert inclusion_path(index, leaves) == inclusion_proof(index, 700, reader.hashes)
    with pytest.raises(ValueError):
        inclusion_path(700, leaves)
