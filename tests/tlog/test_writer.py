"""The log writer: it rebuilds Tessera's test log byte for byte, batches do not change
the bytes, a refused append changes nothing, and an append reads only the right edge.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.tlog.checkpoint import open_checkpoint
from generator.tlog.errors import InvalidSignature, MalformedError, TileMismatch
from generator.tlog.merkle import leaf_hashes, root_hash
from generator.tlog.note import generate_signer, parse_signer, parse_verifier
from generator.tlog.store import DirStore
from generator.tlog.writer import LogWriter, append_entries
from tests.conftest import VECTORS

TESSERA = VECTORS / "tessera-testdata-log"
TESSERA_SIGNER = parse_signer(
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
TESSERA_ENTRIES = [
    e.encode()
    for e in json.loads((VECTORS / "derived-tessera-testlog-proofs.json").read_text())["entries"]
]
SIGNER = generate_signer("example.com/test-log")


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by relative path."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def tessera_copy(dest: Path, size: int = 15) -> Path:
    """A copy of Tessera's test log whose checkpoint is ``checkpoint.<size>``."""
    shutil.copytree(TESSERA, dest)
    shutil.copyfile(dest / f"checkpoint.{size}", dest / "checkpoint")
    return dest


def entries_for(count: int, start: int = 0) -> list[bytes]:
    """``count`` distinct entries of varied length."""
    return [b"entry %d " % i + b"x" * (i % 37) for i in range(start, start + count)]


def write_in_batches(
    root: Path, entries: Sequence[bytes], cuts: Sequence[int], *, sign_each: bool
) -> None:
    """Write ``entries`` split at ``cuts``: one writer signing once, or one append per batch."""
    bounds = [0, *sorted(cuts), len(entries)]
    batches = [entries[a:b] for a, b in itertools.pairwise(bounds)]
    if sign_each:
        for batch in batches:
            append_entries(DirStore(root), batch, SIGNER)
        return
    writer = LogWriter(DirStore(root), SIGNER)
    for batch in batches:
        writer.append(batch)
    writer.commit()


# -- Tessera's log, byte for byte ------------------------------------------------------------


def test_rebuilds_tessera_log_byte_for_byte(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    checkpoints = [append_entries(store, [], TESSERA_SIGNER)]
    for entry in TESSERA_ENTRIES:
        checkpoints.append(append_entries(store, [entry], TESSERA_SIGNER))
    for size, checkpoint in enumerate(checkpoints):
        assert checkpoint == (TESSERA / f"checkpoint.{size}").read_bytes()
    want = {p: d for p, d in tree_files(TESSERA).items() if not p.startswith("checkpoint.")}
    assert tree_files(tmp_path) == want


def test_one_batch_gives_tessera_final_state(tmp_path: Path) -> None:
    checkpoint = append_entries(DirStore(tmp_path), TESSERA_ENTRIES, TESSERA_SIGNER)
    assert checkpoint == (TESSERA / "checkpoint").read_bytes()
    assert tree_files(tmp_path) == {
        p: (TESSERA / p).read_bytes()
        for p in ("checkpoint", "tile/0/000.p/15", "tile/entries/000.p/15")
    }


def test_appends_to_tessera_log(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log", 5)
    checkpoint = append_entries(DirStore(log), TESSERA_ENTRIES[5:], TESSERA_SIGNER)
    assert checkpoint == (TESSERA / "checkpoint").read_bytes()


# -- batches ---------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 1200),
    st.lists(st.integers(0, 1200), max_size=8),
)
def test_batches_do_not_change_the_bytes(count: int, cuts: list[int]) -> None:
    entries = entries_for(count)
    cuts = [c for c in cuts if c <= count]
    with tempfile.TemporaryDirectory() as temp:
        one, many, signed = Path(temp, "one"), Path(temp, "many"), Path(temp, "signed")
        append_entries(DirStore(one), entries, SIGNER)
        write_in_batches(many, entries, cuts, sign_each=False)
        write_in_batches(signed, entries, cuts, sign_each=True)
        reference = tree_files(one)
        assert tree_files(many) == reference
        # Signing each batch adds the partial tiles of the sizes in between, and nothing else.
        extra = tree_files(signed)
        assert {p: extra[p] for p in reference} == reference
        assert all(".p/" in p for p in set(extra) - set(reference))


def test_batches_across_level_two(tmp_path: Path) -> None:
    entries = entries_for(65536 + 700)
    cuts = [*random.Random(7).sample(range(len(entries)), 12), 256, 65536, 65536 + 256]
    append_entries(DirStore(tmp_path / "one"), entries, SIGNER)
    write_in_batches(tmp_path / "many", entries, cuts, sign_each=False)
    reference = tree_files(tmp_path / "one")
    assert "tile/2/000.p/1" in reference and "tile/1/000" in reference
    assert tree_files(tmp_path / "many") == reference
    checkpoint = open_checkpoint(reference["checkpoint"], SIGNER.verifier()).checkpoint
    assert checkpoint.root_hash == root_hash(leaf_hashes(entries))


# -- refusals change nothing -----------------------------------------------------------------


@pytest.mark.parametrize("existing", [0, 300])
def test_refused_append_changes_nothing(tmp_path: Path, existing: int) -> None:
    if existing:
        append_entries(DirStore(tmp_path), entries_for(existing), SIGNER)
    before = tree_files(tmp_path)
    batch = [*entries_for(600, existing), b"x" * 65536, b"after"]
    with pytest.raises(MalformedError, match="entry 600 is 65,536 bytes"):
        append_entries(DirStore(tmp_path), batch, SIGNER)
    with pytest.raises(TypeError, match="entry 1 is str"):
        append_entries(DirStore(tmp_path), [b"ok", "text"], SIGNER)  # type: ignore[list-item]
    assert tree_files(tmp_path) == before


def test_origin_must_be_the_key_name(tmp_path: Path) -> None:
    with pytest.raises(MalformedError, match="must be the signing key's name"):
        append_entries(DirStore(tmp_path), [b"x"], SIGNER, origin="other.example/log")
    append_entries(DirStore(tmp_path), [b"x"], SIGNER, origin=SIGNER.name)


def test_refuses_a_log_signed_by_another_key(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log")
    with pytest.raises(InvalidSignature):
        append_entries(DirStore(log), [b"x"], generate_signer("example.com/log/testdata"))


@pytest.mark.parametrize("path", ["tile/0/000.p/15", "tile/entries/000.p/15"])
def test_refuses_a_damaged_right_edge(tmp_path: Path, path: str) -> None:
    log = tessera_copy(tmp_path / "log")
    data = bytearray((log / path).read_bytes())
    data[-1] ^= 1
    (log / path).write_bytes(bytes(data))
    with pytest.raises(TileMismatch):
        append_entries(DirStore(log), [b"x"], TESSERA_SIGNER)


# -- what an append touches ------------------------------------------------------------------


class CountingStore(DirStore):
    """A DirStore that records the paths it reads and writes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []
        self.writes: list[str] = []

    def read(self, path: str) -> bytes:
        self.reads.append(path)
        return super().read(path)

    def write(self, path: str, data: bytes) -> None:
        self.writes.append(path)
        super().write(path, data)


def test_append_reads_only_the_right_edge(tmp_path: Path) -> None:
    append_entries(DirStore(tmp_path), entries_for(65536 + 1000), SIGNER)
    full = {p: (tmp_path / p).stat() for p in ("tile/0/000", "tile/1/000", "tile/entries/000")}
    store = CountingStore(tmp_path)
    append_entries(store, entries_for(300, 66536), SIGNER)
    assert sorted(store.reads) == [
        "checkpoint", "tile/0/259.p/232", "tile/1/001.p/3", "tile/2/000.p/1",
        "tile/entries/259.p/232",
    ]
    assert store.writes[-1] == "checkpoint"
    assert sorted(store.writes) == [
        "checkpoint", "tile/0/259", "tile/0/260", "tile/0/261.p/20", "tile/1/001.p/5",
        "tile/entries/259", "tile/entries/260", "tile/entries/261.p/20",
    ]
    for path, stat in full.items():  # full tiles are never rewritten
        assert (tmp_path / path).stat().st_ino == stat.st_ino


def test_leftover_full_tiles_are_reused_or_replaced(tmp_path: Path) -> None:
    log, other = tmp_path / "log", tmp_path / "other"
    append_entries(DirStore(log), entries_for(200), SIGNER)
    store = CountingStore(log)
    writer = LogWriter(store, SIGNER)
    writer.append(entries_for(100, 200))  # writes tile/0/000 and its bundle, then "crashes"
    assert {"tile/0/000", "tile/entries/000"} <= set(store.writes)
    before = tree_files(log)
    assert open_checkpoint(before["checkpoint"], SIGNER.verifier()).checkpoint.size == 200

    same = CountingStore(log)  # the same entries again: identical tiles stay as they are
    append_entries(same, entries_for(100, 200), SIGNER)
    assert "tile/0/000" not in same.writes and "tile/entries/000" not in same.writes

    append_entries(DirStore(other), entries_for(200), SIGNER)
    (other / "tile/0/000").write_bytes(before["tile/0/000"][::-1])  # garbage leftover
    append_entries(DirStore(other), entries_for(100, 200), SIGNER)
    assert tree_files(other) == tree_files(log)


def test_writer_reports_size_and_root(tmp_path: Path) -> None:
    writer = LogWriter(DirStore(tmp_path), SIGNER)
    assert writer.size == 0 and writer.root_hash() == root_hash([])
    writer.append(TESSERA_ENTRIES)
    assert writer.size == 15
    assert writer.root_hash() == root_hash(leaf_hashes(TESSERA_ENTRIES))
    assert parse_verifier(TESSERA_VKEY) == TESSERA_SIGNER.verifier()
