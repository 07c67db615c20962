"""Replay the first-parent git history of a content root into log entries (DESIGN §3, §5).

Each commit's changes become entries — policy, authorisation notes, then item
events — and every entry passes through :class:`~generator.repository.governance.Ledger`
before it is kept. A change nothing authorises becomes a violation entry; the
replay fails unless a later PMA approval ratifies each one (SEC L5.6A).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, overload

from generator.errors import Error, GovernanceError, HistoryError, UnauthorisedChange
from generator.repository.authorisation import Change, read_note
from generator.repository.content import (
    GOVERNED_DIRS,
    POLICY_PATH,
    REGULAR_MODE,
    PathKind,
    classify,
    path_problem,
)
from generator.repository.entries import (
    AmendEntry,
    Entry,
    LodgeEntry,
    NoteEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    WithdrawEntry,
    decode_entry,
    encode_entry,
)
from generator.repository.governance import Ledger, describe, ratification_of
from generator.repository.history import Commit, FileChange, GitHistory
from generator.repository.policy import parse_policy
from generator.tlog.merkle import leaf_hashes

WORKTREE = Commit(id="worktree", time="", subject="uncommitted changes in the working tree")

_MODE_NAMES = {"120000": "a symbolic link", "160000": "a submodule", "100755": "executable"}


@dataclass(frozen=True)
class Problem:
    """An unauthorised change or refused file, as the refusal message reports it."""

    commit: Commit
    path: str
    message: str

    def __str__(self) -> str:
        where = (
            "the working tree"
            if self.commit is WORKTREE
            else (f"commit {self.commit.id[:12]} ({self.commit.time}, {self.commit.subject!r})")
        )
        return f"{where}: {self.path}: {self.message}"


T = TypeVar("T")


class MadeWhenRead(Sequence[T]):
    """A sequence whose items are made (by :meth:`_make`) when first read, then kept."""

    def __init__(self, size: int = 0) -> None:
        self._made: list[T | None] = [None] * size

    def _make(self, at: int) -> T:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        at = range(len(self))[index]  # IndexError if out of range; a negative index counted
        value = self._made[at]
        if value is None:
            value = self._made[at] = self._make(at)
        return value


class EntryLog(MadeWhenRead[Entry]):
    """A replay's entries in log order, each decoded or encoded only when first needed.

    Entries the replay makes are kept as values; entries taken up from a saved
    replay (:mod:`generator.repository.snapshot`) as their canonical bytes, so
    that a build which only appends never decodes the history it already logged.
    """

    def __init__(self, encoded: Sequence[bytes] = (), hashes: Sequence[bytes] = ()) -> None:
        super().__init__(len(encoded))
        self._encoded: list[bytes] = list(encoded)  # bytes of the first len(_encoded) entries
        self._hashes: list[bytes] = list(hashes)  # leaf hashes of the first len(_hashes) entries

    def append(self, entry: Entry) -> None:
        """Log ``entry`` next."""
        self._made.append(entry)

    def _make(self, at: int) -> Entry:
        # bytes of an authenticated snapshot, encoded by this program
        return decode_entry(self._encoded[at], trusted=True)

    def encoded(self) -> Sequence[bytes]:
        """The canonical bytes of every entry (:func:`encode_entry`: too large is an error)."""
        for index in range(len(self._encoded), len(self)):
            self._encoded.append(encode_entry(self[index]))
        return self._encoded

    def hashes(self) -> Sequence[bytes]:
        """The RFC 9162 leaf hash of every entry."""
        self._hashes += leaf_hashes(self.encoded()[len(self._hashes) :])
        return self._hashes


@dataclass
class Replay:
    """The result of a replay: the entries, the commits they came from, and any problems."""

    ledger: Ledger
    entries: EntryLog = field(default_factory=EntryLog)
    commits: dict[str, Commit] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    genesis: Commit | None = None
    head: str | None = None
    objects: dict[str, str] = field(default_factory=dict)
    """Git blob id of every file version read, by its SHA-256 (items and manifests)."""
    digests: dict[str, tuple[str, int]] = field(default_factory=dict)
    """SHA-256 and size of every blob read, by blob id."""
    manifest_blobs: dict[str, str] = field(default_factory=dict)
    """Blob id of every lodgement manifest, by its SHA-256."""
    ends: list[int] = field(default_factory=list)
    """The log size after each commit that logged entries (a commit's entries are contiguous)."""
    cached: int = 0
    """How many of the entries came from a saved replay rather than from git."""


class _Replayer:
    def __init__(self, history: GitHistory, result: Replay | None) -> None:
        self.history = history
        self.result = result if result is not None else Replay(Ledger())
        self.ledger = self.result.ledger
        self.ledger.manifests = self._manifest
        self.manifest_blobs = self.result.manifest_blobs
        self.digests = self.result.digests
        self.explain: dict[int, str] = {}

    def _manifest(self, sha256: str) -> bytes:
        blob = self.manifest_blobs.get(sha256)
        if blob is None:
            raise GovernanceError(f"no lodgement manifest with SHA-256 {sha256} in the tree")
        return self.history.read_blob(blob)

    def digest(self, blob: str) -> tuple[str, int]:
        if blob not in self.digests:
            self.remember(blob, self.history.read_blob(blob))
        return self.digests[blob]

    def remember(self, blob: str, data: bytes) -> None:
        """Record a blob's SHA-256 and size, and where to find its bytes by digest."""
        self.digests[blob] = (hashlib.sha256(data).hexdigest(), len(data))
        self.result.objects[self.digests[blob][0]] = blob

    def prefetch(self, changes: list[FileChange]) -> None:
        """Hash the new item and manifest versions of a commit in one pipelined read."""
        wanted = sorted(
            {
                c.new_blob
                for c in changes
                if c.new_blob
                and c.new_blob not in self.digests
                and c.new_mode == REGULAR_MODE
                and classify(c.path) in (PathKind.ITEM, PathKind.MANIFEST)
            }
        )
        for blob, data in self.history.read_blobs(wanted):
            self.remember(blob, data)

    def log(self, entry: Entry) -> int:
        self.ledger.apply(entry)
        self.result.entries.append(entry)
        return self.ledger.size - 1

    def violation(
        self,
        commit: Commit,
        change: FileChange,
        reason: str,
        detail: str = "",
        *,
        regular: bool = False,
    ) -> None:
        current = self.ledger.items.get(change.path)
        if current is not None and change.old_blob:
            old: tuple[str, int] | None = (current.sha256, current.size)
        else:
            old = self.digest(change.old_blob) if change.old_blob else None
        new = self.digest(change.new_blob) if change.new_blob else None
        kind = "add" if change.added else "delete" if change.deleted else "modify"
        entry = ViolationEntry(
            commit.id,
            commit.time,
            change.path,
            kind,
            old[0] if old else None,
            new[0] if new else None,
            new[1] if new and regular else None,
            reason,
        )
        index = self.log(entry)
        self.explain[index] = f"{reason}{': ' + detail if detail else ''}"

    # -- one commit ---------------------------------------------------------------------

    def commit(self, commit: Commit, changes: list[FileChange], *, genesis: bool) -> None:
        self.result.commits[commit.id] = commit
        self.prefetch(changes)
        by_kind: dict[PathKind, list[FileChange]] = {}
        for change in sorted(changes, key=lambda c: c.path):
            by_kind.setdefault(classify(change.path), []).append(change)
            if classify(change.path) is PathKind.MANIFEST and change.new_blob:
                self.manifest_blobs[self.digest(change.new_blob)[0]] = change.new_blob
        policy_changes = by_kind.pop(PathKind.POLICY, [])
        if genesis:
            self.genesis_policy(commit, policy_changes[0])
            policy_changes = []
        new_approvals = self.notes(commit, by_kind.pop(PathKind.APPROVAL, []))
        self.notes(commit, by_kind.pop(PathKind.LODGEMENT, []))
        self.ratify(commit, new_approvals)
        for change in by_kind.pop(PathKind.MANIFEST, []):
            if not change.added or change.new_mode != REGULAR_MODE:
                self.violation(commit, change, "lodgement manifests are never changed or removed")
        for change in by_kind.pop(PathKind.UNKNOWN, []):
            if not change.deleted and change.path.startswith(GOVERNED_DIRS):
                why = path_problem(change.path) or "not a valid place in the layout"
                self.violation(commit, change, f"not part of the content layout ({why})")
        items = by_kind.pop(PathKind.ITEM, [])
        for change in sorted(items, key=lambda c: (not c.deleted, c.path)):
            self.item(commit, change)
        for change in policy_changes:
            self.policy_change(commit, change)
        ends = self.result.ends
        if len(self.result.entries) > (ends[-1] if ends else 0):
            ends.append(len(self.result.entries))

    def genesis_policy(self, commit: Commit, change: FileChange) -> None:
        data = self.history.read_blob(change.new_blob or "")
        try:
            note = read_note(data, POLICY_PATH)
            policy = parse_policy(note.text)
            self.log(PolicyEntry(commit.id, commit.time, policy.version, data.decode()))
        except Error as error:
            raise GovernanceError(
                f"genesis commit {commit.id[:12]}: policy.note cannot start the log: {error}"
            ) from None

    def policy_change(self, commit: Commit, change: FileChange) -> None:
        if change.deleted or change.new_mode != REGULAR_MODE:
            self.violation(commit, change, "the policy can never be removed")
            return
        data = self.history.read_blob(change.new_blob or "")
        try:
            policy = parse_policy(read_note(data, POLICY_PATH).text)
            self.log(PolicyEntry(commit.id, commit.time, policy.version, data.decode()))
        except Error as error:
            self.violation(commit, change, "policy change not validly signed", str(error))

    def notes(self, commit: Commit, changes: Iterable[FileChange]) -> list[int]:
        logged = []
        for change in changes:
            if change.deleted:
                self.violation(commit, change, "authorisation notes are never removed")
                continue
            if change.new_mode != REGULAR_MODE:
                self.violation(commit, change, f"a note cannot be {_mode_name(change.new_mode)}")
                continue
            data = self.history.read_blob(change.new_blob or "")
            kind = "approval" if classify(change.path) is PathKind.APPROVAL else "lodgement"
            note_id = change.path.rsplit("/", 1)[1].rsplit(".", 1)[0]
            try:
                entry = NoteEntry(commit.id, commit.time, kind, note_id, data.decode("utf-8"))
                logged.append(self.log(entry))
            except UnicodeDecodeError:
                self.violation(commit, change, "note is not valid UTF-8")
            except Error as error:
                self.violation(commit, change, f"{kind} note refused", str(error))
        return logged

    def ratify(self, commit: Commit, approvals: list[int]) -> None:
        for index in approvals:
            approval = self.ledger.by_index[index].approval
            assert approval is not None
            for change in approval.changes:
                if change.action != "ratify":
                    continue
                for violation_index, violation in list(self.ledger.pending.items()):
                    if ratification_of(violation) == change:
                        try:
                            self.log(RatifyEntry(commit.id, commit.time, violation_index, index))
                        except GovernanceError as error:
                            self.explain[violation_index] += f"; ratification refused: {error}"

    def item(self, commit: Commit, change: FileChange) -> None:
        if change.new_mode not in (None, REGULAR_MODE):
            self.violation(commit, change, f"an item cannot be {_mode_name(change.new_mode)}")
            return
        current = self.ledger.items.get(change.path)
        if change.deleted:
            if current is None:
                return  # never an item (e.g. a refused symbolic link): nothing to withdraw
            wanted = Change("withdraw", change.path, current.sha256, None)
            self.authorised(commit, change, wanted, None)
            return
        sha256, size = self.digest(change.new_blob or "")
        if current is None:
            wanted = Change("lodge", change.path, None, sha256)
        elif current.sha256 == sha256:
            return  # only the mode came back to a regular file: the bytes are unchanged
        else:
            wanted = Change("amend", change.path, current.sha256, sha256)
        self.authorised(commit, change, wanted, size)

    def authorised(
        self, commit: Commit, change: FileChange, wanted: Change, size: int | None
    ) -> None:
        index, why = self.ledger.find_authorisation(wanted)
        if index is not None:
            c, t, item = commit.id, commit.time, wanted.item
            old, new = wanted.from_sha256 or "", wanted.to_sha256 or ""
            entry: Entry
            if wanted.action == "lodge":
                entry = LodgeEntry(c, t, item, new, size or 0, index)
            elif wanted.action == "amend":
                entry = AmendEntry(c, t, item, old, new, size or 0, index)
            else:
                entry = WithdrawEntry(c, t, item, old, index)
            try:
                self.log(entry)
                return
            except GovernanceError as error:
                why = str(error)
        policy = self.ledger.require_policy()
        need = (
            f"needs a PMA approval with change {describe(wanted)} signed by "
            f"{policy.threshold} of the {len(policy.pma)} PMA keys of policy v{policy.version}"
        )
        if wanted.action == "lodge" and not policy.needs_pma_to_lodge(wanted.item):
            need = (
                f'needs a lodgement listing item = "{wanted.item}", sha256 = '
                f'"{wanted.to_sha256}" signed by a lodger allowed for it, or {need[6:]}'
            )
        self.violation(
            commit,
            change,
            f"{wanted.action} without authorisation",
            need + (f" (found: {why})" if why else ""),
            regular=True,
        )

    def finish(self) -> None:
        for index, violation in sorted(self.ledger.pending.items()):
            commit = self.result.commits.get(violation.commit, WORKTREE)
            hint = (
                ""
                if commit is WORKTREE
                else (f"; or have the PMA ratify it: smki approve --ratify {violation.commit}")
            )
            digests = f" [from {violation.from_sha256 or '-'} to {violation.sha256 or '-'}]"
            self.result.problems.append(
                Problem(commit, violation.path, self.explain[index] + digests + hint)
            )


def _mode_name(mode: str | None) -> str:
    return _MODE_NAMES.get(mode or "", f"of mode {mode}")


def replay_history(
    history: GitHistory, rev: str = "HEAD", *, worktree: bool = False, resume: Replay | None = None
) -> Replay:
    """Replay ``rev``'s first-parent history (and the working tree) through the governance rules.

    Replay starts at genesis, the commit that adds ``policy.note``; every file in
    the tree at genesis counts as added there. Problems are collected, not raised.
    ``resume`` is a clean replay to continue in place (a new one, or one of a
    first-parent ancestor of ``rev`` taken up from a snapshot): only the commits
    after its head are read from git.
    """
    replayer = _Replayer(history, resume)
    result = replayer.result
    since = result.head
    result.head = history.resolve(rev)
    for commit, changes in history.changes(rev, since=since):
        if result.genesis is None:
            if not any(c.path == POLICY_PATH and c.new_blob for c in changes):
                continue
            result.genesis = commit
            changes = [
                FileChange(path, None, mode, None, blob)
                for path, (mode, blob) in history.tree(commit.id).items()
            ]
            replayer.commit(commit, changes, genesis=True)
        else:
            replayer.commit(commit, changes, genesis=False)
    if worktree:
        changes = history.worktree_changes(rev)
        if result.genesis is None and any(c.path == POLICY_PATH for c in changes):
            raise HistoryError("policy.note is not committed yet: commit it to start the log")
        if result.genesis is not None and changes:
            replayer.commit(WORKTREE, changes, genesis=False)
    if result.genesis is None:
        raise HistoryError(
            f"no commit adds {POLICY_PATH} under {history.prefix or 'the root'}: "
            "nothing to replay (run smki init first)"
        )
    replayer.finish()
    return result


def require_clean(replay: Replay) -> None:
    """Raise :class:`UnauthorisedChange` naming the first problem, if there is any."""
    if replay.problems:
        more = (
            f" (and {len(replay.problems) - 1} more problem(s))" if len(replay.problems) > 1 else ""
        )
        raise UnauthorisedChange(f"refused: {replay.problems[0]}{more}")
