"""Replay snapshots: a resumed replay concludes exactly what a full one does, and a
snapshot that is damaged, forged, of another key, root, version or history is never used."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import Error, UsageError
from generator.repository import snapshot as snapshots
from generator.repository.authorisation import Change
from generator.repository.entries import decode_entry
from generator.repository.history import GitHistory
from generator.repository.replay import EntryLog, Replay, replay_history
from generator.repository.snapshot import (
    FORMAT,
    Snapshot,
    new_snapshot,
    open_snapshot,
    snapshot_key,
)
from generator.tlog.errors import MalformedError
from generator.tlog.merkle import leaf_hashes
from tests.repository.gitrepo import ContentRepo, key, sha
from tests.repository.test_governance import CASES, V1, V2, A, B, Scenario

KEY = snapshot_key(key("lodger-dcc"))  # any private key: tests hold it as a build holds the log key


def keys(origin: str) -> bytes:
    return KEY


def saved(repo: ContentRepo, rev: str, path: Path) -> Snapshot:
    """A snapshot of ``repo``'s replay up to ``rev``, saved at ``path`` (if it is clean)."""
    with GitHistory(repo.path) as history:
        snap = new_snapshot(history)
        replay_history(history, rev, resume=snap.replay)
        snap.save(path, KEY)
        return snap


def resumed(repo: ContentRepo, path: Path, keyed: Callable[[str], bytes] = keys) -> Replay:
    """The replay of ``repo``'s HEAD, resumed from the snapshot at ``path`` if it is usable."""
    with GitHistory(repo.path) as history:
        return replay_history(history, resume=open_snapshot(path, history, "HEAD", keyed).replay)


def full(repo: ContentRepo) -> Replay:
    with GitHistory(repo.path) as history:
        return replay_history(history)


def conclusions(replay: Replay) -> tuple[object, ...]:
    """What a replay concludes: the log's bytes, the refusals, and what a build reads of it."""
    return (
        list(replay.entries.encoded()),
        [str(p) for p in replay.problems],
        replay.ends,
        replay.objects,
        replay.commits,
        replay.genesis,
        replay.head,
    )


def offered_before(repo: ContentRepo) -> None:
    """Notes logged before the snapshot authorise changes after it."""
    repo.genesis({A: V1})
    repo.write(B, "# B\n")
    repo.write("items/documents/c.md", "# C\n")
    repo.lodgement("LDG-1", [B, "items/documents/c.md"])
    repo.delete("items/documents/c.md")
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))])
    repo.commit("a lodgement of two items and an approval, nothing used yet")
    repo.write("items/documents/c.md", "# C\n")
    repo.commit("lodge C under LDG-1")
    repo.write(A, V2)
    repo.commit("amend A")
    repo.write(A, V1)
    repo.approval("PMA-2", [Change("amend", A, sha(V2), sha(V1))])
    repo.commit("revert A")
    repo.write(A, V2)
    repo.commit("amend A again, under PMA-1 already used: refused")


RESUME_CASES: list[tuple[str, Scenario]] = [
    *((name, scenario) for name, scenario, _ in CASES),
    ("notes logged before the snapshot used after it", offered_before),
]


@pytest.mark.parametrize(
    "scenario", [c[1] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES]
)
def test_resumed_replay_concludes_as_a_full_one(tmp_path: Path, scenario: Scenario) -> None:
    repo = ContentRepo(tmp_path / "repo")
    scenario(repo)
    expected = conclusions(full(repo))
    commits = repo.git("rev-list", "--first-parent", "--reverse", "HEAD").split()
    for n, commit in enumerate(commits):
        path = tmp_path / f"at-{n}.snapshot"
        try:
            clean = not saved(repo, commit, path).replay.problems
        except Error:  # no genesis yet at this commit
            continue
        replay = resumed(repo, path)
        assert (replay.cached > 0) == clean, f"snapshot after commit {n}"
        assert conclusions(replay) == expected, f"resumed after commit {n}"


def test_ends_are_the_commit_boundaries(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    replay = full(repo)
    entries = replay.entries  # entries of a commit are contiguous
    ends = [i for i in range(1, len(entries)) if entries[i].commit != entries[i - 1].commit]
    assert replay.ends == [*ends, len(entries)]


# -- what is never used -----------------------------------------------------------------


def _image(data: bytes) -> tuple[bytes, bytes]:
    magic, origin, tag, image = data.split(b"\n", 3)
    return b"\n".join((magic, origin, tag)) + b"\n", image


def _edit_database(data: bytes, sql: str) -> bytes:
    """The snapshot with ``sql`` run on its database, its HMAC left as it was (a forgery)."""
    head, image = _image(data)
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.deserialize(image)
    db.execute(sql)
    return head + db.serialize()


def _flip(data: bytes) -> bytes:
    at = len(data) // 2
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


TAMPERED: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("a byte of the database flipped", _flip),
    ("truncated", lambda d: d[: len(d) // 2]),
    ("an approval marked unused again", lambda d: _edit_database(d, "DELETE FROM used")),
    ("an item removed", lambda d: _edit_database(d, "DELETE FROM items")),
    ("another origin named", lambda d: d.replace(b"smki.example/test-log", b"smki.example/x", 1)),
    ("another format", lambda d: d.replace(FORMAT, b"smki-replay-snapshot/v0", 1)),
    ("the old JSON replay state", lambda d: b'{"version":1,"head":"0","entries":[]}'),
    ("empty", lambda d: b""),
]


@pytest.mark.parametrize("tamper", [t[1] for t in TAMPERED], ids=[t[0] for t in TAMPERED])
def test_a_tampered_snapshot_is_not_used(tmp_path: Path, tamper: Callable[[bytes], bytes]) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    path.write_bytes(tamper(path.read_bytes()))
    replay = resumed(repo, path)
    assert replay.cached == 0
    assert conclusions(replay) == conclusions(full(repo))


def test_only_the_hmac_stands_between_a_forgery_and_a_wrong_verdict(tmp_path: Path) -> None:
    """The forgery above, with a valid HMAC (what only the log key's holder can make), is
    used and lets an approval be used twice: so it is the HMAC that refuses it."""
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    assert any("already used" in str(p) for p in full(repo).problems)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    head, image = _image(_edit_database(path.read_bytes(), "DELETE FROM used"))
    _, origin, _ = head.split(b"\n", 2)
    tag = snapshots._tag(KEY, origin, image).hex().encode()
    path.write_bytes(b"\n".join((FORMAT, origin, tag, image)))
    replay = resumed(repo, path)
    assert replay.cached > 0 and replay.problems == []


def test_another_key_is_not_used(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    other = snapshot_key(key("lodger-secas"))
    assert resumed(repo, path, lambda origin: other).cached == 0
    assert resumed(repo, path).cached > 0


def test_a_key_that_cannot_be_had_is_not_used(tmp_path: Path) -> None:
    def refuse(origin: str) -> bytes:
        raise UsageError(f"no key for {origin}")

    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    assert resumed(repo, path, refuse).cached == 0


def test_a_rewritten_history_is_replayed_in_full(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD", path)
    repo.git("reset", "-q", "--hard", "HEAD~2")
    repo.write(B, "# B, rewritten\n")
    repo.commit("a rewrite: the snapshot's head is gone from main")
    replay = resumed(repo, path)
    assert replay.cached == 0
    assert conclusions(replay) == conclusions(full(repo))


def test_another_generator_version_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    monkeypatch.setattr(snapshots, "__version__", "0.0.0-other")
    assert resumed(repo, path).cached == 0


def test_another_content_root_is_not_used(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    (repo.path / "content").mkdir()
    with GitHistory(repo.path / "content") as history:
        assert history.prefix == "content/"
        assert open_snapshot(path, history, "HEAD", keys).replay.cached == 0


def test_an_unchanged_head_is_not_saved_again(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    path = tmp_path / "s.snapshot"
    saved(repo, "HEAD~1", path)
    with GitHistory(repo.path) as history:
        snap = open_snapshot(path, history, "HEAD~1", keys)
        replay_history(history, "HEAD~1", resume=snap.replay)
        path.unlink()
        snap.save(path, KEY)
    assert not path.exists()


# -- the entry log ----------------------------------------------------------------------


def test_entry_log_decodes_only_what_is_read(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    entries = full(repo).entries
    encoded = list(entries.encoded())
    log = EntryLog(encoded, leaf_hashes(encoded))
    assert log._made.count(None) == len(encoded)
    assert log[3] == entries[3] and log[-1] == entries[-1]
    assert log._made.count(None) == len(encoded) - 2
    assert log[1:4] == entries[1:4] and list(log) == list(entries)
    log = EntryLog(encoded[:-2], leaf_hashes(encoded[:-2]))
    log.append(entries[-2])
    log.append(entries[-1])
    assert log[-3] == entries[-3] and log[-1] is entries[-1]
    with pytest.raises(IndexError):
        log[len(encoded)]
    log.append(entries[0])
    assert list(log.encoded()) == [*encoded, encoded[0]]
    assert list(log.hashes()) == leaf_hashes([*encoded, encoded[0]])


def test_trusted_decoding_gives_the_strict_decoders_entries_and_checks_the_schema(
    tmp_path: Path,
) -> None:
    """A snapshot's own entries are decoded without the strict form checks (they are
    authenticated and were encoded here), but never into an entry of the wrong shape."""
    repo = ContentRepo(tmp_path / "repo")
    offered_before(repo)
    encoded = list(full(repo).entries.encoded())
    assert [decode_entry(e, trusted=True) for e in encoded] == [decode_entry(e) for e in encoded]
    lodge = next(e for e in encoded if b'"type":"lodge"' in e)
    for bad in (
        lodge.replace(b'"size":', b'"size":"7",\"x\":'),  # a string size, an unknown field
        lodge.replace(b'"v":1', b'"v":2'),
        lodge.replace(b'"type":"lodge"', b'"type":"other"'),
        lodge.replace(b'"size":', b'"size":true,"y":'),
    ):
        with pytest.raises(MalformedError):
            decode_entry(bad, trusted=True)
    spaced = lodge.replace(b",", b", ")  # not canonical: only the strict decoder minds
    assert decode_entry(spaced, trusted=True) == decode_entry(lodge)
    with pytest.raises(MalformedError, match="canonical"):
        decode_entry(spaced)
