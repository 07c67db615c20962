"""The site model: everything the pages show, collected from the log before rendering.

:func:`collect_model` walks the log entries of a replay once, in order, and
builds plain frozen values: items with every version (how each came about and
which note authorised it), approvals and lodgements with their changes and
signatures (each verified at build time against the policy in force when it was
logged), incidents (violations and their ratifications, SEC L5.6A), the policy
history and the log entries themselves. Nothing here knows about URLs or HTML.

The walk's state at the end can be kept (:attr:`SiteModel.state`, plain JSON) and
given to the next :func:`collect_model` of a longer log, which then walks only the
new entries: the state names the log size and a digest of every leaf hash up to it,
and is used only if the replay's log begins with exactly those entries. A walk that
resumed a state and did little more (under :data:`STATE_REWRITE_WORK` entries and
item changes) gives no new state: the old one, some MB of JSON, is kept as it is
and the next build walks the few entries again. Log records are made when first
read (:class:`_Records`), so a rebuild decodes only the entries it shows.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

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
from generator.repository.replay import MadeWhenRead, Replay
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
    records: Sequence[LogRecord]
    entries: tuple[bytes, ...] = field(repr=False)
    state: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    """The walk's state, for the next build to resume from (plain JSON); None when the
    state this walk resumed is still the one to keep (see the module notes)."""


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
        self.changes = 0  # versions and withdrawals added by this walk

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
        self.changes += 1

    def withdraw(self, item: str, entry: Entry, index: int, from_sha256: str,
                 authorisation: int | None, incident: int | None) -> None:
        self.withdrawals.setdefault(item, []).append(Withdrawal(
            index, from_sha256, self.ref(authorisation) if authorisation is not None else None,
            incident, entry.commit, entry.time,
        ))  # fmt: skip
        self.live.pop(item.casefold(), None)
        self.changes += 1

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

    # -- keeping the walk's state ---------------------------------------------------------

    def state(self, size: int, leaves: str) -> dict[str, Any]:
        """The walk's state after ``size`` entries whose leaf hashes digest to ``leaves``."""
        policy_at = {id(p.policy): p.index for p in self.policies}
        return {
            "size": size,
            "leaves": leaves,
            "policies": [p.index for p in self.policies],
            "versions": {k: [_version_row(v) for v in vs] for k, vs in self.versions.items()},
            "withdrawals": {
                k: [_withdrawal_row(w) for w in ws] for k, ws in self.withdrawals.items()
            },
            "live": self.live,
            "notes": self.notes,
            "note_policy": [[i, policy_at[id(p)]] for i, p in self.note_policy.items()],
            "used": [[path, _change_row(change), i] for (path, change), i in self.used.items()],
            "violations": sorted(self.violations),
            "ratified": [[v, r, a] for v, (r, a) in self.ratified.items()],
            "violation_versions": [[i, n] for i, n in self.violation_versions.items()],
        }

    def resume(self, state: Mapping[str, Any]) -> int:
        """Take up a kept state (raises KeyError, TypeError or ValueError if it is not
        one); the number of entries it has walked."""
        entries = self.replay.entries
        for index in _ints(state["policies"]):
            entry = entries[index]
            if not isinstance(entry, PolicyEntry):
                raise ValueError(f"entry {index} is not a policy")
            self.take_policy(index, entry)
        policies = {p.index: p.policy for p in self.policies}
        self.versions = {_str(k): [_version(row) for row in rows]
                         for k, rows in state["versions"].items()}  # fmt: skip
        self.withdrawals = {_str(k): [_withdrawal(row) for row in rows]
                            for k, rows in state["withdrawals"].items()}  # fmt: skip
        self.live = {_str(k): _str(v) for k, v in state["live"].items()}
        self.notes = {_str(k): _ints(v) for k, v in state["notes"].items()}
        self.note_policy = {_int(i): policies[_int(p)] for i, p in state["note_policy"]}
        self.used = {(_str(p), _change(c)): _int(i) for p, c, i in state["used"]}
        for index in _ints(state["violations"]):
            entry = entries[index]
            if not isinstance(entry, ViolationEntry):
                raise ValueError(f"entry {index} is not a violation")
            self.violations[index] = entry
        self.ratified = {_int(v): (_int(r), _int(a)) for v, r, a in state["ratified"]}
        self.violation_versions = {_int(i): _int(n) for i, n in state["violation_versions"]}
        self.policy = self.policies[-1].policy if self.policies else None
        return _int(state["size"])


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def _opt(check: Any, value: Any) -> Any:
    return None if value is None else check(value)


def _ints(values: Any) -> list[int]:
    return [_int(v) for v in values]


def _ref_row(ref: NoteRef | None) -> list[Any] | None:
    return None if ref is None else [ref.kind, ref.id, ref.index]


def _ref(row: Any) -> NoteRef | None:
    return None if row is None else NoteRef(_str(row[0]), _str(row[1]), _int(row[2]))


def _version_row(v: Version) -> list[Any]:
    return [v.item, v.number, v.sha256, v.size, v.index, v.action, _ref_row(v.authorisation),
            v.incident, v.commit, v.time]  # fmt: skip


def _version(row: Any) -> Version:
    item, number, sha256, size, index, action, auth, incident, commit, time = row
    if not (
        type(item) is type(sha256) is type(action) is type(commit) is type(time) is str
        and type(number) is type(size) is type(index) is int
        and (incident is None or type(incident) is int)
    ):
        raise TypeError(f"not a version: {row!r}")
    return Version(item, number, sha256, size, index, action, _ref(auth), incident, commit, time)


def _withdrawal_row(w: Withdrawal) -> list[Any]:
    return [w.index, w.from_sha256, _ref_row(w.authorisation), w.incident, w.commit, w.time]


def _withdrawal(row: Any) -> Withdrawal:
    index, from_sha256, auth, incident, commit, time = row
    return Withdrawal(_int(index), _str(from_sha256), _ref(auth), _opt(_int, incident),
                      _str(commit), _str(time))  # fmt: skip


def _change_row(change: object) -> list[Any]:
    if isinstance(change, LodgedItem):
        return ["lodged", change.item, change.sha256, change.from_sha256]
    assert isinstance(change, tuple)
    return ["change", *change]


def _change(row: Any) -> object:
    tag, *rest = row
    if tag == "lodged":
        item, sha256, from_sha256 = rest
        return LodgedItem(_str(item), _str(sha256), _opt(_str, from_sha256))
    if tag != "change" or len(rest) != 4:
        raise ValueError(f"not a change: {row!r}")
    kind, item, old, new = rest
    return (_str(kind), _str(item), _opt(_str, old), _opt(_str, new))


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


class _Records(MadeWhenRead[LogRecord]):
    """The log records of a replay, each made when first read."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.encoded, self.leaves = replay.entries.encoded(), replay.entries.hashes()
        super().__init__(len(self.encoded))

    def _make(self, at: int) -> LogRecord:
        return _record(at, self.replay.entries[at], self.encoded[at], self.leaves[at],
                       self.replay)  # fmt: skip


def leaves_digest(leaves: Sequence[bytes]) -> str:
    """A digest of a log's leaf hashes, in order: the log a kept state belongs to."""
    return hashlib.sha256(b"".join(leaves)).hexdigest()


STATE_REWRITE_WORK = 1000
"""Entries plus item changes a resumed walk takes before its state is worth keeping."""


def collect_model(replay: Replay, resume: Mapping[str, Any] | None = None) -> SiteModel:
    """The site model of a replay's log entries (the replay must be clean).

    ``resume`` is the :attr:`SiteModel.state` of an earlier build: if the replay's log
    begins with the log it was kept for, only the entries after it are walked;
    otherwise (or if it is not a state at all) every entry is.
    """
    leaves = replay.entries.hashes()
    c, start = _Collector(replay), 0
    if resume is not None:
        try:
            size = _int(resume["size"])
            if size <= len(leaves) and resume["leaves"] == leaves_digest(leaves[:size]):
                start = c.resume(resume)
        except (KeyError, TypeError, ValueError, IndexError):
            pass
        if start == 0:
            c = _Collector(replay)
    entries = replay.entries
    for index in range(start, len(entries)):
        c.take(index, entries[index])
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
        records=_Records(replay),
        entries=tuple(replay.entries.encoded()),
        state=c.state(len(leaves), leaves_digest(leaves))
        if start == 0 or len(entries) - start + c.changes >= STATE_REWRITE_WORK else None,
    )
