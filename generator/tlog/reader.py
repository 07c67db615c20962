"""A relying party's reader of a C2SP tlog-tiles log: checkpoint, entries, proofs.

Everything it returns is authenticated: the checkpoint by its signature, tiles by
hashing up to the checkpoint root (:class:`~generator.tlog.tiles.TileHashReader`),
entries by their leaf hashes in those tiles. Answers about an older tree (a
``size`` below the checkpoint's) come from the tiles of the latest checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

from generator.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from generator.tlog.errors import NotFound, TileMismatch
from generator.tlog.merkle import (
    HASH_SIZE,
    RangeMemo,
    consistency_proof,
    inclusion_proof,
    leaf_hashes,
    tree_hash,
)
from generator.tlog.note import Verifier
from generator.tlog.store import CHECKPOINT_PATH, TileStore
from generator.tlog.tiles import (
    ENTRIES,
    TILE_WIDTH,
    Tile,
    TileHashReader,
    decode_bundle,
    tile_at,
)


class LogReader:
    """Reads and verifies the log in ``store`` signed by ``verifier``.

    ``origin`` is the checkpoint origin to insist on; it defaults to the key name
    (C2SP tlog-checkpoint: smki logs name their key after their origin).
    """

    def __init__(self, store: TileStore, verifier: Verifier, origin: str | None = None) -> None:
        self.store, self.verifier = store, verifier
        self.origin = verifier.name if origin is None else origin
        self._state: tuple[SignedCheckpoint, TileHashReader] | None = None
        self._ranges: RangeMemo = {}  # subtree hashes of the latest checkpoint's tree

    def checkpoint(self) -> SignedCheckpoint:
        """Fetch the current checkpoint and verify its signature and origin.

        Later questions are answered from the tiles of this checkpoint.
        """
        return self._fetch()[0]

    def _fetch(self) -> tuple[SignedCheckpoint, TileHashReader]:
        signed = self.open_checkpoint(self.store.read(CHECKPOINT_PATH))
        tree = signed.checkpoint
        self._state = (signed, TileHashReader(self.store, tree.size, tree.root_hash))
        self._ranges = {}
        return self._state

    def open_checkpoint(self, data: bytes) -> SignedCheckpoint:
        """Verify a signed checkpoint of this log (its key and origin)."""
        return open_checkpoint(data, self.verifier, origin=self.origin)

    def _current(self) -> tuple[SignedCheckpoint, TileHashReader]:
        return self._state if self._state is not None else self._fetch()

    @property
    def latest(self) -> SignedCheckpoint:
        """The checkpoint answers come from, fetched on first use."""
        return self._current()[0]

    @property
    def hashes(self) -> TileHashReader:
        """The authenticated hash reader of the latest checkpoint's tree."""
        return self._current()[1]

    def _size(self, size: int | None) -> int:
        latest = self.latest.checkpoint.size
        if size is None:
            return latest
        if not 0 <= size <= latest:
            raise ValueError(f"tree size {size} is not covered by the checkpoint ({latest})")
        return size

    def _span(self, start: int, end: int, size: int | None) -> None:
        tree = self._size(size)
        if not 0 <= start <= end <= tree:
            raise ValueError(f"entries [{start}, {end}) are not in a tree of size {tree}")

    def root_hash(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` entries (default: the checkpoint's own root)."""
        return tree_hash(self._size(size), self.hashes)

    def leaf_hashes(self, start: int, end: int, size: int | None = None) -> list[bytes]:
        """The authenticated leaf hashes of entries [start, end)."""
        self._span(start, end, size)
        out: list[bytes] = []
        for n in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
            data = self.hashes.read_tile(0, n)
            lo, hi = max(start - n * TILE_WIDTH, 0), min(end - n * TILE_WIDTH, TILE_WIDTH)
            out.extend(data[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(lo, hi))
        return out

    def entries(self, start: int, end: int, size: int | None = None) -> Iterator[bytes]:
        """Entries [start, end), each checked against its leaf hash in the level 0 tile."""
        self._span(start, end, size)
        for n in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
            bundle = self._bundle(n)
            lo, hi = max(start - n * TILE_WIDTH, 0), min(end - n * TILE_WIDTH, TILE_WIDTH)
            yield from bundle[lo:hi]

    def entry(self, index: int, size: int | None = None) -> bytes:
        """Entry ``index``, checked against its leaf hash."""
        return next(self.entries(index, index + 1, size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) from the tiles (RFC 9162 §2.1.3.1)."""
        return inclusion_proof(index, self._size(size), self.hashes, self._ranges)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) from the tiles (RFC 9162 §2.1.4.1)."""
        return consistency_proof(old_size, self._size(new_size), self.hashes)

    def _bundle(self, n: int) -> list[bytes]:
        """Bundle ``n`` at the checkpoint size, matched against tile 0/n.

        A missing partial bundle falls back to the full one that replaced it.
        """
        tile = tile_at(ENTRIES, n, self.latest.checkpoint.size)
        try:
            entries = decode_bundle(self.store.read(tile.path), tile)
        except NotFound:
            if tile.full:
                raise
            full = Tile(ENTRIES, n)
            entries = decode_bundle(self.store.read(full.path), full)[: tile.width]
        if b"".join(leaf_hashes(entries)) != self.hashes.read_tile(0, n):
            raise TileMismatch(f"{tile.path}: entries do not match their leaf hashes in tile 0")
        return entries
