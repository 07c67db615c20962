"""Log entries (contract, ``v`` = 1): one canonical JSON object per Merkle leaf.

Canonical form: UTF-8, keys sorted, no insignificant white space, integers
only — RFC 8785 (JCS) restricted to ASCII keys and integers, so Python's
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
produces it exactly. At most 65,535 bytes (C2SP tlog-tiles bundle limit).
Decoding is strict: the bytes must be exactly the canonical encoding of a
known entry type. The schema is documented in ``docs/entries.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from generator.errors import ContentError
from generator.tlog.errors import MalformedError
from generator.tlog.tiles import MAX_ENTRY_SIZE

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PolicyEntry:
    """The trust policy came into force (genesis) or was rotated."""

    TYPE: ClassVar[str] = "policy"
    commit: str
    time: str
    version: int
    note: str


@dataclass(frozen=True)
class NoteEntry:
    """An approval or lodgement note (the evidence itself) appeared or gained signatures."""

    TYPE: ClassVar[str] = "note"
    commit: str
    time: str
    kind: str  # "approval" | "lodgement"
    id: str
    note: str


@dataclass(frozen=True)
class LodgeEntry:
    """A new item was lodged, authorised by the note entry at ``authorisation``."""

    TYPE: ClassVar[str] = "lodge"
    commit: str
    time: str
    item: str
    sha256: str
    size: int
    authorisation: int


@dataclass(frozen=True)
class AmendEntry:
    """An item's bytes changed from ``from_sha256`` to ``sha256``, as authorised."""

    TYPE: ClassVar[str] = "amend"
    commit: str
    time: str
    item: str
    from_sha256: str
    sha256: str
    size: int
    authorisation: int


@dataclass(frozen=True)
class WithdrawEntry:
    """An item was deleted from the repository, as authorised."""

    TYPE: ClassVar[str] = "withdraw"
    commit: str
    time: str
    item: str
    from_sha256: str
    authorisation: int


@dataclass(frozen=True)
class ViolationEntry:
    """A change that nothing authorised when it was made (an incident, SEC L5.6A).

    ``change`` is ``add``, ``modify`` or ``delete``; absent digests are not applicable.
    The log carries it only once a later PMA approval ratifies it.
    """

    TYPE: ClassVar[str] = "violation"
    commit: str
    time: str
    path: str
    change: str
    from_sha256: str | None
    sha256: str | None
    size: int | None
    reason: str


@dataclass(frozen=True)
class RatifyEntry:
    """The PMA approval at ``authorisation`` ratifies the violation at ``violation``."""

    TYPE: ClassVar[str] = "ratify"
    commit: str
    time: str
    violation: int
    authorisation: int


Entry = (
    PolicyEntry | NoteEntry | LodgeEntry | AmendEntry | WithdrawEntry | ViolationEntry | RatifyEntry
)
VersionEntry = LodgeEntry | AmendEntry | ViolationEntry
"""An entry that can log an item version (a ``violation`` only where it has a ``sha256``)."""


def version_sha256(entry: Entry) -> str | None:
    """The SHA-256 of the item version an entry logs, if it logs one."""
    return entry.sha256 if isinstance(entry, VersionEntry) else None


def path_of(entry: Entry) -> str | None:
    """The item path a lodge, amend, withdraw or violation entry is about."""
    if isinstance(entry, LodgeEntry | AmendEntry | WithdrawEntry):
        return entry.item
    if isinstance(entry, ViolationEntry):
        return entry.path
    return None


ENTRY_TYPES: dict[str, type[Entry]] = {
    t.TYPE: t
    for t in (
        PolicyEntry,
        NoteEntry,
        LodgeEntry,
        AmendEntry,
        WithdrawEntry,
        ViolationEntry,
        RatifyEntry,
    )
}
_JSON_NAME = {"from_sha256": "from"}


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_object(entry: Entry) -> dict[str, Any]:
    """The JSON object of an entry (absent optional fields omitted)."""
    obj: dict[str, Any] = {"v": SCHEMA_VERSION, "type": entry.TYPE}
    for f in fields(entry):
        value = getattr(entry, f.name)
        if value is not None:
            obj[_JSON_NAME.get(f.name, f.name)] = value
    return obj


def encode_entry(entry: Entry) -> bytes:
    """The canonical bytes of an entry; too large for a tile bundle is an error."""
    data = _canonical(entry_object(entry))
    if len(data) > MAX_ENTRY_SIZE:
        what = getattr(entry, "id", None) or getattr(entry, "item", "")
        raise ContentError(
            f"log entry for {entry.TYPE} {what} is {len(data)} bytes, over the "
            f"{MAX_ENTRY_SIZE}-byte limit (split it into smaller notes)"
        )
    return data


def _reject(value: str) -> Any:
    raise MalformedError(f"entry: number {value!r} is not an integer")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MalformedError("entry: duplicate key")
    return obj


def _field_specs(cls: type) -> tuple[tuple[tuple[str, str, bool, type], ...], frozenset[str]]:
    """Each field of an entry class as (name, JSON key, optional, type), and every key."""
    specs = tuple(
        (f.name, _JSON_NAME.get(f.name, f.name), "None" in str(f.type),
         int if "int" in str(f.type) else str)
        for f in fields(cls)
    )  # fmt: skip
    return specs, frozenset({"v", "type", *(key for _, key, _, _ in specs)})


_FIELD_SPECS = {name: _field_specs(cls) for name, cls in ENTRY_TYPES.items()}


def decode_entry(data: bytes, *, trusted: bool = False) -> Entry:
    """Parse entry bytes strictly: canonical JSON of a known type and schema version.

    ``trusted`` is only for bytes this program encoded and kept under authentication
    (a replay snapshot's entries, HMAC-tagged): they are parsed without the
    duplicate-key and number hooks and not re-encoded to check their form; the
    schema version, type, fields and field types are checked all the same.
    """
    try:
        obj = json.loads(data) if trusted else json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_reject,
            parse_constant=_reject,
        )  # fmt: skip
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise MalformedError("entry: not valid UTF-8 JSON") from None
    if not isinstance(obj, dict) or obj.get("v") != SCHEMA_VERSION:
        raise MalformedError(f"entry: not a schema v{SCHEMA_VERSION} object")
    cls = ENTRY_TYPES.get(obj.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise MalformedError(f"entry: unknown type {str(obj.get('type'))[:40]!r}")
    values: dict[str, Any] = {}
    specs, keys = _FIELD_SPECS[cls.TYPE]
    for name, key, optional, want in specs:
        value = obj.get(key)
        if value is None and optional:
            values[name] = None
        elif isinstance(value, want) and not isinstance(value, bool):
            values[name] = value
        else:
            raise MalformedError(f"entry: {cls.TYPE} field {key!r} missing or of the wrong type")
    extra = obj.keys() - keys
    if extra:
        raise MalformedError(f"entry: unknown field(s) {', '.join(sorted(extra))}")
    entry = cls(**values)
    if not trusted and _canonical(entry_object(entry)) != data:
        raise MalformedError("entry: not in canonical form")
    return entry


def entry_summary(entry: Entry) -> str:
    """One line saying what an entry records, for listings and check output."""
    if isinstance(entry, PolicyEntry):
        return f"policy v{entry.version} in force"
    if isinstance(entry, NoteEntry):
        return f"{entry.kind} {entry.id} logged"
    if isinstance(entry, LodgeEntry):
        return f"lodge {entry.item} sha256:{entry.sha256[:16]} (by entry {entry.authorisation})"
    if isinstance(entry, AmendEntry):
        return (
            f"amend {entry.item} sha256:{entry.from_sha256[:16]} -> sha256:{entry.sha256[:16]}"
            f" (by entry {entry.authorisation})"
        )
    if isinstance(entry, WithdrawEntry):
        by = entry.authorisation
        return f"withdraw {entry.item} sha256:{entry.from_sha256[:16]} (by entry {by})"
    if isinstance(entry, ViolationEntry):
        return f"VIOLATION {entry.change} {entry.path}: {entry.reason}"
    return f"ratify violation at entry {entry.violation} (by entry {entry.authorisation})"
