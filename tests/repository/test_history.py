"""generator.repository.history on real git repositories made in a temp dir."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generator.errors import ContentError, HistoryError, UsageError
from generator.repository.history import (
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_GITLINK,
    MODE_SYMLINK,
    Commit,
    FileChange,
    GitHistory,
    ensure_repository,
)

EPOCH = 1_795_694_400  # 2026-11-26T12:00:00Z; commit n is made n hours later
OTHER_COMMIT = "1234567890abcdef1234567890abcdef12345678"  # a gitlink target (not in the repo)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's git configuration and any hook variables out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_PARAMETERS"):
        monkeypatch.delenv(name, raising=False)


def utc(hour: int) -> str:
    """The RFC 3339 time of commit number ``hour``."""
    return datetime.fromtimestamp(EPOCH + 3600 * hour, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Repo:
    """A git repository in a temp dir whose commits have a fixed clock."""

    def __init__(self, path: Path, *init: str, create: bool = True) -> None:
        self.path = path
        self.hour = 0
        if create:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main", *init)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        """Run git here; return its output (paths decoded as the module under test does)."""
        when = f"{EPOCH + 3600 * self.hour} +0100"  # an offset, to check the UTC conversion
        env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        identity = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]
        done = subprocess.run(
            ["git", *identity, *args],
            cwd=cwd or self.path,
            env=env,
            check=True,
            capture_output=True,
        )
        return done.stdout.decode("utf-8", "surrogateescape")

    def write(self, rel: str, data: bytes | str = b"x\n", *, executable: bool = False) -> bytes:
        """Write a file; return its bytes."""
        raw = data.encode() if isinstance(data, str) else data
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        target.chmod(0o755 if executable else 0o644)
        return raw

    def symlink(self, rel: str, target: str) -> None:
        """Make a symbolic link."""
        (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.path / rel).symlink_to(target)

    def remove(self, rel: str) -> None:
        """Delete a file from the work tree."""
        (self.path / rel).unlink()

    def commit(self, message: str = "change", *, add: bool = True) -> str:
        """Commit (everything, unless ``add`` is false) one hour after the last; return its id."""
        self.hour += 1
        if add:
            self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "--allow-empty-message", "-m", message)
        return self.head()

    def head(self) -> str:
        """The id of HEAD."""
        return self.git("rev-parse", "HEAD").strip()

    def blob(self, rel: str, rev: str = "HEAD") -> str:
        """The blob id of a path at a revision."""
        return self.git("rev-parse", f"{rev}:{rel}").strip()

    def gitlink(self, rel: str, commit: str = OTHER_COMMIT) -> None:
        """Stage a submodule entry, its folder empty as for a submodule not checked out."""
        (self.path / rel).mkdir(parents=True, exist_ok=True)
        self.git("update-index", "--add", "--cacheinfo", f"160000,{commit},{rel}")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A repository with its content root in ``content/``."""
    r = Repo(tmp_path / "repo")
    (r.path / "content").mkdir()
    return r


def history(repo: Repo, folder: str = "content") -> GitHistory:
    """A GitHistory on a folder of ``repo``."""
    return GitHistory(repo.path / folder)


def summary(changes: list[FileChange]) -> list[tuple[str, str]]:
    """Each change as (path, kind) for compact expectations."""
    return [(c.path, kind(c)) for c in changes]


def kind(c: FileChange) -> str:
    """A one-word description of a change."""
    if c.added:
        return "added"
    if c.deleted:
        return "deleted"
    return "+".join(k for k in ("modified", "mode_changed") if getattr(c, k)) or "same"


# -- FileChange ---------------------------------------------------------------------

A, B = "a" * 40, "b" * 40


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (FileChange("p", None, MODE_FILE, None, A), "added"),
        (FileChange("p", MODE_FILE, None, A, None), "deleted"),
        (FileChange("p", MODE_FILE, MODE_FILE, A, B), "modified"),
        (FileChange("p", MODE_FILE, MODE_EXECUTABLE, A, A), "mode_changed"),
        (FileChange("p", MODE_FILE, MODE_SYMLINK, A, B), "modified+mode_changed"),
    ],
)
def test_file_change_kinds(change: FileChange, expected: str) -> None:
    assert kind(change) == expected


# -- opening a repository -----------------------------------------------------------


def test_content_folder_inside_a_bigger_repository(repo: Repo) -> None:
    with history(repo) as h:
        assert h.top == repo.path.resolve()
        assert h.prefix == "content/"
    with history(repo, ".") as h:
        assert h.prefix == ""


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="is not in a git repository"):
        GitHistory(tmp_path)
    with pytest.raises(HistoryError, match="no such folder"):
        GitHistory(tmp_path / "missing")


def test_git_missing(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo.path / "nowhere"))
    with pytest.raises(HistoryError, match="git is not installed"):
        history(repo)


def test_shallow_clone_is_refused(repo: Repo, tmp_path: Path) -> None:
    for n in range(3):
        repo.write(f"content/{n}.md")
        repo.commit()
    clone = tmp_path / "clone"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone))
    with pytest.raises(HistoryError, match="full history is needed") as e:
        GitHistory(clone / "content")
    assert "fetch-depth: 0" in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_revision(repo: Repo) -> None:
    repo.write("content/a.md")
    first = repo.commit()
    with history(repo) as h:
        assert h.resolve("HEAD") == first
        assert h.resolve(first[:10]) == first
        for bad in ("no-such-branch", "--all", "", f"{first}:content/a.md", "HEAD~5"):
            with pytest.raises(HistoryError, match="unknown revision") as e:
                h.resolve(bad)
            assert repr(bad) in str(e.value)
        with pytest.raises(HistoryError, match="no-such-branch"):
            list(h.changes("no-such-branch"))
        with pytest.raises(HistoryError, match="no-such-branch"):
            h.changes("HEAD", since="no-such-branch")  # checked before iterating
        with pytest.raises(HistoryError, match="no-such-branch"):
            h.tree("no-such-branch")


def test_empty_repository(repo: Repo) -> None:
    with history(repo) as h, pytest.raises(HistoryError, match="unknown revision 'HEAD'"):
        h.first_parent_commits()


# -- commits and changes ------------------------------------------------------------


def test_add_modify_delete_and_mode_change(repo: Repo) -> None:
    repo.write("content/a.md", "a\n")
    repo.write("content/d/b.md", "b\n")
    first = repo.commit("add two")
    repo.write("content/a.md", "a2\n")
    repo.write("content/d/b.md", "b\n", executable=True)
    repo.commit("modify and chmod")
    repo.remove("content/d/b.md")
    repo.commit("delete")
    with history(repo) as h:
        log = list(h.changes())
    assert [c.subject for c, _ in log] == ["add two", "modify and chmod", "delete"]
    assert log[0][0] == Commit(id=first, time=utc(1), subject="add two")
    (_, added), (_, changed), (_, deleted) = log
    assert added == [
        FileChange("a.md", None, MODE_FILE, None, repo.blob("content/a.md", first)),
        FileChange("d/b.md", None, MODE_FILE, None, repo.blob("content/d/b.md", first)),
    ]
    assert summary(changed) == [("a.md", "modified"), ("d/b.md", "mode_changed")]
    assert changed[1].old_blob == changed[1].new_blob
    assert changed[1].new_mode == MODE_EXECUTABLE
    assert deleted == [
        FileChange("d/b.md", MODE_EXECUTABLE, None, repo.blob("content/d/b.md", first), None)
    ]


def test_times_are_committer_times_in_utc_and_subject_is_first_line(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.commit("Lodge Zürich ✓\nsecond line\n\nbody")
    repo.write("content/b.md")
    repo.commit("")
    repo.write("content/c.md")
    repo.commit(":000000 100644 " + "0" * 40 + " " + "1" * 40 + " A")
    with history(repo) as h:
        commits = h.content_commits()
    assert [c.time for c in commits] == [utc(1), utc(2), utc(3)]
    assert utc(1) == "2026-11-26T13:00:00Z"
    assert [c.subject for c in commits] == [
        "Lodge Zürich ✓",
        "",
        ":000000 100644 " + "0" * 40 + " " + "1" * 40 + " A",
    ]


def test_rename_is_delete_plus_add(repo: Repo) -> None:
    repo.write("content/old.md", "same bytes\n")
    repo.write("content/Case.md", "case\n")
    repo.commit()
    repo.git("mv", "content/old.md", "content/new.md")
    repo.git("mv", "content/Case.md", "content/case.md")
    repo.commit("renames")
    with history(repo) as h:
        (_, changes), *_ = list(h.changes(since="HEAD~1"))
    assert summary(changes) == [
        ("Case.md", "deleted"),
        ("case.md", "added"),
        ("new.md", "added"),
        ("old.md", "deleted"),
    ]


def test_symlinks_and_gitlinks_are_reported_with_their_modes(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.symlink("content/link.md", "a.md")
    repo.commit()
    repo.gitlink("content/sub")
    repo.commit("add a gitlink", add=False)
    with history(repo) as h:
        (_, first), (_, second) = list(h.changes())
        tree = h.tree("HEAD")
    assert first[1] == FileChange("link.md", None, MODE_SYMLINK, None, repo.blob("content/link.md"))
    assert second == [FileChange("sub", None, MODE_GITLINK, None, OTHER_COMMIT)]
    assert tree["sub"] == (MODE_GITLINK, OTHER_COMMIT)
    assert tree["link.md"][0] == MODE_SYMLINK


def test_file_replaced_by_symlink_is_a_type_change(repo: Repo) -> None:
    repo.write("content/a.md", "a.md")
    repo.commit()
    repo.remove("content/a.md")
    repo.symlink("content/a.md", "a.md")  # same bytes as the file had
    repo.commit()
    with history(repo) as h:
        (_, changes) = list(h.changes())[-1]
    assert changes == [
        FileChange("a.md", MODE_FILE, MODE_SYMLINK, changes[0].old_blob, changes[0].old_blob)
    ]
    assert summary(changes) == [("a.md", "mode_changed")]


def test_changes_outside_the_content_folder_are_ignored(repo: Repo) -> None:
    repo.write("README.md")
    repo.write("contents/near-miss.md")
    repo.write("content.md")
    repo.commit("outside only")
    repo.write("content/a.md")
    repo.write("README.md", "changed\n")
    repo.commit("both")
    repo.write("docs/x.md")
    repo.commit("outside again")
    with history(repo) as h:
        assert [c.subject for c in h.first_parent_commits()] == [
            "outside only",
            "both",
            "outside again",
        ]
        assert [c.subject for c in h.content_commits()] == ["both"]
        ((_, changes),) = list(h.changes())
    assert summary(changes) == [("a.md", "added")]
    with history(repo, ".") as h:
        assert len(list(h.changes())) == 3


def test_content_folder_with_glob_characters(repo: Repo) -> None:
    repo.write("my content [v1]/a.md")
    repo.write("my content v/b.md")  # matches the folder name read as a glob
    repo.commit()
    repo.write("my content [v1]/new.md")
    repo.write("my content v/new.md")
    with history(repo, "my content [v1]") as h:
        assert h.prefix == "my content [v1]/"
        assert list(h.tree("HEAD")) == ["a.md"]
        assert summary(next(iter(h.changes()))[1]) == [("a.md", "added")]
        assert summary(h.worktree_changes()) == [("new.md", "added")]


def test_only_first_parent_commits_count(repo: Repo) -> None:
    repo.write("content/base.md")
    base = repo.commit("base")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("content/side1.md")
    repo.commit("side 1")
    repo.write("content/side2.md")
    repo.write("content/base.md", "changed on side\n")
    repo.commit("side 2")
    repo.git("checkout", "-q", "main")
    repo.write("content/main.md")
    repo.commit("main")
    repo.hour += 1
    repo.git("merge", "-q", "--no-ff", "side", "-m", "merge side")
    repo.git("checkout", "-q", "-b", "side-outside", "HEAD~1")
    repo.write("elsewhere.md")
    repo.commit("outside on a branch")
    repo.git("checkout", "-q", "main")
    repo.hour += 1
    repo.git("merge", "-q", "--no-ff", "side-outside", "-m", "merge outside")
    with history(repo) as h:
        assert [c.subject for c in h.first_parent_commits()] == [
            "base",
            "main",
            "merge side",
            "merge outside",
        ]
        log = list(h.changes())
        assert [c.subject for c in h.first_parent_commits(since=base)] == [
            "main",
            "merge side",
            "merge outside",
        ]
    assert [(c.subject, summary(changes)) for c, changes in log] == [
        ("base", [("base.md", "added")]),
        ("main", [("main.md", "added")]),
        ("merge side", [("base.md", "modified"), ("side1.md", "added"), ("side2.md", "added")]),
    ]
    assert log[2][0].time == utc(5)


def test_since_excludes_that_commit_and_its_ancestors(repo: Repo) -> None:
    ids = []
    for n in range(4):
        repo.write(f"content/{n}.md")
        ids.append(repo.commit(f"c{n}"))
    with history(repo) as h:
        assert [c.id for c in h.first_parent_commits()] == ids
        assert [c.id for c, _ in h.changes(since=ids[1])] == ids[2:]
        assert [c.id for c in h.content_commits(ids[2], since=ids[0])] == ids[1:3]
        assert h.first_parent_commits(since="HEAD") == []
        assert list(h.changes(since=ids[3])) == []
        assert h.is_first_parent_ancestor(ids[0])
        assert not h.is_first_parent_ancestor(ids[3], ids[0])


def test_since_must_be_a_first_parent_ancestor(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.commit()
    repo.git("checkout", "-q", "-b", "side")
    repo.write("content/side.md")
    side = repo.commit("side")
    repo.git("checkout", "-q", "main")
    repo.write("content/main.md")
    main = repo.commit("main")
    repo.hour += 1
    repo.git("merge", "-q", "--no-ff", "side", "-m", "merge")
    with history(repo) as h:
        assert not h.is_first_parent_ancestor(side)
        with pytest.raises(HistoryError, match="not a first-parent ancestor"):
            h.first_parent_commits(since=side)  # reachable, but through a second parent
        with pytest.raises(HistoryError, match="not a first-parent ancestor"):
            h.changes(main, since="HEAD")  # a rollback
        repo.git("checkout", "-q", "--orphan", "rewritten")
        repo.commit("unrelated")
        with pytest.raises(HistoryError, match="not a first-parent ancestor"):
            h.changes("rewritten", since=main)


def test_stopping_early_ends_git(repo: Repo) -> None:
    for n in range(3):
        repo.write(f"content/{n}.md")
        repo.commit()
    with history(repo) as h:
        log = h.changes()
        first = next(log)
        log.close()  # type: ignore[attr-defined]
        assert first[0].subject == "change"
        assert len(list(h.changes())) == 3


# -- trees and blobs ----------------------------------------------------------------


def test_tree(repo: Repo) -> None:
    repo.write("README.md")
    before = repo.commit("no content yet")
    repo.write("content/a.md", "a\n")
    repo.write("content/d/run.sh", "#!/bin/sh\n", executable=True)
    repo.write("content/.hidden")
    repo.commit()
    with history(repo) as h:
        assert h.tree(before) == {}
        assert h.tree("HEAD") == {
            ".hidden": (MODE_FILE, repo.blob("content/.hidden")),
            "a.md": (MODE_FILE, repo.blob("content/a.md")),
            "d/run.sh": (MODE_EXECUTABLE, repo.blob("content/d/run.sh")),
        }
    with history(repo, ".") as h:
        assert set(h.tree("HEAD")) == {
            "README.md",
            "content/.hidden",
            "content/a.md",
            "content/d/run.sh",
        }


def test_tree_when_the_content_root_is_a_file(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.commit()
    repo.remove("content/a.md")
    (repo.path / "content").rmdir()
    repo.write("content", "now a file\n")
    repo.commit()
    (repo.path / "content").unlink()
    (repo.path / "content").mkdir()
    with history(repo) as h:
        assert h.tree("HEAD") == {}
        assert summary(list(h.changes())[-1][1]) == [("a.md", "deleted")]


def test_read_blob(repo: Repo) -> None:
    data = repo.write("content/a.bin", bytes(range(256)) * 10 + b"\n\n")
    repo.write("content/empty")
    (repo.path / "content/empty").write_bytes(b"")
    repo.commit()
    with history(repo) as h:
        tree = h.tree("HEAD")
        assert h.read_blob(tree["a.bin"][1]) == data
        assert h.read_blob(tree["empty"][1]) == b""
        assert h.read_blob(tree["a.bin"][1], limit=len(data)) == data


def test_read_blob_size_limit(repo: Repo) -> None:
    repo.write("content/big.bin", b"x" * 1000)
    repo.write("content/small.md", "small\n")
    repo.commit()
    with history(repo) as h:
        tree = h.tree("HEAD")
        with pytest.raises(ContentError, match="1000 bytes, over the limit of 999 bytes"):
            h.read_blob(tree["big.bin"][1], limit=999)
        assert h.read_blob(tree["small.md"][1]) == b"small\n"  # git restarted cleanly
        assert h.read_blob(tree["big.bin"][1]) == b"x" * 1000


def test_read_blob_errors(repo: Repo) -> None:
    repo.write("content/a.md")
    commit = repo.commit()
    with history(repo) as h:
        with pytest.raises(HistoryError, match="not in the repository"):
            h.read_blob("f" * 40)
        with pytest.raises(HistoryError, match="is a commit, not a blob"):
            h.read_blob(commit)
        with pytest.raises(UsageError, match="not a git object id"):
            h.read_blob("HEAD:content/a.md")
        assert h.read_blob(repo.blob("content/a.md")) == b"x\n"


def test_close_stops_cat_file(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.commit()
    h = history(repo)
    h.read_blob(repo.blob("content/a.md"))
    process = h._cat_file
    assert process is not None and process.poll() is None
    h.close()
    assert process.poll() is not None
    h.close()


# -- the work tree ------------------------------------------------------------------


def test_worktree_changes(repo: Repo) -> None:
    repo.write("content/keep.md", "keep\n")
    repo.write("content/edit.md", "old\n")
    repo.write("content/gone.md", "gone\n")
    repo.write("content/run.sh", "#!/bin/sh\n")
    repo.write(".gitignore", "*.tmp\n")
    repo.commit()
    repo.write("content/edit.md", "new\n")
    repo.remove("content/gone.md")
    new = repo.write("content/untracked dir/new.md", "brand new\n")
    repo.symlink("content/link", "keep.md")
    repo.write("content/run.sh", "#!/bin/sh\n", executable=True)
    repo.write("content/ignored.tmp")
    repo.write("outside.md")
    repo.write("content/staged.md", "staged\n")
    repo.git("add", "content/staged.md")
    os.utime(repo.path / "content/keep.md", (0, 0))  # stale stat data, same bytes
    with history(repo) as h:
        changes = h.worktree_changes()
        assert summary(changes) == [
            ("edit.md", "modified"),
            ("gone.md", "deleted"),
            ("link", "added"),
            ("run.sh", "mode_changed"),
            ("staged.md", "added"),
            ("untracked dir/new.md", "added"),
        ]
        by_path = {c.path: c for c in changes}
        for c in changes:
            if c.new_blob:
                assert (
                    c.new_blob
                    == repo.git("hash-object", "--no-filters", f"content/{c.path}").strip()
                    or c.new_mode == MODE_SYMLINK
                )
        assert by_path["link"].new_mode == MODE_SYMLINK
        assert h.read_blob(by_path["link"].new_blob or "") == b"keep.md"
        assert h.read_blob(by_path["untracked dir/new.md"].new_blob or "") == new
        assert h.read_blob(by_path["edit.md"].new_blob or "") == b"new\n"
        assert h.read_blob(by_path["staged.md"].new_blob or "") == b"staged\n"
        assert h.read_blob(by_path["gone.md"].old_blob or "") == b"gone\n"
        with pytest.raises(ContentError, match="over the limit of 5 bytes"):
            h.read_blob(by_path["untracked dir/new.md"].new_blob or "", limit=5)
        repo.write("content/untracked dir/new.md", "edited since\n")
        with pytest.raises(HistoryError, match=r"new\.md changed on disk"):
            h.read_blob(by_path["untracked dir/new.md"].new_blob or "")
    # nothing was written: the new blobs are not in the object store
    for c in changes:
        if c.path in ("edit.md", "untracked dir/new.md"):
            missing = subprocess.run(
                ["git", "cat-file", "-e", c.new_blob or ""], cwd=repo.path, check=False
            )
            assert missing.returncode != 0


def test_worktree_blob_also_in_the_repository_outlives_the_file(repo: Repo) -> None:
    repo.write("content/a.md", "committed\n")
    repo.commit()
    repo.write("content/copy.md", "committed\n")
    with history(repo) as h:
        (copy,) = h.worktree_changes()
        assert copy.new_blob == repo.blob("content/a.md")
        repo.remove("content/copy.md")
        assert h.read_blob(copy.new_blob or "") == b"committed\n"


def test_worktree_changes_against_an_older_revision(repo: Repo) -> None:
    repo.write("content/a.md", "1\n")
    first = repo.commit()
    repo.write("content/a.md", "2\n")
    repo.commit()
    with history(repo) as h:
        assert h.worktree_changes() == []
        assert summary(h.worktree_changes(first)) == [("a.md", "modified")]


def test_worktree_untracked_again_after_rm_cached(repo: Repo) -> None:
    repo.write("content/a.md", "a\n")
    repo.write("content/b.md", "b\n")
    repo.commit()
    repo.git("rm", "-q", "--cached", "content/a.md", "content/b.md")
    repo.write("content/b.md", "b changed\n")
    with history(repo) as h:
        assert summary(h.worktree_changes()) == [("b.md", "modified")]


def test_worktree_nested_repository_is_a_gitlink(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.commit()
    nested = Repo(repo.path / "content/nested")
    nested.write("x")
    inner = nested.commit()
    with history(repo) as h:
        assert h.worktree_changes() == [FileChange("nested", None, MODE_GITLINK, None, inner)]


def test_sha256_repository(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", "--object-format=sha256")
    data = repo.write("content/a.md", "sha-256\n")
    repo.commit()
    repo.write("content/b.md", "untracked\n")
    with GitHistory(repo.path / "content") as h:
        ((commit, changes),) = list(h.changes())
        assert len(commit.id) == 64
        assert h.read_blob(changes[0].new_blob or "") == data
        (untracked,) = h.worktree_changes()
        assert untracked.new_blob == repo.git("hash-object", "content/b.md").strip()
        assert h.read_blob(untracked.new_blob or "") == b"untracked\n"


# -- file names, configuration, scale -----------------------------------------------

ODD_NAMES = [
    "with space.md",
    "ünïcödé.md",
    "u\u0308nicode-nfd.md",
    "new\nline.md",
    "tab\there.md",
    "-dash.md",
    ":colon.md",
    "\x01header-like.md",
    'quote".md',
    "back\\slash.md",
    "*star?[x].md",
    "d/\nnested.md",
]


def test_odd_file_names_survive(repo: Repo) -> None:
    for name in ODD_NAMES:
        repo.write(f"content/{name}", name)
    repo.commit()
    for name in ODD_NAMES:
        repo.write(f"content/{name}", name + " changed")
        repo.write(f"content/new {name}", name)
    with history(repo) as h:
        ((_, changes),) = list(h.changes())
        assert sorted(c.path for c in changes) == sorted(ODD_NAMES)
        assert set(h.tree("HEAD")) == set(ODD_NAMES)
        for c in changes:
            assert h.read_blob(c.new_blob or "") == c.path.encode()
        worktree = h.worktree_changes()
    assert sorted(c.path for c in worktree) == sorted(ODD_NAMES + [f"new {n}" for n in ODD_NAMES])
    assert [c.path for c in worktree] == sorted(c.path for c in worktree)


def test_non_utf8_file_name_round_trips(repo: Repo) -> None:
    raw = b"content/latin1-\xe9.md"
    (repo.path / os.fsdecode(raw)).write_bytes(b"x")
    repo.commit()
    with history(repo) as h:
        ((_, (change,)),) = list(h.changes())
    assert os.fsencode(change.path) == b"latin1-\xe9.md"


def test_hostile_git_configuration_is_neutralised(repo: Repo) -> None:
    repo.write("content/a.md", "same\n")
    repo.write("content/é.md", "é\n")
    repo.commit("Zürich")
    repo.git("mv", "content/a.md", "content/z.md")
    repo.gitlink("content/sub")
    repo.commit("rename", add=False)
    repo.git("checkout", "-q", "-b", "side")
    repo.write("content/side.md")
    repo.commit()
    repo.git("checkout", "-q", "main")
    repo.write("content/main.md")
    repo.commit()
    repo.hour += 1
    repo.git("merge", "-q", "--no-ff", "side", "-m", "merge")
    repo.write("content/untracked.md")
    order = repo.path / ".git/order"
    order.write_text("content/z.md\ncontent/a.md\n")
    for key, value in [
        ("color.ui", "always"),
        ("diff.renames", "copies"),
        ("diff.relative", "true"),
        ("diff.noprefix", "true"),
        ("diff.ignoreSubmodules", "all"),
        ("diff.orderFile", str(order)),
        ("core.abbrev", "7"),
        ("core.quotepath", "true"),
        ("i18n.logOutputEncoding", "ISO-8859-1"),
        ("log.showRoot", "false"),
        ("log.decorate", "full"),
        ("log.diffMerges", "separate"),
        ("status.showUntrackedFiles", "no"),
    ]:
        repo.git("config", key, value)
    with GitHistory(repo.path / "content") as h:
        log = [(c.subject, summary(changes)) for c, changes in h.changes()]
        assert summary(h.worktree_changes()) == [("untracked.md", "added")]
    assert log == [
        ("Zürich", [("a.md", "added"), ("é.md", "added")]),
        ("rename", [("a.md", "deleted"), ("sub", "added"), ("z.md", "added")]),
        ("change", [("main.md", "added")]),
        ("merge", [("side.md", "added")]),
    ]


def test_nothing_is_written_to_the_repository(repo: Repo) -> None:
    repo.write("content/a.md")
    repo.commit()
    repo.write("content/a.md", "changed\n")
    repo.write("content/b.md")
    os.utime(repo.path / "content/a.md", (0, 0))

    def snapshot() -> dict[str, tuple[int, int]]:
        git_dir = repo.path / ".git"
        return {
            str(p.relative_to(git_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in git_dir.rglob("*")
        }

    before = snapshot()
    with history(repo) as h:
        for change in h.worktree_changes():
            h.read_blob(change.new_blob or "")
        for _, changes in h.changes():
            for change in changes:
                h.read_blob(change.new_blob or "")
        h.tree("HEAD")
    assert snapshot() == before


def test_scale_one_log_process(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    files, commits = 2000, 5
    for n in range(files):
        repo.write(f"content/items/{n % 20}/{n}.md", f"{n}\n")
    repo.commit("bulk")
    for c in range(1, commits):
        for n in range(c - 1, files, 4):
            repo.write(f"content/items/{n % 20}/{n}.md", f"{n} v{c}\n")
        repo.commit(f"edit {c}")
    started: list[list[str]] = []
    real_popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen

    def counting_popen(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        started.append(list(args))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting_popen)
    with history(repo) as h:
        log = list(h.changes())
    assert [len(changes) for _, changes in log] == [files, 500, 500, 500, 500]
    assert sum("log" in args for args in started) == 1


def test_ensure_repository(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    assert ensure_repository(folder) is True
    assert (folder / ".git").is_dir()
    assert ensure_repository(folder) is False
    (folder / "content").mkdir()
    assert ensure_repository(folder / "content") is False
    repo = Repo(folder, create=False)
    repo.write("content/a.md")
    repo.commit()
    assert repo.git("symbolic-ref", "--short", "HEAD").strip() == "main"
