"""C2SP tlog-tiles: tile paths, hash tiles, entry bundles, and tree hashes read from tiles.

A tile at level L holds up to 256 consecutive tree hashes at height 8·L: level 0
holds leaf hashes, level L+1 holds the hashes of full level-L tiles. The entries
themselves live in *entry bundles*, which share level 0's numbering. The right-most
tile of each level is *partial* (1–255 hashes) and carries its width in its path
(C2SP tlog-tiles §Merkle Tree, §Partial Tiles, §Log entries).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from generator.tlog.errors import MalformedError, NotFound, TileMismatch
from generator.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    node_hash,
    pair_hashes,
    split_stored_hash_index,
    stored_hash_count,
)

if TYPE_CHECKING:
    from generator.tlog.store import TileStore

TILE_HEIGHT = 8
"""Tree levels per tile (C2SP tlog-tiles fixes 8)."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile, entries in a full bundle: 256."""

FULL_TILE_SIZE = TILE_WIDTH * HASH_SIZE
"""Bytes in a full hash tile: 8,192."""

MAX_LEVEL = 63
"""Highest tile level a path may name."""

ENTRIES = -1
"""The :attr:`Tile.level` of an entry bundle (``tile/entries/…``)."""

MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can hold: its length is a big-endian uint16."""

MAX_BUNDLE_SIZE = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)
"""Largest possible entry bundle, in bytes."""

_MAX_INDEX = (1 << 64) - 1
_PATH = re.compile(
    r"tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?",
    re.ASCII,
)
_LENGTHS = [n.to_bytes(2, "big") for n in range(MAX_ENTRY_SIZE + 1)]


@dataclass(frozen=True)
class Tile:
    """One tile (``level`` ≥ 0) or entry bundle (``level`` == ENTRIES) of ``width`` items."""

    level: int
    n: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not ENTRIES <= self.level <= MAX_LEVEL:
            raise ValueError(f"tile level {self.level} out of range")
        if not 0 <= self.n <= _MAX_INDEX:
            raise ValueError(f"tile index {self.n} out of range")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile width {self.width} out of range")

    @property
    def full(self) -> bool:
        """Whether the tile is full (256 wide) rather than partial."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (C2SP tlog-tiles §APIs)."""
        level = "entries" if self.level == ENTRIES else str(self.level)
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.n)}{partial}"

    @property
    def size(self) -> int:
        """Bytes in this hash tile (not meaningful for entry bundles)."""
        return self.width * HASH_SIZE


def encode_index(n: int) -> str:
    """``n`` as zero-padded 3-digit path elements, all but the last prefixed ``x``."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def parse_tile_path(path: str) -> Tile:
    """Parse a tile or entry bundle path, rejecting any non-canonical form (C2SP tlog-tiles)."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise MalformedError(f"not a tile path: {path[:120]!r}")
    level_text, index_text, width_text = match.groups()
    level = ENTRIES if level_text == "entries" else int(level_text)
    n = int(index_text.replace("x", "").replace("/", ""))
    width = TILE_WIDTH if width_text is None else int(width_text)
    if level > MAX_LEVEL or n > _MAX_INDEX or (width_text is not None and width >= TILE_WIDTH):
        raise MalformedError(f"tile path out of range: {path[:120]!r}")
    if encode_index(n) != index_text:
        raise MalformedError(f"tile path index is not canonical: {path[:120]!r}")
    return Tile(level, n, width)


def tile_at(level: int, n: int, size: int) -> Tile:
    """Tile ``n`` of ``level`` (or bundle ``n``) as it exists at tree ``size``, full or partial."""
    count = size >> (TILE_HEIGHT * max(level, 0))  # hashes (or entries) at this level
    width = min(TILE_WIDTH, count - n * TILE_WIDTH)
    if width <= 0:
        raise ValueError(f"tile {level}/{n} does not exist at tree size {size}")
    return Tile(level, n, width)


def edge_tiles(size: int) -> list[Tile]:
    """The partial tile of every level at tree ``size``, level 0 first (§Partial Tiles)."""
    tiles = []
    level, count = 0, size
    while count:
        if count % TILE_WIDTH:
            tiles.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level, count = level + 1, count // TILE_WIDTH
    return tiles


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile a log of tree ``size`` serves, by level then index."""
    tiles: list[Tile] = []
    level, count = 0, size
    while count:
        tiles.extend(Tile(level, n) for n in range(count // TILE_WIDTH))
        if count % TILE_WIDTH:
            tiles.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level, count = level + 1, count // TILE_WIDTH
    return tiles


def bundles_for_size(size: int) -> list[Tile]:
    """Every entry bundle a log of tree ``size`` serves, in order."""
    return [tile_at(ENTRIES, n, size) for n in range(-(-size // TILE_WIDTH))]


def encode_hash_tile(hashes: Sequence[bytes]) -> bytes:
    """A hash tile: its hashes concatenated (C2SP tlog-tiles §Merkle Tree)."""
    if not 1 <= len(hashes) <= TILE_WIDTH or any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError(f"a tile holds 1 to {TILE_WIDTH} hashes of {HASH_SIZE} bytes")
    return b"".join(hashes)


def decode_hash_tile(data: bytes, tile: Tile) -> list[bytes]:
    """The hashes in ``data``, which must be exactly ``tile.width`` hashes."""
    check_hash_tile(data, tile)
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def check_hash_tile(data: bytes, tile: Tile) -> None:
    """Reject tile data that is not exactly ``tile.width`` hashes long."""
    if len(data) != tile.size:
        raise MalformedError(f"{tile.path}: {len(data)} bytes, want {tile.size}")


def check_entries(entries: Sequence[bytes]) -> None:
    """Reject entries an entry bundle cannot hold: not bytes, or over 65,535 bytes."""
    if set(map(type, entries)) - {bytes}:
        bad = next(i for i, e in enumerate(entries) if type(e) is not bytes)
        raise TypeError(f"entry {bad} is {type(entries[bad]).__name__}, want bytes")
    if entries and max(map(len, entries)) > MAX_ENTRY_SIZE:
        bad = next(i for i, e in enumerate(entries) if len(e) > MAX_ENTRY_SIZE)
        raise MalformedError(
            f"entry {bad} is {len(entries[bad]):,} bytes; a log entry is at most "
            f"{MAX_ENTRY_SIZE:,} bytes (C2SP tlog-tiles entry bundles)"
        )


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes (§Log entries)."""
    check_entries(entries)
    parts: list[bytes] = [b""] * (2 * len(entries))
    parts[0::2] = map(_LENGTHS.__getitem__, map(len, entries))
    parts[1::2] = entries
    return b"".join(parts)


def decode_bundle(data: bytes, tile: Tile) -> list[bytes]:
    """The entries of bundle ``tile``: exactly ``tile.width`` of them, nothing after."""
    entries = []
    pos, end = 0, len(data)
    for i in range(tile.width):
        if end - pos < 2:
            raise MalformedError(
                f"{tile.path}: truncated at entry {i} of {tile.width} (no length prefix)"
            )
        length = (data[pos] << 8) | data[pos + 1]
        pos += 2
        if end - pos < length:
            raise MalformedError(
                f"{tile.path}: entry {i} is truncated: {length} bytes announced, "
                f"{end - pos} left"
            )
        entries.append(data[pos : pos + length])
        pos += length
    if pos != end:
        raise MalformedError(f"{tile.path}: {end - pos} bytes after entry {tile.width - 1}")
    return entries


def tile_levels(data: bytes) -> tuple[bytes, ...]:
    """The tree levels inside one tile: ``data`` itself, then each level of node hashes.

    Level k holds the hashes of complete subtrees of 2^k tile hashes, concatenated;
    an unpaired hash at the right end is not carried up. For a full tile the last
    level is the tile's own hash (C2SP tlog-tiles: tiles are subtrees of height 8).
    """
    levels = [data]
    while len(data) >= 2 * HASH_SIZE:
        data = pair_hashes(data)
        levels.append(data)
    return tuple(levels)


def _perfect_roots(levels: tuple[bytes, ...]) -> list[bytes]:
    """Hashes of the complete subtrees that make up a (partial) tile, left to right."""
    width = len(levels[0]) // HASH_SIZE
    roots, offset = [], 0
    for k in reversed(range(width.bit_length())):
        if width >> k & 1:
            at = (offset >> k) * HASH_SIZE
            roots.append(levels[k][at : at + HASH_SIZE])
            offset += 1 << k
    return roots


def _edge_root(edge: Iterable[tuple[bytes, ...]]) -> bytes:
    """MTH of a tree from the levels of its right-edge tiles, top level first."""
    roots = [root for levels in edge for root in _perfect_roots(levels)]
    if not roots:
        return EMPTY_ROOT
    acc = roots[-1]
    for h in reversed(roots[:-1]):
        acc = node_hash(h, acc)
    return acc


class TileTree:
    """The right edge of a tiled tree: grows by leaf hashes, emits tiles as they fill.

    Holds only the partial tile of each level (at most 255 hashes each), so adding
    k leaves costs about k hashes, and the root costs at most 255 per level.
    """

    def __init__(self) -> None:
        self.size = 0
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_edge(cls, size: int, tiles: Mapping[int, bytes]) -> TileTree:
        """The tree of ``size`` whose partial tiles are ``tiles`` (level → tile data)."""
        tree = cls()
        edge = edge_tiles(size)
        if sorted(tiles) != [t.level for t in edge]:
            raise ValueError(f"want the partial tiles of levels {[t.level for t in edge]}")
        tree._levels = [[] for _ in range(edge[-1].level + 1 if edge else 1)]
        for tile in edge:
            tree._levels[tile.level] = decode_hash_tile(tiles[tile.level], tile)
        tree.size = size
        return tree

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[Tile, bytes]]:
        """Add leaf hashes; return the full tiles (any level) they complete, with their data."""
        done: list[tuple[Tile, bytes]] = []
        buffer, at, total = self._levels[0], 0, len(leaf_hashes)
        while at < total:
            take = min(TILE_WIDTH - len(buffer), total - at)
            buffer.extend(leaf_hashes[at : at + take])
            at += take
            self.size += take
            level = 0
            while len(self._levels[level]) == TILE_WIDTH:
                data = b"".join(self._levels[level])
                self._levels[level].clear()
                n = (self.size >> (TILE_HEIGHT * (level + 1))) - 1
                done.append((Tile(level, n), data))
                level += 1
                if level == len(self._levels):
                    self._levels.append([])
                self._levels[level].append(tile_levels(data)[-1])
        return done

    def partial_tiles(self) -> list[tuple[Tile, bytes]]:
        """The partial tile of every level at the current size, with its data."""
        return [(t, b"".join(self._levels[t.level])) for t in edge_tiles(self.size)]

    def root_hash(self) -> bytes:
        """MTH of the tree so far (RFC 9162 §2.1.1)."""
        edge = reversed([hashes for hashes in self._levels if hashes])
        return _edge_root(tile_levels(b"".join(hashes)) for hashes in edge)


class TileHashReader:
    """Reads the stored hashes of the tree (size, root) from a store's tiles.

    Implements :class:`~generator.tlog.merkle.HashReader`. Every tile is authenticated
    before use: the right-edge partial tiles must hash to ``root``, and each full tile
    must hash to its entry in the (authenticated) tile above it. A missing partial tile
    falls back to the full tile that replaced it (C2SP tlog-tiles §Partial Tiles).
    Authenticated tiles are cached, at most ``cache_tiles`` full ones.
    """

    def __init__(self, store: TileStore, size: int, root: bytes, *, cache_tiles: int = 1024):
        self.store, self.size, self.root = store, size, root
        self._cache_tiles = cache_tiles
        self._edge: dict[tuple[int, int], tuple[bytes, ...]] | None = None
        self._cache: OrderedDict[tuple[int, int], tuple[bytes, ...]] = OrderedDict()

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """The stored hashes at ``indexes``, from authenticated tiles."""
        count = stored_hash_count(self.size)
        out = []
        for index in indexes:
            if not 0 <= index < count:
                raise ValueError(f"stored hash {index} is not in a tree of size {self.size}")
            level, n = split_stored_hash_index(index)
            tile_level, k = divmod(level, TILE_HEIGHT)
            first = n << k  # first tile hash under this node
            levels = self._levels(tile_level, first >> TILE_HEIGHT)
            at = ((first % TILE_WIDTH) >> k) * HASH_SIZE
            out.append(levels[k][at : at + HASH_SIZE])
        return out

    def read_tile(self, level: int, n: int) -> bytes:
        """The authenticated data of tile (level, n) as it is at this tree size."""
        return self._levels(level, n)[0]

    def _levels(self, level: int, n: int) -> tuple[bytes, ...]:
        edge = self._load_edge()
        key = (level, n)
        if key in edge:
            return edge[key]
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        tile = tile_at(level, n, self.size)  # full: the partial ones are all in the edge
        data = self.store.read(tile.path)
        check_hash_tile(data, tile)
        levels = tile_levels(data)
        parent = self._levels(level + 1, n >> TILE_HEIGHT)[0]
        at = (n % TILE_WIDTH) * HASH_SIZE
        if levels[-1] != parent[at : at + HASH_SIZE]:
            raise TileMismatch(
                f"{tile.path} does not hash to its entry in the tile above "
                f"(tree size {self.size})"
            )
        self._cache[key] = levels
        if len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)
        return levels

    def _load_edge(self) -> dict[tuple[int, int], tuple[bytes, ...]]:
        if self._edge is None:
            edge = {
                (t.level, t.n): tile_levels(self._read_partial(t)) for t in edge_tiles(self.size)
            }
            root = _edge_root(reversed(list(edge.values())))
            if root != self.root:
                raise TileMismatch(
                    f"the right-edge tiles of tree size {self.size} hash to {root.hex()}, "
                    f"not to the checkpoint root {self.root.hex()}"
                )
            self._edge = edge
        return self._edge

    def _read_partial(self, tile: Tile) -> bytes:
        try:
            data = self.store.read(tile.path)
        except NotFound:
            full = Tile(tile.level, tile.n)
            data = self.store.read(full.path)
            check_hash_tile(data, full)
            data = data[: tile.size]
        check_hash_tile(data, tile)
        return data
