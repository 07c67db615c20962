"""Append-only writer of a C2SP tlog-tiles log, signing C2SP tlog-checkpoints.

The writer reads only the current checkpoint and the right edge of the tree (the
partial tile of each level and the partial entry bundle), so appending k entries
to a log of n costs O(k + log n) hashes and touches O(k/256 + log n) files. Full
tiles and bundles are written once, as they fill; partial ones when a checkpoint
is signed; the checkpoint itself last. Files written for entries that no signed
checkpoint covers yet are invisible to readers, so an interrupted append leaves
the log as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from generator.tlog.errors import MalformedError, NotFound, TileMismatch
from generator.tlog.merkle import EMPTY_ROOT, leaf_hashes
from generator.tlog.note import Signer
from generator.tlog.store import CHECKPOINT_PATH as CHECKPOINT_PATH  # re-exported
from generator.tlog.store import WritableStore
from generator.tlog.tiles import (
    ENTRIES,
    TILE_WIDTH,
    Tile,
    TileHashReader,
    TileTree,
    check_entries,
    decode_bundle,
    edge_tiles,
    encode_bundle,
)


class LogWriter:
    """Appends entries to the log in ``store`` in any number of batches; signs on commit.

    Opening the writer verifies the current checkpoint with the signer's own key
    (no checkpoint: an empty log) and checks that the right-edge tiles and the
    partial bundle hash to its root (:class:`TileMismatch` otherwise).
    """

    def __init__(self, store: WritableStore, signer: Signer, *, origin: str | None = None):
        origin = signer.name if origin is None else origin
        if origin != signer.name:
            raise MalformedError(
                f"log origin {origin!r} must be the signing key's name {signer.name!r}"
            )
        self.origin = origin
        self._store, self._signer = store, signer
        try:
            data = store.read(CHECKPOINT_PATH)
        except NotFound:
            size, root = 0, EMPTY_ROOT
        else:
            checkpoint = open_checkpoint(data, signer.verifier(), origin=origin).checkpoint
            size, root = checkpoint.size, checkpoint.root_hash
        edge = TileHashReader(store, size, root)
        self._tree = TileTree.from_edge(
            size, {t.level: edge.read_tile(t.level, t.n) for t in edge_tiles(size)}
        )
        self._bundle: list[bytes] = []  # encoded parts of the partial bundle
        self._bundle_width = size % TILE_WIDTH
        if self._bundle_width:
            tile = Tile(ENTRIES, size // TILE_WIDTH, self._bundle_width)
            data = store.read(tile.path)
            if b"".join(leaf_hashes(decode_bundle(data, tile))) != edge.read_tile(0, tile.n):
                raise TileMismatch(f"{tile.path} does not match the level 0 tile beside it")
            self._bundle.append(data)
        self._published = self._edge_paths()

    @property
    def size(self) -> int:
        """Entries in the log, including those not yet committed."""
        return self._tree.size

    def root_hash(self) -> bytes:
        """MTH of every entry appended so far (RFC 9162 §2.1.1)."""
        return self._tree.root_hash()

    def append(self, entries: Sequence[bytes]) -> None:
        """Add ``entries``, writing the full tiles and bundles they complete.

        The whole batch is checked first (bytes, at most 65,535 each); nothing is
        written if any entry is refused.
        """
        check_entries(entries)
        at, total = 0, len(entries)
        while at < total:
            take = min(TILE_WIDTH - self._bundle_width, total - at)
            self._bundle.append(encode_bundle(entries[at : at + take]))
            self._bundle_width += take
            at += take
            if self._bundle_width == TILE_WIDTH:
                n = (self._tree.size + at - 1) // TILE_WIDTH
                self._write_once(Tile(ENTRIES, n).path, b"".join(self._bundle))
                self._bundle.clear()
                self._bundle_width = 0
        for tile, data in self._tree.append(leaf_hashes(entries)):
            self._write_once(tile.path, data)

    def commit(self) -> bytes:
        """Write the new partial tiles and bundle, then sign and write the checkpoint.

        Returns the signed checkpoint (C2SP tlog-checkpoint, no extension lines).
        """
        size = self._tree.size
        for tile, data in self._tree.partial_tiles():
            if tile.path not in self._published:
                self._store.write(tile.path, data)
        if self._bundle_width:
            tile = Tile(ENTRIES, size // TILE_WIDTH, self._bundle_width)
            if tile.path not in self._published:
                self._store.write(tile.path, b"".join(self._bundle))
        signed = sign_checkpoint(Checkpoint(self.origin, size, self.root_hash()), self._signer)
        self._store.write(CHECKPOINT_PATH, signed)
        self._published = self._edge_paths()
        return signed

    def _edge_paths(self) -> set[str]:
        size = self._tree.size
        paths = {t.path for t in edge_tiles(size)}
        if size % TILE_WIDTH:
            paths.add(Tile(ENTRIES, size // TILE_WIDTH, size % TILE_WIDTH).path)
        return paths

    def _write_once(self, path: str, data: bytes) -> None:
        """Write a full tile or bundle unless an identical one is there already.

        A different one can only be left over from an interrupted append: it lies
        beyond every signed checkpoint, so no reader relies on it.
        """
        if self._store.exists(path) and self._store.read(path) == data:
            return
        self._store.write(path, data)


def append_entries(
    store: WritableStore, entries: Sequence[bytes], signer: Signer, *, origin: str | None = None
) -> bytes:
    """Append ``entries`` to the log in ``store`` and return its new signed checkpoint.

    Every entry is checked before anything is written, and the checkpoint is
    replaced last, atomically. ``origin`` defaults to, and must equal, the key name.
    """
    writer = LogWriter(store, signer, origin=origin)
    writer.append(entries)
    return writer.commit()
