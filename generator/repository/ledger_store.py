"""The governance Ledger kept in SQLite tables: read row by row as used, saved by its changes.

A saved :class:`~generator.repository.governance.Ledger` is taken up again without
reading all of it: each of its maps (items, notes, used authorisations, and the
offers :meth:`~generator.repository.governance.Ledger.find_authorisation`
searches) is a dict over a table that reads a row the first time the rules ask
for its key and remembers the keys it changed. Taking up the ledger of n entries
and applying k more therefore costs O(k) row reads, and :func:`save_ledger`
writes O(k) rows. Nothing here judges anything: the rules stay in the Ledger, the
one engine. The build's replay snapshot (:mod:`generator.repository.snapshot`)
keeps its Ledger so.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast, overload

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

LEDGER_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (path TEXT PRIMARY KEY, folded TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_folded ON items (folded);
CREATE TABLE IF NOT EXISTS records (idx INTEGER PRIMARY KEY, kind TEXT NOT NULL,
    id TEXT NOT NULL, path TEXT NOT NULL, note TEXT NOT NULL, items TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (path TEXT PRIMARY KEY, idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS used (key BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ratified (violation INTEGER PRIMARY KEY, ratify INTEGER NOT NULL);
"""
"""The tables of a stored Ledger; ``meta`` also holds the keys of whoever keeps it."""

OFFERS_TABLE = """
CREATE TABLE IF NOT EXISTS offers (key BLOB PRIMARY KEY, paths TEXT NOT NULL) WITHOUT ROWID;
"""
"""The table of :func:`stored_ledger`'s ``offers``: note paths by the change they offer."""

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Stored(dict[K, V], Generic[K, V]):
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


class StoredSet(set[T], Generic[T]):
    """A set over a table: membership also asks ``known``; what is added stays in memory."""

    def __init__(self, known: Callable[[T], bool] | None) -> None:
        super().__init__()
        self._known = known

    def __contains__(self, item: object) -> bool:
        return set.__contains__(self, item) or (
            self._known is not None and self._known(cast(T, item))
        )


def _offer_fields(offer: object) -> list[str | None]:
    if isinstance(offer, Change):
        return ["change", offer.action, offer.item, offer.from_sha256, offer.to_sha256,
                offer.commit]
    assert isinstance(offer, LodgedItem)
    return ["lodged", offer.item, offer.sha256, offer.from_sha256]


def _key(fields: list[str | None]) -> bytes:
    """A row key: the SHA-256 of the JSON of ``fields`` (short, and never ambiguous)."""
    return hashlib.sha256(json.dumps(fields).encode()).digest()


def _offer_key(offer: object) -> bytes:
    return _key(_offer_fields(offer))


def _used_key(used: tuple[str, object]) -> bytes:
    path, change = used
    return _key([path, *_offer_fields(change)])


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


def stored_ledger(
    db: sqlite3.Connection,
    meta: Mapping[str, str],
    manifests: ManifestSource | None,
    *,
    offers: bool = False,
) -> Ledger:
    """The Ledger saved in ``db`` (``meta`` is its meta table), read lazily from the tables.

    With no ``size`` in ``meta`` the tables are empty: a new ledger whose every
    change is remembered for :func:`save_ledger`. ``offers`` keeps the index of
    the notes that offer each change (:data:`OFFERS_TABLE`), which
    :meth:`~generator.repository.governance.Ledger.find_authorisation` searches;
    a ledger that only applies entries does without it.
    """
    fresh = "size" not in meta

    def load(
        sql: str, make: Callable[[Any], Any], key: Callable[[Any], Any] = lambda k: k
    ) -> Callable[[Any], Any] | None:
        def one(wanted: Any) -> Any:
            row = db.execute(sql, (key(wanted),)).fetchone()
            return None if row is None else make(row)

        return None if fresh else one

    records: Stored[int, NoteRecord] = Stored(load("SELECT * FROM records WHERE idx = ?", _record))
    notes: Stored[str, NoteRecord] = Stored(
        load("SELECT idx FROM notes WHERE path = ?", lambda row: records[row[0]])
    )
    items: Stored[str, ItemState] = Stored(
        load("SELECT sha256, size, idx FROM items WHERE path = ?", lambda r: ItemState(*r))
    )
    folded: Stored[str, str] = Stored(
        load("SELECT path FROM items WHERE folded = ?", lambda row: row[0])
    )
    used_sql = "SELECT 1 FROM used WHERE key = ?"
    used: StoredSet[tuple[str, object]] = StoredSet(
        None if fresh else lambda u: db.execute(used_sql, (_used_key(u),)).fetchone() is not None
    )
    offered: dict[object, list[str]] = {}
    if offers:
        offered = Stored(
            load("SELECT paths FROM offers WHERE key = ?", lambda r: json.loads(r[0]), _offer_key)
        )
    pending = {
        index: cast(ViolationEntry, decode_entry(bytes(data)))
        for index, data in db.execute("SELECT idx, entry FROM pending")
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
        ratified=dict(db.execute("SELECT violation, ratify FROM ratified").fetchall()),
        _sealed_commit=meta.get("sealed_commit"),
        _folded=folded,
        _offers=offered,
    )


def save_ledger(db: sqlite3.Connection, ledger: Ledger, policy_note: str | None) -> None:
    """Write what changed in ``ledger`` (opened by :func:`stored_ledger`) to ``db``.

    ``policy_note`` is the text of the policy note in force. The caller commits.
    """
    items = cast(Stored[str, ItemState], ledger.items)
    gone = [(p,) for p, s in items.changes() if s is None]
    db.executemany("DELETE FROM items WHERE path = ?", gone)
    db.executemany(
        "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
        [(p, p.casefold(), s.sha256, s.size, s.index) for p, s in items.changes() if s],
    )
    records = cast(Stored[int, NoteRecord], ledger.by_index)
    db.executemany(
        "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)",
        [_record_row(r) for _, r in records.changes() if r is not None],
    )
    notes = cast(Stored[str, NoteRecord], ledger.notes)
    db.executemany(
        "INSERT OR REPLACE INTO notes VALUES (?, ?)",
        [(p, r.index) for p, r in notes.changes() if r is not None],
    )
    db.executemany(
        "INSERT OR IGNORE INTO used VALUES (?)", [(_used_key(u),) for u in set(ledger.used)]
    )
    if isinstance(ledger._offers, Stored):
        db.executemany(
            "INSERT OR REPLACE INTO offers VALUES (?, ?)",
            [(_offer_key(o), json.dumps(p)) for o, p in ledger._offers.changes()],
        )
    db.execute("DELETE FROM pending")
    db.executemany(
        "INSERT INTO pending VALUES (?, ?)",
        [(i, encode_entry(v)) for i, v in ledger.pending.items()],
    )
    db.executemany("INSERT OR REPLACE INTO ratified VALUES (?, ?)", ledger.ratified.items())
    meta = {"size": str(ledger.size), "policy_index": str(ledger.policy_index)}
    if policy_note is not None:
        meta["policy_note"] = policy_note
    if ledger._sealed_commit is not None:
        meta["sealed_commit"] = ledger._sealed_commit
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
