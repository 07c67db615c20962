"""The monitor's state (``smki audit --state DIR``): what was verified last time, kept safely.

``DIR/state.sqlite`` holds the last verified signed checkpoint, the governance
state after its entries (:class:`~generator.repository.governance.Ledger`: policy,
items, notes, used authorisations, pending violations) and a digest of every
lookup-index shard as last verified. An audit opens it in one write transaction:
the ledger reads only the rows that new entries touch, so an audit of k new
entries costs O(k) row reads whatever the log's size, and :meth:`MonitorState.save`
commits everything at once — any failure leaves the previous state untouched.
``DIR/evidence/`` keeps what an incident was found with (both signed checkpoints
of a rollback or fork, a proof of a refused entry); it is never deleted.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, cast, overload

from generator.errors import UsageError
from generator.repository.authorisation import (
    Change,
    LodgedItem,
    parse_approval,
    parse_lodgement,
    read_note,
)
from generator.repository.content import POLICY_PATH
from generator.repository.entries import ViolationEntry, decode_entry, encode_entry
from generator.repository.governance import ItemState, Ledger, ManifestSource, NoteRecord
from generator.repository.policy import parse_policy

STATE_FILE = "state.sqlite"
EVIDENCE_DIR = "evidence"
SCHEMA = "1"

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (path TEXT PRIMARY KEY, folded TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, idx INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_folded ON items (folded);
CREATE TABLE IF NOT EXISTS records (idx INTEGER PRIMARY KEY, kind TEXT NOT NULL,
    id TEXT NOT NULL, path TEXT NOT NULL, note TEXT NOT NULL, items TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (path TEXT PRIMARY KEY, idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS used (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS pending (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ratified (violation INTEGER PRIMARY KEY, ratify INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shards (path TEXT PRIMARY KEY, digest BLOB NOT NULL);
"""

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class _Stored(dict[K, V], Generic[K, V]):
    """A dict over a table: a missing key is read on first use; changed keys are remembered.

    Only lookups, assignment and deletion see the table (what the Ledger uses);
    ``load`` None means the table is empty.
    """

    def __init__(self, load: Callable[[K], V | None] | None) -> None:
        super().__init__()
        self._load = load
        self._absent: set[K] = set()
        self.changed: set[K] = set()

    def _has(self, key: K) -> bool:
        if dict.__contains__(self, key):
            return True
        if self._load is None or key in self._absent:
            return False
        value = self._load(key)
        if value is None:
            self._absent.add(key)
            return False
        dict.__setitem__(self, key, value)
        return True

    def __contains__(self, key: object) -> bool:
        return self._has(cast(K, key))

    def __getitem__(self, key: K) -> V:
        if not self._has(key):
            raise KeyError(key)
        return dict.__getitem__(self, key)

    @overload
    def get(self, key: K, default: None = None, /) -> V | None: ...
    @overload
    def get(self, key: K, default: V, /) -> V: ...
    @overload
    def get(self, key: K, default: T, /) -> V | T: ...
    def get(self, key: K, default: object = None, /) -> object:
        """The value of ``key``, read from the table if need be, else ``default``."""
        return dict.__getitem__(self, key) if self._has(key) else default

    def __setitem__(self, key: K, value: V) -> None:
        dict.__setitem__(self, key, value)
        self._absent.discard(key)
        self.changed.add(key)

    def __delitem__(self, key: K) -> None:
        if not self._has(key):
            raise KeyError(key)
        dict.__delitem__(self, key)
        self._absent.add(key)
        self.changed.add(key)

    def changes(self) -> Iterator[tuple[K, V | None]]:
        """Each changed key with its new value (None: deleted)."""
        for key in self.changed:
            yield key, dict.get(self, key)


class _StoredSet(set[T], Generic[T]):
    """A set over a table: membership also asks ``known``; what is added stays in memory."""

    def __init__(self, known: Callable[[T], bool] | None) -> None:
        super().__init__()
        self._known = known

    def __contains__(self, item: object) -> bool:
        return set.__contains__(self, item) or (
            self._known is not None and self._known(cast(T, item))
        )


def _used_key(used: tuple[str, object]) -> str:
    path, change = used
    if isinstance(change, Change):
        fields = ["change", change.action, change.item, change.from_sha256, change.to_sha256,
                  change.commit]
    else:
        assert isinstance(change, LodgedItem)
        fields = ["lodged", change.item, change.sha256, change.from_sha256]
    return json.dumps([path, *fields])


def _record_row(record: NoteRecord) -> tuple[int, str, str, str, str, str]:
    items = sorted([i.item, i.sha256, i.from_sha256] for i in record.items)
    note = record.note.to_bytes().decode()
    return record.index, record.kind, record.id, record.path, note, json.dumps(items)


def _record(row: tuple[int, str, str, str, str, str]) -> NoteRecord:
    index, kind, note_id, path, text, items = row
    note = read_note(text.encode(), path)
    return NoteRecord(
        kind,
        note_id,
        path,
        note,
        index,
        approval=parse_approval(note.text, path) if kind == "approval" else None,
        lodgement=parse_lodgement(note.text, path) if kind == "lodgement" else None,
        items=frozenset(LodgedItem(*item) for item in json.loads(items)),
    )


class MonitorState:
    """The state in ``directory``, open for one audit (a context manager; one audit at a time)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(directory / STATE_FILE, isolation_level=None, timeout=0.5)
        try:
            self._db.executescript(_TABLES)
            self._db.execute("BEGIN IMMEDIATE")
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as error:
            self._db.close()
            raise UsageError(
                f"{directory}: cannot open the monitor state ({error}); is another audit using it?"
            ) from None
        if meta.setdefault("schema", SCHEMA) != SCHEMA:
            self.close()
            raise UsageError(f"{directory}: state schema {meta['schema']}, want {SCHEMA}")
        self._meta: dict[str, str] = meta

    def __enter__(self) -> MonitorState:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Give up whatever was not saved, and close the database."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()

    # -- what the last audit verified ----------------------------------------------------

    @property
    def checkpoint(self) -> bytes | None:
        """The signed checkpoint the last successful audit verified, if any."""
        text = self._meta.get("checkpoint")
        return None if text is None else text.encode()

    @property
    def policy_digests(self) -> list[str]:
        """SHA-256 of every policy note in force so far, genesis first."""
        return list(json.loads(self._meta.get("policy_digests", "[]")))

    def shard_digest(self, path: str) -> bytes | None:
        """The SHA-256 of index shard ``path`` as last verified (None: it had no lines)."""
        if self.checkpoint is None:
            return None
        row = self._db.execute("SELECT digest FROM shards WHERE path = ?", (path,)).fetchone()
        return None if row is None else bytes(row[0])

    def ledger(self, manifests: ManifestSource) -> Ledger:
        """The governance state after the last verified entry, read lazily from the tables."""
        fresh = self.checkpoint is None
        meta = self._meta

        def load(sql: str, make: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
            def one(key: Any) -> Any:
                row = self._db.execute(sql, (key,)).fetchone()
                return None if row is None else make(row)

            return None if fresh else one

        records: _Stored[int, NoteRecord] = _Stored(
            load("SELECT * FROM records WHERE idx = ?", _record)
        )
        notes: _Stored[str, NoteRecord] = _Stored(
            load("SELECT idx FROM notes WHERE path = ?", lambda row: records[row[0]])
        )
        items: _Stored[str, ItemState] = _Stored(
            load("SELECT sha256, size, idx FROM items WHERE path = ?", lambda r: ItemState(*r))
        )
        folded: _Stored[str, str] = _Stored(
            load("SELECT path FROM items WHERE folded = ?", lambda row: row[0])
        )
        used_sql = "SELECT 1 FROM used WHERE key = ?"
        used: _StoredSet[tuple[str, object]] = _StoredSet(
            None
            if fresh
            else lambda u: self._db.execute(used_sql, (_used_key(u),)).fetchone() is not None
        )
        pending = {
            index: cast(ViolationEntry, decode_entry(bytes(data)))
            for index, data in self._db.execute("SELECT idx, entry FROM pending")
        }
        policy_note = meta.get("policy_note")
        policy = (
            None
            if policy_note is None
            else parse_policy(read_note(policy_note.encode(), POLICY_PATH).text)
        )
        return Ledger(
            manifests=manifests,
            size=int(meta.get("size", "0")),
            policy=policy,
            policy_index=int(meta.get("policy_index", "-1")),
            items=items,
            notes=notes,
            by_index=records,
            used=used,
            pending=pending,
            ratified=dict(self._db.execute("SELECT violation, ratify FROM ratified").fetchall()),
            _sealed_commit=meta.get("sealed_commit"),
            _folded=folded,
        )

    # -- saving --------------------------------------------------------------------------

    def save(
        self,
        checkpoint: bytes,
        ledger: Ledger,
        policy_note: str | None,
        policy_digests: list[str],
        shards: Mapping[str, bytes],
    ) -> None:
        """Record a successful audit: all of it, in one commit."""
        db = self._db
        items = cast(_Stored[str, ItemState], ledger.items)
        gone = [(p,) for p, s in items.changes() if s is None]
        db.executemany("DELETE FROM items WHERE path = ?", gone)
        db.executemany(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
            [(p, p.casefold(), s.sha256, s.size, s.index) for p, s in items.changes() if s],
        )
        records = cast(_Stored[int, NoteRecord], ledger.by_index)
        db.executemany(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)",
            [_record_row(r) for _, r in records.changes() if r is not None],
        )
        notes = cast(_Stored[str, NoteRecord], ledger.notes)
        db.executemany(
            "INSERT OR REPLACE INTO notes VALUES (?, ?)",
            [(p, r.index) for p, r in notes.changes() if r is not None],
        )
        db.executemany(
            "INSERT OR IGNORE INTO used VALUES (?)", [(_used_key(u),) for u in set(ledger.used)]
        )
        db.execute("DELETE FROM pending")
        db.executemany(
            "INSERT INTO pending VALUES (?, ?)",
            [(i, encode_entry(v)) for i, v in ledger.pending.items()],
        )
        db.executemany("INSERT OR REPLACE INTO ratified VALUES (?, ?)", ledger.ratified.items())
        db.executemany("INSERT OR REPLACE INTO shards VALUES (?, ?)", shards.items())
        meta = {
            "schema": SCHEMA,
            "checkpoint": checkpoint.decode(),
            "size": str(ledger.size),
            "policy_index": str(ledger.policy_index),
            "policy_digests": json.dumps(policy_digests),
        }
        if policy_note is not None:
            meta["policy_note"] = policy_note
        if ledger._sealed_commit is not None:
            meta["sealed_commit"] = ledger._sealed_commit
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        db.execute("COMMIT")

    # -- evidence ------------------------------------------------------------------------

    def evidence(self, what: str, files: Mapping[str, bytes]) -> Path:
        """Keep ``files`` in a new folder ``evidence/<UTC time>-<what>/``; return the folder."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        base = self.directory / EVIDENCE_DIR / f"{stamp}-{what}"
        folder, n = base, 1
        while True:
            try:
                folder.mkdir(parents=True)
                break
            except FileExistsError:
                n += 1
                folder = base.with_name(f"{base.name}-{n}")
        for name, data in files.items():
            (folder / name).write_bytes(data)
        return folder
