"""Tile evidence (contract): what a relying party needs to prove one file, in one request.

Proving an item version from the tiles alone takes a request per tile on the
proof path, and more for its authorisation and the policy chain (13 requests on
a log of a million entries). The build therefore also publishes, beside ``log/``
(docs/relying-parties.md):

* ``evidence/tile/<N>`` — for entry bundle ``N`` (entries ``[256·N, 256·N + w)``),
  canonical JSON ``{"bundle", "checkpoint", "path", "related", "tile", "v"}``:
  ``checkpoint`` a signed checkpoint of the log at the *pinned* size ``s`` (the
  end of the latest commit the evidence draws on); ``bundle`` (base64) the C2SP
  entry bundle of the ``w = min(256, s − 256·N)`` entries; ``path`` (base64
  hashes) the part of every one of those entries' RFC 9162 inclusion proofs at
  ``s`` above the bundle (a leaf's whole proof is its path inside the bundle's
  leaves, then ``path``); ``related`` the other entries a version in the bundle
  needs — its authorisation note, every ``policy`` entry before it, the item's
  later entries up to the change that superseded or withdrew it (and a
  violation's ratification) — each ``{"entry", "index", "proof"}`` with its own
  inclusion proof at ``s``, ascending by index;
* ``evidence/consistency/<s>`` — for every commit end ``s`` below the log size:
  the lines ``<s>``, ``<size>`` and the base64 hashes of the RFC 9162
  consistency proof from ``s`` to the current checkpoint.

Everything is proven against the log key: the pinned checkpoint's signature, every
inclusion proof, and the consistency of the pinned tree with the newest
checkpoint (read from ``consistency/<s>``, else computed from the tiles). An
evidence file is rewritten only when its bundle grows or a later entry changes
one of its versions, so a build's cost follows its change; the pinned size
depends only on the history, so every build of one history writes the same bytes.
Which entries are "related" is the publisher's claim, as the lookup index is:
whatever the client is told is then proven, and ``smki audit`` checks the whole log.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from generator.client.currency import follow
from generator.client.lookup import ITEM, Shard, path_key, read_shard, shard_path
from generator.errors import PublishError
from generator.repository.content import POLICY_PATH
from generator.repository.entries import (
    AmendEntry,
    Entry,
    PolicyEntry,
    RatifyEntry,
    VersionEntry,
    ViolationEntry,
    WithdrawEntry,
    path_of,
)
from generator.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from generator.tlog.errors import MalformedError, NotFound, VerificationError
from generator.tlog.merkle import (
    HASH_SIZE,
    inclusion_path,
    leaf_hash,
    leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from generator.tlog.note import Verifier
from generator.tlog.pins import PinnedCheckpoints
from generator.tlog.proof import MAX_PROOF_HASHES
from generator.tlog.store import TileStore, WritableStore
from generator.tlog.tiles import (
    ENTRIES,
    TILE_WIDTH,
    Tile,
    decode_bundle,
    encode_bundle,
    encode_index,
)

EVIDENCE_DIR = "evidence"
"""The evidence's folder in the site, beside ``log/``, ``objects/`` and ``index/``."""

VERSION = 1
"""The ``v`` of the evidence format."""

MAX_EVIDENCE_SIZE = 48 << 20
"""Largest evidence file read: a bundle of 256 entries of 64 KiB, in base64, and more."""

SIZE_PATH = "size"
"""The writer's own record of how many log entries the evidence covers."""

MAX_RELATED = 4096
"""Most related entries one evidence file may carry."""

_KEYS = {"bundle", "checkpoint", "path", "related", "tile", "v"}
_RELATED_KEYS = {"entry", "index", "proof"}
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def tile_evidence_path(n: int) -> str:
    """Where bundle ``n``'s evidence lives, relative to ``evidence/``."""
    return f"tile/{encode_index(n)}"


def consistency_path(size: int) -> str:
    """Where the consistency proof from tree ``size`` lives, relative to ``evidence/``."""
    return f"consistency/{size}"


@dataclass(frozen=True)
class Related:
    """An entry outside the bundle, with its inclusion proof at the pinned size."""

    index: int
    entry: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class TileEvidence:
    """One ``evidence/tile/<N>`` file, parsed."""

    tile: int
    checkpoint: bytes
    bundle: bytes
    path: tuple[bytes, ...]
    related: tuple[Related, ...]


# -- format ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def format_evidence(evidence: TileEvidence) -> bytes:
    """The canonical bytes of an evidence file (sorted keys, no white space)."""
    value = {
        "bundle": _b64(evidence.bundle),
        "checkpoint": evidence.checkpoint.decode("utf-8"),
        "path": [_b64(h) for h in evidence.path],
        "related": [
            {"entry": _b64(r.entry), "index": r.index, "proof": [_b64(h) for h in r.proof]}
            for r in evidence.related
        ],
        "tile": evidence.tile,
        "v": VERSION,
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_evidence(data: bytes, tile: int) -> TileEvidence:
    """Parse ``evidence/tile/<tile>`` strictly: bounded, canonical, every field as specified."""
    where = f"{EVIDENCE_DIR}/{tile_evidence_path(tile)}"
    if len(data) > MAX_EVIDENCE_SIZE:
        raise MalformedError(f"{where}: larger than {MAX_EVIDENCE_SIZE:,} bytes")
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedError(f"{where}: not JSON: {str(error)[:120]}") from None
    if not isinstance(value, dict) or set(value) != _KEYS:
        raise MalformedError(f"{where}: not an object with exactly {sorted(_KEYS)}")
    if value["v"] != VERSION or type(value["v"]) is not int:
        raise MalformedError(f"{where}: evidence version {str(value['v'])[:20]} is not {VERSION}")
    if value["tile"] != tile or type(value["tile"]) is not int:
        raise MalformedError(f"{where}: is the evidence of another bundle")
    if not isinstance(value["checkpoint"], str):
        raise MalformedError(f"{where}: checkpoint is not text")
    related = _list(value["related"], MAX_RELATED, f"{where}: related")
    evidence = TileEvidence(
        tile,
        value["checkpoint"].encode("utf-8"),
        _unb64(value["bundle"], f"{where}: bundle"),
        _hashes(value["path"], f"{where}: path"),
        tuple(_related(r, f"{where}: related[{i}]") for i, r in enumerate(related)),
    )
    indices = [r.index for r in evidence.related]
    if indices != sorted(set(indices)):
        raise MalformedError(f"{where}: related entries are not ascending and unique")
    if format_evidence(evidence) != data:
        raise MalformedError(f"{where}: not in canonical form")
    return evidence


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate key")
    return value


def _list(value: object, most: int, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > most:
        raise MalformedError(f"{what}: not a list of at most {most}")
    return value


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(f"{what}: not base64 text")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise MalformedError(f"{what}: not base64") from None


def _hashes(value: object, what: str) -> tuple[bytes, ...]:
    hashes = tuple(
        _unb64(h, f"{what}[{i}]") for i, h in enumerate(_list(value, MAX_PROOF_HASHES, what))
    )
    if any(len(h) != HASH_SIZE for h in hashes):
        raise MalformedError(f"{what}: a hash is not {HASH_SIZE} bytes")
    return hashes


def _related(value: object, what: str) -> Related:
    if not isinstance(value, dict) or set(value) != _RELATED_KEYS:
        raise MalformedError(f"{what}: not an object with exactly {sorted(_RELATED_KEYS)}")
    index = value["index"]
    if type(index) is not int or not 0 <= index < 1 << 63:
        raise MalformedError(f"{what}: index is not an entry index")
    return Related(index, _unb64(value["entry"], f"{what}.entry"),
                   _hashes(value["proof"], f"{what}.proof"))


def format_consistency(old: int, new: int, proof: Sequence[bytes]) -> bytes:
    """``evidence/consistency/<old>``: old size, new size, then the proof's base64 hashes."""
    return "".join([f"{old}\n{new}\n", *(_b64(h) + "\n" for h in proof)]).encode("ascii")


def parse_consistency(data: bytes, old: int) -> tuple[int, tuple[bytes, ...]]:
    """The new size and proof of ``evidence/consistency/<old>``, parsed strictly."""
    where = f"{EVIDENCE_DIR}/{consistency_path(old)}"
    if len(data) > 4096 or not data.endswith(b"\n"):
        raise MalformedError(f"{where}: not a consistency proof")
    try:
        lines = data.decode("ascii").split("\n")[:-1]
    except UnicodeDecodeError:
        raise MalformedError(f"{where}: not ASCII") from None
    if len(lines) < 2 or not all(_DECIMAL.fullmatch(n) for n in lines[:2]) or lines[0] != str(old):
        raise MalformedError(f"{where}: does not start with the sizes {old} and the new one")
    proof = _hashes(lines[2:], f"{where}: proof")
    if format_consistency(old, int(lines[1]), proof) != data:
        raise MalformedError(f"{where}: not in canonical form")
    return int(lines[1]), proof


# -- proving ---------------------------------------------------------------------------------


def prove_evidence(
    evidence: TileEvidence,
    verifier: Verifier,
    latest: SignedCheckpoint,
    consistency: Callable[[int], Sequence[bytes]],
) -> dict[int, bytes]:
    """The entries ``evidence`` proves are in the log of ``latest``: index → entry bytes.

    (1) The pinned checkpoint must verify with the key and the latest's origin;
    (2) the bundle's leaves, with ``path``, must reach its root; (3) each related
    entry's proof too; (4) ``consistency(s)`` (the proof from the pinned size to
    the latest) must show the latest tree extends the pinned one (RFC 9162
    §2.1.4.2). Raises :class:`VerificationError` (or :class:`MalformedError`)
    naming the evidence file.
    """
    where = f"{EVIDENCE_DIR}/{tile_evidence_path(evidence.tile)}"
    newest = latest.checkpoint
    try:
        pinned = open_checkpoint(evidence.checkpoint, verifier, origin=newest.origin).checkpoint
    except VerificationError as error:
        raise type(error)(f"{where}: its checkpoint does not verify: {error}") from None
    if pinned.size > newest.size:
        raise VerificationError(
            f"{where}: pinned to a tree of {pinned.size} entries, larger than the "
            f"checkpoint's {newest.size}"
        )
    first = evidence.tile * TILE_WIDTH
    width = min(TILE_WIDTH, pinned.size - first)
    if width < 1:
        raise VerificationError(f"{where}: pinned to a tree that does not reach its bundle")
    try:
        entries = decode_bundle(evidence.bundle, Tile(ENTRIES, evidence.tile, width))
        leaves = leaf_hashes(entries)
        lower = inclusion_path(0, leaves)
        verify_inclusion(leaves[0], first, pinned.size, [*lower, *evidence.path],
                         pinned.root_hash)  # (2)
        for r in evidence.related:  # (3)
            verify_inclusion(leaf_hash(r.entry), r.index, pinned.size, r.proof, pinned.root_hash)
        # (4) equal sizes need equal roots (a fork of the same size), larger a proof
        proof = consistency(pinned.size) if pinned.size < newest.size else []
        verify_consistency(pinned.size, newest.size, proof, pinned.root_hash, newest.root_hash)
    except VerificationError as error:
        raise type(error)(f"{where}: {error}") from None
    proven = {first + i: data for i, data in enumerate(entries)}
    proven.update((r.index, r.entry) for r in evidence.related)
    return proven


# -- writing ---------------------------------------------------------------------------------


class _Histories:
    """Entry indices per item path, read from the lookup index (each shard parsed once)."""

    def __init__(self, index: TileStore, size: int) -> None:
        self.index, self.size = index, size
        self._shards: dict[str, Shard] = {}

    def __call__(self, path: str) -> list[int]:
        key = path_key(path)
        where = shard_path(ITEM, key)
        shard = self._shards.get(where)
        if shard is None:
            shard = self._shards[where] = read_shard(self.index, where, self.size)
        return shard.get(key, [])


def update_evidence(
    store: WritableStore,
    entries: Sequence[Entry],
    encoded: Sequence[bytes],
    pins: PinnedCheckpoints,
    index: TileStore,
) -> int:
    """Bring ``store`` (the ``evidence/`` folder) up to the log; return how many files it wrote.

    ``entries`` (decoded) and ``encoded`` are the whole log; ``index`` is the lookup
    index, already up to date. Rewrites the bundles that hold entries the evidence
    does not cover yet and those whose versions such an entry changed, then every
    consistency proof, and :data:`SIZE_PATH` last, so an interrupted update is
    completed by the next one (a site without evidence gets all of it).
    """
    size = len(entries)
    try:
        done = int(store.read(SIZE_PATH).decode("ascii").strip())
    except NotFound:
        done = 0
    except (UnicodeDecodeError, ValueError):
        done = 0  # unreadable: rewrite it all
    if done == size:
        return 0
    if done > size:
        raise PublishError(
            f"the evidence covers {done} entries but the log has {size}: "
            f"delete {EVIDENCE_DIR}/ and build again"
        )
    histories = _Histories(index, size)
    policy = [i for i in histories(POLICY_PATH) if isinstance(entries[i], PolicyEntry)]
    tiles = set(range(done // TILE_WIDTH, -(-size // TILE_WIDTH)))
    for at in range(done, size) if done else ():
        path = _changed_path(entries, at)
        if path is not None:
            tiles.update(i // TILE_WIDTH for i in histories(path) if i < done)
    for n in sorted(tiles):
        evidence = _tile_evidence(n, entries, encoded, pins, histories, policy)
        store.write(tile_evidence_path(n), format_evidence(evidence))
    for old in pins.sizes[:-1]:
        proof = pins.reader.consistency_proof(old, size)
        store.write(consistency_path(old), format_consistency(old, size, proof))
    store.write(SIZE_PATH, f"{size}\n".encode())
    return len(tiles) + len(pins.sizes)


def _changed_path(entries: Sequence[Entry], at: int) -> str | None:
    """The item path whose earlier versions entry ``at`` changes (or ratifies), if any.

    A lodge changes none: a version's walk ends at the change before it.
    """
    entry = entries[at]
    if isinstance(entry, RatifyEntry):
        violation = entries[entry.violation]
        return violation.path if isinstance(violation, ViolationEntry) else None
    if isinstance(entry, AmendEntry | WithdrawEntry | ViolationEntry):
        return path_of(entry)
    return None


def _tile_evidence(
    n: int,
    entries: Sequence[Entry],
    encoded: Sequence[bytes],
    pins: PinnedCheckpoints,
    histories: Callable[[str], list[int]],
    policy: Sequence[int],
) -> TileEvidence:
    first = n * TILE_WIDTH
    width = min(TILE_WIDTH, len(entries) - first)
    related: set[int] = set()
    for i in range(first, first + width):
        related.update(_needs(i, entries, histories, policy))
    related.difference_update(range(first, first + width))
    size = pins.size_for(max([first + width - 1, *related]))
    reader = pins.reader
    bundle = list(encoded[first : first + width])
    lower = (width - 1).bit_length()  # len(PATH(0, D[width])): ceil(log2 width) hashes
    return TileEvidence(
        n,
        pins.checkpoint(size),
        encode_bundle(bundle),
        tuple(reader.inclusion_proof(first, size)[lower:]),
        tuple(
            Related(i, encoded[i], tuple(reader.inclusion_proof(i, size))) for i in sorted(related)
        ),
    )


def _needs(
    i: int, entries: Sequence[Entry], histories: Callable[[str], list[int]], policy: Sequence[int]
) -> Iterable[int]:
    """The entries a relying party reads to verify the version entry ``i`` logs (if any)."""
    entry = entries[i]
    if not isinstance(entry, VersionEntry) or entry.sha256 is None:
        return ()
    item = path_of(entry)
    assert item is not None
    currency = follow(item, i, entry, histories(item), entries.__getitem__)
    needs = list(currency.read)
    if isinstance(entry, ViolationEntry):
        if currency.ratify is None:
            return needs
        at, note = currency.ratify[0], currency.ratify[1].authorisation
    else:
        at, note = i, entry.authorisation
    return [*needs, note, *(p for p in policy if p < at)]
