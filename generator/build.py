"""The pipeline: history → governance → log → site → atomic publish (DESIGN §3).

:func:`build` takes the publish lock, replays the content history and refuses
any unauthorised change before writing anything. It then checks that the new
entries extend every tree already vouched for — the output's checkpoint, the
site at ``--published`` and the last checkpoint this key signed — else it is a
history rewrite and nothing is signed. It stages the new site beside the output
(hard links to the old one), appends only the new entries to ``log/``, writes
``log/vkey``, every logged item version at ``objects/<sha256>`` and the site,
verifies the staged log, records the checkpoint it signed, and swaps the staged
site in atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.client.evidence import EVIDENCE_DIR, update_evidence
from generator.client.lookup import INDEX_DIR, update_index
from generator.errors import PublishError, VerificationError
from generator.keys import DEV_KEY_DIR, LogKey, log_key
from generator.publish import PublishLock, SignedRecord, Stage, recover, swap_in
from generator.repository.history import GitHistory
from generator.repository.replay import Replay, replay_history, require_clean
from generator.repository.snapshot import (
    SnapshotKey,
    new_snapshot,
    open_snapshot,
    snapshot_file,
    snapshot_key,
)
from generator.site.render import SiteInputs, render_site
from generator.site.search import index_site
from generator.tlog.checker import check_log
from generator.tlog.checkpoint import Checkpoint, open_checkpoint
from generator.tlog.errors import NotFound
from generator.tlog.merkle import root_hash
from generator.tlog.note import Verifier
from generator.tlog.pins import PinnedCheckpoints
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore, HTTPStore, TileStore
from generator.tlog.writer import CHECKPOINT_PATH, LogWriter

Progress = Callable[[str], None]

LOG_DIR = "log"
OBJECTS_DIR = "objects"
VKEY_PATH = "vkey"


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    entries: int
    appended: int
    checkpoint: bytes
    key: LogKey
    out: Path
    replay: Replay


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Trusted:
    """A tree already vouched for, which the new log must extend."""

    checkpoint: Checkpoint
    signed: bytes
    where: str
    store: TileStore | None  # where to read its entries to name a divergence


def _published_checkpoints(out: Path, published: str | None, key: LogKey) -> list[Trusted]:
    verifier, origin = key.signer.verifier(), key.signer.name
    found = []
    local = DirStore(out / LOG_DIR)
    sources: list[tuple[str, TileStore]] = [(str(out / LOG_DIR), local)]
    if published:
        url = published.rstrip("/") + f"/{LOG_DIR}/"
        sources.append((url, HTTPStore(url)))
    for where, store in sources:
        try:
            data = store.read(CHECKPOINT_PATH)
        except NotFound:
            continue
        try:
            checkpoint = open_checkpoint(data, verifier, origin=origin).checkpoint
        except VerificationError as error:
            raise PublishError(
                f"the checkpoint at {where} does not verify with the log key {key.source}: "
                f"{error}; refusing to publish over it"
            ) from None
        found.append(Trusted(checkpoint, data, where, store))
    return found


def ensure_extends(
    entries: Sequence[bytes], hashes: Sequence[bytes], trusted: Trusted, verifier: Verifier
) -> None:
    """Refuse unless ``entries`` reproduce the tree ``trusted`` vouches for (a prefix)."""
    tree = trusted.checkpoint
    if tree.size <= len(entries) and root_hash(hashes[: tree.size]) == tree.root_hash:
        return
    first = min(tree.size, len(entries))
    if trusted.store is not None:
        reader = LogReader(trusted.store, verifier, tree.origin)
        for index, published in enumerate(reader.entries(0, first, tree.size)):
            if published != entries[index]:
                first = index
                break
    raise PublishError(
        f"history rewrite: {trusted.where} vouches for a log of {tree.size} entries that the "
        f"content history does not reproduce (it gives {len(entries)}; first difference at "
        f"entry {first}); refusing to sign a checkpoint inconsistent with it"
    )


def ensure_extends_all(
    entries: Sequence[bytes],
    hashes: Sequence[bytes],
    trusted: Sequence[Trusted],
    verifier: Verifier,
) -> None:
    """:func:`ensure_extends` for each tree in ``trusted``, each distinct tree once."""
    checked: set[Checkpoint] = set()
    for tree in trusted:
        if tree.checkpoint not in checked:
            ensure_extends(entries, hashes, tree, verifier)
            checked.add(tree.checkpoint)


def verify_stage(
    stage: Path, key: LogKey, entries: Sequence[bytes], before: bytes | None, start: int
) -> None:
    """Check the staged log as a relying party would, at a cost that follows the change.

    The tiles and checkpoint are checked by :func:`check_log` (incrementally from
    the previous checkpoint ``before``, else in full), and the staged bytes of the
    new entries must be exactly the entries the governance Ledger accepted in this
    process.
    """
    store = DirStore(stage / LOG_DIR)
    verifier = key.signer.verifier()
    check_log(store, verifier, since=before, full=before is None)
    for offset, data in enumerate(LogReader(store, verifier).entries(start, len(entries))):
        if data != entries[start + offset]:
            raise VerificationError(f"staged log entry {start + offset} differs from the replay")


def pinned_checkpoints(out: Path, key: LogKey, replay: Replay) -> PinnedCheckpoints:
    """The checkpoints proofs of the log at ``out`` pin to: the end of each commit's entries.

    Pinned to the commit, not to the build, so the proof of an entry is the same
    whichever build first published it, and never has to be rewritten.
    """
    reader = LogReader(DirStore(out / LOG_DIR), key.signer.verifier())
    return PinnedCheckpoints(reader, key.signer, replay.ends)


def site_inputs(
    report: BuildReport, templates: Path | None = None, base_url: str | None = None
) -> SiteInputs:
    """What the site stage needs to render the site of the log ``report`` published."""
    return SiteInputs(report.replay, report.checkpoint, report.key.signer.verifier(), templates,
                      base_url, pins=pinned_checkpoints(report.out, report.key, report.replay))


def new_objects(replay: Replay, start: int) -> dict[str, str]:
    """Blob id by SHA-256 of the item versions and manifests that entries from ``start`` name."""
    wanted: dict[str, str] = {}
    for index in range(start, len(replay.entries)):
        entry = replay.entries[index]
        digest = getattr(entry, "sha256", None)
        record = replay.ledger.by_index.get(index)
        if record is not None and record.lodgement is not None:
            digest = record.lodgement.manifest_sha256
        if digest is not None and digest in replay.objects:
            wanted[digest] = replay.objects[digest]
    return wanted


@contextlib.contextmanager
def _recovered_stage(out: Path) -> Iterator[Stage]:
    """Under the publish lock: put back a site a crash left aside, then start staging."""
    recover(out)
    with Stage(out) as stage:
        yield stage


def _snapshot_keys(key_file: Path | None, top: Path) -> SnapshotKey:
    """The HMAC key of a replay snapshot of a log: that of the log key a build of it signs with."""
    return lambda origin: snapshot_key(log_key(key_file, origin, top).signer)


def build(
    content: Path,
    out: Path,
    *,
    key_file: Path | None = None,
    published: str | None = None,
    state_dir: Path | None = None,
    site: bool = True,
    templates: Path | None = None,
    progress: Progress = _quiet,
) -> BuildReport:
    """Replay ``content`` and publish the log and site at ``out``, or refuse and change nothing.

    ``site=False`` publishes the log, its verifier key, the objects and the lookup
    index only; ``templates`` is a folder of theme overrides; ``published`` (the
    live site's URL) is also the base of the site's absolute links (sitemap, feed).
    """
    out = out.absolute()
    with PublishLock(out), GitHistory(content) as history, _recovered_stage(out) as staging:
        state = state_dir or history.top / DEV_KEY_DIR
        saved = snapshot_file(state, history)
        progress(f"replaying the history of {content}")
        snapshot = open_snapshot(saved, history, "HEAD", _snapshot_keys(key_file, history.top))
        replay = replay_history(history, resume=snapshot.replay)
        if replay.cached:
            progress(f"{replay.cached} entries from the saved replay snapshot ({saved})")
        require_clean(replay)
        key = log_key(key_file, replay.ledger.require_policy().origin, history.top)
        record = SignedRecord(state, key.signer)
        trusted = _published_checkpoints(out, published, key)
        last = record.last()
        if last is not None:
            trusted.append(Trusted(last, b"", str(record.path), None))
        entries, hashes = replay.entries.encoded(), replay.entries.hashes()
        try:
            ensure_extends_all(entries, hashes, trusted, key.signer.verifier())
        except PublishError:
            if not replay.cached:
                raise
            progress("the saved replay snapshot does not match the published log: replaying all")
            snapshot = new_snapshot(history)
            replay = replay_history(history, resume=snapshot.replay)
            require_clean(replay)
            entries, hashes = replay.entries.encoded(), replay.entries.hashes()
            ensure_extends_all(entries, hashes, trusted, key.signer.verifier())
        before = trusted[0].signed if trusted and trusted[0].store is not None else None
        stage = staging.ready()  # cloned while the history replayed
        store = DirStore(stage / LOG_DIR)
        writer = LogWriter(store, key.signer)
        published_size = writer.size
        progress(f"{len(entries)} entries, {len(entries) - published_size} new")
        writer.append(entries[published_size:])
        if published_size < len(entries) or not store.exists(CHECKPOINT_PATH):
            checkpoint = writer.commit()
            record.save(checkpoint)
        else:
            checkpoint = store.read(CHECKPOINT_PATH)
        vkey = (key.signer.verifier().vkey + "\n").encode()
        if not store.exists(VKEY_PATH) or store.read(VKEY_PATH) != vkey:
            store.write(VKEY_PATH, vkey)
        objects = DirStore(stage / OBJECTS_DIR)
        missing = {
            blob: sha
            for sha, blob in new_objects(replay, published_size).items()
            if not objects.exists(sha)
        }
        for blob, data in history.read_blobs(sorted(missing)):
            objects.write(missing[blob], data)
        update_index(DirStore(stage / INDEX_DIR), replay.entries)
        pins = pinned_checkpoints(stage, key, replay)
        update_evidence(DirStore(stage / EVIDENCE_DIR), replay.entries, entries, pins,
                        DirStore(stage / INDEX_DIR))
        if site:
            inputs = SiteInputs(replay, checkpoint, key.signer.verifier(), templates, published,
                                pins=pins)
            render_site(inputs, stage, progress=progress)
            progress("site: indexing the pages for search (Pagefind)")
            index_site(stage)
        progress("verifying the staged log")
        verify_stage(stage, key, entries, before, published_size)
        old = swap_in(stage, out)
        if old is not None:
            staging.retire(old)  # deleted while the snapshot is saved
        snapshot.save(saved, snapshot_key(key.signer))
    return BuildReport(len(entries), len(entries) - published_size, checkpoint, key, out, replay)
