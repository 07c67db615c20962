"""Replay snapshots: a clean replay kept so that the next build reads only new commits.

A build of a log of n entries that adds k must cost O(k), yet every new change is
judged against the whole governance state. A snapshot keeps that state (the
:class:`~generator.repository.governance.Ledger`, through
:mod:`~generator.repository.ledger_store`) with the rest of the
:class:`~generator.repository.replay.Replay` — the entries' canonical bytes, the
commits, the SHA-256 of every blob read — in an SQLite database. Taking it up
reads the bytes of the file but decodes nothing: the Ledger reads a row when a
rule first asks for it, and an entry is decoded when something first reads it.

The snapshot is a local file, so it is not trusted: whoever can write it could
otherwise mark an approval unused or an item absent, and the next build would
log a change the full replay refuses. It is therefore authenticated with an
HMAC key derived from the log key (:func:`snapshot_key`) and used only if it
verifies, is of this generator version and content root, and its head is a
first-parent ancestor of the commit being built; otherwise the build replays from
genesis. The build then also checks the entries against every checkpoint
already published, as it checks a full replay. The file is:

    smki-replay-snapshot/v1
    <the log origin, which chooses the key>
    <hex HMAC-SHA256, under the key, of the two lines above and the database>
    <the database image (sqlite3 serialize)>
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import cast

from generator import __version__
from generator.errors import Error
from generator.files import atomic_write
from generator.repository.entries import PolicyEntry
from generator.repository.history import Commit, GitHistory
from generator.repository.ledger_store import (
    LEDGER_TABLES,
    OFFERS_TABLE,
    Stored,
    save_ledger,
    stored_ledger,
)
from generator.repository.replay import WORKTREE, EntryLog, Replay
from generator.tlog.note import Signer

FORMAT = b"smki-replay-snapshot/v1"

_TABLES = f"""{LEDGER_TABLES}{OFFERS_TABLE}
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL,
    hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS commits (n INTEGER PRIMARY KEY, id TEXT NOT NULL,
    time TEXT NOT NULL, subject TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (blob TEXT PRIMARY KEY, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests (sha256 TEXT PRIMARY KEY, blob TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ends (size INTEGER PRIMARY KEY);
"""

SnapshotKey = Callable[[str], bytes]
"""The HMAC key of snapshots of the log with the given origin (raises :class:`Error` if none)."""


def snapshot_file(state: Path, history: GitHistory) -> Path:
    """Where a build keeps the snapshot of ``history``'s content root in its ``state`` folder."""
    return state / f"replay-{hashlib.sha256(history.prefix.encode()).hexdigest()[:16]}.snapshot"


def snapshot_key(signer: Signer) -> bytes:
    """The HMAC key of snapshots made by the holder of the log key ``signer``.

    Derived from the private key, so a snapshot verifies only for a process that
    could sign the log anyway; distinct from any signature the log key makes.
    """
    return hmac.new(signer.skey.encode(), FORMAT + b" key", hashlib.sha256).digest()


def _tag(key: bytes, origin: bytes, image: bytes | memoryview) -> bytes:
    mac = hmac.new(key, FORMAT + b"\n" + origin + b"\n", hashlib.sha256)
    mac.update(image)
    return mac.digest()


class Snapshot:
    """A replay held in an in-memory database: new, or taken up from a snapshot file."""

    def __init__(self, history: GitHistory, db: sqlite3.Connection, replay: Replay) -> None:
        self.replay = replay
        self._db = db
        self._prefix = history.prefix
        self._saved_head = replay.head
        self._counts = self._sizes()

    def _sizes(self) -> tuple[int, int, int, int]:
        """How many entries, commits, manifests and ends the database holds."""
        r = self.replay
        return len(r.entries), len(r.commits), len(r.manifest_blobs), len(r.ends)

    def save(self, path: Path, key: bytes) -> None:
        """Write the replay to ``path`` if it is clean and went further than the saved one.

        Only what the replay added is written to the database (the Ledger's
        changed rows, the new entries, commits and blobs); the file is then
        rewritten whole, atomically, with its HMAC under ``key``.
        """
        replay = self.replay
        if replay.problems or replay.genesis is None or replay.head is None:
            return
        if replay.head == self._saved_head:
            return
        db = self._db
        entries, commits, manifests, ends = self._counts
        policy = replay.entries[replay.ledger.policy_index]
        assert isinstance(policy, PolicyEntry)
        db.execute("BEGIN")
        save_ledger(db, replay.ledger, policy.note)
        encoded, hashes = replay.entries.encoded(), replay.entries.hashes()
        db.executemany(
            "INSERT INTO entries VALUES (?, ?, ?)",
            [(i, encoded[i], hashes[i]) for i in range(entries, len(encoded))],
        )
        new_commits = itertools.islice(replay.commits.values(), commits, None)
        db.executemany(
            "INSERT INTO commits VALUES (?, ?, ?, ?)",
            [(n, c.id, c.time, c.subject) for n, c in enumerate(new_commits, commits)
             if c is not WORKTREE],
        )
        digests = cast(Stored[str, tuple[str, int]], replay.digests)
        db.executemany(
            "INSERT INTO blobs VALUES (?, ?, ?)", [(b, *d) for b, d in digests.changes() if d]
        )
        db.executemany(
            "INSERT OR REPLACE INTO manifests VALUES (?, ?)",
            itertools.islice(replay.manifest_blobs.items(), manifests, None),
        )
        db.executemany("INSERT INTO ends VALUES (?)", [(n,) for n in replay.ends[ends:]])
        meta = {
            "format": FORMAT.decode(),
            "generator": __version__,
            "prefix": self._prefix,
            "genesis": replay.genesis.id,
            "head": replay.head,
        }
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        db.execute("COMMIT")
        self._saved_head, self._counts = replay.head, self._sizes()
        image = db.serialize()
        origin = replay.ledger.require_policy().origin.encode()
        tag = _tag(key, origin, image).hex().encode()
        atomic_write(path, b"\n".join((FORMAT, origin, tag, image)))


def _database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(_TABLES)
    return db


def _replay(db: sqlite3.Connection, meta: dict[str, str], entries: EntryLog) -> Replay:
    """A replay over the tables of ``db``: the Ledger's maps and the blob digests read lazily."""

    def digest(blob: str) -> tuple[str, int] | None:
        row = db.execute("SELECT sha256, size FROM blobs WHERE blob = ?", (blob,)).fetchone()
        return None if row is None else (row[0], row[1])

    digests = Stored(None if "size" not in meta else digest)
    return Replay(stored_ledger(db, meta, None, offers=True), entries, digests=digests)


def new_snapshot(history: GitHistory) -> Snapshot:
    """A snapshot of nothing yet: a replay into it records all it does for :meth:`Snapshot.save`."""
    db = _database()
    return Snapshot(history, db, _replay(db, {}, EntryLog()))


def open_snapshot(path: Path, history: GitHistory, rev: str, keys: SnapshotKey) -> Snapshot:
    """The snapshot at ``path`` if it is authentic and ``rev`` extends it, else a new one.

    (1) the file's HMAC must verify under the key ``keys`` gives for the origin it
    names — before anything in it is read; (2) it must be of this generator
    version and content root; (3) its head must be a first-parent ancestor of
    ``rev``. Anything else (no file, another format, damage) gives a new snapshot.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return new_snapshot(history)
    try:
        return _taken_up(data, history, rev, keys) or new_snapshot(history)
    except (Error, ValueError, sqlite3.Error):
        return new_snapshot(history)


def _taken_up(data: bytes, history: GitHistory, rev: str, keys: SnapshotKey) -> Snapshot | None:
    magic, origin, tag, _ = data.split(b"\n", 3)  # ValueError if there are fewer lines
    start = len(magic) + len(origin) + len(tag) + 3
    image = memoryview(data)[start:]
    if magic != FORMAT or not hmac.compare_digest(  # (1)
        _tag(keys(origin.decode()), origin, image).hex().encode(), tag
    ):
        return None
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.deserialize(image)
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if (meta.get("format"), meta.get("generator"), meta.get("prefix")) != (  # (2)
        FORMAT.decode(),
        __version__,
        history.prefix,
    ):
        return None
    if not history.is_first_parent_ancestor(meta["head"], rev):  # (3)
        return None
    rows = db.execute("SELECT data, hash FROM entries ORDER BY idx").fetchall()
    replay = _replay(db, meta, EntryLog([r[0] for r in rows], [r[1] for r in rows]))
    for _, cid, time, subject in db.execute("SELECT * FROM commits ORDER BY n"):
        replay.commits[cid] = Commit(cid, time, subject)
    replay.objects.update(db.execute("SELECT sha256, blob FROM blobs"))
    replay.manifest_blobs.update(db.execute("SELECT sha256, blob FROM manifests ORDER BY rowid"))
    replay.ends.extend(n for (n,) in db.execute("SELECT size FROM ends ORDER BY size"))
    replay.genesis = replay.commits[meta["genesis"]]
    replay.head = meta["head"]
    replay.cached = len(replay.entries)
    return Snapshot(history, db, replay)
