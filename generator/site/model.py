"""The site model: everything the pages show, collected from the log before rendering.

:func:`collect_model` walks the log entries of a replay once, in order, and
builds plain frozen values: items with every version (how each came about and
which note authorised it), approvals and lodgements with their changes and
signatures (each verified at build time against the policy in force when it was
logged), incidents (violations and their ratifications, SEC L5.6A), the policy
history and the log entries themselves. Nothing here knows about URLs or HTML.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from generator.repository.authorisation import LodgedItem
from generator.repository.content import family_of
from generator.repository.entries import (
    AmendEntry,
    Entry,
    LodgeEntry,
    NoteEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    WithdrawEntry,
    entry_summary,
)
from generator.repository.policy import Policy, parse_policy
from generator.repository.replay import Replay
from generator.site.notes import (
    Authorisation,
    SignatureView,
    authorisation,
    check_signatures,
    policy_keys,
)
from generator.tlog.note import parse_note

MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class NoteRef:
    """The authorisation note (approval or lodgement) logged at ``index``."""

    kind: str
    id: str
    index: int


@dataclass(frozen=True)
class Version:
    """Version ``number`` (from 1) of an item, made by log entry ``index``.

    ``action`` is ``lodge``, ``amend`` or ``violation`` (an unauthorised change,
    later ratified); ``status`` is ``current``, ``superseded`` or ``withdrawn``.
    """

    item: str
    number: int
    sha256: str
    size: int
    index: int
    action: str
    authorisation: NoteRef | None
    incident: int | None
    commit: str
    time: str
    status: str = "current"


@dataclass(frozen=True)
class Withdrawal:
    """An item was deleted by log entry ``index`` (authorised, or an incident)."""

    index: int
    from_sha256: str
    authorisation: NoteRef | None
    incident: int | None
    commit: str
    time: str


@dataclass(frozen=True)
class Item:
    """A path under ``items/`` with its whole history."""

    path: str
    family: str
    kind: str  # "markdown", "file", "certificate" or "crl"
    versions: tuple[Version, ...]
    withdrawals: tuple[Withdrawal, ...]

    @property
    def name(self) -> str:
        """The file name of the item."""
        return posixpath.basename(self.path)

    @property
    def stem(self) -> str:
        """The file name without its last suffix (for converted downloads)."""
        return self.name.rsplit(".", 1)[0] if "." in self.name[1:] else self.name

    @property
    def latest(self) -> Version:
        """The last version logged (current unless the item was withdrawn)."""
        return self.versions[-1]

    @property
    def status(self) -> str:
        """``current`` or ``withdrawn``."""
        return "current" if self.latest.status == "current" else "withdrawn"


@dataclass(frozen=True)
class Incident:
    """A violation (a change nothing authorised) and its ratification, if any."""

    index: int
    path: str
    change: str
    from_sha256: str | None
    sha256: str | None
    reason: str
    commit: str
    time: str
    ratified_at: int | None
    ratified_by: NoteRef | None
    version: int | None


@dataclass(frozen=True)
class PolicyVersion:
    """A trust policy as it came into force at log entry ``index``."""

    version: int
    index: int
    commit: str
    time: str
    note: str
    policy: Policy
    signatures: tuple[SignatureView, ...]


@dataclass(frozen=True)
class LogRecord:
    """One log entry: its canonical bytes, decoded object and where it came from."""

    index: int
    type: str
    summary: str
    commit: str
    time: str
    subject: str
    canonical: str
    leaf_hash: str

    @property
    def pretty(self) -> str:
        """The entry as indented JSON, for reading."""
        return json.dumps(json.loads(self.canonical), indent=2, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class SiteModel:
    """Everything the site shows (DESIGN §3, site stage)."""

    origin: str
    items: Mapping[str, Item]
    authorisations: Mapping[tuple[str, str], Authorisation]
    incidents: tuple[Incident, ...]
    policies: tuple[PolicyVersion, ...]
    records: tuple[LogRecord, ...]
    entries: tuple[bytes, ...] = field(repr=False)

    def version_of(self, item: str, sha256: str | None) -> Version | None:
        """The first version of ``item`` with bytes ``sha256``, if it was ever logged."""
        found = self.items.get(item)
        if found is None or sha256 is None:
            return None
        return next((v for v in found.versions if v.sha256 == sha256), None)


def item_kind(path: str, family: str) -> str:
    """How an item is shown: ``markdown``, ``certificate``, ``crl`` or ``file``."""
    if family.startswith("certificates/"):
        return "certificate"
    if family == "crls":
        return "crl"
    return "markdown" if path.lower().endswith(MARKDOWN_SUFFIXES) else "file"


class _Collector:
    """Walks the entries once, keeping the state the site needs."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.policy: Policy | None = None
        self.policies: list[PolicyVersion] = []
        self.versions: dict[str, list[Version]] = {}
        self.withdrawals: dict[str, list[Withdrawal]] = {}
        self.live: dict[str, str] = {}  # current items: casefolded path -> path
        self.notes: dict[str, list[int]] = {}  # note path -> indexes that logged it
        self.note_policy: dict[int, Policy] = {}
        self.used: dict[tuple[str, object], int] = {}
        self.violations: dict[int, ViolationEntry] = {}
        self.ratified: dict[int, tuple[int, int]] = {}  # violation -> (ratify, approval)
        self.violation_versions: dict[int, int] = {}

    def ref(self, index: int) -> NoteRef:
        record = self.replay.ledger.by_index[index]
        return NoteRef(record.kind, record.id, index)

    def add_version(self, item: str, entry: Entry, index: int, sha256: str, size: int,
                    authorisation: int | None, incident: int | None) -> None:
        versions = self.versions.setdefault(item, [])
        action = "violation" if incident is not None else entry.TYPE
        versions.append(Version(
            item, len(versions) + 1, sha256, size, index, action,
            self.ref(authorisation) if authorisation is not None else None,
            incident, entry.commit, entry.time,
        ))  # fmt: skip
        self.live[item.casefold()] = item

    def withdraw(self, item: str, entry: Entry, index: int, from_sha256: str,
                 authorisation: int | None, incident: int | None) -> None:
        self.withdrawals.setdefault(item, []).append(Withdrawal(
            index, from_sha256, self.ref(authorisation) if authorisation is not None else None,
            incident, entry.commit, entry.time,
        ))  # fmt: skip
        self.live.pop(item.casefold(), None)

    def take(self, index: int, entry: Entry) -> None:
        if isinstance(entry, PolicyEntry):
            self.take_policy(index, entry)
        elif isinstance(entry, NoteEntry):
            record = self.replay.ledger.by_index[index]
            self.notes.setdefault(record.path, []).append(index)
            assert self.policy is not None
            self.note_policy[index] = self.policy
        elif isinstance(entry, LodgeEntry | AmendEntry):
            self.use(entry.authorisation, entry, index)
            self.add_version(entry.item, entry, index, entry.sha256, entry.size,
                             entry.authorisation, None)
        elif isinstance(entry, WithdrawEntry):
            self.use(entry.authorisation, entry, index)
            self.withdraw(entry.item, entry, index, entry.from_sha256, entry.authorisation, None)
        elif isinstance(entry, ViolationEntry):
            self.take_violation(index, entry)
        elif isinstance(entry, RatifyEntry):
            self.ratified[entry.violation] = (index, entry.authorisation)
            record = self.replay.ledger.by_index[entry.authorisation]
            self.used[(record.path, _ratified_change(self.violations[entry.violation]))] = index

    def take_policy(self, index: int, entry: PolicyEntry) -> None:
        note = parse_note(entry.note.encode())
        policy = parse_policy(note.text)
        previous = [self.policy] if self.policy is not None else []
        keys = [*policy_keys(policy), *(k for p in previous for k in p.pma_verifiers)]
        seen = {s.line: index for s in note.signatures}
        signatures = check_signatures(note, keys, [policy, *previous], seen)
        self.policies.append(
            PolicyVersion(policy.version, index, entry.commit, entry.time, entry.note, policy,
                          signatures)
        )
        self.policy = policy

    def take_violation(self, index: int, entry: ViolationEntry) -> None:
        self.violations[index] = entry
        path = entry.path
        if family_of(path) is None:
            return
        if entry.change == "delete" and path in self.live.values():
            self.withdraw(path, entry, index, entry.from_sha256 or "", None, index)
        elif entry.sha256 is not None and entry.size is not None:
            clash = self.live.get(path.casefold())
            if entry.change == "modify" or clash is None:
                self.add_version(path, entry, index, entry.sha256, entry.size, None, index)
                self.violation_versions[index] = len(self.versions[path])

    def use(self, authorisation: int, entry: LodgeEntry | AmendEntry | WithdrawEntry,
            index: int) -> None:
        record = self.replay.ledger.by_index[authorisation]
        old = entry.from_sha256 if isinstance(entry, AmendEntry | WithdrawEntry) else None
        new = entry.sha256 if isinstance(entry, LodgeEntry | AmendEntry) else None
        if record.lodgement is not None:
            key: object = LodgedItem(entry.item, new or "", old)
        else:
            key = (entry.TYPE, entry.item, old, new)
        self.used[(record.path, key)] = index


def _ratified_change(violation: ViolationEntry) -> object:
    return ("ratify", violation.path, violation.from_sha256, violation.sha256)


def _statuses(versions: list[Version], withdrawals: list[Withdrawal]) -> tuple[Version, ...]:
    last = versions[-1]
    gone = any(w.index > last.index for w in withdrawals)
    statuses = ("superseded" if v is not last else "withdrawn" if gone else "current"
                for v in versions)  # fmt: skip
    return tuple(
        v if v.status == s else replace(v, status=s)
        for v, s in zip(versions, statuses, strict=True)
    )


def _record(index: int, entry: Entry, data: bytes, leaf: bytes, replay: Replay) -> LogRecord:
    commit = replay.commits.get(entry.commit)
    return LogRecord(
        index=index,
        type=entry.TYPE,
        summary=entry_summary(entry),
        commit=entry.commit,
        time=entry.time,
        subject=commit.subject if commit else "",
        canonical=data.decode(),
        leaf_hash=leaf.hex(),
    )


def collect_model(replay: Replay) -> SiteModel:
    """The site model of a replay's log entries (the replay must be clean)."""
    c = _Collector(replay)
    entries = tuple(replay.entries.encoded())  # kept by the replay: not encoded again
    leaves = replay.entries.hashes()
    for index, entry in enumerate(replay.entries):
        c.take(index, entry)
    items = {}
    for path in sorted(c.versions):
        family = family_of(path) or ""
        withdrawals = c.withdrawals.get(path, [])
        items[path] = Item(path, family, item_kind(path, family),
                           _statuses(c.versions[path], withdrawals), tuple(withdrawals))
    authorisations = {}
    for _path, indexes in sorted(c.notes.items()):
        records = [replay.ledger.by_index[i] for i in indexes]
        first = replay.entries[indexes[0]]
        auth = authorisation(records, first, c.note_policy[indexes[-1]], c.used)
        authorisations[(auth.kind, auth.id)] = auth
    incidents = tuple(
        Incident(
            index, v.path, v.change, v.from_sha256, v.sha256, v.reason, v.commit, v.time,
            c.ratified[index][0] if index in c.ratified else None,
            c.ref(c.ratified[index][1]) if index in c.ratified else None,
            c.violation_versions.get(index),
        )
        for index, v in sorted(c.violations.items())
    )  # fmt: skip
    assert c.policy is not None
    return SiteModel(
        origin=c.policy.origin,
        items=items,
        authorisations=authorisations,
        incidents=incidents,
        policies=tuple(c.policies),
        records=tuple(_record(i, e, d, h, replay) for i, (e, d, h)
                      in enumerate(zip(replay.entries, entries, leaves, strict=True))),
        entries=entries,
    )
