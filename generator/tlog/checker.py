"""Audit a C2SP tlog-tiles log: recompute every tile from the entries, detect forks.

A full check streams the entry bundles once, recomputes every hash tile (full and
partial) and compares each with the stored one byte for byte; memory stays
bounded by one bundle and the right edge of the tree. Given a previously trusted
checkpoint it also detects rollbacks and forks; the incremental mode checks only
what was added since that checkpoint.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from generator.tlog.checkpoint import Checkpoint
from generator.tlog.errors import (
    ForkDetected,
    InvalidProof,
    RollbackDetected,
    TileMismatch,
)
from generator.tlog.merkle import leaf_hashes, verify_consistency
from generator.tlog.note import Verifier
from generator.tlog.reader import LogReader
from generator.tlog.store import TileStore
from generator.tlog.tiles import (
    ENTRIES,
    TILE_WIDTH,
    Tile,
    TileTree,
    decode_bundle,
    edge_tiles,
    tile_at,
)


@dataclass(frozen=True)
class CheckReport:
    """What a check verified: the tree (origin, size, root) and how much was read."""

    origin: str
    size: int
    root_hash: bytes
    entries_checked: int
    tiles_checked: int  # hash tiles and entry bundles


def _tree(checkpoint: Checkpoint) -> str:
    return f"size {checkpoint.size} (root {base64.b64encode(checkpoint.root_hash).decode()})"


def check_log(
    store: TileStore,
    verifier: Verifier,
    *,
    since: bytes | None = None,
    full: bool = True,
    origin: str | None = None,
) -> CheckReport:
    """Verify the log in ``store`` signed by ``verifier``; return what was checked.

    (1) The checkpoint must verify (signature, origin: the key name by default).
    (2) ``since``, a signed checkpoint trusted earlier (same key), must not be
    larger (:class:`RollbackDetected`) nor differ at the same size or fail to be
    a prefix (:class:`ForkDetected`). (3) Every bundle from the start (or, with
    ``full=False``, from ``since``) is decoded strictly and hashed; every tile
    those entries complete, and the partial tiles at the checkpoint size, must equal
    the stored ones byte for byte, and the root the checkpoint's
    (:class:`TileMismatch` naming the file).
    """
    reader = LogReader(store, verifier, origin)
    latest = reader.checkpoint().checkpoint  # (1)
    trusted = None if since is None else reader.open_checkpoint(since).checkpoint
    if trusted is not None:  # (2)
        if latest.size < trusted.size:
            raise RollbackDetected(
                f"the log shows {_tree(latest)}, smaller than the trusted {_tree(trusted)}"
            )
        if latest.size == trusted.size and latest.root_hash != trusted.root_hash:
            raise ForkDetected(f"the log shows {_tree(latest)}, but trusted {_tree(trusted)}")
    if full:
        tree = TileTree()
    else:
        if trusted is None:
            raise ValueError("an incremental check needs a trusted checkpoint (since)")
        try:
            proof = reader.consistency_proof(trusted.size)
            verify_consistency(
                trusted.size, latest.size, proof, trusted.root_hash, latest.root_hash
            )
        except InvalidProof as error:
            raise ForkDetected(
                f"the log's {_tree(latest)} does not extend the trusted {_tree(trusted)}: {error}"
            ) from None
        start = trusted.size - trusted.size % TILE_WIDTH
        tree = TileTree.from_edge(
            start,
            {t.level: reader.hashes.read_tile(t.level, t.n)[: t.size] for t in edge_tiles(start)},
        )
    fork_check = trusted if full and trusted is not None and trusted.size else None
    entries = tiles = 0

    def compare(tile: Tile, data: bytes) -> None:
        nonlocal tiles
        if store.read(tile.path) != data:
            raise TileMismatch(f"{tile.path} differs from the hashes of the log's entries")
        tiles += 1

    for n in range(tree.size // TILE_WIDTH, -(-latest.size // TILE_WIDTH)):  # (3)
        bundle = tile_at(ENTRIES, n, latest.size)
        hashes = leaf_hashes(decode_bundle(store.read(bundle.path), bundle))
        entries, tiles = entries + len(hashes), tiles + 1
        if fork_check is not None and tree.size + len(hashes) >= fork_check.size:
            cut = fork_check.size - tree.size
            for done in tree.append(hashes[:cut]):
                compare(*done)
            hashes = hashes[cut:]
            if tree.root_hash() != fork_check.root_hash:
                raise ForkDetected(
                    f"the log's entries give a tree of size {fork_check.size} other than "
                    f"the trusted {_tree(fork_check)}; the log shows {_tree(latest)}"
                )
            fork_check = None
        for done in tree.append(hashes):
            compare(*done)
    for done in tree.partial_tiles():
        compare(*done)
    root = tree.root_hash()
    if root != latest.root_hash:
        raise TileMismatch(
            f"the log's entries hash to root {base64.b64encode(root).decode()}, "
            f"not to the checkpoint's {_tree(latest)}"
        )
    return CheckReport(latest.origin, latest.size, latest.root_hash, entries, tiles)
