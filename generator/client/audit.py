"""The monitor (``smki audit``): check a published log and all it adds, and keep state.

An audit (1) fetches and verifies the checkpoint; (2) against the checkpoint it
verified last time, refuses a rollback or a fork and proves consistency, and
checks every new tile against the new entries (:func:`~generator.tlog.checker.check_log`);
(3) replays every new entry through the governance engine the generator uses
(:class:`~generator.repository.governance.Ledger`); (4) fetches every newly
referenced item object and checks its digest; (5) checks that the lookup index
lists every new entry, and that no line written before changed; and (6) saves
the new state only if all of that held. Each problem is an :class:`Incident`;
rollbacks, forks and refused entries leave evidence in ``STATE/evidence/``.
"""

from __future__ import annotations

import base64
import collections
import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from generator.client.lookup import Shard, entry_keys, format_shard, parse_shard, shard_path
from generator.client.outcome import EXIT_FAILED, EXIT_OK
from generator.client.source import OBJECTS_DIR, Source
from generator.client.state import MonitorState
from generator.errors import Error, UsageError
from generator.repository.entries import (
    AmendEntry,
    Entry,
    LodgeEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    decode_entry,
    entry_summary,
)
from generator.repository.governance import Ledger
from generator.tlog.checker import check_log
from generator.tlog.checkpoint import Checkpoint, open_checkpoint
from generator.tlog.errors import ForkDetected, NotFound, RollbackDetected
from generator.tlog.note import Verifier
from generator.tlog.proof import make_proof
from generator.tlog.reader import LogReader
from generator.tlog.store import CHECKPOINT_PATH, TileStore

Progress = Callable[[str], None]
R = TypeVar("R")

MAX_LISTED_INCIDENTS = 100
"""Incidents of one kind reported one by one; beyond that they are only counted."""


@dataclass(frozen=True)
class Incident:
    """One problem found: its kind, what is wrong, and where the evidence was kept."""

    kind: str  # checkpoint, rollback, fork, log, governance, unratified, policy, object, index
    message: str
    index: int | None = None
    evidence: Path | None = None


@dataclass(frozen=True)
class AuditReport:
    """What an audit checked and found; the state was saved only if there is no incident."""

    origin: str
    previous_size: int
    size: int
    root_hash: bytes
    counts: tuple[tuple[str, int], ...]  # new entries by type
    listed: tuple[tuple[int, str], ...]  # the last new entries, with a summary each
    notices: tuple[str, ...]  # policy changes, violations and ratifications: no error
    incidents: tuple[Incident, ...]
    objects_checked: int = 0
    shards_checked: int = 0
    saved: bool = False

    @property
    def ok(self) -> bool:
        """Report whether nothing was wrong."""
        return not self.incidents

    @property
    def exit_code(self) -> int:
        """0 when everything held, else :data:`~generator.client.outcome.EXIT_FAILED`."""
        return EXIT_OK if self.ok else EXIT_FAILED

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (``smki audit --json``; docs/relying-parties.md)."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "origin": self.origin,
            "previous_size": self.previous_size,
            "size": self.size,
            "root_hash": base64.b64encode(self.root_hash).decode(),
            "new_entries": self.size - self.previous_size,
            "counts": dict(self.counts),
            "listed": [{"index": i, "summary": s} for i, s in self.listed],
            "notices": list(self.notices),
            "incidents": [
                {"kind": i.kind, "message": i.message, "index": i.index,
                 "evidence": None if i.evidence is None else str(i.evidence)}
                for i in self.incidents
            ],
            "objects_checked": self.objects_checked,
            "shards_checked": self.shards_checked,
            "state_saved": self.saved,
        }


class _Pinned:
    """The log store, except that ``checkpoint`` is the one copy this audit verifies."""

    def __init__(self, store: TileStore, checkpoint: bytes) -> None:
        self.store, self.checkpoint = store, checkpoint

    def read(self, path: str) -> bytes:
        """The checkpoint fetched once, or any other file of the log."""
        return self.checkpoint if path == CHECKPOINT_PATH else self.store.read(path)


def _quiet(_: str) -> None:
    pass


def audit(
    source: Source,
    verifier: Verifier,
    state_dir: Path,
    *,
    policy: str | None = None,
    workers: int = 8,
    list_limit: int = 1000,
    progress: Progress = _quiet,
) -> AuditReport:
    """Audit the log at ``source`` signed by ``verifier``, from the state in ``state_dir``.

    With no state it audits the whole log; afterwards only what was added.
    ``policy``, a policy note's SHA-256, must be in the log's policy chain.
    Transport failure before the checkpoint is read raises; every other problem
    is an incident in the report, and the state is then left as it was.
    """
    with MonitorState(state_dir) as state:
        return _Audit(source, verifier, state, policy, workers, list_limit, progress).run()


class _Audit:
    def __init__(
        self,
        source: Source,
        verifier: Verifier,
        state: MonitorState,
        pin: str | None,
        workers: int,
        list_limit: int,
        progress: Progress,
    ) -> None:
        self.source, self.verifier, self.state, self.pin = source, verifier, state, pin
        self.workers, self.progress = workers, progress
        self.incidents: list[Incident] = []
        self.notices: list[str] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.listed: collections.deque[tuple[int, str]] = collections.deque(maxlen=list_limit)
        self.objects: dict[str, tuple[int, str]] = {}  # sha256 -> first (entry, item) using it
        self.shards: dict[str, Shard] = {}  # shard path -> key -> new entries expected there
        self.manifests = 0
        self.kinds: collections.Counter[str] = collections.Counter()

    def incident(self, kind: str, message: str, index: int | None = None,
                 evidence: dict[str, bytes] | None = None) -> None:
        self.kinds[kind] += 1
        if self.kinds[kind] > MAX_LISTED_INCIDENTS:
            return
        folder = None
        if evidence:
            evidence["incident.txt"] = f"{kind}: {message}\n".encode()
            folder = self.state.evidence(kind if index is None else f"{kind}-{index}", evidence)
        self.incidents.append(Incident(kind, message, index, folder))

    def run(self) -> AuditReport:
        served = self.source.checkpoint()
        trusted, old = self.trusted()
        store = _Pinned(self.source.log, served)
        tree = self.check_tree(store, trusted)  # (1), (2)
        if tree is None:
            return self.report(old, old, b"", saved=False)
        ledger = self.state.ledger(self.manifest)
        if ledger.size != old:
            raise UsageError(f"{self.state.directory}: the state is inconsistent; start afresh")
        digests = self.state.policy_digests
        replayed, policy_note = self.replay_all(ledger, LogReader(store, self.verifier), old,
                                                tree.size, digests)  # (3)
        if not self.kinds:
            for violation, entry in sorted(ledger.pending.items()):
                self.incident("unratified", f"entry {violation}: {entry_summary(entry)} is not "
                              "ratified, so the log is not a valid publication (SEC L5.6A)",
                              violation)
            if self.pin is not None and self.pin not in digests:
                self.incident("policy", f"the pinned policy {self.pin} is not in the log's "
                              f"policy chain ({', '.join(digests)})")
        self.check_objects()  # (4)
        shard_digests = self.check_index(old, replayed, tree.size)  # (5)
        saved = not self.kinds
        if saved:  # (6)
            self.state.save(served, ledger, policy_note, digests, shard_digests)
        return self.report(old, tree.size, tree.root_hash, saved=saved)

    def trusted(self) -> tuple[bytes | None, int]:
        """The checkpoint the last successful audit verified (re-verified), and its size."""
        trusted = self.state.checkpoint
        if trusted is None:
            return None, 0
        try:
            tree = open_checkpoint(trusted, self.verifier, origin=self.verifier.name).checkpoint
        except Error:
            raise UsageError(
                f"{self.state.directory} holds the state of another log (its checkpoint does "
                f"not verify with {self.verifier.vkey})"
            ) from None
        return trusted, tree.size

    def check_tree(self, store: _Pinned, trusted: bytes | None) -> Checkpoint | None:
        """(1) The served checkpoint verifies; (2) it extends the trusted one, and the tiles
        of what it adds match their entries. None after recording an incident."""
        served = store.checkpoint
        try:
            tree = open_checkpoint(served, self.verifier, origin=self.verifier.name).checkpoint
        except Error as error:
            self.incident("checkpoint", f"the log's checkpoint does not verify: {error}",
                          evidence={"served.checkpoint": served})
            return None
        try:
            self.progress(f"checking the log's tiles up to entry {tree.size}")
            check_log(store, self.verifier, since=trusted, full=trusted is None)
        except (RollbackDetected, ForkDetected) as error:
            kind = "rollback" if isinstance(error, RollbackDetected) else "fork"
            files = {"served.checkpoint": served}
            if trusted is not None:
                files["trusted.checkpoint"] = trusted
            self.incident(kind, str(error), evidence=files)
            return None
        except Error as error:
            self.incident("log", f"the log does not verify: {error}")
            return None
        return tree

    def replay_all(
        self, ledger: Ledger, reader: LogReader, old: int, size: int, digests: list[str]
    ) -> tuple[int, str | None]:
        """(3) Replay entries [old, size) until one is refused; return where it stopped and
        the note of the last new policy (its digest appended to ``digests``)."""
        self.progress(f"replaying entries {old} to {size}")
        replayed, policy_note = old, None
        try:
            for index, data in zip(range(old, size), reader.entries(old, size), strict=True):
                entry = self.replay(ledger, reader, index, data)
                if entry is None:
                    break
                replayed = index + 1
                if isinstance(entry, PolicyEntry):
                    policy_note = entry.note
                    digests.append(hashlib.sha256(entry.note.encode()).hexdigest())
        except Error as error:
            self.incident("log", f"the log's entries do not verify: {error}")
        return replayed, policy_note

    def manifest(self, sha256: str) -> bytes:
        self.manifests += 1
        return self.source.object(sha256)

    def replay(self, ledger: Ledger, reader: LogReader, index: int, data: bytes) -> Entry | None:
        """(3) Decode entry ``index`` and apply it; None after recording why it was refused."""
        entry: Entry | None = None
        try:
            entry = decode_entry(data)
            keys = entry_keys(entry, lambda v: ledger.pending[v].path if v in ledger.pending
                              else "")
            ledger.apply(entry)
        except Error as error:
            what = entry_summary(entry) if entry is not None else "undecodable entry"
            proof = make_proof(reader, index, extra=data)
            self.incident("governance", f"entry {index} ({what}) is refused: {error}", index,
                          evidence={f"entry-{index}.tlog-proof": proof})
            return None
        self.counts[entry.TYPE] += 1
        self.listed.append((index, entry_summary(entry)))
        if isinstance(entry, PolicyEntry | ViolationEntry | RatifyEntry):
            self.notices.append(f"entry {index}: {entry_summary(entry)}")
        if isinstance(entry, LodgeEntry | AmendEntry):
            self.objects.setdefault(entry.sha256, (index, entry.item))
        elif isinstance(entry, ViolationEntry) and entry.sha256 is not None:
            self.objects.setdefault(entry.sha256, (index, entry.path))
        for kind, key in keys:
            self.shards.setdefault(shard_path(kind, key), {}).setdefault(key, []).append(index)
        if (index + 1) % 100_000 == 0:
            self.progress(f"replayed {index + 1} entries")
        return entry

    def parallel(self, work: Callable[[str], R], keys: Iterable[str]) -> Iterable[tuple[str, R]]:
        """``work`` over ``keys`` on the worker threads, in order, 64 keys to a task."""
        keys = list(keys)
        tasks = [keys[at : at + 64] for at in range(0, len(keys), 64)]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for batch, results in zip(tasks, pool.map(lambda t: [work(k) for k in t], tasks),
                                      strict=True):
                yield from zip(batch, results, strict=True)

    def check_objects(self) -> None:
        """(4) Every newly referenced item object is served and hashes to its name."""
        self.progress(f"fetching {len(self.objects)} objects")

        def check(sha256: str) -> str | None:
            try:
                self.source.object(sha256)
            except NotFound:
                return "is missing"
            except Error as error:
                return f"is unusable: {error}"
            return None

        for sha256, problem in self.parallel(check, sorted(self.objects)):
            if problem is not None:
                index, item = self.objects[sha256]
                self.incident("object", f"{OBJECTS_DIR}/{sha256} ({item}, entry {index}) "
                              f"{problem}", index)

    def check_index(self, old: int, replayed: int, size: int) -> dict[str, bytes]:
        """(5) The shards of entries [old, replayed) list exactly those new entries, and
        their lines for older entries are those verified before; returns new digests."""
        self.progress(f"checking {len(self.shards)} lookup-index shards")

        def fetch(path: str) -> Shard | str:
            try:
                data = self.source.index.read(path)
            except NotFound:
                data = b""
            except Error as error:
                return f"index/{path} is unusable: {error}"
            try:
                return parse_shard(data, path, size)
            except Error as error:
                return str(error)

        digests: dict[str, bytes] = {}
        for path, shard in self.parallel(fetch, sorted(self.shards)):
            if isinstance(shard, str):
                self.incident("index", shard)
                continue
            before = {k: [i for i in v if i < old] for k, v in shard.items()}
            before = {k: v for k, v in before.items() if v}
            known = self.state.shard_digest(path)
            if (hashlib.sha256(format_shard(before)).digest() if before else None) != known:
                self.incident("index", f"index/{path}: its lines for entries before {old} "
                              "changed since the last audit")
            want = self.shards[path]
            for key in sorted(set(want) | set(shard)):
                served = [i for i in shard.get(key, []) if old <= i < replayed]
                if served != want.get(key, []):
                    self.incident("index", f"index/{path}: the line of {key} lists new entries "
                                  f"{served or 'none'}, but the log's new entries for it are "
                                  f"{want.get(key) or 'none'}")
            digests[path] = hashlib.sha256(format_shard(shard)).digest()
        return digests

    def report(self, old: int, size: int, root: bytes, *, saved: bool) -> AuditReport:
        more = [
            Incident(kind, f"and {n - MAX_LISTED_INCIDENTS} more {kind} incident(s)")
            for kind, n in sorted(self.kinds.items())
            if n > MAX_LISTED_INCIDENTS
        ]
        return AuditReport(
            self.verifier.name, old, size, root, tuple(sorted(self.counts.items())),
            tuple(self.listed), tuple(self.notices), (*self.incidents, *more),
            len(self.objects) + self.manifests, len(self.shards), saved,
        )
