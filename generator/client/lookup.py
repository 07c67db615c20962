"""The static lookup index (contract): from a file's SHA-256, or a content path, to log entries.

The build publishes, beside ``log/``, an index a client reads in one request per
question, without downloading the log (docs/relying-parties.md):

* ``index/sha256/<h[0:3]>`` — a line ``<h> <entry index> …`` for every
  SHA-256 ``h`` that an entry logs as an item version (``lodge``, ``amend``, and a
  ``violation`` with a new version);
* ``index/item/<p[0:3]>`` — ``p`` is the SHA-256 hex of a content path
  (UTF-8); a line ``<p> <entry index> …`` lists every entry that touches the path:
  ``lodge``, ``amend``, ``withdraw``, ``violation``, a ``ratify`` (under the path
  of the violation it ratifies), a ``note`` (under ``approvals/<id>.note`` or
  ``lodgements/<id>.note``) and a ``policy`` (under ``policy.note``).

A shard is text: one line per key, sorted by key, indices ascending in decimal,
each line ending in a newline. 4,096 shards a kind keep a shard near 2,500 lines
(about 180 KB) at 10 million entries, and the number of files the build writes
small (a site of 100,000 items has at most 8,192 shards, not one file per entry).
The index is only a hint: every answer is then proven from the log, and
``smki audit`` checks the index against the log.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from generator.errors import PublishError
from generator.repository.content import POLICY_PATH, PathKind, note_path
from generator.repository.entries import (
    Entry,
    NoteEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    path_of,
    version_sha256,
)
from generator.tlog.errors import MalformedError, NotFound
from generator.tlog.store import TileStore, WritableStore

INDEX_DIR = "index"
"""The index's folder in the site, beside ``log/`` and ``objects/``."""

SHA256 = "sha256"
"""Index kind: the SHA-256 of an item version's bytes → the entries that log it."""

ITEM = "item"
"""Index kind: the SHA-256 of a content path → the entries that touch the path."""

KINDS = (SHA256, ITEM)

SIZE_PATH = "size"
"""The writer's own record of how many log entries the index covers."""

MAX_SHARD_SIZE = 1 << 20
"""Largest shard a reader accepts and a writer writes, in bytes."""

_KEY = re.compile(r"[0-9a-f]{64}")
_LINE = re.compile(rb"([0-9a-f]{64})((?: (?:0|[1-9][0-9]{0,18}))+)")

Shard = dict[str, list[int]]
"""A parsed shard: key → entry indices, ascending."""


def path_key(path: str) -> str:
    """The item-index key of a content path: SHA-256 hex of its UTF-8 bytes."""
    return hashlib.sha256(path.encode()).hexdigest()


def shard_path(kind: str, key: str) -> str:
    """Where the line for ``key`` lives, relative to ``index/``: ``<kind>/<k[0:3]>``."""
    if kind not in KINDS or not _KEY.fullmatch(key):
        raise ValueError(f"no {kind!r} index shard for key {key[:70]!r}")
    return f"{kind}/{key[0:3]}"


def entry_keys(entry: Entry, violation_path: Callable[[int], str]) -> list[tuple[str, str]]:
    """The (kind, key) lines an entry belongs in; ``violation_path`` names a ratified path."""
    keys: list[tuple[str, str]] = []
    sha256 = version_sha256(entry)
    if sha256 is not None:
        keys.append((SHA256, sha256))
    if isinstance(entry, RatifyEntry):
        path = violation_path(entry.violation)
    elif isinstance(entry, NoteEntry):
        kind = PathKind.APPROVAL if entry.kind == "approval" else PathKind.LODGEMENT
        path = note_path(kind, entry.id)
    elif isinstance(entry, PolicyEntry):
        path = POLICY_PATH
    else:
        item = path_of(entry)  # a lodge, amend, withdraw or violation
        assert item is not None
        path = item
    keys.append((ITEM, path_key(path)))
    return keys


def parse_shard(data: bytes, path: str, size: int) -> Shard:
    """Parse a shard strictly: bounded, canonical, sorted, keys of this shard, indices < ``size``.

    ``path`` is the shard's path under ``index/`` (``sha256/ab/cd``); raises
    :class:`MalformedError` naming the shard and line.
    """
    where = f"{INDEX_DIR}/{path}"
    if len(data) > MAX_SHARD_SIZE:
        raise MalformedError(f"{where}: larger than {MAX_SHARD_SIZE:,} bytes")
    if data and not data.endswith(b"\n"):
        raise MalformedError(f"{where}: does not end in a newline")
    prefix = path.split("/", 1)[1].replace("/", "").encode() if "/" in path else b""
    shard: Shard = {}
    last = b""
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        match = _LINE.fullmatch(line)
        if match is None:
            raise MalformedError(f"{where}:{number}: not '<sha256 hex> <entry index> …'")
        key, numbers = match.group(1), match.group(2).split()
        if not key.startswith(prefix):
            raise MalformedError(f"{where}:{number}: key {key.decode()} belongs in another shard")
        if key <= last:
            raise MalformedError(f"{where}:{number}: keys are not sorted and unique")
        indices = [int(n) for n in numbers]
        if any(b <= a for a, b in itertools.pairwise(indices)):
            raise MalformedError(f"{where}:{number}: entry indices are not ascending and unique")
        if indices[-1] >= size:
            raise MalformedError(
                f"{where}:{number}: entry {indices[-1]} is beyond the log's {size} entries"
            )
        shard[key.decode()] = indices
        last = key
    return shard


def format_shard(shard: Mapping[str, Sequence[int]]) -> bytes:
    """The canonical text of a shard (the inverse of :func:`parse_shard`)."""
    return "".join(
        f"{key} {' '.join(map(str, shard[key]))}\n" for key in sorted(shard) if shard[key]
    ).encode()


def read_shard(index: TileStore, path: str, size: int) -> Shard:
    """The shard at ``path`` under ``index/``, parsed strictly; a missing shard is empty."""
    try:
        data = index.read(path)
    except NotFound:
        return {}
    return parse_shard(data, path, size)


def lookup(index: TileStore, kind: str, key: str, size: int) -> list[int]:
    """The entry indices the index gives for ``key`` in a log of ``size`` (a hint to prove)."""
    return read_shard(index, shard_path(kind, key), size).get(key, [])


def update_index(index: WritableStore, entries: Sequence[Entry]) -> int:
    """Add the entries the index does not cover yet; return how many were added.

    ``entries`` is the whole log, in order. Only the shards of new entries are
    rewritten (each atomically), and :data:`SIZE_PATH` last, so an interrupted
    update is completed by the next one.
    """
    try:
        done = int(index.read(SIZE_PATH).decode("ascii").strip())
    except NotFound:
        done = 0
    except (UnicodeDecodeError, ValueError):
        raise PublishError(f"{INDEX_DIR}/{SIZE_PATH} is not a number: delete the index") from None
    if done > len(entries):
        raise PublishError(
            f"the lookup index covers {done} entries but the log has {len(entries)}: "
            f"delete {INDEX_DIR}/ and build again"
        )
    if done == len(entries):
        return 0  # nothing new: write nothing (an unchanged rebuild leaves every file alone)
    pending: dict[str, Shard] = {}
    for at in range(done, len(entries)):
        for kind, key in entry_keys(entries[at], lambda v: _violation_path(entries, v)):
            pending.setdefault(shard_path(kind, key), {}).setdefault(key, []).append(at)
    for path, additions in pending.items():
        shard = read_shard(index, path, len(entries))
        index.write(path, _shard_bytes(path, _merge(shard, additions.items())))
    index.write(SIZE_PATH, f"{len(entries)}\n".encode())
    return len(entries) - done


def _violation_path(entries: Sequence[Entry], index: int) -> str:
    entry = entries[index]
    if not isinstance(entry, ViolationEntry):
        raise PublishError(f"entry {index} is ratified but is not a violation")
    return entry.path


def _merge(shard: Shard, additions: Iterable[tuple[str, list[int]]]) -> Shard:
    for key, indices in additions:
        shard[key] = sorted(set(shard.get(key, [])) | set(indices))
    return shard


def _shard_bytes(path: str, shard: Shard) -> bytes:
    data = format_shard(shard)
    if len(data) > MAX_SHARD_SIZE:
        raise PublishError(
            f"{INDEX_DIR}/{path} would be {len(data):,} bytes, over the "
            f"{MAX_SHARD_SIZE:,}-byte shard limit"
        )
    return data
