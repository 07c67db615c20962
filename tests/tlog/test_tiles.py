"""C2SP tlog-tiles: path vectors (Tessera's and the spec's, not the old Go sumdb layout),
hash tiles, entry bundles, the right-edge tree and authenticated tile reads.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.tlog.errors import MalformedError, NotFound, TileMismatch
from generator.tlog.merkle import (
    leaf_hashes,
    root_hash,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
)
from generator.tlog.tiles import (
    ENTRIES,
    FULL_TILE_SIZE,
    MAX_ENTRY_SIZE,
    Tile,
    TileHashReader,
    TileTree,
    bundles_for_size,
    decode_bundle,
    decode_hash_tile,
    edge_tiles,
    encode_bundle,
    encode_hash_tile,
    encode_index,
    parse_tile_path,
    tile_at,
    tiles_for_size,
)
from tests.conftest import VECTORS

PATHS = json.loads((VECTORS / "tile-path-vectors.json").read_text())
SPEC = json.loads((VECTORS / "c2sp-spec-examples.json").read_text())
TESSERA = VECTORS / "tessera-testdata-log"


class MemoryStore:
    """A dict of files that counts reads."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.reads: list[str] = []

    def read(self, path: str) -> bytes:
        self.reads.append(path)
        if path not in self.files:
            raise NotFound(path)
        return self.files[path]


# -- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", PATHS["tessera_tile_path"], ids=lambda c: c["path"])
def test_tile_paths(case: dict[str, Any]) -> None:
    tile = Tile(case["level"], case["index"], case["w"] or 256)
    assert tile.path == case["path"]
    assert parse_tile_path(case["path"]) == tile


@pytest.mark.parametrize("case", PATHS["tessera_entries_path"], ids=lambda c: c["path"])
def test_entry_bundle_paths(case: dict[str, Any]) -> None:
    tile = Tile(ENTRIES, case["n"], case["w"] or 256)
    assert tile.path == case["path"]
    assert parse_tile_path(case["path"]) == tile


@pytest.mark.parametrize("case", PATHS["tessera_entries_path_for_index"], ids=lambda c: c["path"])
def test_bundle_for_index(case: dict[str, Any]) -> None:
    assert tile_at(ENTRIES, case["seq"] // 256, case["log_size"]).path == case["path"]


@pytest.mark.parametrize("case", PATHS["tessera_parse_ok"], ids=lambda c: c["index"])
def test_parse_ok(case: dict[str, Any]) -> None:
    level, n, width = case["want"]
    tile = parse_tile_path(f"tile/{case['level']}/{case['index']}")
    assert tile == Tile(level, n, width or 256)


@pytest.mark.parametrize(
    "path",
    [f"tile/{c['level']}/{c['index']}" for c in PATHS["tessera_parse_error"]]
    + [
        "tile/00/000",  # leading zero in the level
        "tile/0/x000/001",  # non-canonical index
        "tile/0/000.p/0",
        "tile/0/000.p/007",
        "tile/0/000.p/256",
        "tile/entries/000.p/",
        "tile/0/000/",
        "/tile/0/000",
        "tile/0/000\n",
        "tile/0/\u0660\u0660\u0660",  # Arabic-Indic digits are not ASCII digits
        "tile/data/000",
        "tile/4/0/001",  # the old Go sumdb layout
    ],
)
def test_parse_errors(path: str) -> None:
    with pytest.raises(MalformedError):
        parse_tile_path(path)


def test_index_encoding_example() -> None:
    example = SPEC["tlog_tiles_index_encoding_example"]
    assert encode_index(example["index"]) == example["path_segment"]
    assert encode_index(0) == "000"
    assert encode_index(1000) == "x001/000"


@given(st.integers(-1, 63), st.integers(0, (1 << 64) - 1), st.integers(1, 256))
def test_path_round_trip(level: int, n: int, width: int) -> None:
    tile = Tile(level, n, width)
    assert parse_tile_path(tile.path) == tile


@pytest.mark.parametrize("args", [(-2, 0, 1), (64, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257)])
def test_tile_rejects_impossible_values(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        Tile(*args)


@pytest.mark.parametrize("size", sorted(map(int, PATHS["derived_tiles_for_tree_size"])))
def test_tiles_for_size(size: int) -> None:
    assert [t.path for t in tiles_for_size(size)] == PATHS["derived_tiles_for_tree_size"][str(size)]


def test_spec_example_70000() -> None:
    example, counts = SPEC["tlog_tiles_partial_example"], PATHS["derived_tile_counts_70000"]
    tiles = tiles_for_size(70000)
    assert len(tiles) == counts["count"]
    assert [t.path for t in tiles if not t.full] == counts["partials"]
    assert [t.path for t in edge_tiles(70000)] == counts["partials"]
    full = [t for t in tiles if t.full]
    assert sum(t.level == 0 for t in full) == example["full_level0_tiles"]
    assert sum(t.level == 1 for t in full) == example["full_level1_tiles"]
    assert [t.width for t in edge_tiles(70000)] == [
        example["partial_level0_width"], example["partial_level1_width"],
        example["partial_level2_width"],
    ]


def test_bundles_and_tiles_at_sizes() -> None:
    assert tiles_for_size(0) == edge_tiles(0) == bundles_for_size(0) == []
    assert [t.path for t in bundles_for_size(257)] == ["tile/entries/000", "tile/entries/001.p/1"]
    assert tile_at(1, 0, 65536 + 256) == Tile(1, 0, 256)
    assert tile_at(1, 1, 65536 + 256) == Tile(1, 1, 1)
    with pytest.raises(ValueError):
        tile_at(0, 1, 256)


# -- hash tiles and bundles ------------------------------------------------------------------


def test_hash_tiles() -> None:
    hashes = leaf_hashes([b"a", b"b", b"c"])
    tile = Tile(0, 0, 3)
    assert decode_hash_tile(encode_hash_tile(hashes), tile) == hashes
    for bad in (b"", b"\0" * 95, b"\0" * 97, b"\0" * FULL_TILE_SIZE):
        with pytest.raises(MalformedError, match=r"tile/0/000\.p/3: \d+ bytes, want 96"):
            decode_hash_tile(bad, tile)
    with pytest.raises(ValueError):
        encode_hash_tile([b"short"])


def test_tessera_bundles_and_tiles() -> None:
    entries = json.loads((VECTORS / "derived-tessera-testlog-proofs.json").read_text())["entries"]
    for width in range(1, 16):
        tile = Tile(ENTRIES, 0, width)
        bundle = (TESSERA / tile.path).read_bytes()
        assert decode_bundle(bundle, tile) == [e.encode() for e in entries[:width]]
        assert encode_bundle([e.encode() for e in entries[:width]]) == bundle
        level0 = Tile(0, 0, width)
        hashes = decode_hash_tile((TESSERA / level0.path).read_bytes(), level0)
        assert hashes == leaf_hashes(e.encode() for e in entries[:width])


def test_bundle_limits() -> None:
    biggest = b"x" * MAX_ENTRY_SIZE
    assert decode_bundle(encode_bundle([biggest, b""]), Tile(ENTRIES, 0, 2)) == [biggest, b""]
    with pytest.raises(MalformedError, match="entry 1 is 65,536 bytes"):
        encode_bundle([b"ok", b"x" * (MAX_ENTRY_SIZE + 1)])
    with pytest.raises(TypeError, match="entry 0 is str"):
        encode_bundle(["text"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "data,width,error",
    [
        (b"", 1, "truncated at entry 0 of 1"),
        (b"\x00", 1, "truncated at entry 0 of 1"),
        (b"\x00\x05abc", 1, "entry 0 is truncated: 5 bytes announced, 3 left"),
        (b"\x00\x01a\x00\x01b", 1, "3 bytes after entry 0"),
        (b"\x00\x01a", 2, "truncated at entry 1 of 2"),
        (b"\xff\xff" + b"x" * 10, 1, "65535 bytes announced"),
    ],
)
def test_malformed_bundles(data: bytes, width: int, error: str) -> None:
    with pytest.raises(MalformedError, match=error):
        decode_bundle(data, Tile(ENTRIES, 7, width))


# -- the right edge of a tiled tree ----------------------------------------------------------


def build(size: int) -> tuple[list[bytes], dict[str, bytes]]:
    """Leaf hashes of ``size`` small entries and every tile of that tree."""
    leaves = leaf_hashes(i.to_bytes(4, "big") for i in range(size))
    tree = TileTree()
    files = {t.path: data for t, data in tree.append(leaves)}
    files.update((t.path, data) for t, data in tree.partial_tiles())
    return leaves, files


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3000), st.data())
def test_tile_tree_grows_like_the_rfc_tree(size: int, data: st.DataObject) -> None:
    leaves, files = build(size)
    assert sorted(files) == sorted(t.path for t in tiles_for_size(size))
    cut = data.draw(st.integers(0, size))
    tree = TileTree()
    tree.append(leaves[:cut])
    assert tree.root_hash() == root_hash(leaves[:cut])
    resumed = TileTree.from_edge(cut, {t.level: d for t, d in tree.partial_tiles()})
    emitted = resumed.append(leaves[cut:])
    assert resumed.root_hash() == root_hash(leaves)
    assert all(files[t.path] == d for t, d in [*emitted, *resumed.partial_tiles()])


def test_tile_tree_levels_above_zero() -> None:
    leaves, files = build(65536 + 300)
    assert files["tile/1/000"] == b"".join(
        root_hash(leaves[i : i + 256]) for i in range(0, 65536, 256)
    )
    assert files["tile/2/000.p/1"] == root_hash(leaves[:65536])
    with pytest.raises(ValueError):
        TileTree.from_edge(300, {})


def test_tile_hash_reader_reads_every_stored_hash() -> None:
    size = 65536 + 513
    leaves, files = build(size)
    store = MemoryStore(files)
    reader = TileHashReader(store, size, root_hash(leaves))
    count = stored_hash_count(size)
    sample = [*range(0, count, 97), count - 1]
    for index, got in zip(sample, reader.read_hashes(sample), strict=True):
        level, n = split_stored_hash_index(index)
        assert got == root_hash(leaves[n << level : (n + 1) << level])
    with pytest.raises(ValueError):
        reader.read_hashes([count])
    reads = len(store.reads)
    reader.read_hashes(sample)
    assert len(store.reads) == reads  # cached


def test_tile_hash_reader_authenticates() -> None:
    size = 65536 + 513
    leaves, files = build(size)
    root = root_hash(leaves)
    index = stored_hash_index(0, 5)
    for path in ("tile/0/000", "tile/1/000", "tile/0/258.p/1", "tile/1/001.p/2", "tile/2/000.p/1"):
        bad = dict(files)
        bad[path] = bytes([files[path][0] ^ 1]) + files[path][1:]
        with pytest.raises(TileMismatch):
            TileHashReader(MemoryStore(bad), size, root).read_hashes([index])
    with pytest.raises(TileMismatch, match=r"hash to \w+, not to the checkpoint root"):
        TileHashReader(MemoryStore(files), size, leaves[0]).read_hashes([index])
    short = dict(files)
    short["tile/0/001"] = files["tile/0/001"][:-1]
    with pytest.raises(MalformedError, match="8191 bytes"):
        TileHashReader(MemoryStore(short), size, root).read_tile(0, 1)


def test_tile_hash_reader_falls_back_to_full_tile() -> None:
    leaves, files = build(512)
    _, older = build(300)
    # The tree of size 300 as served once the log grew to 512 and deleted the
    # partial tile/0/001.p/44 in favour of the full tile/0/001.
    store = MemoryStore(dict(files))
    store.files["tile/1/000.p/1"] = older["tile/1/000.p/1"]
    assert "tile/0/001.p/44" not in store.files
    reader = TileHashReader(store, 300, root_hash(leaves[:300]))
    assert reader.read_tile(0, 1) == older["tile/0/001.p/44"]
    assert "tile/0/001" in store.reads
