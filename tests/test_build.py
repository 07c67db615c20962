"""The build's replay snapshot: a further commit costs what it changes, and publishes exactly
what a full replay would — or, if the snapshot cannot be trusted, replays in full."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from generator.build import build
from generator.errors import UnauthorisedChange
from generator.keys import read_signer
from generator.repository.authorisation import Change
from generator.repository.history import GitHistory
from generator.repository.snapshot import FORMAT, _tag, snapshot_file, snapshot_key
from generator.tlog.merkle import leaf_hash
from generator.tlog.note import generate_signer
from tests.repository.gitrepo import ContentRepo, sha
from tests.test_publish import tree

A = "items/documents/a.md"
B = "items/documents/b.md"
V1, V2 = b"# A\n", b"# A, amended\n"


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A log key named after ContentRepo's origin."""
    path = tmp_path / "log.key"
    path.write_text(generate_signer("smki.example/test-log").skey + "\n")
    return path


def history(repo: ContentRepo) -> None:
    """Genesis, an approval logged for later, and a lodgement of B."""
    repo.genesis({A: V1})
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))])
    repo.commit("approval, used later")
    repo.write(B, "# B\n")
    repo.lodgement("LDG-1", [B])
    repo.commit("lodge B")


def reuse(repo: ContentRepo) -> None:
    """Amend A under PMA-1, revert it, then amend it again under PMA-1 (already used)."""
    repo.write(A, V2)
    repo.commit("amend A")
    repo.write(A, V1)
    repo.approval("PMA-2", [Change("amend", A, sha(V2), sha(V1))])
    repo.commit("revert A")
    repo.write(A, V2)
    repo.commit("amend A again under PMA-1")


def published(root: Path) -> dict[str, bytes]:
    """The files of the site at ``root``, without the build's own caches (``.smki-*``)."""
    return {p: data for p, data in tree(root).items() if not p.startswith(".smki-")}


def assert_same_site(incremental: Path, full: Path) -> None:
    """``incremental`` holds every file of ``full``, and besides only older partial tiles."""
    built, expected = published(incremental), published(full)
    assert {p: built[p] for p in expected if p in built} == expected
    assert all(".p/" in p for p in set(built) - set(expected))


def snapshot_path(repo: ContentRepo, state: Path) -> Path:
    with GitHistory(repo.path) as history:
        return snapshot_file(state, history)


def forge(path: Path, sql: str, key: Path | None = None) -> None:
    """Run ``sql`` on the snapshot's database; re-authenticate it only with ``key``."""
    magic, origin, tag, image = path.read_bytes().split(b"\n", 3)
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.deserialize(image)
    db.execute(sql)
    forged = db.serialize()
    if key is not None:
        tag = _tag(snapshot_key(read_signer(key)), origin, forged).hex().encode()
    path.write_bytes(b"\n".join((magic, origin, tag, forged)))


def test_a_further_commit_resumes_and_publishes_what_a_full_build_does(
    tmp_path: Path, key: Path
) -> None:
    repo = ContentRepo(tmp_path / "repo")
    history(repo)
    state, out = tmp_path / "state", tmp_path / "out"
    first = build(repo.path, out, key_file=key, state_dir=state, site=False)
    assert first.replay.cached == 0 and snapshot_path(repo, state).exists()
    repo.write(A, V2)
    repo.commit("amend A under the approval logged before the snapshot")
    again = build(repo.path, out, key_file=key, state_dir=state, site=False)
    assert again.replay.cached == first.entries and again.appended > 0
    fresh = tmp_path / "fresh"
    assert build(repo.path, fresh, key_file=key, state_dir=tmp_path / "s2", site=False).entries
    assert_same_site(out, fresh)


def test_a_forged_snapshot_never_publishes_what_a_full_replay_refuses(
    tmp_path: Path, key: Path
) -> None:
    repo = ContentRepo(tmp_path / "repo")
    history(repo)
    state, out = tmp_path / "state", tmp_path / "out"
    build(repo.path, out, key_file=key, state_dir=state, site=False)
    forge(snapshot_path(repo, state), "DELETE FROM used")  # PMA-1 and LDG-1 look unused
    before = tree(out)
    reuse(repo)
    with pytest.raises(UnauthorisedChange, match="already used"):
        build(repo.path, out, key_file=key, state_dir=state, site=False)
    assert tree(out) == before


def test_a_snapshot_of_another_log_key_is_not_used(tmp_path: Path, key: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    history(repo)
    state = tmp_path / "state"
    build(repo.path, tmp_path / "one", key_file=key, state_dir=state, site=False)
    other = tmp_path / "other.key"
    other.write_text(generate_signer("smki.example/test-log").skey + "\n")
    repo.write(A, V2)
    repo.commit("amend A")
    report = build(repo.path, tmp_path / "two", key_file=other, state_dir=state, site=False)
    assert report.replay.cached == 0


def test_an_authentic_snapshot_unlike_the_published_log_is_replayed_in_full(
    tmp_path: Path, key: Path
) -> None:
    """Validated against the published checkpoint: a snapshot the key authenticates but
    whose entries do not reproduce the published tree (a bug, a mix-up) is not used."""
    repo = ContentRepo(tmp_path / "repo")
    history(repo)
    state, out = tmp_path / "state", tmp_path / "out"
    build(repo.path, out, key_file=key, state_dir=state, site=False)
    other = b'{"v":1}'
    forge(
        snapshot_path(repo, state),
        f"UPDATE entries SET data = x'{other.hex()}', hash = x'{leaf_hash(other).hex()}' "
        "WHERE idx = 1",
        key,
    )
    repo.write(A, V2)
    repo.commit("amend A")
    messages: list[str] = []
    report = build(repo.path, out, key_file=key, state_dir=state, site=False,
                   progress=messages.append)
    assert any("does not match the published log" in m for m in messages)
    assert report.replay.cached == 0 and report.appended > 0
    fresh = tmp_path / "fresh"
    build(repo.path, fresh, key_file=key, state_dir=tmp_path / "s2", site=False)
    assert_same_site(out, fresh)


def test_the_snapshot_is_keyed_by_the_log_key_not_stored_with_it(tmp_path: Path, key: Path):
    repo = ContentRepo(tmp_path / "repo")
    history(repo)
    state = tmp_path / "state"
    build(repo.path, tmp_path / "out", key_file=key, state_dir=state, site=False)
    data = snapshot_path(repo, state).read_bytes()
    assert data.startswith(FORMAT + b"\nsmki.example/test-log\n")
    assert read_signer(key).skey.encode() not in data
    assert snapshot_key(read_signer(key)) not in data


def test_the_site_of_a_resumed_replay_is_the_site_of_a_full_one(tmp_path: Path, key: Path):
    repo = ContentRepo(tmp_path / "repo")
    history(repo)
    state, out = tmp_path / "state", tmp_path / "out"
    build(repo.path, out, key_file=key, state_dir=state)
    repo.write(A, V2)
    repo.commit("amend A")
    assert build(repo.path, out, key_file=key, state_dir=state).replay.cached > 0
    fresh = tmp_path / "fresh"
    build(repo.path, fresh, key_file=key, state_dir=tmp_path / "s2")
    assert_same_site(out, fresh)
